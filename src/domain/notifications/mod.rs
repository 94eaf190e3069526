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
//!
//! Each notification is queued with a [`snapshot::Snapshot`] of what it says, taken here, in the change's
//! transaction: the worker renders the email from it alone.

pub mod snapshot;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering as AtomicOrdering};

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::error::{DomainError, DomainResult};
use crate::domain::events::{Event, EventDetails};
use crate::models::outbox::{NewOutboxEntry, NotificationKind};
use crate::models::stored_file::to_hex;
use crate::models::ticket_event::EventKind;
use crate::models::{Attachment, Message, Office, OutboxEntry, Ticket, TicketEvent, User};
use crate::vocabulary::{Role, SlaClock, TicketStatus};
use snapshot::{FileFacts, MessageFacts, OfficeFacts, RatingFacts, Recipient, SlaFacts, Snapshot, TicketFacts};

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

/// Why a notification was queued: the outbox row's `details`, which admins see (the snapshot holds the rest).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Details {
    /// The message a reply notification quotes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<Uuid>,
    /// The status the change set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TicketStatus>,
    /// Whether a requester's reply reopened the ticket.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reopened: bool,
    /// A service-level notice's clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<SlaClock>,
    /// When that clock's target was due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<DateTime<Utc>>,
}

/// What the caller of [`record_knowing`] has read already (the ticket's office, its organisation's name), so
/// that the notifications' snapshots do not read it again.
#[derive(Debug, Clone, Copy, Default)]
pub struct Known<'a> {
    /// The ticket's office.
    pub office: Option<&'a Office>,
    /// The requesting organisation's name.
    pub organization: Option<&'a str>,
}

/// Writes the events of one change to the audit trail and queues the notifications they cause.
pub fn record(conn: &mut PgConnection, ticket: &Ticket, actor: Option<Uuid>, events: &[Event]) -> DomainResult<()> {
    record_knowing(conn, ticket, actor, events, Known::default())
}

/// Like [`record`], for a caller that has read some of what the notifications say already.
pub fn record_knowing(
    conn: &mut PgConnection,
    ticket: &Ticket,
    actor: Option<Uuid>,
    events: &[Event],
    known: Known<'_>,
) -> DomainResult<()> {
    let rows: Vec<_> = events.iter().map(Event::to_row).collect();
    let planned = plan(conn, ticket, actor, events, known)?;
    TicketEvent::insert_with_notifications(conn, &rows, &planned)?;
    Ok(())
}

fn uuid_of(value: &Option<String>) -> Option<Uuid> {
    value.as_deref().and_then(|v| Uuid::parse_str(v).ok())
}

/// Whether an event can cause a notification at all (before anyone is looked up).
fn may_notify(event: &Event) -> bool {
    matches!(
        (event.kind, &event.details),
        (EventKind::Created, _)
            | (EventKind::MessageAdded, EventDetails::MessageAdded { internal: false, .. })
            | (EventKind::Routed | EventKind::AssigneeChanged | EventKind::StatusChanged, _)
            | (EventKind::SlaWarning | EventKind::SlaBreached, EventDetails::SlaNotice { .. })
            | (EventKind::CoordinatorsAlerted, EventDetails::CoordinatorsAlerted { .. })
    )
}

/// Everyone the events of a change may tell or name: the requester, the assignee, the actors (authors of
/// messages), the people an event names.
fn people_involved(ticket: &Ticket, events: &[Event]) -> Vec<Uuid> {
    let mut ids = vec![ticket.requester_id];
    ids.extend(ticket.assignee_id);
    for event in events {
        ids.extend(event.actor_id);
        match (event.kind, &event.details) {
            (EventKind::Routed | EventKind::AssigneeChanged, _) => ids.extend(uuid_of(&event.new_value)),
            (_, EventDetails::SlaNotice { recipient_ids, .. }) => ids.extend(recipient_ids),
            (_, EventDetails::CoordinatorsAlerted { coordinator_ids, .. }) => ids.extend(coordinator_ids),
            _ => {}
        }
    }
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Who is to be told what about the events of one change to `ticket` (as it is after the change) by `actor`,
/// before the per-person rules (own action, activity, hourly cap).
fn wanted(
    ticket: &Ticket,
    events: &[Event],
    people: &HashMap<Uuid, (User, i64)>,
) -> Vec<(Uuid, NotificationKind, Details)> {
    let mut wanted: Vec<(Uuid, NotificationKind, Details)> = Vec::new();
    let status_change = events.iter().rev().find(|e| e.kind == EventKind::StatusChanged).map(|e| {
        let parse = |v: &Option<String>| v.as_deref().and_then(|s| s.parse::<TicketStatus>().ok());
        (parse(&e.old_value), parse(&e.new_value))
    });
    let reopened = matches!(status_change, Some((Some(TicketStatus::Resolved), Some(TicketStatus::Open))));
    let mut replied = false;

    for event in events {
        match (event.kind, &event.details) {
            (EventKind::Created, _) => {
                wanted.push((ticket.requester_id, NotificationKind::TicketReceived, Details::default()))
            }
            (EventKind::MessageAdded, EventDetails::MessageAdded { message_id, internal: false }) => {
                replied = true;
                let author = event.actor_id.and_then(|author| people.get(&author));
                if author.is_some_and(|(user, _)| user.role.is_staff()) {
                    let status = status_change.and_then(|(_, new)| new);
                    let details = Details { message_id: Some(*message_id), status, ..Details::default() };
                    wanted.push((ticket.requester_id, NotificationKind::StaffReply, details));
                } else if let Some(assignee) = ticket.assignee_id {
                    let details = Details { message_id: Some(*message_id), reopened, ..Details::default() };
                    wanted.push((assignee, NotificationKind::RequesterReply, details));
                }
            }
            (EventKind::Routed | EventKind::AssigneeChanged, _) => {
                if let Some(assignee) = uuid_of(&event.new_value).filter(|new| Some(*new) != uuid_of(&event.old_value))
                {
                    wanted.push((assignee, NotificationKind::TicketAssigned, Details::default()));
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
                let details = Details { clock: Some(*clock), due_at: *due_at, ..Details::default() };
                for id in recipient_ids {
                    wanted.push((*id, kind, details.clone()));
                }
            }
            (EventKind::CoordinatorsAlerted, EventDetails::CoordinatorsAlerted { coordinator_ids, .. }) => {
                for id in coordinator_ids {
                    wanted.push((*id, NotificationKind::TicketUnassigned, Details::default()));
                }
            }
            _ => {}
        }
    }
    if let (Some((_, Some(new))), false) = (status_change, replied) {
        if matches!(new, TicketStatus::Pending | TicketStatus::Resolved | TicketStatus::Closed) {
            let details = Details { status: Some(new), ..Details::default() };
            wanted.push((ticket.requester_id, NotificationKind::StatusChanged, details));
        }
        if reopened && let Some(assignee) = ticket.assignee_id {
            wanted.push((assignee, NotificationKind::TicketReopened, Details::default()));
        }
    }
    wanted
}

/// Whether a kind of notification is for staff only.
fn for_staff(kind: NotificationKind) -> bool {
    matches!(
        kind,
        NotificationKind::TicketAssigned
            | NotificationKind::RequesterReply
            | NotificationKind::TicketReopened
            | NotificationKind::TicketUnassigned
            | NotificationKind::SlaWarning
            | NotificationKind::SlaBreached
    )
}

/// The notifications for the events of one change to `ticket` (as it is after the change) by `actor`, each with
/// the snapshot of what it says.
fn plan(
    conn: &mut PgConnection,
    ticket: &Ticket,
    actor: Option<Uuid>,
    events: &[Event],
    known: Known<'_>,
) -> DomainResult<Vec<NewOutboxEntry>> {
    let chosen = choose(conn, ticket, actor, events)?;
    build(conn, ticket, known, &chosen)
}

/// Who is told what about one change, with the names the emails need.
#[derive(Debug, Default)]
pub struct Chosen {
    /// The ticket's assignee's name.
    assignee: Option<String>,
    /// Each recipient with what they are told.
    picks: Vec<(User, NotificationKind, Details)>,
}

impl Chosen {
    /// The recipients.
    pub fn recipients(&self) -> impl Iterator<Item = &User> {
        self.picks.iter().map(|(user, _, _)| user)
    }
}

/// Who is to be told what about the events of one change to `ticket` by `actor`, after the per-person rules.
pub fn choose(conn: &mut PgConnection, ticket: &Ticket, actor: Option<Uuid>, events: &[Event]) -> DomainResult<Chosen> {
    if !events.iter().any(may_notify) {
        return Ok(Chosen::default());
    }
    // Everyone involved, with how much each was sent in the last hour: one query for the whole change.
    let cap = hourly_cap();
    let people: HashMap<Uuid, (User, i64)> =
        OutboxEntry::recipients_with_counts_last_hour(conn, &people_involved(ticket, events), cap)?
            .into_iter()
            .map(|(user, count)| (user.id, (user, count)))
            .collect();
    let mut sent: HashMap<Uuid, i64> = people.iter().map(|(id, (_, count))| (*id, *count)).collect();
    let mut seen = HashSet::new();
    let mut chosen = Vec::new();
    for (recipient, kind, details) in wanted(ticket, events, &people) {
        let own_action = Some(recipient) == actor && kind != NotificationKind::TicketReceived;
        if own_action || !seen.insert((recipient, kind)) {
            continue;
        }
        // The last line of defence against mail loops: nobody gets more than this many notifications an hour.
        let count = sent.entry(recipient).or_default();
        if *count >= cap {
            tracing::warn!(%recipient, %kind, "notification dropped: the recipient reached the hourly cap");
            continue;
        }
        // Inactive users get nothing; neither does a former advisor who is no longer staff.
        let Some((user, _)) = people.get(&recipient).filter(|(user, _)| user.active) else { continue };
        if for_staff(kind) && user.role == Role::Requester {
            continue;
        }
        *count += 1;
        chosen.push((user.clone(), kind, details));
    }
    let assignee = ticket.assignee_id.and_then(|id| people.get(&id)).map(|(user, _)| user.name.clone());
    Ok(Chosen { assignee, picks: chosen })
}

/// The outbox rows of what was chosen, each with the snapshot of what it says, as it is in this transaction.
fn build(
    conn: &mut PgConnection,
    ticket: &Ticket,
    known: Known<'_>,
    chosen: &Chosen,
) -> DomainResult<Vec<NewOutboxEntry>> {
    if chosen.picks.is_empty() {
        return Ok(Vec::new());
    }
    let facts = ticket_facts(conn, ticket, known, chosen.assignee.clone())?;
    let mut quotes: HashMap<Uuid, Option<MessageFacts>> = HashMap::new();
    let now = Utc::now();
    let mut planned = Vec::with_capacity(chosen.picks.len());
    for (user, kind, details) in &chosen.picks {
        let (kind, details) = (*kind, details.clone());
        let message = match details.message_id {
            Some(id) if !quotes.contains_key(&id) => {
                let found = quote(conn, id)?;
                quotes.insert(id, found.clone());
                found
            }
            Some(id) => quotes.get(&id).cloned().flatten(),
            None => None,
        };
        let snapshot = snapshot_of(user, ticket, kind, &details, facts.clone(), message, now);
        let (snapshot_version, snapshot) = snapshot::encode(&snapshot);
        planned.push(NewOutboxEntry {
            id: Uuid::now_v7(),
            ticket_id: Some(ticket.id),
            recipient_id: user.id,
            kind,
            details: serde_json::to_value(&details).unwrap_or_default(),
            snapshot,
            snapshot_version,
        });
    }
    Ok(planned)
}

/// Writes the events of a merge (of `source` into `target`, as they are after it) and tells each requester
/// once, in their language, about the target; nobody gets the usual status or reply emails of the merge.
pub fn record_merge(
    conn: &mut PgConnection,
    source: &Ticket,
    target: &Ticket,
    actor: Uuid,
    source_events: &[Event],
    target_events: &[Event],
) -> DomainResult<()> {
    let rows: Vec<_> = source_events.iter().chain(target_events).map(Event::to_row).collect();
    let mut requesters = vec![source.requester_id, target.requester_id];
    requesters.dedup();
    let people = OutboxEntry::recipients_with_counts_last_hour(conn, &requesters, hourly_cap())?;
    let assignee = match target.assignee_id {
        Some(id) => User::find(conn, id)?.map(|user| user.name),
        None => None,
    };
    let facts = ticket_facts(conn, target, Known::default(), assignee)?;
    let now = Utc::now();
    let mut planned = Vec::new();
    for (user, count) in people.iter().filter(|(user, _)| user.active && user.id != actor) {
        if *count >= hourly_cap() {
            tracing::warn!(recipient = %user.id, "merge notice dropped: the recipient reached the hourly cap");
            continue;
        }
        let details = Details::default();
        let mut snapshot =
            snapshot_of(user, target, NotificationKind::TicketMerged, &details, facts.clone(), None, now);
        snapshot.merged = Some(snapshot::MergedFacts { reference: source.reference, subject: source.subject.clone() });
        let (snapshot_version, snapshot) = snapshot::encode(&snapshot);
        planned.push(NewOutboxEntry {
            id: Uuid::now_v7(),
            ticket_id: Some(target.id),
            recipient_id: user.id,
            kind: NotificationKind::TicketMerged,
            details: serde_json::to_value(&details).unwrap_or_default(),
            snapshot,
            snapshot_version,
        });
    }
    TicketEvent::insert_with_notifications(conn, &rows, &planned)?;
    Ok(())
}

/// One ticket of a bulk update: as the update left it, its events, and who they tell what.
#[derive(Debug)]
pub struct BulkChange {
    /// The ticket after the update.
    pub ticket: Ticket,
    /// Its events.
    pub events: Vec<Event>,
    /// Who the events tell what.
    pub chosen: Chosen,
}

/// Writes the events of a bulk update and its notifications, coalesced: a recipient told about one
/// ticket gets the usual email, a recipient told about several gets one email listing them.
pub fn record_bulk(conn: &mut PgConnection, changes: Vec<BulkChange>) -> DomainResult<()> {
    let rows: Vec<_> = changes.iter().flat_map(|change| change.events.iter().map(Event::to_row)).collect();
    // How many tickets each recipient is told about.
    let mut tickets_of: HashMap<Uuid, Vec<usize>> = HashMap::new();
    for (n, change) in changes.iter().enumerate() {
        for user in change.chosen.recipients() {
            let of = tickets_of.entry(user.id).or_default();
            if of.last() != Some(&n) {
                of.push(n);
            }
        }
    }
    let mut planned = Vec::new();
    let now = Utc::now();
    let mut digested: HashSet<Uuid> = HashSet::new();
    for change in &changes {
        // Those told about this ticket only get its usual emails.
        let single = Chosen {
            assignee: change.chosen.assignee.clone(),
            picks: change
                .chosen
                .picks
                .iter()
                .filter(|(user, _, _)| tickets_of.get(&user.id).is_some_and(|of| of.len() == 1))
                .cloned()
                .collect(),
        };
        planned.extend(build(conn, &change.ticket, Known::default(), &single)?);
        // Those told about several get one email, queued with the first of their tickets.
        for (user, _, _) in &change.chosen.picks {
            let Some(of) = tickets_of.get(&user.id).filter(|of| of.len() > 1) else { continue };
            if !digested.insert(user.id) {
                continue;
            }
            let first = &changes[of[0]].ticket;
            let facts = ticket_facts(conn, first, Known::default(), changes[of[0]].chosen.assignee.clone())?;
            let details = Details::default();
            let mut snapshot = snapshot_of(user, first, NotificationKind::BulkUpdated, &details, facts, None, now);
            snapshot.bulk = of
                .iter()
                .map(|n| {
                    let ticket = &changes[*n].ticket;
                    snapshot::TicketLine {
                        reference: ticket.reference,
                        subject: ticket.subject.clone(),
                        status: ticket.status,
                    }
                })
                .collect();
            let (snapshot_version, snapshot) = snapshot::encode(&snapshot);
            planned.push(NewOutboxEntry {
                id: Uuid::now_v7(),
                ticket_id: Some(first.id),
                recipient_id: user.id,
                kind: NotificationKind::BulkUpdated,
                details: serde_json::to_value(&details).unwrap_or_default(),
                snapshot,
                snapshot_version,
            });
        }
    }
    TicketEvent::insert_with_notifications(conn, &rows, &planned)?;
    Ok(())
}

/// The ticket's facts, with its office and organisation read unless `known`.
fn ticket_facts(
    conn: &mut PgConnection,
    ticket: &Ticket,
    known: Known<'_>,
    assignee: Option<String>,
) -> DomainResult<TicketFacts> {
    let (office, organization) = match (known.office.filter(|office| office.id == ticket.office_id), known.organization)
    {
        (Some(office), Some(organization)) => (OfficeFacts::of(office), organization.to_owned()),
        _ => {
            let (office, organization) =
                Office::find_with_organization_name(conn, ticket.office_id, ticket.organization_id)?
                    .ok_or(DomainError::NotFound("office"))?;
            (OfficeFacts::of(&office), organization.unwrap_or_default())
        }
    };
    Ok(TicketFacts::of(ticket, organization, office, assignee))
}

/// The message a notification quotes, with its author's name and its files.
fn quote(conn: &mut PgConnection, message_id: Uuid) -> DomainResult<Option<MessageFacts>> {
    let Some((body, author)) = Message::find_with_author(conn, message_id)? else { return Ok(None) };
    let attachments = Attachment::for_messages(conn, &[message_id])?
        .into_iter()
        .map(|file| FileFacts {
            id: file.id,
            filename: file.filename,
            content_type: file.content_type,
            size: i64::from(file.size),
            sha256: to_hex(&file.sha256),
        })
        .collect();
    Ok(Some(MessageFacts { author, body, attachments }))
}

/// The snapshot of one notification of `kind` to `recipient`.
fn snapshot_of(
    recipient: &User,
    ticket: &Ticket,
    kind: NotificationKind,
    details: &Details,
    facts: TicketFacts,
    message: Option<MessageFacts>,
    queued_at: DateTime<Utc>,
) -> Snapshot {
    // The requester's "resolved" email (a reply that resolves, or the status change) offers the rating links.
    let rates = recipient.id == ticket.requester_id
        && details.status == Some(TicketStatus::Resolved)
        && matches!(kind, NotificationKind::StaffReply | NotificationKind::StatusChanged);
    Snapshot {
        recipient: Recipient::of(recipient),
        ticket: facts,
        message,
        new_status: details.status,
        reopened: details.reopened,
        sla: details.clock.map(|clock| SlaFacts { clock, due_at: details.due_at }),
        rating: rates.then_some(RatingFacts { issued_at: queued_at }),
        queued_at,
        merged: None,
        bulk: Vec::new(),
    }
}

/// The snapshot of a notification queued by a release that wrote none (the row has no snapshot): captured from
/// the ticket and the people as they are now, the best that is left of that moment. The worker stores it on the
/// row, so that every later attempt sends the same email.
pub fn capture_late(conn: &mut PgConnection, entry: &OutboxEntry) -> DomainResult<Snapshot> {
    let ticket_id = entry.ticket_id.ok_or(DomainError::NotFound("ticket"))?;
    let ticket = Ticket::find(conn, ticket_id)?;
    let recipient = User::find(conn, entry.recipient_id)?.ok_or(DomainError::NotFound("user"))?;
    let assignee = match ticket.assignee_id {
        Some(id) => User::find(conn, id)?.map(|user| user.name),
        None => None,
    };
    let facts = ticket_facts(conn, &ticket, Known::default(), assignee)?;
    let details: Details = serde_json::from_value(entry.details.clone())
        .map_err(|error| DomainError::Internal(anyhow::anyhow!("the notification's details do not parse: {error}")))?;
    let message = match details.message_id {
        Some(id) => quote(conn, id)?,
        None => None,
    };
    Ok(snapshot_of(&recipient, &ticket, entry.kind, &details, facts, message, entry.created_at))
}
