//! Advisor profiles: what an advisor covers, in which languages, how much work they take, and whether they are in.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::models::User;
use crate::schema::{advisor_profiles, tickets, users};
use crate::vocabulary::{Category, Role, TicketStatus};

/// An advisor's routing profile.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = advisor_profiles, primary_key(user_id), check_for_backend(diesel::pg::Pg))]
pub struct AdvisorProfile {
    /// The advisor.
    pub user_id: Uuid,
    /// The assistance areas the advisor covers.
    pub categories: Vec<Category>,
    /// Primary language subtags the advisor works in, such as `sq` and `en`.
    pub languages: Vec<String>,
    /// Most open tickets (new, open, pending) routing gives the advisor.
    pub capacity: i32,
    /// Whether the advisor takes new work; `false` is "away".
    pub available: bool,
    /// When an away advisor is back; after it they count as available again.
    pub away_until: Option<DateTime<Utc>>,
    /// When routing last gave them a ticket.
    pub last_assigned_at: Option<DateTime<Utc>>,
    /// When the profile last changed.
    pub updated_at: DateTime<Utc>,
}

/// A new profile.
#[derive(Debug, Insertable)]
#[diesel(table_name = advisor_profiles)]
pub struct NewAdvisorProfile {
    /// See [`AdvisorProfile::user_id`].
    pub user_id: Uuid,
    /// See [`AdvisorProfile::categories`].
    pub categories: Vec<Category>,
    /// See [`AdvisorProfile::languages`].
    pub languages: Vec<String>,
}

/// Changes to a profile; `None` leaves a column as it is, `Some(None)` clears a nullable one.
#[derive(Debug, Default, Clone, AsChangeset)]
#[diesel(table_name = advisor_profiles)]
pub struct AdvisorProfileChanges {
    /// See [`AdvisorProfile::categories`].
    pub categories: Option<Vec<Category>>,
    /// See [`AdvisorProfile::languages`].
    pub languages: Option<Vec<String>>,
    /// See [`AdvisorProfile::capacity`].
    pub capacity: Option<i32>,
    /// See [`AdvisorProfile::available`].
    pub available: Option<bool>,
    /// See [`AdvisorProfile::away_until`].
    pub away_until: Option<Option<DateTime<Utc>>>,
}

impl AdvisorProfileChanges {
    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        self.categories.is_none()
            && self.languages.is_none()
            && self.capacity.is_none()
            && self.available.is_none()
            && self.away_until.is_none()
    }
}

impl AdvisorProfile {
    /// Whether the advisor takes work at `now`: available, or away until a time that has passed.
    pub fn is_available(&self, now: DateTime<Utc>) -> bool {
        self.available || self.away_until.is_some_and(|back| back <= now)
    }

    /// Creates the profile of `user_id` unless it exists; returns whether it was created.
    pub fn insert_if_missing(conn: &mut PgConnection, new: &NewAdvisorProfile) -> QueryResult<bool> {
        diesel::insert_into(advisor_profiles::table).values(new).on_conflict_do_nothing().execute(conn).map(|n| n == 1)
    }

    /// The profile of `user_id`.
    pub fn find(conn: &mut PgConnection, user_id: Uuid) -> QueryResult<Option<AdvisorProfile>> {
        advisor_profiles::table.find(user_id).select(AdvisorProfile::as_select()).first(conn).optional()
    }

    /// Applies `changes` and returns the updated profile.
    pub fn update(
        conn: &mut PgConnection,
        user_id: Uuid,
        changes: &AdvisorProfileChanges,
    ) -> QueryResult<AdvisorProfile> {
        diesel::update(advisor_profiles::table.find(user_id))
            .set((changes, advisor_profiles::updated_at.eq(diesel::dsl::now)))
            .returning(AdvisorProfile::as_returning())
            .get_result(conn)
    }

    /// Locks the profiles of every advisor of `office_id` (in one order, so concurrent routings queue up instead
    /// of deadlocking) until the transaction ends. Routing holds these locks while it counts loads, so two
    /// tickets created at once cannot both take an advisor's last free place.
    pub fn lock_office(conn: &mut PgConnection, office_id: Uuid) -> QueryResult<()> {
        diesel::sql_query(
            "SELECT p.user_id FROM advisor_profiles p JOIN users u ON u.id = p.user_id \
             WHERE u.office_id = $1 AND u.role = 'advisor' ORDER BY p.user_id FOR UPDATE OF p",
        )
        .bind::<diesel::sql_types::Uuid, _>(office_id)
        .execute(conn)
        .map(|_| ())
    }

    /// Every advisor of `office_id` with their profile.
    pub fn for_office(conn: &mut PgConnection, office_id: Uuid) -> QueryResult<Vec<(AdvisorProfile, User)>> {
        advisor_profiles::table
            .inner_join(users::table)
            .filter(users::office_id.eq(office_id))
            .filter(users::role.eq(Role::Advisor))
            .order(advisor_profiles::user_id.asc())
            .select((AdvisorProfile::as_select(), User::as_select()))
            .load(conn)
    }

    /// Every advisor with their profile, optionally of one office.
    pub fn list(conn: &mut PgConnection, office_id: Option<Uuid>) -> QueryResult<Vec<(AdvisorProfile, User)>> {
        let mut query = advisor_profiles::table
            .inner_join(users::table)
            .filter(users::role.eq(Role::Advisor))
            .select((AdvisorProfile::as_select(), User::as_select()))
            .into_boxed();
        if let Some(office) = office_id {
            query = query.filter(users::office_id.eq(office));
        }
        query.order(advisor_profiles::user_id.asc()).load(conn)
    }

    /// The number of open tickets (new, open, pending) assigned to each of `advisors`, leaving out `except`.
    pub fn open_loads(
        conn: &mut PgConnection,
        advisors: &[Uuid],
        except: Option<Uuid>,
    ) -> QueryResult<HashMap<Uuid, i64>> {
        let mut query = tickets::table
            .filter(tickets::assignee_id.eq_any(advisors.to_vec()))
            .filter(tickets::status.eq_any(TicketStatus::ACTIVE))
            .group_by(tickets::assignee_id)
            .select((tickets::assignee_id, diesel::dsl::count_star()))
            .into_boxed();
        if let Some(ticket) = except {
            query = query.filter(tickets::id.ne(ticket));
        }
        let rows: Vec<(Option<Uuid>, i64)> = query.load(conn)?;
        Ok(rows.into_iter().filter_map(|(advisor, count)| advisor.map(|a| (a, count))).collect())
    }

    /// Records that routing just gave `user_id` a ticket.
    pub fn mark_assigned(conn: &mut PgConnection, user_id: Uuid) -> QueryResult<usize> {
        diesel::update(advisor_profiles::table.find(user_id))
            // The wall clock, not the transaction start: routings queue on a lock, and the order they get it
            // in is the order that counts for round-robin.
            .set(advisor_profiles::last_assigned_at.eq(crate::models::sql::fragment::<
                diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
            >("clock_timestamp()")))
            .execute(conn)
    }
}
