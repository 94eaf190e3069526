//! Offices: who may manage them and what a valid office is.

use diesel::PgConnection;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::caller::Caller;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::values::{self, Checks, NAME_MAX};
use crate::models::Office;
use crate::models::office::{NewOffice, OfficeChanges};

/// A new office.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOffice {
    /// Short unique code: 2 to 32 letters, digits, `-` or `_` (upper-cased), such as `AL` or `REGIONAL`.
    #[schema(min_length = 2, max_length = 32, example = "AL")]
    pub code: String,
    /// Display name.
    #[schema(min_length = 1, max_length = 200, example = "Albania national office")]
    pub name: String,
    /// ISO 3166-1 alpha-2 country (`XK` for Kosovo).
    #[schema(min_length = 2, max_length = 2, pattern = "^[A-Za-z]{2}$", example = "AL")]
    pub country: String,
    /// IANA time zone.
    #[schema(example = "Europe/Tirane")]
    pub time_zone: String,
    /// Where the office can be reached.
    #[schema(example = "tirana@example.org")]
    pub contact_email: String,
    /// Whether this is the regional office; there is at most one.
    #[serde(default)]
    pub is_regional: bool,
}

/// Changes to an office; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOffice {
    /// See [`CreateOffice::code`].
    #[schema(min_length = 2, max_length = 32)]
    pub code: Option<String>,
    /// See [`CreateOffice::name`].
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    /// See [`CreateOffice::country`].
    #[schema(min_length = 2, max_length = 2)]
    pub country: Option<String>,
    /// See [`CreateOffice::time_zone`].
    pub time_zone: Option<String>,
    /// See [`CreateOffice::contact_email`].
    pub contact_email: Option<String>,
    /// See [`CreateOffice::is_regional`].
    pub is_regional: Option<bool>,
}

/// Creates an office (admins and coordinators).
pub fn create(conn: &mut PgConnection, caller: &Caller, input: CreateOffice) -> DomainResult<Office> {
    caller.require_manager()?;
    let mut checks = Checks::default();
    let code = checks.check(values::office_code("code", &input.code));
    let name = checks.check(values::bounded_text("name", &input.name, NAME_MAX, false));
    let country = checks.check(values::country("country", &input.country));
    let time_zone = checks.check(values::time_zone("time_zone", &input.time_zone));
    let contact_email = checks.check(values::email("contact_email", &input.contact_email));
    checks.finish()?;
    let new =
        NewOffice { id: Uuid::now_v7(), code, name, country, time_zone, contact_email, is_regional: input.is_regional };
    Ok(Office::insert(conn, &new)?)
}

/// Changes an office (admins and coordinators).
pub fn update(conn: &mut PgConnection, caller: &Caller, id: Uuid, input: UpdateOffice) -> DomainResult<Office> {
    caller.require_manager()?;
    let mut checks = Checks::default();
    let changes = OfficeChanges {
        code: input.code.map(|v| checks.check(values::office_code("code", &v))),
        name: input.name.map(|v| checks.check(values::bounded_text("name", &v, NAME_MAX, false))),
        country: input.country.map(|v| checks.check(values::country("country", &v))),
        time_zone: input.time_zone.map(|v| checks.check(values::time_zone("time_zone", &v))),
        contact_email: input.contact_email.map(|v| checks.check(values::email("contact_email", &v))),
        is_regional: input.is_regional,
    };
    checks.finish()?;
    let office = Office::find(conn, id)?.ok_or(DomainError::NotFound("office"))?;
    if changes.is_empty() {
        return Ok(office);
    }
    Ok(Office::update(conn, id, &changes)?)
}

/// Every office, the regional one first (anyone signed in: offices are public contact points).
pub fn list(conn: &mut PgConnection) -> DomainResult<Vec<Office>> {
    Ok(Office::list(conn)?)
}

/// One office (anyone signed in: offices are public contact points).
pub fn get(conn: &mut PgConnection, id: Uuid) -> DomainResult<Office> {
    Office::find(conn, id)?.ok_or(DomainError::NotFound("office"))
}
