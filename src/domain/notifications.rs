//! Who is told what: turns the audit events of one change into outbox rows, in the change's transaction.
//!
//! | recipient | told about |
//! | --- | --- |
//! | requester | request received (always: it carries the reference number), a public staff reply, status pending, resolved or closed |
//! | assigned advisor | an assignment, a reply from the requester's side, a reopen |
//! | office coordinators | a ticket nobody in the office could take, a service-level breach (and a warning when nobody is assigned) |
//! | assigned advisor (service levels) | a target near (warning) or passed (breach) |
//!
//! Nobody is told about their own action (the receipt aside), internal notes reach no one, and inactive users get
//! nothing. A reply and the status change it carries make one email, not two.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering as AtomicOrdering};

use diesel::PgConnection;
use uuid::Uuid;

use crate::domain::error::DomainResult;
use crate::domain::events::{Event, EventDetails};
use crate::models::outbox::{NewOutboxEntry, NotificationKind};
use crate::models::ticket_event::EventKind;
use crate::models::{OutboxEntry, Ticket, TicketEvent, User};
use crate::vocabulary::Role;
use crate::vocabulary::TicketStatus;

/// Most notifications one person gets in an hour by default (`NOTIFICATIONS_PER_HOUR`); more are dropped (and
/// logged), which stops any mail loop that gets past the auto-reply checks.
pub const MAX_NOTIFICATIONS_PER_HOUR: i64 = 60;

/// The cap in force in this process (a setting read once at start, see [`set_hourly_cap`]).
static HOURLY_CAP: AtomicI64 = AtomicI64::new(MAX_NOTIFICATIONS_PER_HOUR);

/// Sets the hourly cap of this process (`NOTIFICATIONS_PER_HOUR`, at start).
pub fn set_hourly_cap(cap: i64) {
    HOURLY_CAP.store(cap.max(1), AtomicOrdering::Relaxed);
}

/// The hourly cap in force.
pub fn hourly_cap() -> i64 {
    HOURLY_CAP.load(AtomicOrdering::Relaxed)
}

/// Writes the events of one change to the audit trail and queues the notifications they cause.
pub fn record(conn: &mut PgConnection, ticket: &Ticket, actor: Option<Uuid>, events: &[Event]) -> DomainResult<()> {
    let rows: Vec<_> = events.iter().map(Event::to_row).collect();
    let planned = plan(conn, ticket, actor, events)?;
    TicketEvent::insert_with_notifications(conn, &rows, &planned)?;
    Ok(())
}

fn uuid_of(value: &Option<String>) -> Option<Uuid> {
    value.as_deref().and_then(|v| Uuid::parse_str(v).ok())
}

/// The notifications for the events of one change to `ticket` (as it is after the change) by `actor`.
fn plan(
    conn: &mut PgConnection,
    ticket: &Ticket,
    actor: Option<Uuid>,
    events: &[Event],
) -> DomainResult<Vec<NewOutboxEntry>> {
    let mut wanted: Vec<(Uuid, NotificationKind, serde_json::Value)> = Vec::new();
    let status_change = events.iter().rev().find(|e| e.kind == EventKind::StatusChanged).map(|e| {
        let parse = |v: &Option<String>| v.as_deref().and_then(|s| s.parse::<TicketStatus>().ok());
        (parse(&e.old_value), parse(&e.new_value))
    });
    let reopened = matches!(status_change, Some((Some(TicketStatus::Resolved), Some(TicketStatus::Open))));
    let mut replied = false;

    for event in events {
        match (event.kind, &event.details) {
            (EventKind::Created, _) => {
                wanted.push((ticket.requester_id, NotificationKind::TicketReceived, serde_json::json!({})))
            }
            (EventKind::MessageAdded, EventDetails::MessageAdded { message_id, internal: false }) => {
                replied = true;
                let author_is_staff = match event.actor_id {
                    Some(author) => User::find(conn, author)?.is_some_and(|user| user.role.is_staff()),
                    None => false,
                };
                if author_is_staff {
                    let status = status_change.and_then(|(_, new)| new).map(|s| s.to_string());
                    let details = serde_json::json!({ "message_id": message_id, "status": status });
                    wanted.push((ticket.requester_id, NotificationKind::StaffReply, details));
                } else if let Some(assignee) = ticket.assignee_id {
                    let details = serde_json::json!({ "message_id": message_id, "reopened": reopened });
                    wanted.push((assignee, NotificationKind::RequesterReply, details));
                }
            }
            (EventKind::Routed | EventKind::AssigneeChanged, _) => {
                if let Some(assignee) = uuid_of(&event.new_value).filter(|new| Some(*new) != uuid_of(&event.old_value))
                {
                    wanted.push((assignee, NotificationKind::TicketAssigned, serde_json::json!({})));
                }
            }
            (
                EventKind::SlaWarning | EventKind::SlaBreached,
                EventDetails::SlaNotice { clock, due_at, recipient_ids },
            ) => {
                let kind = match event.kind {
                    EventKind::SlaWarning => NotificationKind::SlaWarning,
                    _ => NotificationKind::SlaBreached,
                };
                let details = serde_json::json!({ "clock": clock, "due_at": due_at });
                for id in recipient_ids {
                    wanted.push((*id, kind, details.clone()));
                }
            }
            (EventKind::CoordinatorsAlerted, EventDetails::CoordinatorsAlerted { coordinator_ids, .. }) => {
                for id in coordinator_ids {
                    wanted.push((*id, NotificationKind::TicketUnassigned, serde_json::json!({})));
                }
            }
            _ => {}
        }
    }
    if let (Some((_, Some(new))), false) = (status_change, replied) {
        if matches!(new, TicketStatus::Pending | TicketStatus::Resolved | TicketStatus::Closed) {
            wanted.push((ticket.requester_id, NotificationKind::StatusChanged, serde_json::json!({ "status": new })));
        }
        if reopened && let Some(assignee) = ticket.assignee_id {
            wanted.push((assignee, NotificationKind::TicketReopened, serde_json::json!({})));
        }
    }

    // Who is involved, and how much each was sent in the last hour: two queries for the whole change.
    let mut seen = HashSet::new();
    wanted.retain(|(recipient, kind, _)| {
        let own_action = Some(*recipient) == actor && *kind != NotificationKind::TicketReceived;
        !own_action && seen.insert((*recipient, *kind))
    });
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids: Vec<Uuid> = wanted.iter().map(|(recipient, _, _)| *recipient).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut users: HashMap<Uuid, User> = HashMap::new();
    let mut sent: HashMap<Uuid, i64> = HashMap::new();
    let cap = hourly_cap();
    for (user, count) in OutboxEntry::recipients_with_counts_last_hour(conn, &ids, cap)? {
        sent.insert(user.id, count);
        users.insert(user.id, user);
    }
    let mut planned = Vec::new();
    for (recipient, kind, details) in wanted {
        // The last line of defence against mail loops: nobody gets more than this many notifications an hour.
        let count = sent.entry(recipient).or_default();
        if *count >= cap {
            tracing::warn!(%recipient, %kind, "notification dropped: the recipient reached the hourly cap");
            continue;
        }
        // Inactive users get nothing; neither does a former advisor who is no longer staff.
        let Some(user) = users.get(&recipient).filter(|u| u.active) else { continue };
        let for_staff = matches!(
            kind,
            NotificationKind::TicketAssigned
                | NotificationKind::RequesterReply
                | NotificationKind::TicketReopened
                | NotificationKind::TicketUnassigned
                | NotificationKind::SlaWarning
                | NotificationKind::SlaBreached
        );
        if for_staff && user.role == Role::Requester {
            continue;
        }
        *count += 1;
        planned.push(NewOutboxEntry {
            id: Uuid::now_v7(),
            ticket_id: Some(ticket.id),
            recipient_id: recipient,
            kind,
            details,
        });
    }
    Ok(planned)
}
