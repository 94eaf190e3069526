//! The report queries: aggregates over `tickets`, `satisfaction_ratings` and `users`, each driven by an index
//! (creation, resolution and first-response times, active statuses), so a report over a month of a
//! million-ticket database reads only that month's rows. The domain (`domain::reports`) decides who may see what
//! and shapes the figures.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use uuid::Uuid;

use crate::models::ticket::{FIRST_RESPONSE_STATE, RESOLUTION_STATE};
use crate::vocabulary::{Category, TicketStatus};

/// The tickets a report covers: a period and optional narrowing.
#[derive(Debug, Clone, Copy)]
pub struct ReportFilter<'a> {
    /// Start of the period (inclusive).
    pub from: DateTime<Utc>,
    /// End of the period (exclusive).
    pub to: DateTime<Utc>,
    /// Only tickets of this country.
    pub country: Option<&'a str>,
    /// Only tickets of this office's queue.
    pub office_id: Option<Uuid>,
    /// Only tickets of this category.
    pub category: Option<Category>,
}

/// The narrowing of a report, on `alias`; binds 3 to 5 are country, office and category.
fn scope_sql(alias: &str) -> String {
    format!(
        "($3::text IS NULL OR {alias}.country = $3) AND ($4::uuid IS NULL OR {alias}.office_id = $4) \
         AND ($5::text IS NULL OR {alias}.category = $5)"
    )
}

/// Binds a [`ReportFilter`] to a statement written with [`scope_sql`]: 1 and 2 the period, 3 to 5 the narrowing.
macro_rules! bind_filter {
    ($query:expr, $filter:expr) => {
        $query
            .bind::<Timestamptz, _>($filter.from)
            .bind::<Timestamptz, _>($filter.to)
            .bind::<Nullable<Text>, _>($filter.country)
            .bind::<Nullable<SqlUuid>, _>($filter.office_id)
            .bind::<Nullable<Text>, _>($filter.category.map(|c| c.as_str()))
    };
}

/// The period's volumes, times and compliance.
#[derive(Debug, QueryableByName)]
pub struct SummaryRow {
    /// Tickets created in the period.
    #[diesel(sql_type = BigInt)]
    pub opened: i64,
    /// Tickets resolved in the period.
    #[diesel(sql_type = BigInt)]
    pub resolved: i64,
    /// Tickets first answered in the period.
    #[diesel(sql_type = BigInt)]
    pub first_response_count: i64,
    /// Median business seconds to the first response.
    #[diesel(sql_type = Nullable<Double>)]
    pub first_response_p50: Option<f64>,
    /// 90th percentile of business seconds to the first response.
    #[diesel(sql_type = Nullable<Double>)]
    pub first_response_p90: Option<f64>,
    /// Tickets resolved in the period with a resolution time.
    #[diesel(sql_type = BigInt)]
    pub resolution_count: i64,
    /// Median business seconds to resolution.
    #[diesel(sql_type = Nullable<Double>)]
    pub resolution_p50: Option<f64>,
    /// 90th percentile of business seconds to resolution.
    #[diesel(sql_type = Nullable<Double>)]
    pub resolution_p90: Option<f64>,
    /// Tickets created in the period whose first response met its target.
    #[diesel(sql_type = BigInt)]
    pub first_response_met: i64,
    /// Tickets created in the period whose first response missed its target.
    #[diesel(sql_type = BigInt)]
    pub first_response_breached: i64,
    /// Tickets created in the period resolved within their target.
    #[diesel(sql_type = BigInt)]
    pub resolution_met: i64,
    /// Tickets created in the period whose resolution missed its target.
    #[diesel(sql_type = BigInt)]
    pub resolution_breached: i64,
}

/// The period's ratings.
#[derive(Debug, QueryableByName)]
pub struct SatisfactionRow {
    /// Ratings of "satisfied".
    #[diesel(sql_type = BigInt)]
    pub satisfied: i64,
    /// Ratings in all.
    #[diesel(sql_type = BigInt)]
    pub rated: i64,
}

/// The open tickets now, by age.
#[derive(Debug, QueryableByName)]
pub struct BacklogRow {
    /// Open tickets now.
    #[diesel(sql_type = BigInt)]
    pub total: i64,
    /// Open for less than a day.
    #[diesel(sql_type = BigInt)]
    pub under_1_day: i64,
    /// Open for one to three days.
    #[diesel(sql_type = BigInt)]
    pub from_1_to_3_days: i64,
    /// Open for three to seven days.
    #[diesel(sql_type = BigInt)]
    pub from_3_to_7_days: i64,
    /// Open for seven to thirty days.
    #[diesel(sql_type = BigInt)]
    pub from_7_to_30_days: i64,
    /// Open for more than thirty days.
    #[diesel(sql_type = BigInt)]
    pub over_30_days: i64,
}

/// One staff member's load.
#[derive(Debug, QueryableByName)]
pub struct LoadRow {
    /// The staff member.
    #[diesel(sql_type = SqlUuid)]
    pub user_id: Uuid,
    /// Their name.
    #[diesel(sql_type = Text)]
    pub name: String,
    /// Their office.
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub office_id: Option<Uuid>,
    /// Their open tickets now.
    #[diesel(sql_type = BigInt)]
    pub open_now: i64,
    /// Tickets assigned to them created in the period.
    #[diesel(sql_type = BigInt)]
    pub assigned: i64,
    /// Their tickets resolved in the period.
    #[diesel(sql_type = BigInt)]
    pub resolved: i64,
    /// Median business seconds to their first responses in the period.
    #[diesel(sql_type = Nullable<Double>)]
    pub first_response_p50: Option<f64>,
    /// Of those, tickets that missed a target.
    #[diesel(sql_type = BigInt)]
    pub breached: i64,
}

/// The summary figures for `filter`: volumes and times, ratings, and the backlog now.
pub fn summary(
    conn: &mut PgConnection,
    filter: &ReportFilter<'_>,
) -> QueryResult<(SummaryRow, SatisfactionRow, BacklogRow)> {
    let in_period = |column: &str| format!("tickets.{column} >= $1 AND tickets.{column} < $2");
    let (created, resolved, responded) =
        (in_period("created_at"), in_period("resolved_at"), in_period("first_response_at"));
    // One pass over the period's tickets: the OR of three indexed ranges becomes a bitmap OR of three indexes.
    let statement = format!(
        "SELECT \
           count(*) FILTER (WHERE {created}) AS opened, \
           count(*) FILTER (WHERE {resolved}) AS resolved, \
           count(tickets.first_response_seconds) FILTER (WHERE {responded}) AS first_response_count, \
           percentile_cont(0.5) WITHIN GROUP (ORDER BY tickets.first_response_seconds) FILTER (WHERE {responded}) \
             AS first_response_p50, \
           percentile_cont(0.9) WITHIN GROUP (ORDER BY tickets.first_response_seconds) FILTER (WHERE {responded}) \
             AS first_response_p90, \
           count(tickets.resolution_seconds) FILTER (WHERE {resolved}) AS resolution_count, \
           percentile_cont(0.5) WITHIN GROUP (ORDER BY tickets.resolution_seconds) FILTER (WHERE {resolved}) \
             AS resolution_p50, \
           percentile_cont(0.9) WITHIN GROUP (ORDER BY tickets.resolution_seconds) FILTER (WHERE {resolved}) \
             AS resolution_p90, \
           count(*) FILTER (WHERE {created} AND {FIRST_RESPONSE_STATE} = 'met') AS first_response_met, \
           count(*) FILTER (WHERE {created} AND {FIRST_RESPONSE_STATE} = 'breached') AS first_response_breached, \
           count(*) FILTER (WHERE {created} AND {RESOLUTION_STATE} = 'met') AS resolution_met, \
           count(*) FILTER (WHERE {created} AND {RESOLUTION_STATE} = 'breached') AS resolution_breached \
         FROM tickets \
         WHERE (({created}) OR ({resolved}) OR ({responded})) AND {scope}",
        scope = scope_sql("tickets"),
    );
    let row: SummaryRow = bind_filter!(diesel::sql_query(statement), filter).get_result(conn)?;

    let satisfaction: SatisfactionRow = bind_filter!(
        diesel::sql_query(format!(
            "SELECT count(*) FILTER (WHERE r.rating = 'satisfied') AS satisfied, count(*) AS rated \
             FROM satisfaction_ratings r JOIN tickets ON tickets.id = r.ticket_id \
             WHERE r.rated_at >= $1 AND r.rated_at < $2 AND {}",
            scope_sql("tickets")
        )),
        filter
    )
    .get_result(conn)?;

    let age = |from_days: i64, to_days: Option<i64>| match to_days {
        Some(to) => format!(
            "count(*) FILTER (WHERE tickets.created_at <= now() - interval '{from_days} days' \
             AND tickets.created_at > now() - interval '{to} days')"
        ),
        None => format!("count(*) FILTER (WHERE tickets.created_at <= now() - interval '{from_days} days')"),
    };
    let backlog: BacklogRow = bind_filter!(
        diesel::sql_query(format!(
            "SELECT count(*) AS total, {} AS under_1_day, {} AS from_1_to_3_days, {} AS from_3_to_7_days, \
               {} AS from_7_to_30_days, {} AS over_30_days \
             FROM tickets WHERE tickets.status IN {} AND $1::timestamptz < $2 AND {}",
            age(0, Some(1)),
            age(1, Some(3)),
            age(3, Some(7)),
            age(7, Some(30)),
            age(30, None),
            TicketStatus::active_sql_list(),
            scope_sql("tickets")
        )),
        filter
    )
    .get_result(conn)?;

    Ok((row, satisfaction, backlog))
}

/// The load of every staff member with tickets in `filter`, and of every active advisor of its office.
pub fn advisor_loads(conn: &mut PgConnection, filter: &ReportFilter<'_>) -> QueryResult<Vec<LoadRow>> {
    let in_period = |column: &str| format!("t.{column} >= $1 AND t.{column} < $2");
    let (created, resolved, responded) =
        (in_period("created_at"), in_period("resolved_at"), in_period("first_response_at"));
    let first_state = FIRST_RESPONSE_STATE.replace("tickets.", "t.");
    let resolution_state = RESOLUTION_STATE.replace("tickets.", "t.");
    // Open tickets and the period's tickets, each found through its own index, then grouped per assignee.
    let statement = format!(
        "WITH relevant AS ( \
           SELECT t.* FROM tickets t \
           WHERE t.assignee_id IS NOT NULL AND {scope} \
             AND (t.status IN {active} OR ({created}) OR ({resolved}) OR ({responded})) \
         ), per_assignee AS ( \
           SELECT t.assignee_id, \
             count(*) FILTER (WHERE t.status IN {active}) AS open_now, \
             count(*) FILTER (WHERE {created}) AS assigned, \
             count(*) FILTER (WHERE {resolved}) AS resolved, \
             percentile_cont(0.5) WITHIN GROUP (ORDER BY t.first_response_seconds) FILTER (WHERE {responded}) \
               AS first_response_p50, \
             count(*) FILTER (WHERE {created} AND 'breached' IN ({first_state}, {resolution_state})) AS breached \
           FROM relevant t GROUP BY t.assignee_id \
         ) \
         SELECT u.id AS user_id, u.name, u.office_id, \
           coalesce(p.open_now, 0) AS open_now, coalesce(p.assigned, 0) AS assigned, \
           coalesce(p.resolved, 0) AS resolved, p.first_response_p50, coalesce(p.breached, 0) AS breached \
         FROM users u LEFT JOIN per_assignee p ON p.assignee_id = u.id \
         WHERE u.role <> 'requester' AND (p.assignee_id IS NOT NULL OR (u.active AND u.role = 'advisor' \
           AND ($4::uuid IS NULL OR u.office_id = $4))) \
         ORDER BY open_now DESC, u.name, u.id",
        scope = scope_sql("t"),
        active = TicketStatus::active_sql_list(),
    );
    bind_filter!(diesel::sql_query(statement), filter).load(conn)
}

/// What the time and ticket reports group by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grouping {
    /// The staff member who spent the time (time report), or the assignee (ticket report).
    Advisor,
    /// The ticket's office.
    Office,
    /// The requesting organisation.
    Organization,
    /// The ticket's category.
    Category,
    /// Each of the ticket's tags (a ticket with two tags counts under both; one without any under none).
    Tag,
    /// The value of this custom field (each option of a multi-select counts).
    Field(String),
}

impl Grouping {
    /// The joins, key and label of this grouping, over tickets `t`; `person` is the column naming the person.
    fn sql(&self, person: &str) -> (String, &'static str, &'static str) {
        match self {
            Grouping::Advisor => (format!("LEFT JOIN users g ON g.id = {person}"), "g.id::text", "g.name"),
            Grouping::Office => ("LEFT JOIN offices g ON g.id = t.office_id".to_owned(), "g.id::text", "g.name"),
            Grouping::Organization => {
                ("LEFT JOIN organizations g ON g.id = t.organization_id".to_owned(), "g.id::text", "g.name")
            }
            Grouping::Category => (String::new(), "t.category", "t.category"),
            Grouping::Tag => (
                "LEFT JOIN LATERAL unnest(CASE WHEN cardinality(t.tags) = 0 THEN ARRAY[NULL::text] ELSE t.tags END) \
                 AS g (value) ON true"
                    .to_owned(),
                "g.value",
                "g.value",
            ),
            // The key is bound ($6); a multi-select's array counts each option.
            Grouping::Field(_) => (
                "LEFT JOIN LATERAL jsonb_array_elements_text(CASE jsonb_typeof(t.custom_fields -> $6) \
                 WHEN 'array' THEN t.custom_fields -> $6 ELSE jsonb_build_array(t.custom_fields -> $6) END) \
                 AS g (value) ON true"
                    .to_owned(),
                "g.value",
                "g.value",
            ),
        }
    }

    fn field_key(&self) -> Option<&str> {
        match self {
            Grouping::Field(key) => Some(key),
            _ => None,
        }
    }
}

/// One group of the time report.
#[derive(Debug, Clone, QueryableByName)]
pub struct TimeRow {
    /// The group's key (an id, a category, a tag or a field value); null for "none".
    #[diesel(sql_type = Nullable<Text>)]
    pub key: Option<String>,
    /// Its name.
    #[diesel(sql_type = Nullable<Text>)]
    pub label: Option<String>,
    /// Minutes spent.
    #[diesel(sql_type = BigInt)]
    pub minutes: i64,
    /// Time entries.
    #[diesel(sql_type = BigInt)]
    pub entries: i64,
    /// Tickets the time was spent on.
    #[diesel(sql_type = BigInt)]
    pub tickets: i64,
}

/// The time spent on days within the period (by UTC date: from `from`'s day to the day before `to`), grouped.
pub fn time_spent(
    conn: &mut PgConnection,
    filter: &ReportFilter<'_>,
    grouping: &Grouping,
) -> QueryResult<Vec<TimeRow>> {
    let (joins, key, label) = grouping.sql("e.author_id");
    let query = diesel::sql_query(format!(
        "SELECT {key} AS key, {label} AS label, sum(e.minutes)::int8 AS minutes, count(DISTINCT e.id)::int8 AS entries, \
                count(DISTINCT e.ticket_id)::int8 AS tickets \
         FROM time_entries e JOIN tickets t ON t.id = e.ticket_id {joins} \
         WHERE e.spent_on >= ($1 AT TIME ZONE 'UTC')::date \
           AND e.spent_on <= (($2 - interval '1 microsecond') AT TIME ZONE 'UTC')::date AND {scope} \
         GROUP BY 1, 2 ORDER BY 3 DESC, 1",
        scope = scope_sql("t"),
    ));
    bind_filter!(query, filter).bind::<Nullable<Text>, _>(grouping.field_key()).load(conn)
}

/// One group of the grouped ticket report.
#[derive(Debug, Clone, QueryableByName)]
pub struct TicketGroupRow {
    /// The group's key; null for "none".
    #[diesel(sql_type = Nullable<Text>)]
    pub key: Option<String>,
    /// Its name.
    #[diesel(sql_type = Nullable<Text>)]
    pub label: Option<String>,
    /// Tickets submitted in the period.
    #[diesel(sql_type = BigInt)]
    pub opened: i64,
    /// Of those, resolved (or closed after being resolved) by now.
    #[diesel(sql_type = BigInt)]
    pub resolved: i64,
    /// The minutes spent on them in all.
    #[diesel(sql_type = BigInt)]
    pub time_spent_minutes: i64,
}

/// The tickets submitted in the period, grouped.
pub fn ticket_groups(
    conn: &mut PgConnection,
    filter: &ReportFilter<'_>,
    grouping: &Grouping,
) -> QueryResult<Vec<TicketGroupRow>> {
    let (joins, key, label) = grouping.sql("t.assignee_id");
    let query = diesel::sql_query(format!(
        "SELECT {key} AS key, {label} AS label, count(*)::int8 AS opened, \
                count(*) FILTER (WHERE t.resolved_at IS NOT NULL)::int8 AS resolved, \
                coalesce(sum(t.time_spent_minutes), 0)::int8 AS time_spent_minutes \
         FROM tickets t {joins} \
         WHERE t.created_at >= $1 AND t.created_at < $2 AND {scope} \
         GROUP BY 1, 2 ORDER BY 3 DESC, 1",
        scope = scope_sql("t"),
    ));
    bind_filter!(query, filter).bind::<Nullable<Text>, _>(grouping.field_key()).load(conn)
}

/// The tickets submitted in the period, oldest first, at most `limit`.
pub fn tickets_between(
    conn: &mut PgConnection,
    filter: &ReportFilter<'_>,
    limit: i64,
) -> QueryResult<Vec<crate::models::Ticket>> {
    use crate::schema::tickets;
    let mut query = tickets::table
        .filter(tickets::created_at.ge(filter.from))
        .filter(tickets::created_at.lt(filter.to))
        .select(crate::models::Ticket::as_select())
        .into_boxed();
    if let Some(country) = filter.country {
        query = query.filter(tickets::country.eq(country.to_owned()));
    }
    if let Some(office) = filter.office_id {
        query = query.filter(tickets::office_id.eq(office));
    }
    if let Some(category) = filter.category {
        query = query.filter(tickets::category.eq(category));
    }
    query.order((tickets::created_at.asc(), tickets::id.asc())).limit(limit).load(conn)
}

/// How often one saved reply was used.
#[derive(Debug, Clone, QueryableByName)]
pub struct SavedReplyUseRow {
    /// The saved reply.
    #[diesel(sql_type = SqlUuid)]
    pub saved_reply_id: Uuid,
    /// Its name.
    #[diesel(sql_type = Text)]
    pub name: String,
    /// Messages written with it.
    #[diesel(sql_type = BigInt)]
    pub uses: i64,
}

/// How many messages written in the period on the tickets the filter selects came from each saved reply, most
/// used first; others' personal replies only if `all_personal`, else only `user`'s.
pub fn saved_reply_uses(
    conn: &mut PgConnection,
    filter: &ReportFilter<'_>,
    user: Uuid,
    all_personal: bool,
) -> QueryResult<Vec<SavedReplyUseRow>> {
    let query = diesel::sql_query(format!(
        "SELECT r.id AS saved_reply_id, r.name, count(*)::int8 AS uses \
         FROM messages m JOIN saved_replies r ON r.id = m.saved_reply_id JOIN tickets t ON t.id = m.ticket_id \
         WHERE m.saved_reply_id IS NOT NULL AND m.created_at >= $1 AND m.created_at < $2 AND {scope} \
           AND (r.scope <> 'personal' OR r.owner_id = $6 OR $7) \
         GROUP BY r.id, r.name ORDER BY 3 DESC, 2",
        scope = scope_sql("t"),
    ));
    bind_filter!(query, filter).bind::<SqlUuid, _>(user).bind::<diesel::sql_types::Bool, _>(all_personal).load(conn)
}
