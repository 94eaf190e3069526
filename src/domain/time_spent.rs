//! Time spent: the minutes staff log on tickets (with a message or by themselves), totalled on the ticket and
//! reported per advisor, office, organisation, category, tag and custom field. Requesters never see any of it.
//! An entry is changed by its author for 7 days, by coordinators and admins always; every change is audited.

use chrono::{NaiveDate, TimeDelta, Utc};
use diesel::{Connection, PgConnection};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::caller::Caller;
use crate::domain::edit::Edit;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::events::{self, EventDetails};
use crate::domain::tickets;
use crate::domain::values::{self, Checks};
use crate::models::Ticket;
use crate::models::ticket::TicketKey;
use crate::models::ticket_event::EventKind;
use crate::models::time_entry::{NewTimeEntry, TimeEntry, TimeEntryChanges};
use crate::vocabulary::Role;

/// The most minutes of one entry (a day).
pub const MINUTES_MAX: i32 = 1440;
/// The longest note.
pub const NOTE_MAX: usize = 1000;
/// How long an author may change their entry.
pub const AUTHOR_EDIT_DAYS: i64 = 7;

/// Time to log.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogTime {
    /// Minutes spent, 1 to 1440.
    #[schema(minimum = 1, maximum = 1440, example = 45)]
    pub minutes: i32,
    /// The day they were spent (`YYYY-MM-DD`); today (UTC) when absent.
    #[schema(value_type = Option<String>, format = Date, example = "2026-12-01")]
    pub date: Option<NaiveDate>,
    /// What they were spent on (up to 1000 characters).
    pub note: Option<String>,
}

/// Changes to a time entry; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeTime {
    /// See [`LogTime::minutes`].
    #[schema(minimum = 1, maximum = 1440)]
    pub minutes: Option<i32>,
    /// See [`LogTime::date`].
    #[schema(value_type = Option<String>, format = Date)]
    pub date: Option<NaiveDate>,
    /// See [`LogTime::note`]; `null` removes it.
    #[serde(default, deserialize_with = "crate::domain::patch::nullable")]
    #[schema(value_type = Option<String>)]
    pub note: Option<Option<String>>,
}

fn check_minutes(checks: &mut Checks, field: &str, minutes: i32) {
    if !(1..=MINUTES_MAX).contains(&minutes) {
        checks.fail(field, format!("must be 1 to {MINUTES_MAX} minutes"));
    }
}

fn check_date(checks: &mut Checks, date: NaiveDate) {
    let today = Utc::now().date_naive();
    if date > today + TimeDelta::days(1) {
        checks.fail("date", "must not be later than tomorrow (UTC)");
    }
    if date < today - TimeDelta::days(3 * 366) {
        checks.fail("date", "must be within the last three years");
    }
}

fn check_note(checks: &mut Checks, note: Option<&str>) -> Option<String> {
    note.filter(|n| !n.trim().is_empty()).map(|n| checks.check(values::bounded_text("note", n, NOTE_MAX, true)))
}

/// Checks the minutes logged with a message (`time_spent_minutes`).
pub fn check_message_minutes(minutes: i32) -> DomainResult<()> {
    let mut checks = Checks::default();
    check_minutes(&mut checks, "time_spent_minutes", minutes);
    checks.finish()
}

/// Records a new entry on a locked ticket, within `edit` (its event and the ticket's new total).
pub fn record(
    conn: &mut PgConnection,
    edit: &mut Edit,
    author: Uuid,
    minutes: i32,
    date: NaiveDate,
    note: Option<String>,
    message_id: Option<Uuid>,
) -> DomainResult<TimeEntry> {
    let ticket = edit.ticket().clone();
    let entry = TimeEntry::insert(
        conn,
        &NewTimeEntry {
            id: Uuid::now_v7(),
            ticket_id: ticket.id,
            author_id: author,
            minutes,
            spent_on: date,
            note,
            message_id,
        },
    )?;
    edit.set_time_spent(total(conn, ticket.id)?);
    edit.record(events::staff_event(
        ticket.id,
        Some(author),
        EventKind::TimeLogged,
        (None, Some(minutes.to_string())),
        EventDetails::TimeSpent { entry_id: entry.id, minutes },
    ));
    Ok(entry)
}

/// The minutes spent on a ticket in all, as the ticket stores them.
pub fn total(conn: &mut PgConnection, ticket_id: Uuid) -> DomainResult<i32> {
    Ok(i32::try_from(TimeEntry::total_for_ticket(conn, ticket_id)?).unwrap_or(i32::MAX))
}

/// Logs time on a ticket the caller (staff) may see.
pub fn log(conn: &mut PgConnection, caller: &Caller, key: TicketKey, input: LogTime) -> DomainResult<TimeEntry> {
    caller.require_staff()?;
    let mut checks = Checks::default();
    check_minutes(&mut checks, "minutes", input.minutes);
    let date = input.date.unwrap_or_else(|| Utc::now().date_naive());
    check_date(&mut checks, date);
    let note = check_note(&mut checks, input.note.as_deref());
    checks.finish()?;
    conn.transaction(|conn| {
        let ticket = tickets::lock_for_change(conn, caller, key)?;
        let mut edit = Edit::new(&ticket, Some(caller.id()));
        let entry = record(conn, &mut edit, caller.id(), input.minutes, date, note, None)?;
        edit.save(conn)?;
        Ok(entry)
    })
}

/// The entries of a ticket the caller (staff) may see, oldest first.
pub fn list(conn: &mut PgConnection, caller: &Caller, key: TicketKey) -> DomainResult<(Ticket, Vec<TimeEntry>)> {
    caller.require_staff()?;
    let ticket = Ticket::find_visible(conn, key, caller.ticket_scope())?.ok_or(DomainError::NotFound("ticket"))?;
    let entries = TimeEntry::list_for_ticket(conn, ticket.id)?;
    Ok((ticket, entries))
}

/// Refuses a change to `entry` the caller may not make.
fn may_change(caller: &Caller, entry: &TimeEntry) -> DomainResult<()> {
    if matches!(caller.role(), Role::Admin | Role::Coordinator) {
        return Ok(());
    }
    if entry.author_id != caller.id() {
        return Err(DomainError::Forbidden("only its author or a coordinator may change a time entry".to_owned()));
    }
    if Utc::now() - entry.created_at > TimeDelta::days(AUTHOR_EDIT_DAYS) {
        return Err(DomainError::Forbidden(format!(
            "a time entry can be changed by its author for {AUTHOR_EDIT_DAYS} days; ask a coordinator"
        )));
    }
    Ok(())
}

/// Changes (`Some`) or removes (`None`) a time entry of a ticket the caller may see.
pub fn change(
    conn: &mut PgConnection,
    caller: &Caller,
    key: TicketKey,
    id: Uuid,
    input: Option<ChangeTime>,
) -> DomainResult<Option<TimeEntry>> {
    caller.require_staff()?;
    let mut checks = Checks::default();
    let changes = input.map(|input| {
        if let Some(minutes) = input.minutes {
            check_minutes(&mut checks, "minutes", minutes);
        }
        if let Some(date) = input.date {
            check_date(&mut checks, date);
        }
        TimeEntryChanges {
            minutes: input.minutes,
            spent_on: input.date,
            note: input.note.map(|note| check_note(&mut checks, note.as_deref())),
        }
    });
    checks.finish()?;
    conn.transaction(|conn| {
        let ticket = tickets::lock_for_change(conn, caller, key)?;
        let entry = TimeEntry::find_in_ticket(conn, ticket.id, id)?.ok_or(DomainError::NotFound("time entry"))?;
        may_change(caller, &entry)?;
        let mut edit = Edit::new(&ticket, Some(caller.id()));
        let (kind, values, minutes, changed) = match &changes {
            Some(changes) => {
                let changed = TimeEntry::update(conn, entry.id, changes)?;
                let values = (Some(entry.minutes.to_string()), Some(changed.minutes.to_string()));
                (EventKind::TimeChanged, values, changed.minutes, Some(changed))
            }
            None => {
                TimeEntry::delete(conn, entry.id)?;
                (EventKind::TimeRemoved, (Some(entry.minutes.to_string()), None), entry.minutes, None)
            }
        };
        edit.set_time_spent(total(conn, ticket.id)?);
        edit.record(events::staff_event(
            ticket.id,
            Some(caller.id()),
            kind,
            values,
            EventDetails::TimeSpent { entry_id: entry.id, minutes },
        ));
        edit.save(conn)?;
        Ok(changed)
    })
}
