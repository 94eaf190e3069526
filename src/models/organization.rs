//! Organisations: the CSOs whose people ask for help.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::schema::organizations;

/// A civil-society organisation.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = organizations, check_for_backend(diesel::pg::Pg))]
pub struct Organization {
    /// Identifier.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// ISO 3166-1 alpha-2 country (`XK` for Kosovo); tickets of the organisation carry it.
    pub country: String,
    /// Registration number in its country's register, if known; unique within the country.
    pub registration_number: Option<String>,
    /// Where the organisation can be reached.
    pub contact_email: String,
    /// The organisation's email domain.
    pub email_domain: Option<String>,
    /// Whether an administrator verified that the domain is the organisation's own: only then do people writing
    /// from it for the first time join the organisation.
    pub email_domain_verified: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A new organisation.
#[derive(Debug, Insertable)]
#[diesel(table_name = organizations)]
pub struct NewOrganization {
    /// See [`Organization::id`].
    pub id: Uuid,
    /// See [`Organization::name`].
    pub name: String,
    /// See [`Organization::country`].
    pub country: String,
    /// See [`Organization::registration_number`].
    pub registration_number: Option<String>,
    /// See [`Organization::contact_email`].
    pub contact_email: String,
    /// See [`Organization::email_domain`].
    pub email_domain: Option<String>,
    /// See [`Organization::email_domain_verified`].
    pub email_domain_verified: bool,
}

/// Changes to an organisation; `None` leaves a column as it is, `Some(None)` clears a nullable one.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = organizations)]
pub struct OrganizationChanges {
    /// See [`Organization::name`].
    pub name: Option<String>,
    /// See [`Organization::country`].
    pub country: Option<String>,
    /// See [`Organization::registration_number`].
    pub registration_number: Option<Option<String>>,
    /// See [`Organization::contact_email`].
    pub contact_email: Option<String>,
    /// See [`Organization::email_domain`].
    pub email_domain: Option<Option<String>>,
    /// See [`Organization::email_domain_verified`].
    pub email_domain_verified: Option<bool>,
}

/// Filters for listing organisations.
#[derive(Debug, Default)]
pub struct OrganizationFilter {
    /// Only this country.
    pub country: Option<String>,
    /// Only names containing this text (case-insensitive).
    pub name_contains: Option<String>,
    /// Only this organisation (a requester's view).
    pub only_id: Option<Uuid>,
    /// Only ids after this one (keyset pagination in creation order).
    pub after: Option<Uuid>,
    /// At most this many.
    pub limit: i64,
}

impl OrganizationChanges {
    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.country.is_none()
            && self.registration_number.is_none()
            && self.contact_email.is_none()
            && self.email_domain.is_none()
            && self.email_domain_verified.is_none()
    }
}

impl Organization {
    /// Inserts an organisation.
    pub fn insert(conn: &mut PgConnection, new: &NewOrganization) -> QueryResult<Organization> {
        diesel::insert_into(organizations::table).values(new).returning(Organization::as_returning()).get_result(conn)
    }

    /// The organisation with this id.
    pub fn find(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<Organization>> {
        organizations::table.find(id).select(Organization::as_select()).first(conn).optional()
    }

    /// The organisation with this registration number in `country`.
    pub fn find_by_registration(
        conn: &mut PgConnection,
        country: &str,
        registration_number: &str,
    ) -> QueryResult<Option<Organization>> {
        organizations::table
            .filter(organizations::country.eq(country))
            .filter(organizations::registration_number.eq(registration_number))
            .select(Organization::as_select())
            .first(conn)
            .optional()
    }

    /// The organisation whose email domain is `domain`.
    pub fn find_by_email_domain(conn: &mut PgConnection, domain: &str) -> QueryResult<Option<Organization>> {
        organizations::table
            .filter(organizations::email_domain.eq(domain))
            .select(Organization::as_select())
            .first(conn)
            .optional()
    }

    /// Organisations matching `filter`, in creation order (ids are time-ordered UUIDv7).
    pub fn list(conn: &mut PgConnection, filter: &OrganizationFilter) -> QueryResult<Vec<Organization>> {
        let mut query = organizations::table.select(Organization::as_select()).into_boxed();
        if let Some(country) = &filter.country {
            query = query.filter(organizations::country.eq(country.clone()));
        }
        if let Some(text) = &filter.name_contains {
            query = query.filter(organizations::name.ilike(format!("%{}%", escape_like(text))));
        }
        if let Some(id) = filter.only_id {
            query = query.filter(organizations::id.eq(id));
        }
        if let Some(after) = filter.after {
            query = query.filter(organizations::id.gt(after));
        }
        query.order(organizations::id.asc()).limit(filter.limit).load(conn)
    }

    /// Applies `changes` and returns the updated organisation.
    pub fn update(conn: &mut PgConnection, id: Uuid, changes: &OrganizationChanges) -> QueryResult<Organization> {
        diesel::update(organizations::table.find(id))
            .set((changes, organizations::updated_at.eq(diesel::dsl::now)))
            .returning(Organization::as_returning())
            .get_result(conn)
    }
}

/// Escapes `%`, `_` and `\` for a LIKE pattern.
pub fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}
