//! Public holidays of an office: local dates without business time.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::schema::office_holidays;

/// A public holiday of an office.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = office_holidays, check_for_backend(diesel::pg::Pg))]
pub struct Holiday {
    /// The office.
    pub office_id: Uuid,
    /// The local date.
    pub date: NaiveDate,
    /// What it is, such as "Independence Day".
    pub name: String,
    /// When it was added.
    pub created_at: DateTime<Utc>,
}

impl Holiday {
    /// The holidays of an office, in date order.
    pub fn of_office(conn: &mut PgConnection, office_id: Uuid) -> QueryResult<Vec<Holiday>> {
        office_holidays::table
            .filter(office_holidays::office_id.eq(office_id))
            .order(office_holidays::date.asc())
            .select(Holiday::as_select())
            .load(conn)
    }

    /// Adds a holiday.
    pub fn insert(conn: &mut PgConnection, office_id: Uuid, date: NaiveDate, name: &str) -> QueryResult<Holiday> {
        diesel::insert_into(office_holidays::table)
            .values((
                office_holidays::office_id.eq(office_id),
                office_holidays::date.eq(date),
                office_holidays::name.eq(name),
            ))
            .returning(Holiday::as_returning())
            .get_result(conn)
    }

    /// Adds a holiday unless the office already has one on `date`; whether it was added.
    pub fn insert_if_missing(
        conn: &mut PgConnection,
        office_id: Uuid,
        date: NaiveDate,
        name: &str,
    ) -> QueryResult<bool> {
        diesel::insert_into(office_holidays::table)
            .values((
                office_holidays::office_id.eq(office_id),
                office_holidays::date.eq(date),
                office_holidays::name.eq(name),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .map(|inserted| inserted == 1)
    }

    /// Removes a holiday; how many rows went (0 or 1).
    pub fn delete(conn: &mut PgConnection, office_id: Uuid, date: NaiveDate) -> QueryResult<usize> {
        diesel::delete(office_holidays::table.find((office_id, date))).execute(conn)
    }
}
