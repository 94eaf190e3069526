//! Advisor profiles: what an advisor covers, in which languages, how much work they take, and whether they are in.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Array, Bool, Int4, Nullable, Text, Timestamptz};
use uuid::Uuid;

use crate::models::User;
use crate::schema::{advisor_profiles, users};
use crate::vocabulary::{Category, Role};

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
    /// Their open tickets (new, open, pending), kept up to date by every change that opens, reassigns, resolves,
    /// closes or reopens a ticket (see [`AdvisorProfile::adjust_open`]).
    pub open_tickets: i32,
    /// Whether the user may be given tickets: an active advisor (kept with the user, see
    /// [`AdvisorProfile::set_routable`]).
    pub routable: bool,
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

    /// Creates the profile of `user_id` unless it exists, counting the open tickets they already hold (a user who
    /// becomes an advisor may have some); returns whether it was created.
    pub fn insert_if_missing(conn: &mut PgConnection, new: &NewAdvisorProfile) -> QueryResult<bool> {
        let created = diesel::insert_into(advisor_profiles::table)
            .values(new)
            .on_conflict_do_nothing()
            .execute(conn)
            .map(|n| n == 1)?;
        if created {
            Self::repair_open_count(conn, new.user_id, true)?;
        }
        Ok(created)
    }

    /// Records whether `user_id` may be given tickets (after their role or active flag changed, in the same
    /// transaction, holding their profile: see [`AdvisorProfile::lock`]).
    pub fn set_routable(conn: &mut PgConnection, user_id: Uuid, routable: bool) -> QueryResult<usize> {
        diesel::update(advisor_profiles::table.find(user_id))
            .filter(advisor_profiles::routable.ne(routable))
            .set(advisor_profiles::routable.eq(routable))
            .execute(conn)
    }

    /// Every profile's user, in id order.
    pub fn all_ids(conn: &mut PgConnection) -> QueryResult<Vec<Uuid>> {
        advisor_profiles::table.select(advisor_profiles::user_id).order(advisor_profiles::user_id.asc()).load(conn)
    }

    /// Locks the profile of `user_id` until the transaction ends (before releasing the advisor's tickets, so that
    /// the changes to come find it theirs).
    pub fn lock(conn: &mut PgConnection, user_id: Uuid) -> QueryResult<()> {
        advisor_profiles::table
            .find(user_id)
            .select(advisor_profiles::user_id)
            .for_update()
            .load::<Uuid>(conn)
            .map(|_| ())
    }

    /// Picks and locks the advisor of `pick.office_id` who takes a ticket, and counts it on their profile, in one
    /// statement; returns every advisor of the office as the statement saw them, the chosen one (if any) marked.
    ///
    /// With `wait: false` only the chosen advisor's row is locked, so submissions to one office proceed side by
    /// side: a row another transaction holds is passed over (`SKIP LOCKED`); that transaction is giving the
    /// advisor a ticket or changing their load, and the next in rank is as good a choice. PostgreSQL checks the
    /// capacity again on the version it locks, so capacity is never exceeded. With `wait: true` (for when every
    /// advisor who could take it was held) the statement waits for and locks the office's active advisors in one
    /// order, and ranks them as they are once locked.
    pub fn pick(conn: &mut PgConnection, pick: &Pick, wait: bool) -> QueryResult<Vec<OfficeAdvisor>> {
        PickStatement { pick, wait }.load(conn)
    }

    /// Adds `delta` to the open-ticket counts of the advisors named (never below zero), locking their profiles
    /// in one order so that concurrent changes never deadlock on them.
    pub fn adjust_open(conn: &mut PgConnection, user_ids: &[Uuid], deltas: &[i32]) -> QueryResult<usize> {
        if user_ids.is_empty() {
            return Ok(0);
        }
        AdjustOpen { user_ids, deltas }.execute(conn)
    }

    /// Checks the open-ticket count of `user_id` against their tickets and, with `correct`, corrects it; returns
    /// the difference if there was one. Exact when run in a transaction of its own (or the caller's): the profile
    /// is locked first and the tickets counted in a later statement, so every change already counted on the
    /// profile has committed and is in the count, and every change still under way adds its own delta after.
    pub fn repair_open_count(
        conn: &mut PgConnection,
        user_id: Uuid,
        correct: bool,
    ) -> QueryResult<Option<OpenCountRepair>> {
        let Some(recorded) = advisor_profiles::table
            .find(user_id)
            .select(advisor_profiles::open_tickets)
            .for_update()
            .first::<i32>(conn)
            .optional()?
        else {
            return Ok(None);
        };
        let actual: i64 = crate::schema::tickets::table
            .filter(crate::schema::tickets::assignee_id.eq(user_id))
            .filter(crate::schema::tickets::status.eq_any(crate::vocabulary::TicketStatus::ACTIVE))
            .count()
            .get_result(conn)?;
        let actual = i32::try_from(actual).unwrap_or(i32::MAX);
        if actual == recorded {
            return Ok(None);
        }
        if correct {
            diesel::update(advisor_profiles::table.find(user_id))
                .set(advisor_profiles::open_tickets.eq(actual))
                .execute(conn)?;
        }
        Ok(Some(OpenCountRepair { user_id, recorded, actual }))
    }
}

/// What routing asks of an office's advisors.
#[derive(Debug, Clone)]
pub struct Pick {
    /// The office.
    pub office_id: Uuid,
    /// The moment of the decision (an away advisor whose return date has passed counts as back).
    pub now: DateTime<Utc>,
    /// The ticket's category, which the advisor must cover.
    pub category: Category,
    /// The requester's primary language, preferred.
    pub language: String,
    /// An advisor a routing rule names: chosen first when they qualify.
    pub named: Option<Uuid>,
    /// The current assignee of a ticket being routed again: the ticket does not count against them, and choosing
    /// them again counts nothing new.
    pub current: Option<Uuid>,
}

/// One advisor of an office as [`AdvisorProfile::pick`] saw them.
#[derive(Debug, Clone, QueryableByName)]
pub struct OfficeAdvisor {
    /// The advisor.
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub user_id: Uuid,
    /// Their name.
    #[diesel(sql_type = Text)]
    pub name: String,
    /// Whether their account is active.
    #[diesel(sql_type = Bool)]
    pub active: bool,
    /// See [`AdvisorProfile::categories`].
    #[diesel(sql_type = Array<Text>)]
    pub categories: Vec<Category>,
    /// See [`AdvisorProfile::languages`].
    #[diesel(sql_type = Array<Text>)]
    pub languages: Vec<String>,
    /// See [`AdvisorProfile::capacity`].
    #[diesel(sql_type = Int4)]
    pub capacity: i32,
    /// See [`AdvisorProfile::available`].
    #[diesel(sql_type = Bool)]
    pub available: bool,
    /// See [`AdvisorProfile::away_until`].
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub away_until: Option<DateTime<Utc>>,
    /// See [`AdvisorProfile::last_assigned_at`] (before this pick).
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub last_assigned_at: Option<DateTime<Utc>>,
    /// Their open tickets before this one, leaving out the ticket being routed again.
    #[diesel(sql_type = Int4)]
    pub open_tickets: i32,
    /// Whether the statement chose (and counted) them.
    #[diesel(sql_type = Bool)]
    pub chosen: bool,
}

impl OfficeAdvisor {
    /// Whether the advisor takes work at `now`: available, or away until a time that has passed.
    pub fn is_available(&self, now: DateTime<Utc>) -> bool {
        self.available || self.away_until.is_some_and(|back| back <= now)
    }
}

/// An open-ticket count [`AdvisorProfile::repair_open_counts`] corrected.
#[derive(Debug, Clone)]
pub struct OpenCountRepair {
    /// The advisor.
    pub user_id: Uuid,
    /// The count the profile had.
    pub recorded: i32,
    /// The real count.
    pub actual: i32,
}

/// The statement of [`AdvisorProfile::pick`]. Written out rather than through `sql_query` so that it stays in
/// diesel's prepared-statement cache (two texts: waiting and not).
struct PickStatement<'a> {
    pick: &'a Pick,
    wait: bool,
}

/// Whether the row is the current assignee's, as 0 or 1.
const IS_CURRENT: &str = "(p.user_id IS NOT DISTINCT FROM a.current)::int";

/// What a profile row must be to take the ticket: routable, available, covering the category, below capacity
/// (the current assignee's ticket left out). In the locking scan's own `WHERE`, so that PostgreSQL checks it again
/// on the row version it locks.
const TAKES_IT: &str = "p.routable AND (p.available OR p.away_until <= a.at) AND a.category = ANY(p.categories) \
     AND p.open_tickets - (p.user_id IS NOT DISTINCT FROM a.current)::int < p.capacity";

/// The ranking after the named advisor and the language: the lowest load (open / capacity: IEEE division orders
/// small integer ratios exactly), then whoever was assigned least recently.
const BY_LOAD: &str = "(p.open_tickets - (p.user_id IS NOT DISTINCT FROM a.current)::int)::float8 / p.capacity, \
     p.last_assigned_at NULLS FIRST, p.user_id";

impl QueryFragment<Pg> for PickStatement<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        use diesel::sql_types::Uuid as SqlUuid;
        out.push_sql("WITH a AS (SELECT ");
        out.push_bind_param::<SqlUuid, _>(&self.pick.office_id)?;
        out.push_sql("::uuid AS office, ");
        out.push_bind_param::<Timestamptz, _>(&self.pick.now)?;
        out.push_sql("::timestamptz AS at, ");
        out.push_bind_param::<Text, _>(&self.pick.category)?;
        out.push_sql("::text AS category, ");
        out.push_bind_param::<Nullable<SqlUuid>, _>(&self.pick.current)?;
        out.push_sql("::uuid AS current, ");
        out.push_bind_param::<Nullable<SqlUuid>, _>(&self.pick.named)?;
        out.push_sql("::uuid AS named, ");
        out.push_bind_param::<Text, _>(&self.pick.language)?;
        out.push_sql("::text AS language), ");
        if self.wait {
            // Every advisor of the office who could take it, locked in one order (waiting in rank order, which
            // moves as loads change, could deadlock two routings), then ranked as they are once locked.
            out.push_sql(
                "held AS MATERIALIZED (SELECT p.* FROM advisor_profiles p JOIN users u ON u.id = p.user_id, a \
                 WHERE u.office_id = a.office AND p.routable AND (p.available OR p.away_until <= a.at) \
                   AND a.category = ANY(p.categories) ORDER BY p.user_id FOR UPDATE OF p), \
                 pick AS (SELECT p.user_id FROM held p, a WHERE ",
            );
            out.push_sql(TAKES_IT);
            out.push_sql(
                " ORDER BY (p.user_id IS NOT DISTINCT FROM a.named) DESC, (a.language = ANY(p.languages)) DESC, ",
            );
            out.push_sql(BY_LOAD);
            out.push_sql(" LIMIT 1)");
        } else {
            // The best group first (the named advisor, then those who speak the language), as the statement sees
            // the office; within it, one row is locked, passing over held ones. When the whole group is held,
            // nobody is picked and the caller runs the waiting statement.
            out.push_sql(
                "eligible AS (SELECT p.user_id, (p.user_id IS NOT DISTINCT FROM a.named)::int * 2 \
                     + (a.language = ANY(p.languages))::int AS grade \
                 FROM advisor_profiles p JOIN users u ON u.id = p.user_id, a \
                 WHERE u.office_id = a.office AND u.role = 'advisor' AND u.active AND ",
            );
            out.push_sql(TAKES_IT);
            out.push_sql(
                "), pick AS (SELECT p.user_id FROM advisor_profiles p JOIN eligible e ON e.user_id = p.user_id, a \
                 WHERE e.grade = (SELECT max(grade) FROM eligible) AND ",
            );
            out.push_sql(TAKES_IT);
            out.push_sql(" ORDER BY ");
            out.push_sql(BY_LOAD);
            out.push_sql(" LIMIT 1 FOR UPDATE OF p SKIP LOCKED)");
        }
        // Counting the ticket: +1, unless it is the current assignee's already. The wall clock, not the
        // transaction's start, orders round-robin.
        out.push_sql(", taken AS (UPDATE advisor_profiles p SET open_tickets = p.open_tickets + 1 - ");
        out.push_sql(IS_CURRENT);
        out.push_sql(
            ", last_assigned_at = clock_timestamp() FROM pick, a WHERE p.user_id = pick.user_id \
               RETURNING p.user_id, p.open_tickets - 1 AS open_before) \
             SELECT p.user_id, u.name, u.active, p.categories, p.languages, p.capacity, p.available, p.away_until, \
                    p.last_assigned_at, COALESCE(taken.open_before, p.open_tickets - ",
        );
        out.push_sql(IS_CURRENT);
        out.push_sql(
            ") AS open_tickets, taken.user_id IS NOT NULL AS chosen \
             FROM advisor_profiles p JOIN users u ON u.id = p.user_id CROSS JOIN a \
             LEFT JOIN taken ON taken.user_id = p.user_id \
             WHERE u.office_id = a.office AND u.role = 'advisor' ORDER BY p.user_id",
        );
        Ok(())
    }
}

impl QueryId for PickStatement<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for PickStatement<'_> {
    type SqlType = diesel::sql_types::Untyped;
}

impl<Conn> RunQueryDsl<Conn> for PickStatement<'_> {}

/// The statement of [`AdvisorProfile::adjust_open`], kept in the prepared-statement cache.
struct AdjustOpen<'a> {
    user_ids: &'a [Uuid],
    deltas: &'a [i32],
}

impl QueryFragment<Pg> for AdjustOpen<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH delta AS (SELECT * FROM unnest(");
        out.push_bind_param::<Array<diesel::sql_types::Uuid>, _>(&self.user_ids)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Int4>, _>(&self.deltas)?;
        out.push_sql(
            ") AS d (user_id, delta)), \
                  locked AS (SELECT p.user_id FROM advisor_profiles p WHERE p.user_id IN (SELECT user_id FROM delta) \
                             ORDER BY p.user_id FOR UPDATE) \
             UPDATE advisor_profiles p SET open_tickets = greatest(p.open_tickets + delta.delta, 0) \
             FROM delta JOIN locked USING (user_id) WHERE p.user_id = delta.user_id",
        );
        Ok(())
    }
}

impl QueryId for AdjustOpen<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Conn> RunQueryDsl<Conn> for AdjustOpen<'_> {}
