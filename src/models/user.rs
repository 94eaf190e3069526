//! Users: staff of the offices and people of the CSOs.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::schema::users;
use crate::vocabulary::Role;

/// A person who uses the help desk.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct User {
    /// Identifier.
    pub id: Uuid,
    /// Full name.
    pub name: String,
    /// Email address; unique, compared case-insensitively.
    pub email: String,
    /// Preferred language (BCP 47), used for notifications.
    pub language: String,
    /// What the user may do.
    pub role: Role,
    /// The office of a staff member.
    pub office_id: Option<Uuid>,
    /// The organisation of a requester.
    pub organization_id: Option<Uuid>,
    /// Inactive users cannot sign in and get no work.
    pub active: bool,
    /// When the user was created.
    pub created_at: DateTime<Utc>,
    /// When the user last changed.
    pub updated_at: DateTime<Utc>,
}

/// A new user.
#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser {
    /// See [`User::id`].
    pub id: Uuid,
    /// See [`User::name`].
    pub name: String,
    /// See [`User::email`].
    pub email: String,
    /// See [`User::language`].
    pub language: String,
    /// See [`User::role`].
    pub role: Role,
    /// See [`User::office_id`].
    pub office_id: Option<Uuid>,
    /// See [`User::organization_id`].
    pub organization_id: Option<Uuid>,
}

/// Changes to a user; `None` leaves a column as it is, `Some(None)` clears a nullable one.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChanges {
    /// See [`User::name`].
    pub name: Option<String>,
    /// See [`User::language`].
    pub language: Option<String>,
    /// See [`User::role`].
    pub role: Option<Role>,
    /// See [`User::office_id`].
    pub office_id: Option<Option<Uuid>>,
    /// See [`User::organization_id`].
    pub organization_id: Option<Option<Uuid>>,
    /// See [`User::active`].
    pub active: Option<bool>,
}

/// Filters for listing users.
#[derive(Debug, Default)]
pub struct UserFilter {
    /// Only this role.
    pub role: Option<Role>,
    /// Only staff of this office.
    pub office_id: Option<Uuid>,
    /// Only people of this organisation.
    pub organization_id: Option<Uuid>,
    /// Only active (or only inactive) users.
    pub active: Option<bool>,
    /// Only ids after this one (keyset pagination in creation order).
    pub after: Option<Uuid>,
    /// At most this many.
    pub limit: i64,
}

impl UserChanges {
    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.language.is_none()
            && self.role.is_none()
            && self.office_id.is_none()
            && self.organization_id.is_none()
            && self.active.is_none()
    }
}

impl User {
    /// How many active admins there are.
    pub fn count_active_admins(conn: &mut PgConnection) -> QueryResult<i64> {
        users::table.filter(users::role.eq(Role::Admin)).filter(users::active.eq(true)).count().get_result(conn)
    }

    /// Inserts a user.
    pub fn insert(conn: &mut PgConnection, new: &NewUser) -> QueryResult<User> {
        diesel::insert_into(users::table).values(new).returning(User::as_returning()).get_result(conn)
    }

    /// The user with this id.
    pub fn find(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<User>> {
        users::table.find(id).select(User::as_select()).first(conn).optional()
    }

    /// The user with this email address, compared case-insensitively.
    pub fn find_by_email(conn: &mut PgConnection, email: &str) -> QueryResult<Option<User>> {
        users::table
            .filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>("lower(users.email) = lower(")
                    .bind::<diesel::sql_types::Text, _>(email.to_owned())
                    .sql(")"),
            )
            .select(User::as_select())
            .first(conn)
            .optional()
    }

    /// The active users of an office with this role.
    pub fn active_in_office(conn: &mut PgConnection, office_id: Uuid, role: Role) -> QueryResult<Vec<User>> {
        users::table
            .filter(users::office_id.eq(office_id))
            .filter(users::role.eq(role))
            .filter(users::active.eq(true))
            .order(users::id.asc())
            .select(User::as_select())
            .load(conn)
    }

    /// The active users with `role`, in any office.
    pub fn active_with_role(conn: &mut PgConnection, role: Role) -> QueryResult<Vec<User>> {
        users::table
            .filter(users::role.eq(role))
            .filter(users::active.eq(true))
            .order(users::id.asc())
            .select(User::as_select())
            .load(conn)
    }

    /// Users matching `filter`, in creation order (ids are time-ordered UUIDv7).
    pub fn list(conn: &mut PgConnection, filter: &UserFilter) -> QueryResult<Vec<User>> {
        let mut query = users::table.select(User::as_select()).into_boxed();
        if let Some(role) = filter.role {
            query = query.filter(users::role.eq(role));
        }
        if let Some(office) = filter.office_id {
            query = query.filter(users::office_id.eq(office));
        }
        if let Some(organization) = filter.organization_id {
            query = query.filter(users::organization_id.eq(organization));
        }
        if let Some(active) = filter.active {
            query = query.filter(users::active.eq(active));
        }
        if let Some(after) = filter.after {
            query = query.filter(users::id.gt(after));
        }
        query.order(users::id.asc()).limit(filter.limit).load(conn)
    }

    /// Applies `changes` and returns the updated user.
    pub fn update(conn: &mut PgConnection, id: Uuid, changes: &UserChanges) -> QueryResult<User> {
        diesel::update(users::table.find(id))
            .set((changes, users::updated_at.eq(diesel::dsl::now)))
            .returning(User::as_returning())
            .get_result(conn)
    }
}
