//! Tickets: one request for help, from submission to closing.

use chrono::{DateTime, Utc};
use std::sync::LazyLock;

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Nullable, Text};
use uuid::Uuid;

use crate::models::sql::{Fragment, KeysetAfter, LiteralLimit, TextSearch, fragment};
use crate::schema::tickets;
use crate::vocabulary::{Category, Channel, Priority, Rating, SlaClock, SlaState, TicketStatus};

diesel::define_sql_function! {
    /// The search document of a text, as indexed in `tickets.search_vector` (defined by the migrations).
    fn civicdesk_search_vector(document: Text) -> crate::schema::sql_types::Tsvector;
}

/// A request for help.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = tickets, check_for_backend(diesel::pg::Pg))]
pub struct Ticket {
    /// Identifier.
    pub id: Uuid,
    /// The short number people quote, such as 1042 (shown as `#1042`).
    pub reference: i64,
    /// One line on what the request is about.
    pub subject: String,
    /// Where the ticket stands.
    pub status: TicketStatus,
    /// How urgent it is.
    pub priority: Priority,
    /// The assistance area.
    pub category: Category,
    /// The country of the requesting organisation.
    pub country: String,
    /// The requesting organisation.
    pub organization_id: Uuid,
    /// The person who asked.
    pub requester_id: Uuid,
    /// The advisor working on it, if any.
    pub assignee_id: Option<Uuid>,
    /// The office whose queue holds it.
    pub office_id: Uuid,
    /// How it came in.
    pub channel: Channel,
    /// When it was submitted.
    pub created_at: DateTime<Utc>,
    /// When anything about it last changed.
    pub updated_at: DateTime<Utc>,
    /// When staff first replied publicly.
    pub first_response_at: Option<DateTime<Utc>>,
    /// When it was last resolved (cleared on reopen).
    pub resolved_at: Option<DateTime<Utc>>,
    /// When it was closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// The closed ticket this one follows up (a reply to it arrived by email).
    pub follow_up_of: Option<Uuid>,
    /// Service levels: due times and where each clock stands.
    #[diesel(embed)]
    pub sla: TicketSla,
    /// The requester's rating, once given (details at `/api/v1/tickets/{id}/satisfaction`).
    #[diesel(select_expression = fragment::<Nullable<Text>>(SATISFACTION), select_expression_type = Fragment<Nullable<Text>>)]
    pub satisfaction: Option<Rating>,
    /// Its tags, normalised and sorted (staff only).
    pub tags: Vec<String>,
    /// Its custom field values, by field key (a JSON object).
    pub custom_fields: serde_json::Value,
    /// The minutes staff spent on it in all.
    pub time_spent_minutes: i32,
    /// The ticket it was merged into, if it was.
    pub merged_into: Option<Uuid>,
}

/// The `sla=at_risk` condition: a clock past its warning point, none breached.
static SLA_AT_RISK: LazyLock<String> = LazyLock::new(|| {
    format!(
        "('at_risk' IN ({FIRST_RESPONSE_STATE}, {RESOLUTION_STATE}) \
         AND 'breached' NOT IN ({FIRST_RESPONSE_STATE}, {RESOLUTION_STATE}))"
    )
});

/// The `sla=breached` condition: a clock breached.
static SLA_BREACHED: LazyLock<String> =
    LazyLock::new(|| format!("('breached' IN ({FIRST_RESPONSE_STATE}, {RESOLUTION_STATE}))"));

/// The most merges followed from a merged ticket to the one it stands for (merges are never cyclic; this only
/// bounds the work).
pub const MERGE_CHAIN_MAX: usize = 16;

/// The rating of a ticket, read with it.
const SATISFACTION: &str = "(SELECT r.rating FROM satisfaction_ratings r WHERE r.ticket_id = tickets.id)";

/// The service-level columns of a ticket.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tickets, check_for_backend(diesel::pg::Pg))]
pub struct TicketSla {
    /// The SLA policy whose targets apply, if any.
    pub sla_policy_id: Option<Uuid>,
    /// When the first public staff reply is due (business time of the ticket's office).
    pub first_response_due_at: Option<DateTime<Utc>>,
    /// Where the first-response clock stands.
    #[diesel(select_expression = fragment::<Text>(FIRST_RESPONSE_STATE), select_expression_type = Fragment<Text>)]
    pub first_response_sla: SlaState,
    /// When resolution is due; it moves later by the business time spent waiting on the requester.
    pub resolution_due_at: Option<DateTime<Utc>>,
    /// Where the resolution clock stands.
    #[diesel(select_expression = fragment::<Text>(RESOLUTION_STATE), select_expression_type = Fragment<Text>)]
    pub resolution_sla: SlaState,
    /// When the assignee is warned that the first response is near due.
    pub first_response_warn_at: Option<DateTime<Utc>>,
    /// When the first-response warning went out.
    pub first_response_warned_at: Option<DateTime<Utc>>,
    /// When the first-response target was found breached.
    pub first_response_breached_at: Option<DateTime<Utc>>,
    /// When the assignee is warned that resolution is near due.
    pub resolution_warn_at: Option<DateTime<Utc>>,
    /// When the resolution warning went out.
    pub resolution_warned_at: Option<DateTime<Utc>>,
    /// When the resolution target was found breached.
    pub resolution_breached_at: Option<DateTime<Utc>>,
    /// Since when the resolution clock is stopped (pending, resolved or closed).
    pub sla_paused_at: Option<DateTime<Utc>>,
    /// Business seconds the resolution clock was stopped before `sla_paused_at`.
    pub sla_paused_seconds: i64,
    /// Business seconds from submission to the first public staff reply.
    pub first_response_seconds: Option<i64>,
    /// Business seconds from submission to resolution, without the time spent waiting on the requester.
    pub resolution_seconds: Option<i64>,
}

/// Where the first-response clock stands, computed by PostgreSQL at read time (see [`SlaState`]).
pub const FIRST_RESPONSE_STATE: &str = "CASE \
    WHEN tickets.first_response_due_at IS NULL THEN 'none' \
    WHEN tickets.first_response_breached_at IS NOT NULL THEN 'breached' \
    WHEN tickets.first_response_at IS NOT NULL OR tickets.status IN ('resolved', 'closed') THEN 'met' \
    WHEN tickets.first_response_due_at <= now() THEN 'breached' \
    WHEN tickets.first_response_warn_at <= now() THEN 'at_risk' \
    ELSE 'running' END";

/// Where the resolution clock stands, computed by PostgreSQL at read time (see [`SlaState`]).
pub const RESOLUTION_STATE: &str = "CASE \
    WHEN tickets.resolution_due_at IS NULL THEN 'none' \
    WHEN tickets.resolution_breached_at IS NOT NULL THEN 'breached' \
    WHEN tickets.status IN ('resolved', 'closed') THEN 'met' \
    WHEN tickets.status = 'pending' THEN 'paused' \
    WHEN tickets.resolution_due_at <= now() THEN 'breached' \
    WHEN tickets.resolution_warn_at <= now() THEN 'at_risk' \
    ELSE 'running' END";

/// A new ticket.
#[derive(Debug, Insertable)]
// `None` is NULL (not DEFAULT), so that the insert keeps one text and stays in diesel's statement cache.
#[diesel(table_name = tickets, treat_none_as_default_value = false)]
pub struct NewTicket {
    /// See [`Ticket::id`].
    pub id: Uuid,
    /// See [`Ticket::subject`].
    pub subject: String,
    /// See [`Ticket::priority`].
    pub priority: Priority,
    /// See [`Ticket::category`].
    pub category: Category,
    /// See [`Ticket::country`].
    pub country: String,
    /// See [`Ticket::organization_id`].
    pub organization_id: Uuid,
    /// See [`Ticket::requester_id`].
    pub requester_id: Uuid,
    /// See [`Ticket::assignee_id`].
    pub assignee_id: Option<Uuid>,
    /// See [`Ticket::office_id`].
    pub office_id: Uuid,
    /// See [`Ticket::channel`].
    pub channel: Channel,
    /// See [`Ticket::follow_up_of`].
    pub follow_up_of: Option<Uuid>,
    /// See [`Ticket::created_at`].
    pub created_at: DateTime<Utc>,
    /// See [`Ticket::sla_policy_id`].
    pub sla_policy_id: Option<Uuid>,
    /// See [`Ticket::first_response_due_at`].
    pub first_response_due_at: Option<DateTime<Utc>>,
    /// See [`Ticket::first_response_warn_at`].
    pub first_response_warn_at: Option<DateTime<Utc>>,
    /// See [`Ticket::resolution_due_at`].
    pub resolution_due_at: Option<DateTime<Utc>>,
    /// See [`Ticket::resolution_warn_at`].
    pub resolution_warn_at: Option<DateTime<Utc>>,
    /// See [`Ticket::custom_fields`].
    pub custom_fields: serde_json::Value,
}

/// Changes to a ticket; `None` leaves a column as it is, `Some(None)` clears a nullable one.
#[derive(Debug, Default, Clone, AsChangeset)]
#[diesel(table_name = tickets)]
pub struct TicketChanges {
    /// See [`Ticket::status`].
    pub status: Option<TicketStatus>,
    /// See [`Ticket::priority`].
    pub priority: Option<Priority>,
    /// See [`Ticket::category`].
    pub category: Option<Category>,
    /// See [`Ticket::assignee_id`].
    pub assignee_id: Option<Option<Uuid>>,
    /// See [`Ticket::office_id`].
    pub office_id: Option<Uuid>,
    /// See [`Ticket::first_response_at`].
    pub first_response_at: Option<Option<DateTime<Utc>>>,
    /// See [`Ticket::resolved_at`].
    pub resolved_at: Option<Option<DateTime<Utc>>>,
    /// See [`Ticket::closed_at`].
    pub closed_at: Option<Option<DateTime<Utc>>>,
    /// See [`Ticket::sla_policy_id`].
    pub sla_policy_id: Option<Option<Uuid>>,
    /// See [`Ticket::first_response_due_at`].
    pub first_response_due_at: Option<Option<DateTime<Utc>>>,
    /// See [`Ticket::first_response_warn_at`].
    pub first_response_warn_at: Option<Option<DateTime<Utc>>>,
    /// See [`Ticket::first_response_warned_at`].
    pub first_response_warned_at: Option<Option<DateTime<Utc>>>,
    /// See [`Ticket::first_response_breached_at`].
    pub first_response_breached_at: Option<Option<DateTime<Utc>>>,
    /// See [`Ticket::resolution_due_at`].
    pub resolution_due_at: Option<Option<DateTime<Utc>>>,
    /// See [`Ticket::resolution_warn_at`].
    pub resolution_warn_at: Option<Option<DateTime<Utc>>>,
    /// See [`Ticket::resolution_warned_at`].
    pub resolution_warned_at: Option<Option<DateTime<Utc>>>,
    /// See [`Ticket::resolution_breached_at`].
    pub resolution_breached_at: Option<Option<DateTime<Utc>>>,
    /// See [`Ticket::sla_paused_at`].
    pub sla_paused_at: Option<Option<DateTime<Utc>>>,
    /// See [`Ticket::sla_paused_seconds`].
    pub sla_paused_seconds: Option<i64>,
    /// See [`Ticket::first_response_seconds`].
    pub first_response_seconds: Option<Option<i64>>,
    /// See [`Ticket::resolution_seconds`].
    pub resolution_seconds: Option<Option<i64>>,
    /// See [`Ticket::tags`].
    pub tags: Option<Vec<String>>,
    /// See [`Ticket::custom_fields`].
    pub custom_fields: Option<serde_json::Value>,
    /// See [`Ticket::time_spent_minutes`].
    pub time_spent_minutes: Option<i32>,
    /// See [`Ticket::merged_into`].
    pub merged_into: Option<Option<Uuid>>,
}

/// Which tickets a caller may see at all; every ticket query is narrowed by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketScope {
    /// Every ticket (coordinators and admins).
    All,
    /// The tickets of one organisation (its requesters).
    Organization(Uuid),
    /// The tickets of an office's queue and those assigned to a user (advisors).
    OfficeOrAssignee {
        /// The advisor's office.
        office_id: Option<Uuid>,
        /// The advisor.
        user_id: Uuid,
    },
}

/// How a ticket is named in a URL: its id or its reference number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketKey {
    /// By uuid.
    Id(Uuid),
    /// By reference number.
    Reference(i64),
}

/// The order of a ticket listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TicketSort {
    /// Oldest first.
    #[serde(rename = "created_at")]
    CreatedAsc,
    /// Newest first (the default).
    #[serde(rename = "-created_at")]
    CreatedDesc,
    /// Least recently changed first.
    #[serde(rename = "updated_at")]
    UpdatedAsc,
    /// Most recently changed first.
    #[serde(rename = "-updated_at")]
    UpdatedDesc,
}

impl TicketSort {
    /// The sort key of `ticket` under this order.
    pub fn key_of(self, ticket: &Ticket) -> DateTime<Utc> {
        match self {
            TicketSort::CreatedAsc | TicketSort::CreatedDesc => ticket.created_at,
            TicketSort::UpdatedAsc | TicketSort::UpdatedDesc => ticket.updated_at,
        }
    }
}

/// Who a listing is narrowed to by assignee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssigneeFilter {
    /// Nobody is assigned.
    Unassigned,
    /// This user is assigned.
    User(Uuid),
}

/// Tickets by where their service-level clocks stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaFilter {
    /// A clock is past its warning point and none is breached.
    AtRisk,
    /// A clock is breached.
    Breached,
}

/// What a ticket listing asks for; the scope always applies.
#[derive(Debug, Clone)]
pub struct TicketFilter {
    /// What the caller may see.
    pub scope: TicketScope,
    /// Any of these statuses (empty: all).
    pub statuses: Vec<TicketStatus>,
    /// Any of these priorities (empty: all).
    pub priorities: Vec<Priority>,
    /// Any of these categories (empty: all).
    pub categories: Vec<Category>,
    /// Any of these countries (empty: all).
    pub countries: Vec<String>,
    /// Only this office's queue.
    pub office_id: Option<Uuid>,
    /// Only this organisation.
    pub organization_id: Option<Uuid>,
    /// Only this assignee, or only unassigned tickets.
    pub assignee: Option<AssigneeFilter>,
    /// Only tickets created at or after this instant.
    pub created_after: Option<DateTime<Utc>>,
    /// Only tickets created before this instant.
    pub created_before: Option<DateTime<Utc>>,
    /// Full-text search over subject and public messages (web-search syntax: words, "phrases", -not, or).
    pub text: Option<String>,
    /// Only tickets at risk of a breach, or breached.
    pub sla: Option<SlaFilter>,
    /// Only tickets with any of these tags (empty: all).
    pub tags_any: Vec<String>,
    /// Only tickets with all of these tags (empty: all).
    pub tags_all: Vec<String>,
    /// Only tickets whose custom field values contain each of these objects (`{"grant_code": "IPA-1"}`).
    pub custom_fields: Vec<serde_json::Value>,
    /// The order.
    pub sort: TicketSort,
    /// Continue after this (sort key, id) position.
    pub after: Option<(DateTime<Utc>, Uuid)>,
    /// At most this many.
    pub limit: i64,
}

impl Ticket {
    /// Inserts a ticket with its first message, in one statement; `search_text` becomes its initial search
    /// document.
    pub fn insert_with_message(
        conn: &mut PgConnection,
        new: &NewTicket,
        search_text: &str,
        message: &crate::models::message::NewMessage,
    ) -> QueryResult<Ticket> {
        crate::models::sql::WithFirst {
            first: crate::models::sql::Boxed(Box::new(
                diesel::insert_into(crate::schema::messages::table).values(message),
            )),
            then: diesel::insert_into(tickets::table)
                .values((new, tickets::search_vector.eq(civicdesk_search_vector(search_text))))
                .returning(Ticket::as_returning()),
        }
        .get_result(conn)
    }

    /// The condition that narrows a query to `scope`.
    fn scope_condition(scope: TicketScope) -> Box<dyn BoxableExpression<tickets::table, Pg, SqlType = Nullable<Bool>>> {
        match scope {
            TicketScope::All => Box::new(fragment::<Nullable<Bool>>("TRUE")),
            TicketScope::Organization(organization) => Box::new(tickets::organization_id.eq(organization).nullable()),
            TicketScope::OfficeOrAssignee { office_id: Some(office), user_id } => {
                Box::new(tickets::office_id.eq(office).nullable().or(tickets::assignee_id.eq(user_id)))
            }
            TicketScope::OfficeOrAssignee { office_id: None, user_id } => Box::new(tickets::assignee_id.eq(user_id)),
        }
    }

    /// The condition that picks the ticket named by `key`.
    fn key_condition(key: TicketKey) -> Box<dyn BoxableExpression<tickets::table, Pg, SqlType = Bool>> {
        match key {
            TicketKey::Id(id) => Box::new(tickets::id.eq(id)),
            TicketKey::Reference(reference) => Box::new(tickets::reference.eq(reference)),
        }
    }

    /// The ticket named by `key`, if it exists and `scope` lets the caller see it. A merged ticket stands for
    /// the ticket it was merged into (followed along a chain of merges), when `scope` shows that one too.
    pub fn find_visible(conn: &mut PgConnection, key: TicketKey, scope: TicketScope) -> QueryResult<Option<Ticket>> {
        let found = Self::find_exact(conn, key, scope)?;
        Self::follow_merges(conn, found, scope, false)
    }

    /// Like [`Ticket::find_visible`], locking the row (of the ticket it stands for) until the transaction ends.
    pub fn lock_visible(conn: &mut PgConnection, key: TicketKey, scope: TicketScope) -> QueryResult<Option<Ticket>> {
        let found = Self::find_exact(conn, key, scope)?;
        match found {
            Some(ticket) if ticket.merged_into.is_some() => Self::follow_merges(conn, Some(ticket), scope, true),
            Some(ticket) => match Self::lock_exact(conn, TicketKey::Id(ticket.id), scope)? {
                // Merged since it was read: follow it from the locked row.
                Some(locked) if locked.merged_into.is_some() => Self::follow_merges(conn, Some(locked), scope, true),
                locked => Ok(locked),
            },
            None => Ok(None),
        }
    }

    /// The ticket named by `key` itself (a merged ticket too), if `scope` lets the caller see it.
    pub fn find_exact(conn: &mut PgConnection, key: TicketKey, scope: TicketScope) -> QueryResult<Option<Ticket>> {
        tickets::table
            .filter(Self::key_condition(key))
            .filter(Self::scope_condition(scope))
            .select(Ticket::as_select())
            .first(conn)
            .optional()
    }

    /// Like [`Ticket::find_exact`], locking the row until the transaction ends.
    pub fn lock_exact(conn: &mut PgConnection, key: TicketKey, scope: TicketScope) -> QueryResult<Option<Ticket>> {
        tickets::table
            .filter(Self::key_condition(key))
            .filter(Self::scope_condition(scope))
            .select(Ticket::as_select())
            .for_update()
            .first(conn)
            .optional()
    }

    /// The ticket a merged ticket stands for: the end of its chain of merges (at most [`MERGE_CHAIN_MAX`] steps),
    /// or the ticket itself when `scope` does not show the next one; locked if `lock`.
    fn follow_merges(
        conn: &mut PgConnection,
        found: Option<Ticket>,
        scope: TicketScope,
        lock: bool,
    ) -> QueryResult<Option<Ticket>> {
        let Some(mut ticket) = found else { return Ok(None) };
        for _ in 0..MERGE_CHAIN_MAX {
            let Some(target) = ticket.merged_into else { break };
            let next = match lock {
                true => Self::lock_exact(conn, TicketKey::Id(target), scope)?,
                false => Self::find_exact(conn, TicketKey::Id(target), scope)?,
            };
            match next {
                Some(next) => ticket = next,
                None => break,
            }
        }
        if lock && ticket.merged_into.is_none() {
            return Ok(Some(ticket));
        }
        match lock {
            // The chain stopped at a merged ticket the caller may see (the next is out of scope): lock it.
            true => Self::lock_exact(conn, TicketKey::Id(ticket.id), scope),
            false => Ok(Some(ticket)),
        }
    }

    /// The ticket with this id, unscoped, for code that already checked access.
    pub fn find(conn: &mut PgConnection, id: Uuid) -> QueryResult<Ticket> {
        tickets::table.find(id).select(Ticket::as_select()).first(conn)
    }

    /// One page of tickets matching `filter`.
    pub fn list(conn: &mut PgConnection, filter: &TicketFilter) -> QueryResult<Vec<Ticket>> {
        let mut query =
            tickets::table.select(Ticket::as_select()).into_boxed().filter(Self::scope_condition(filter.scope));
        // One value is an equality, not `= ANY(array)`: PostgreSQL then walks a (column, ..., created_at, id)
        // index in order and stops after a page, instead of sorting every match.
        match filter.statuses.as_slice() {
            [] => {}
            [status] => query = query.filter(tickets::status.eq(*status)),
            many => query = query.filter(tickets::status.eq_any(many.to_vec())),
        }
        match filter.priorities.as_slice() {
            [] => {}
            [priority] => query = query.filter(tickets::priority.eq(*priority)),
            many => query = query.filter(tickets::priority.eq_any(many.to_vec())),
        }
        match filter.categories.as_slice() {
            [] => {}
            [category] => query = query.filter(tickets::category.eq(*category)),
            many => query = query.filter(tickets::category.eq_any(many.to_vec())),
        }
        match filter.countries.as_slice() {
            [] => {}
            [country] => query = query.filter(tickets::country.eq(country.clone())),
            many => query = query.filter(tickets::country.eq_any(many.to_vec())),
        }
        if let Some(office) = filter.office_id {
            query = query.filter(tickets::office_id.eq(office));
        }
        if let Some(organization) = filter.organization_id {
            query = query.filter(tickets::organization_id.eq(organization));
        }
        match filter.assignee {
            Some(AssigneeFilter::Unassigned) => query = query.filter(tickets::assignee_id.is_null()),
            Some(AssigneeFilter::User(user)) => query = query.filter(tickets::assignee_id.eq(user)),
            None => {}
        }
        if let Some(after) = filter.created_after {
            query = query.filter(tickets::created_at.ge(after));
        }
        if let Some(before) = filter.created_before {
            query = query.filter(tickets::created_at.lt(before));
        }
        if let Some(text) = &filter.text {
            query = query.filter(TextSearch(text.clone()));
        }
        if !filter.tags_any.is_empty() {
            query = query.filter(tickets::tags.overlaps_with(filter.tags_any.clone()));
        }
        if !filter.tags_all.is_empty() {
            query = query.filter(tickets::tags.contains(filter.tags_all.clone()));
        }
        for fields in &filter.custom_fields {
            query = query.filter(tickets::custom_fields.contains(fields.clone()));
        }
        match filter.sla {
            Some(SlaFilter::AtRisk) => query = query.filter(fragment::<Bool>(&SLA_AT_RISK)),
            Some(SlaFilter::Breached) => query = query.filter(fragment::<Bool>(&SLA_BREACHED)),
            None => {}
        }
        let (column, descending) = match filter.sort {
            TicketSort::CreatedAsc => ("tickets.created_at", false),
            TicketSort::CreatedDesc => ("tickets.created_at", true),
            TicketSort::UpdatedAsc => ("tickets.updated_at", false),
            TicketSort::UpdatedDesc => ("tickets.updated_at", true),
        };
        if let Some((at, id)) = filter.after {
            query = query.filter(KeysetAfter { column, descending, at, id });
        }
        query = match filter.sort {
            TicketSort::CreatedAsc => query.order((tickets::created_at.asc(), tickets::id.asc())),
            TicketSort::CreatedDesc => query.order((tickets::created_at.desc(), tickets::id.desc())),
            TicketSort::UpdatedAsc => query.order((tickets::updated_at.asc(), tickets::id.asc())),
            TicketSort::UpdatedDesc => query.order((tickets::updated_at.desc(), tickets::id.desc())),
        };
        LiteralLimit { query, limit: filter.limit.clamp(1, 1000) }.load(conn)
    }

    /// Applies `changes`, bumps `updated_at` and returns the updated ticket.
    pub fn update(conn: &mut PgConnection, id: Uuid, changes: &TicketChanges) -> QueryResult<Ticket> {
        diesel::update(tickets::table.find(id))
            .set((changes, tickets::updated_at.eq(diesel::dsl::now)))
            .returning(Ticket::as_returning())
            .get_result(conn)
    }

    /// Locks up to `limit` tickets whose `clock` owes a notice at `now`, skipping tickets other transactions hold:
    /// with `breach`, past the target and not yet marked breached; otherwise past the warning point and not yet
    /// warned and not yet due (a ticket already past its target gets the breach, never a late warning, even when
    /// its target moved into the past between this pass's breach and warning claims). Oldest first.
    pub fn claim_owing(
        conn: &mut PgConnection,
        clock: SlaClock,
        breach: bool,
        now: DateTime<Utc>,
        limit: i64,
    ) -> QueryResult<Vec<Ticket>> {
        use tickets::dsl as t;
        let first_response_open = t::first_response_at.is_null().and(t::status.eq_any(TicketStatus::ACTIVE));
        let running = t::status.eq_any([TicketStatus::New, TicketStatus::Open]);
        let base = tickets::table.select(Ticket::as_select());
        // Each arm matches one partial index of the migrations, so the scheduler never scans the table.
        match (clock, breach) {
            (SlaClock::FirstResponse, true) => base
                .filter(first_response_open.and(t::first_response_breached_at.is_null()))
                .filter(t::first_response_due_at.le(now))
                .order(t::first_response_due_at.asc())
                .limit(limit)
                .for_update()
                .skip_locked()
                .load(conn),
            (SlaClock::Resolution, true) => base
                .filter(running.and(t::resolution_breached_at.is_null()))
                .filter(t::resolution_due_at.le(now))
                .order(t::resolution_due_at.asc())
                .limit(limit)
                .for_update()
                .skip_locked()
                .load(conn),
            (SlaClock::FirstResponse, false) => base
                .filter(first_response_open.and(t::first_response_warned_at.is_null()))
                .filter(t::first_response_warn_at.le(now))
                .filter(t::first_response_due_at.gt(now))
                .order(t::first_response_warn_at.asc())
                .limit(limit)
                .for_update()
                .skip_locked()
                .load(conn),
            (SlaClock::Resolution, false) => base
                .filter(running.and(t::resolution_warned_at.is_null()))
                .filter(t::resolution_warn_at.le(now))
                .filter(t::resolution_due_at.gt(now))
                .order(t::resolution_warn_at.asc())
                .limit(limit)
                .for_update()
                .skip_locked()
                .load(conn),
        }
    }

    /// Marks the ticket as changed now without changing anything else.
    pub fn touch(conn: &mut PgConnection, id: Uuid) -> QueryResult<Ticket> {
        diesel::update(tickets::table.find(id))
            .set(tickets::updated_at.eq(diesel::dsl::now))
            .returning(Ticket::as_returning())
            .get_result(conn)
    }

    /// The open tickets (new, open, pending) assigned to `assignee`, locked until the transaction ends.
    pub fn lock_active_of_assignee(conn: &mut PgConnection, assignee: Uuid) -> QueryResult<Vec<Ticket>> {
        tickets::table
            .filter(tickets::assignee_id.eq(assignee))
            .filter(tickets::status.eq_any(TicketStatus::ACTIVE))
            .order(tickets::id.asc())
            .select(Ticket::as_select())
            .for_update()
            .load(conn)
    }

    /// Locks the tickets with these ids (those that exist) in id order, until the transaction ends: a change to
    /// many tickets takes every ticket lock before any other (advisors' profiles), as single changes do.
    pub fn lock_all(conn: &mut PgConnection, ids: &[Uuid]) -> QueryResult<Vec<Uuid>> {
        tickets::table
            .filter(tickets::id.eq_any(ids.to_vec()))
            .order(tickets::id.asc())
            .select(tickets::id)
            .for_update()
            .load(conn)
    }

    /// The tickets merged into ticket `id`, directly or through other merges (at most [`MERGE_CHAIN_MAX`] deep).
    pub fn merged_into_chain(conn: &mut PgConnection, id: Uuid) -> QueryResult<Vec<Uuid>> {
        let mut found = Vec::new();
        let mut level = vec![id];
        for _ in 0..MERGE_CHAIN_MAX {
            level = tickets::table.filter(tickets::merged_into.eq_any(level)).select(tickets::id).load::<Uuid>(conn)?;
            if level.is_empty() {
                break;
            }
            found.extend(level.iter().copied());
        }
        Ok(found)
    }

    /// Adds the search document of ticket `from` to that of ticket `to` (a merge).
    pub fn merge_search(conn: &mut PgConnection, from: Uuid, to: Uuid) -> QueryResult<usize> {
        diesel::sql_query(
            "UPDATE tickets SET search_vector = search_vector || (SELECT s.search_vector FROM tickets s WHERE s.id = $1) \
             WHERE id = $2",
        )
        .bind::<diesel::sql_types::Uuid, _>(from)
        .bind::<diesel::sql_types::Uuid, _>(to)
        .execute(conn)
    }

    /// How many tickets within `scope` carry each tag (those starting with `prefix`), most used first, at most
    /// `limit`.
    pub fn tag_counts(
        conn: &mut PgConnection,
        scope: TicketScope,
        prefix: &str,
        limit: i64,
    ) -> QueryResult<Vec<TagCount>> {
        use diesel::sql_types::{BigInt, Uuid as SqlUuid};
        let (organization, office, user) = match scope {
            TicketScope::All => (None, None, None),
            TicketScope::Organization(organization) => (Some(organization), None, None),
            TicketScope::OfficeOrAssignee { office_id, user_id } => (None, office_id, Some(user_id)),
        };
        let pattern = format!("{}%", crate::models::organization::escape_like(prefix));
        diesel::sql_query(
            "SELECT tag, count(*) AS tickets FROM tickets, unnest(tickets.tags) AS tag \
             WHERE ($1 OR organization_id = $2 OR office_id = $3 OR assignee_id = $4) AND tag LIKE $5 \
             GROUP BY tag ORDER BY count(*) DESC, tag LIMIT $6",
        )
        .bind::<Bool, _>(matches!(scope, TicketScope::All))
        .bind::<Nullable<SqlUuid>, _>(organization)
        .bind::<Nullable<SqlUuid>, _>(office)
        .bind::<Nullable<SqlUuid>, _>(user)
        .bind::<Text, _>(pattern)
        .bind::<BigInt, _>(limit)
        .load(conn)
    }

    /// Adds `text` (a public message) to the ticket's search document.
    pub fn extend_search(conn: &mut PgConnection, id: Uuid, text: &str) -> QueryResult<usize> {
        diesel::sql_query(
            "UPDATE tickets SET search_vector = search_vector || civicdesk_search_vector($2) WHERE id = $1",
        )
        .bind::<diesel::sql_types::Uuid, _>(id)
        .bind::<Text, _>(text)
        .execute(conn)
    }

    /// How many tickets there are in each status (statuses without tickets are left out), in status order: an
    /// index-only scan of the small `tickets_status_only_idx`, yet still a read of every ticket (the caller caches
    /// it).
    pub fn count_by_status(conn: &mut PgConnection) -> QueryResult<Vec<(TicketStatus, i64)>> {
        tickets::table
            .group_by(tickets::status)
            .select((tickets::status, diesel::dsl::count_star()))
            .order(tickets::status.asc())
            .load(conn)
    }

    /// The service-level states of the active tickets, counted per clock. Only active tickets are looked at, and
    /// only in `tickets_active_sla_idx`, which holds every column the states are computed from: an index-only scan
    /// whatever the size of the history. The states are grouped first, so each is computed once per ticket.
    pub fn active_sla_counts(conn: &mut PgConnection) -> QueryResult<ActiveSlaCounts> {
        diesel::sql_query(format!(
            "SELECT coalesce(sum(tickets) FILTER (WHERE first_response = 'at_risk'), 0)::int8 \
                      AS first_response_at_risk, \
                    coalesce(sum(tickets) FILTER (WHERE first_response = 'breached'), 0)::int8 \
                      AS first_response_breached, \
                    coalesce(sum(tickets) FILTER (WHERE resolution = 'at_risk'), 0)::int8 AS resolution_at_risk, \
                    coalesce(sum(tickets) FILTER (WHERE resolution = 'breached'), 0)::int8 AS resolution_breached \
             FROM (SELECT {FIRST_RESPONSE_STATE} AS first_response, {RESOLUTION_STATE} AS resolution, \
                          count(*) AS tickets \
                   FROM tickets WHERE status IN {active} GROUP BY 1, 2) states",
            active = TicketStatus::active_sql_list()
        ))
        .get_result(conn)
    }
}

/// A tag and how many tickets carry it.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct TagCount {
    /// The tag.
    #[diesel(sql_type = Text)]
    pub tag: String,
    /// How many tickets carry it.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub tickets: i64,
}

/// How many active tickets are past the warning point or the target of each service-level clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, QueryableByName)]
pub struct ActiveSlaCounts {
    /// Active tickets whose first response is due soon.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub first_response_at_risk: i64,
    /// Active tickets whose first response is overdue.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub first_response_breached: i64,
    /// Active tickets whose resolution is due soon.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub resolution_at_risk: i64,
    /// Active tickets whose resolution is overdue.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub resolution_breached: i64,
}
