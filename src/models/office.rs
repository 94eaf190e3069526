//! Offices: the regional office and the national offices that advisors work in.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::schema::{offices, organizations};

/// An office of the network.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = offices, check_for_backend(diesel::pg::Pg))]
pub struct Office {
    /// Identifier.
    pub id: Uuid,
    /// Short unique code, such as `AL` or `REGIONAL`.
    pub code: String,
    /// Display name.
    pub name: String,
    /// ISO 3166-1 alpha-2 country (`XK` for Kosovo).
    pub country: String,
    /// IANA time zone of the office, such as `Europe/Tirane`.
    pub time_zone: String,
    /// Where the office can be reached.
    pub contact_email: String,
    /// Whether this is the regional office (the fallback for countries without a national office).
    pub is_regional: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// An office's calendar as stored: time zone, working hours (JSON), holidays in date order.
pub type CalendarColumns = (String, serde_json::Value, Vec<chrono::NaiveDate>);

/// A new office.
#[derive(Debug, Insertable)]
#[diesel(table_name = offices)]
pub struct NewOffice {
    /// See [`Office::id`].
    pub id: Uuid,
    /// See [`Office::code`].
    pub code: String,
    /// See [`Office::name`].
    pub name: String,
    /// See [`Office::country`].
    pub country: String,
    /// See [`Office::time_zone`].
    pub time_zone: String,
    /// See [`Office::contact_email`].
    pub contact_email: String,
    /// See [`Office::is_regional`].
    pub is_regional: bool,
}

/// Changes to an office; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = offices)]
pub struct OfficeChanges {
    /// See [`Office::code`].
    pub code: Option<String>,
    /// See [`Office::name`].
    pub name: Option<String>,
    /// See [`Office::country`].
    pub country: Option<String>,
    /// See [`Office::time_zone`].
    pub time_zone: Option<String>,
    /// See [`Office::contact_email`].
    pub contact_email: Option<String>,
    /// See [`Office::is_regional`].
    pub is_regional: Option<bool>,
}

impl OfficeChanges {
    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        self.code.is_none()
            && self.name.is_none()
            && self.country.is_none()
            && self.time_zone.is_none()
            && self.contact_email.is_none()
            && self.is_regional.is_none()
    }
}

impl Office {
    /// Inserts an office.
    pub fn insert(conn: &mut PgConnection, new: &NewOffice) -> QueryResult<Office> {
        diesel::insert_into(offices::table).values(new).returning(Office::as_returning()).get_result(conn)
    }

    /// The office with this id.
    pub fn find(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<Office>> {
        offices::table.find(id).select(Office::as_select()).first(conn).optional()
    }

    /// The office with this id, with the name of the organisation `organization_id` (one query).
    pub fn find_with_organization_name(
        conn: &mut PgConnection,
        id: Uuid,
        organization_id: Uuid,
    ) -> QueryResult<Option<(Office, Option<String>)>> {
        let organization = organizations::table
            .filter(organizations::id.eq(organization_id))
            .select(organizations::name)
            .single_value();
        offices::table.find(id).select((Office::as_select(), organization)).first(conn).optional()
    }

    /// The regional office, if there is one.
    pub fn regional(conn: &mut PgConnection) -> QueryResult<Option<Office>> {
        offices::table.filter(offices::is_regional.eq(true)).select(Office::as_select()).first(conn).optional()
    }

    /// The office with this code.
    pub fn find_by_code(conn: &mut PgConnection, code: &str) -> QueryResult<Option<Office>> {
        offices::table.filter(offices::code.eq(code)).select(Office::as_select()).first(conn).optional()
    }

    /// Every office, the regional one first, then by code.
    pub fn list(conn: &mut PgConnection) -> QueryResult<Vec<Office>> {
        offices::table.order((offices::is_regional.desc(), offices::code.asc())).select(Office::as_select()).load(conn)
    }

    /// Applies `changes` and returns the updated office.
    pub fn update(conn: &mut PgConnection, id: Uuid, changes: &OfficeChanges) -> QueryResult<Office> {
        diesel::update(offices::table.find(id))
            .set((changes, offices::updated_at.eq(diesel::dsl::now)))
            .returning(Office::as_returning())
            .get_result(conn)
    }

    /// What the office's business calendar is made of, in one round trip: its time zone, its working hours (as
    /// stored) and its holiday dates in order.
    pub fn calendar_columns(
        conn: &mut PgConnection,
        id: Uuid,
    ) -> QueryResult<Option<(String, serde_json::Value, Vec<chrono::NaiveDate>)>> {
        use diesel::sql_types::{Array, Date};
        let holidays = crate::models::sql::fragment::<Array<Date>>(
            "ARRAY(SELECT h.date FROM office_holidays h WHERE h.office_id = offices.id ORDER BY h.date)",
        );
        offices::table.find(id).select((offices::time_zone, offices::working_hours, holidays)).first(conn).optional()
    }

    /// The calendar columns of every office (id, time zone, working hours, holidays in date order), in one query.
    pub fn all_calendar_columns(conn: &mut PgConnection) -> QueryResult<Vec<(Uuid, CalendarColumns)>> {
        use diesel::sql_types::{Array, Date};
        let holidays = crate::models::sql::fragment::<Array<Date>>(
            "ARRAY(SELECT h.date FROM office_holidays h WHERE h.office_id = offices.id ORDER BY h.date)",
        );
        offices::table.select((offices::id, (offices::time_zone, offices::working_hours, holidays))).load(conn)
    }

    /// Replaces the office's working hours (the JSON form of its working week); whether the office exists.
    pub fn set_working_hours(
        conn: &mut PgConnection,
        id: Uuid,
        working_hours: &serde_json::Value,
    ) -> QueryResult<bool> {
        diesel::update(offices::table.find(id))
            .set((offices::working_hours.eq(working_hours), offices::updated_at.eq(diesel::dsl::now)))
            .execute(conn)
            .map(|updated| updated == 1)
    }
}
