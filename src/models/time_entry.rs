//! Time spent on tickets by staff.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::schema::time_entries;

/// Minutes one staff member spent on one ticket on one day.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = time_entries, check_for_backend(diesel::pg::Pg))]
pub struct TimeEntry {
    /// Identifier.
    pub id: Uuid,
    /// The ticket.
    pub ticket_id: Uuid,
    /// Who spent it.
    pub author_id: Uuid,
    /// How long.
    pub minutes: i32,
    /// The day it was spent.
    pub spent_on: NaiveDate,
    /// What it was spent on.
    pub note: Option<String>,
    /// The message it was logged with, if any.
    pub message_id: Option<Uuid>,
    /// When it was logged.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A new entry.
#[derive(Debug, Insertable)]
#[diesel(table_name = time_entries, treat_none_as_default_value = false)]
pub struct NewTimeEntry {
    /// See [`TimeEntry::id`].
    pub id: Uuid,
    /// See [`TimeEntry::ticket_id`].
    pub ticket_id: Uuid,
    /// See [`TimeEntry::author_id`].
    pub author_id: Uuid,
    /// See [`TimeEntry::minutes`].
    pub minutes: i32,
    /// See [`TimeEntry::spent_on`].
    pub spent_on: NaiveDate,
    /// See [`TimeEntry::note`].
    pub note: Option<String>,
    /// See [`TimeEntry::message_id`].
    pub message_id: Option<Uuid>,
}

/// Changes to an entry; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = time_entries)]
pub struct TimeEntryChanges {
    /// See [`TimeEntry::minutes`].
    pub minutes: Option<i32>,
    /// See [`TimeEntry::spent_on`].
    pub spent_on: Option<NaiveDate>,
    /// See [`TimeEntry::note`].
    pub note: Option<Option<String>>,
}

impl TimeEntry {
    /// Inserts an entry.
    pub fn insert(conn: &mut PgConnection, new: &NewTimeEntry) -> QueryResult<TimeEntry> {
        diesel::insert_into(time_entries::table).values(new).returning(TimeEntry::as_returning()).get_result(conn)
    }

    /// The entries of a ticket, oldest first.
    pub fn list_for_ticket(conn: &mut PgConnection, ticket_id: Uuid) -> QueryResult<Vec<TimeEntry>> {
        time_entries::table
            .filter(time_entries::ticket_id.eq(ticket_id))
            .order((time_entries::created_at.asc(), time_entries::id.asc()))
            .select(TimeEntry::as_select())
            .load(conn)
    }

    /// An entry of a ticket.
    pub fn find_in_ticket(conn: &mut PgConnection, ticket_id: Uuid, id: Uuid) -> QueryResult<Option<TimeEntry>> {
        time_entries::table
            .filter(time_entries::ticket_id.eq(ticket_id))
            .filter(time_entries::id.eq(id))
            .select(TimeEntry::as_select())
            .first(conn)
            .optional()
    }

    /// Applies `changes`.
    pub fn update(conn: &mut PgConnection, id: Uuid, changes: &TimeEntryChanges) -> QueryResult<TimeEntry> {
        diesel::update(time_entries::table.find(id))
            .set((changes, time_entries::updated_at.eq(diesel::dsl::now)))
            .returning(TimeEntry::as_returning())
            .get_result(conn)
    }

    /// Deletes an entry.
    pub fn delete(conn: &mut PgConnection, id: Uuid) -> QueryResult<usize> {
        diesel::delete(time_entries::table.find(id)).execute(conn)
    }

    /// The minutes spent on a ticket in all.
    pub fn total_for_ticket(conn: &mut PgConnection, ticket_id: Uuid) -> QueryResult<i64> {
        time_entries::table
            .filter(time_entries::ticket_id.eq(ticket_id))
            .select(diesel::dsl::sum(time_entries::minutes))
            .first::<Option<i64>>(conn)
            .map(Option::unwrap_or_default)
    }

    /// Moves every entry of `from` to the ticket `to` (a merge).
    pub fn move_all(conn: &mut PgConnection, from: Uuid, to: Uuid) -> QueryResult<usize> {
        diesel::update(time_entries::table.filter(time_entries::ticket_id.eq(from)))
            .set(time_entries::ticket_id.eq(to))
            .execute(conn)
    }
}
