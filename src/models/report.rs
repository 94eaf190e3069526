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
