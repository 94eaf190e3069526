//! Service levels: the due times of a ticket, how its changes move them, and the escalation of tickets whose
//! targets are near or past.
//!
//! A ticket has two clocks, both counted in the business time of its office (see [`crate::domain::calendars`]):
//! - **first response**, from submission to the first public staff reply;
//! - **resolution**, from submission to resolution. It stops while the ticket is not `new` or `open` (waiting on
//!   the requester, resolved or closed) and, when it starts again, the due time moves on by the business time
//!   it was stopped for. The stopped time is kept in `sla_paused_seconds`, so a due time is always
//!   `created_at + target + paused` in business time and can be recomputed from scratch (a priority change).
//!
//! Warnings and breaches are recorded once per clock in `*_warned_at` and `*_breached_at`. The escalation
//! scheduler claims tickets with `FOR UPDATE SKIP LOCKED` and sets those columns in the transaction that writes
//! the event and queues the notifications, so however many processes run it, each notice goes out once.
//! A breach the scheduler has not seen yet is still shown (the state is computed at read time) and is recorded
//! when the clock stops late.

use chrono::{DateTime, TimeDelta, Utc};
use diesel::{Connection, PgConnection};
use uuid::Uuid;

use crate::domain::business_time::BusinessCalendar;
use crate::domain::calendars;
use crate::domain::edit::Edit;
use crate::domain::error::DomainResult;
use crate::domain::events::{self, ChangeReason, EventDetails};
use crate::domain::network::Network;
use crate::models::sla_policy::SlaPolicy;
use crate::models::ticket::TicketChanges;
use crate::models::ticket_event::EventKind;
use crate::models::{Ticket, User};
use crate::vocabulary::{BreachAction, Role, SlaClock, TicketStatus};

/// The due and warning times of both clocks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timers {
    /// The SLA policy they come from.
    pub policy_id: Option<Uuid>,
    /// First response due.
    pub first_response_due_at: Option<DateTime<Utc>>,
    /// First response warning.
    pub first_response_warn_at: Option<DateTime<Utc>>,
    /// Resolution due.
    pub resolution_due_at: Option<DateTime<Utc>>,
    /// Resolution warning.
    pub resolution_warn_at: Option<DateTime<Utc>>,
}

/// The timers of a ticket created at `created_at` under `policy`, after `paused_seconds` of stopped resolution
/// clock.
pub fn timers(
    policy: Option<&SlaPolicy>,
    calendar: &BusinessCalendar,
    created_at: DateTime<Utc>,
    paused_seconds: i64,
) -> Timers {
    let Some(policy) = policy else { return Timers::default() };
    let minutes = |m: i32| TimeDelta::minutes(i64::from(m));
    let warn_share = |target: TimeDelta| target * policy.warn_at_percent / 100;
    let first = minutes(policy.first_response_minutes);
    let resolution = minutes(policy.resolution_minutes);
    let paused = TimeDelta::seconds(paused_seconds.max(0));
    Timers {
        policy_id: Some(policy.id),
        first_response_due_at: calendar.add(created_at, first),
        first_response_warn_at: calendar.add(created_at, warn_share(first)),
        resolution_due_at: calendar.add(created_at, resolution + paused),
        resolution_warn_at: calendar.add(created_at, warn_share(resolution) + paused),
    }
}

/// The timers of a ticket being submitted now to `office_id` under `policy`, in the office's calendar as
/// `network` holds it (read from the database only for an office the network does not know yet).
pub fn for_new_ticket(
    conn: &mut PgConnection,
    network: &Network,
    office_id: Uuid,
    policy: Option<&SlaPolicy>,
    created_at: DateTime<Utc>,
) -> DomainResult<Timers> {
    let Some(policy) = policy else { return Ok(Timers::default()) };
    Ok(match network.calendar(office_id) {
        Some(calendar) => timers(Some(policy), calendar, created_at, 0),
        None => timers(Some(policy), &calendars::load(conn, office_id)?, created_at, 0),
    })
}

fn clock_runs(status: TicketStatus) -> bool {
    matches!(status, TicketStatus::New | TicketStatus::Open)
}

fn is_done(status: TicketStatus) -> bool {
    matches!(status, TicketStatus::Resolved | TicketStatus::Closed)
}

fn seconds(delta: TimeDelta) -> i64 {
    delta.num_seconds().max(0)
}

/// Adds to `changes` what the service-level columns of `ticket` become when `changes` are made at `now`:
/// clocks stop and start with the status, breaches found on a late stop are recorded, and the due times are
/// recomputed when the priority, category or office changes or the resolution clock starts again.
pub fn apply(
    conn: &mut PgConnection,
    ticket: &Ticket,
    changes: &mut TicketChanges,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let before = ticket.status;
    let after = changes.status.unwrap_or(before);
    let priority = changes.priority.unwrap_or(ticket.priority);
    let category = changes.category.unwrap_or(ticket.category);
    let office_id = changes.office_id.unwrap_or(ticket.office_id);
    let retarget = priority != ticket.priority || category != ticket.category || office_id != ticket.office_id;
    let resumes = !clock_runs(before) && clock_runs(after);
    let responded_now = ticket.first_response_at.is_none() && matches!(changes.first_response_at, Some(Some(_)));
    let resolves = is_done(after) && !is_done(before);
    let stops = clock_runs(before) && !clock_runs(after);
    // Business times are kept without a policy too: the reports take them for every ticket.
    if !(retarget || resumes || responded_now || resolves || stops) {
        return Ok(());
    }
    let calendar = calendars::load(conn, office_id)?;

    // The first-response clock stops at the first public staff reply, or when the ticket is done without one.
    if let Some(Some(at)) = changes.first_response_at.filter(|_| responded_now) {
        changes.first_response_seconds = Some(Some(seconds(calendar.between(ticket.created_at, at))));
        if ticket.sla.first_response_due_at.is_some_and(|due| at > due)
            && ticket.sla.first_response_breached_at.is_none()
        {
            changes.first_response_breached_at = Some(Some(at));
        }
    } else if resolves
        && ticket.first_response_at.is_none()
        && ticket.sla.first_response_breached_at.is_none()
        && ticket.sla.first_response_due_at.is_some_and(|due| now > due)
    {
        changes.first_response_breached_at = Some(Some(now));
    }

    // The resolution clock.
    let mut paused_seconds = ticket.sla.sla_paused_seconds;
    if stops {
        changes.sla_paused_at = Some(Some(now));
        if ticket.sla.resolution_breached_at.is_none() && ticket.sla.resolution_due_at.is_some_and(|due| now > due) {
            changes.resolution_breached_at = Some(Some(now));
        }
    }
    if resolves {
        // Resolution time without the pauses; a ticket resolved while waiting on the requester stopped when the
        // wait began.
        let stopped_at = if clock_runs(before) { now } else { ticket.sla.sla_paused_at.unwrap_or(now) };
        let worked = seconds(calendar.between(ticket.created_at, stopped_at)) - paused_seconds;
        changes.resolution_seconds = Some(Some(worked.max(0)));
    } else if is_done(before) && !is_done(after) {
        changes.resolution_seconds = Some(None);
    }
    if resumes && let Some(paused_at) = ticket.sla.sla_paused_at {
        // Time stopped after the target had already passed does not move it.
        if ticket.sla.resolution_due_at.is_none_or(|due| paused_at < due) {
            paused_seconds += seconds(calendar.between(paused_at, now));
        }
        changes.sla_paused_at = Some(None);
        changes.sla_paused_seconds = Some(paused_seconds);
    }

    if retarget || resumes {
        let policy = match retarget {
            true => SlaPolicy::applicable(conn, priority, category)?,
            false => match ticket.sla.sla_policy_id {
                Some(id) => SlaPolicy::find(conn, id)?,
                None => None,
            },
        };
        let timers = timers(policy.as_ref(), &calendar, ticket.created_at, paused_seconds);
        changes.sla_policy_id = Some(timers.policy_id);
        let first_response_open = ticket.first_response_at.is_none() && !responded_now;
        if retarget && first_response_open {
            changes.first_response_due_at = Some(timers.first_response_due_at);
            changes.first_response_warn_at = Some(timers.first_response_warn_at);
            if timers.first_response_warn_at.is_some_and(|warn| warn > now) {
                changes.first_response_warned_at = Some(None);
            }
        }
        changes.resolution_due_at = Some(timers.resolution_due_at);
        changes.resolution_warn_at = Some(timers.resolution_warn_at);
        if timers.resolution_warn_at.is_some_and(|warn| warn > now) {
            changes.resolution_warned_at = Some(None);
        }
    }
    Ok(())
}

/// A notice the scheduler sends: which clock, and whether it is a warning or a breach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// The target is near.
    Warning(SlaClock),
    /// The target passed.
    Breach(SlaClock),
}

/// The notices in the order the scheduler looks for them: breaches first, so that a ticket found past both
/// points at once gets the breach and no late warning.
pub const NOTICES: [Notice; 4] = [
    Notice::Breach(SlaClock::FirstResponse),
    Notice::Breach(SlaClock::Resolution),
    Notice::Warning(SlaClock::FirstResponse),
    Notice::Warning(SlaClock::Resolution),
];

/// What one escalation pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Escalated {
    /// Warnings recorded.
    pub warnings: usize,
    /// Breaches recorded.
    pub breaches: usize,
}

/// Who a notice goes to: a warning to the assignee (the office coordinators when nobody is assigned), a breach to
/// the office coordinators and the assignee.
fn recipients(conn: &mut PgConnection, ticket: &Ticket, notice: Notice) -> DomainResult<Vec<Uuid>> {
    let mut coordinators = || -> DomainResult<Vec<Uuid>> {
        let mut ids: Vec<Uuid> =
            User::active_in_office(conn, ticket.office_id, Role::Coordinator)?.into_iter().map(|u| u.id).collect();
        if ids.is_empty() {
            // An office without coordinators: the network's coordinators step in.
            ids = User::active_with_role(conn, Role::Coordinator)?.into_iter().map(|u| u.id).collect();
        }
        Ok(ids)
    };
    let mut ids = match (notice, ticket.assignee_id) {
        (Notice::Warning(_), Some(assignee)) => vec![assignee],
        (Notice::Warning(_), None) => coordinators()?,
        (Notice::Breach(_), assignee) => {
            let mut ids = coordinators()?;
            ids.extend(assignee);
            ids
        }
    };
    ids.dedup();
    Ok(ids)
}

/// Records one notice on a locked ticket: the flag, the event, the notifications and, for a breach, the
/// policy's breach action.
fn record_notice(conn: &mut PgConnection, ticket: &Ticket, notice: Notice, now: DateTime<Utc>) -> DomainResult<()> {
    let mut edit = Edit::at(ticket, None, now);
    let flags = edit.sla_flags();
    let (kind, clock, due) = match notice {
        Notice::Warning(SlaClock::FirstResponse) => {
            flags.first_response_warned_at = Some(Some(now));
            (EventKind::SlaWarning, SlaClock::FirstResponse, ticket.sla.first_response_due_at)
        }
        Notice::Warning(SlaClock::Resolution) => {
            flags.resolution_warned_at = Some(Some(now));
            (EventKind::SlaWarning, SlaClock::Resolution, ticket.sla.resolution_due_at)
        }
        Notice::Breach(SlaClock::FirstResponse) => {
            flags.first_response_breached_at = Some(Some(now));
            flags.first_response_warned_at = Some(Some(ticket.sla.first_response_warned_at.unwrap_or(now)));
            (EventKind::SlaBreached, SlaClock::FirstResponse, ticket.sla.first_response_due_at)
        }
        Notice::Breach(SlaClock::Resolution) => {
            flags.resolution_breached_at = Some(Some(now));
            flags.resolution_warned_at = Some(Some(ticket.sla.resolution_warned_at.unwrap_or(now)));
            (EventKind::SlaBreached, SlaClock::Resolution, ticket.sla.resolution_due_at)
        }
    };
    let recipient_ids = recipients(conn, ticket, notice)?;
    edit.record(events::staff_event(
        ticket.id,
        None,
        kind,
        (None, Some(clock.to_string())),
        EventDetails::SlaNotice { clock, due_at: due, recipient_ids },
    ));

    if let Notice::Breach(_) = notice {
        let policy = match ticket.sla.sla_policy_id {
            Some(id) => SlaPolicy::find(conn, id)?,
            None => None,
        };
        let because = EventDetails::Automatic { reason: ChangeReason::SlaBreached, clock };
        match policy.map(|p| p.breach_action) {
            Some(BreachAction::RaisePriority) => edit.set_priority(ticket.priority.raised(), because),
            Some(BreachAction::ReturnToQueue) => edit.set_assignee(None, because),
            Some(BreachAction::Notify) | None => {}
        }
    }
    edit.save(conn)?;
    Ok(())
}

/// One escalation pass at `now`: for each kind of notice, claims up to `limit` tickets that owe it and records
/// it, each kind in its own transaction and each ticket in its own savepoint. Safe to run in several processes at
/// once.
pub fn escalate(conn: &mut PgConnection, now: DateTime<Utc>, limit: i64) -> DomainResult<Escalated> {
    let mut done = Escalated::default();
    for notice in NOTICES {
        let count = conn.transaction(|conn| -> DomainResult<usize> {
            let claimed = match notice {
                Notice::Breach(clock) => Ticket::claim_owing(conn, clock, true, now, limit)?,
                Notice::Warning(clock) => Ticket::claim_owing(conn, clock, false, now, limit)?,
            };
            let mut recorded = 0;
            for ticket in &claimed {
                // Each ticket in its own savepoint: one that cannot be recorded (a bug, bad data) is logged and
                // left for the next pass instead of holding back every other ticket's notice for ever.
                match conn.transaction(|conn| record_notice(conn, ticket, notice, now)) {
                    Ok(()) => recorded += 1,
                    Err(error) if error.is_temporary() => return Err(error),
                    Err(error) => tracing::error!(ticket = ticket.reference, ?notice, error = %error.detail(), cause = ?error, "a service-level notice could not be recorded"),
                }
            }
            Ok(recorded)
        })?;
        match notice {
            Notice::Warning(_) => done.warnings += count,
            Notice::Breach(_) => done.breaches += count,
        }
    }
    Ok(done)
}
