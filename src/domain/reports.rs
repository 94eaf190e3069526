//! Reports for programme staff and funders: volumes, response and resolution times in business hours, SLA
//! compliance, satisfaction, backlog and load per advisor.
//!
//! Everything is aggregated by PostgreSQL in a handful of statements, each driven by an index (creation,
//! resolution and first-response times, active statuses), so a report over a month of a million-ticket database
//! reads only that month's rows. Times come from the business seconds stored when each clock stopped.

use chrono::{DateTime, TimeDelta, Utc};
use diesel::PgConnection;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::caller::Caller;
use crate::domain::custom_fields::Fields;
use crate::domain::error::{DomainError, DomainResult};
use crate::models::report::{self, Grouping, ReportFilter};
use crate::vocabulary::{Category, Role};

/// The longest period one report covers.
pub const PERIOD_MAX_DAYS: i64 = 3 * 366;

/// What a report covers: a period and optional narrowing.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportScope {
    /// Start of the period (inclusive).
    pub from: DateTime<Utc>,
    /// End of the period (exclusive).
    pub to: DateTime<Utc>,
    /// Only tickets of this country.
    pub country: Option<String>,
    /// Only tickets of this office's queue.
    pub office_id: Option<Uuid>,
    /// Only tickets of this category.
    pub category: Option<Category>,
}

impl ReportScope {
    /// A scope, checked: the period must be forwards and at most [`PERIOD_MAX_DAYS`] long.
    pub fn new(
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        country: Option<String>,
        office_id: Option<Uuid>,
        category: Option<Category>,
    ) -> DomainResult<ReportScope> {
        let to = to.unwrap_or_else(Utc::now);
        let from = from.unwrap_or(to - TimeDelta::days(30));
        if from >= to {
            return Err(DomainError::invalid("from", "must be before to"));
        }
        if to - from > TimeDelta::days(PERIOD_MAX_DAYS) {
            return Err(DomainError::invalid("from", "a report covers at most three years"));
        }
        Ok(ReportScope { from, to, country, office_id, category })
    }

    /// The rows this scope selects, as the report queries take them.
    fn filter(&self) -> ReportFilter<'_> {
        ReportFilter {
            from: self.from,
            to: self.to,
            country: self.country.as_deref(),
            office_id: self.office_id,
            category: self.category,
        }
    }

    /// Advisors report on their own office only; managers on anything.
    fn authorize(mut self, caller: &Caller) -> DomainResult<ReportScope> {
        match caller.role() {
            Role::Admin | Role::Coordinator => Ok(self),
            Role::Advisor => {
                let own = caller.user.office_id;
                match (own, self.office_id) {
                    (Some(own), None) => self.office_id = Some(own),
                    (Some(own), Some(asked)) if own == asked => {}
                    _ => return Err(DomainError::Forbidden("advisors see reports of their own office".to_owned())),
                }
                Ok(self)
            }
            Role::Requester => Err(DomainError::Forbidden("reports are for staff".to_owned())),
        }
    }
}

/// A median and 90th percentile, in business hours.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Durations {
    /// How many tickets they are computed from.
    pub tickets: i64,
    /// The median, in business hours (`null` without tickets).
    pub median_hours: Option<f64>,
    /// The 90th percentile, in business hours (`null` without tickets).
    pub p90_hours: Option<f64>,
}

/// How often a service-level target was kept.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Compliance {
    /// Tickets whose clock stopped in time.
    pub met: i64,
    /// Tickets whose target passed.
    pub breached: i64,
    /// `met / (met + breached)` in percent (`null` when both are 0).
    pub percent: Option<f64>,
}

/// Ratings given in the period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SatisfactionFigures {
    /// "Satisfied" ratings.
    pub satisfied: i64,
    /// All ratings.
    pub rated: i64,
    /// `satisfied / rated` in percent (`null` without ratings).
    pub percent: Option<f64>,
}

/// The open tickets (new, open, pending) now, by age since submission.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Backlog {
    /// All open tickets.
    pub total: i64,
    /// Submitted less than a day ago.
    pub under_1_day: i64,
    /// 1 to 3 days.
    pub from_1_to_3_days: i64,
    /// 3 to 7 days.
    pub from_3_to_7_days: i64,
    /// 7 to 30 days.
    pub from_7_to_30_days: i64,
    /// More than 30 days.
    pub over_30_days: i64,
}

/// The summary report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SummaryReport {
    /// What it covers.
    pub scope: ReportScope,
    /// Tickets submitted in the period.
    pub opened: i64,
    /// Tickets resolved in the period.
    pub resolved: i64,
    /// Business time to the first public staff reply, for replies given in the period.
    pub first_response: Durations,
    /// Business time to resolution (without waiting on the requester), for tickets resolved in the period.
    pub resolution: Durations,
    /// First-response target kept, for tickets submitted in the period (still running ones left out).
    pub first_response_sla: Compliance,
    /// Resolution target kept, for tickets submitted in the period (still running ones left out).
    pub resolution_sla: Compliance,
    /// Ratings given in the period.
    pub satisfaction: SatisfactionFigures,
    /// Open tickets now, by age.
    pub backlog: Backlog,
}

/// One advisor's load.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdvisorLoad {
    /// The staff member.
    pub user_id: Uuid,
    /// Their name.
    pub name: String,
    /// Their office.
    pub office_id: Option<Uuid>,
    /// Open tickets (new, open, pending) assigned to them now.
    pub open_now: i64,
    /// Tickets submitted in the period and assigned to them.
    pub assigned: i64,
    /// Tickets they hold that were resolved in the period.
    pub resolved: i64,
    /// Their median business hours to first response, for replies given in the period.
    pub first_response_median_hours: Option<f64>,
    /// Tickets submitted in the period whose first-response or resolution target passed while assigned to them.
    pub breached: i64,
}

/// The load report: one row per active staff member who works tickets.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdvisorReport {
    /// What it covers.
    pub scope: ReportScope,
    /// One row per advisor, most open tickets first.
    pub advisors: Vec<AdvisorLoad>,
}

fn hours(seconds: Option<f64>) -> Option<f64> {
    seconds.map(|s| (s / 36.0).round() / 100.0)
}

fn percent(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 * 1000.0 / whole as f64).round() / 10.0)
}

fn compliance(met: i64, breached: i64) -> Compliance {
    Compliance { met, breached, percent: percent(met, met + breached) }
}

/// The summary report for `scope`.
pub fn summary(conn: &mut PgConnection, caller: &Caller, scope: ReportScope) -> DomainResult<SummaryReport> {
    let scope = scope.authorize(caller)?;
    let (row, satisfaction, backlog) = report::summary(conn, &scope.filter())?;
    Ok(SummaryReport {
        scope,
        opened: row.opened,
        resolved: row.resolved,
        first_response: Durations {
            tickets: row.first_response_count,
            median_hours: hours(row.first_response_p50),
            p90_hours: hours(row.first_response_p90),
        },
        resolution: Durations {
            tickets: row.resolution_count,
            median_hours: hours(row.resolution_p50),
            p90_hours: hours(row.resolution_p90),
        },
        first_response_sla: compliance(row.first_response_met, row.first_response_breached),
        resolution_sla: compliance(row.resolution_met, row.resolution_breached),
        satisfaction: SatisfactionFigures {
            satisfied: satisfaction.satisfied,
            rated: satisfaction.rated,
            percent: percent(satisfaction.satisfied, satisfaction.rated),
        },
        backlog: Backlog {
            total: backlog.total,
            under_1_day: backlog.under_1_day,
            from_1_to_3_days: backlog.from_1_to_3_days,
            from_3_to_7_days: backlog.from_3_to_7_days,
            from_7_to_30_days: backlog.from_7_to_30_days,
            over_30_days: backlog.over_30_days,
        },
    })
}

/// The load per advisor for `scope`.
pub fn advisors(conn: &mut PgConnection, caller: &Caller, scope: ReportScope) -> DomainResult<AdvisorReport> {
    let scope = scope.authorize(caller)?;
    let rows = report::advisor_loads(conn, &scope.filter())?;
    let advisors = rows
        .into_iter()
        .map(|row| AdvisorLoad {
            user_id: row.user_id,
            name: row.name,
            office_id: row.office_id,
            open_now: row.open_now,
            assigned: row.assigned,
            resolved: row.resolved,
            first_response_median_hours: hours(row.first_response_p50),
            breached: row.breached,
        })
        .collect();
    Ok(AdvisorReport { scope, advisors })
}

/// Defuses text a spreadsheet would run as a formula (a leading `=`, `+`, `-`, `@`, tab or CR, unless it is a
/// number).
fn defuse(value: &str) -> std::borrow::Cow<'_, str> {
    match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') if value.parse::<f64>().is_err() => format!("'{value}").into(),
        _ => value.into(),
    }
}

fn csv_number(value: Option<f64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// Rows of CSV as RFC 4180 says (quoted where needed, CRLF-terminated), every field defused.
fn csv(rows: &[Vec<String>]) -> String {
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    for row in rows {
        // Writing strings to memory cannot fail.
        let _ = writer.write_record(row.iter().map(|field| defuse(field).into_owned()));
    }
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// What the HTTP layer needs of a report to answer it as JSON or CSV.
pub trait Report: Serialize {
    /// The name in the CSV file name (`civicdesk-<name>-<from>-<to>.csv`).
    const NAME: &'static str;
    /// What it covers.
    fn scope(&self) -> &ReportScope;
    /// The report as CSV.
    fn to_csv(&self) -> String;
}

impl Report for SummaryReport {
    const NAME: &'static str = "summary";

    fn scope(&self) -> &ReportScope {
        &self.scope
    }

    /// Two columns, `metric,value`, one figure per line.
    fn to_csv(&self) -> String {
        let figure = |name: &str, value: String| vec![name.to_owned(), value];
        let count = |name: &str, value: i64| figure(name, value.to_string());
        let scope = &self.scope;
        let rows = vec![
            figure("metric", "value".to_owned()),
            figure("from", scope.from.to_rfc3339()),
            figure("to", scope.to.to_rfc3339()),
            figure("country", scope.country.clone().unwrap_or_default()),
            figure("office_id", scope.office_id.map(|id| id.to_string()).unwrap_or_default()),
            figure("category", scope.category.map(|c| c.to_string()).unwrap_or_default()),
            count("opened", self.opened),
            count("resolved", self.resolved),
            count("first_response_tickets", self.first_response.tickets),
            figure("first_response_median_hours", csv_number(self.first_response.median_hours)),
            figure("first_response_p90_hours", csv_number(self.first_response.p90_hours)),
            count("resolution_tickets", self.resolution.tickets),
            figure("resolution_median_hours", csv_number(self.resolution.median_hours)),
            figure("resolution_p90_hours", csv_number(self.resolution.p90_hours)),
            count("first_response_sla_met", self.first_response_sla.met),
            count("first_response_sla_breached", self.first_response_sla.breached),
            figure("first_response_sla_percent", csv_number(self.first_response_sla.percent)),
            count("resolution_sla_met", self.resolution_sla.met),
            count("resolution_sla_breached", self.resolution_sla.breached),
            figure("resolution_sla_percent", csv_number(self.resolution_sla.percent)),
            count("satisfaction_satisfied", self.satisfaction.satisfied),
            count("satisfaction_rated", self.satisfaction.rated),
            figure("satisfaction_percent", csv_number(self.satisfaction.percent)),
            count("backlog_total", self.backlog.total),
            count("backlog_under_1_day", self.backlog.under_1_day),
            count("backlog_1_to_3_days", self.backlog.from_1_to_3_days),
            count("backlog_3_to_7_days", self.backlog.from_3_to_7_days),
            count("backlog_7_to_30_days", self.backlog.from_7_to_30_days),
            count("backlog_over_30_days", self.backlog.over_30_days),
        ];
        csv(&rows)
    }
}

impl Report for AdvisorReport {
    const NAME: &'static str = "advisors";

    fn scope(&self) -> &ReportScope {
        &self.scope
    }

    /// One advisor per line after a header.
    fn to_csv(&self) -> String {
        let header = [
            "user_id",
            "name",
            "office_id",
            "open_now",
            "assigned",
            "resolved",
            "first_response_median_hours",
            "breached",
        ];
        let mut rows = vec![header.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>()];
        rows.extend(self.advisors.iter().map(|a| {
            vec![
                a.user_id.to_string(),
                a.name.clone(),
                a.office_id.map(|id| id.to_string()).unwrap_or_default(),
                a.open_now.to_string(),
                a.assigned.to_string(),
                a.resolved.to_string(),
                csv_number(a.first_response_median_hours),
                a.breached.to_string(),
            ]
        }));
        csv(&rows)
    }
}

/// The most tickets one ticket report lists (a longer period is asked for in parts).
pub const TICKET_ROWS_MAX: i64 = 10_000;

/// Reads a `group_by` parameter: `advisor`, `office`, `organization`, `category`, `tag` or `cf.<key>` (an active
/// custom field).
pub fn grouping(conn: &mut PgConnection, raw: &str) -> DomainResult<Grouping> {
    let raw = raw.trim();
    Ok(match raw {
        "advisor" => Grouping::Advisor,
        "office" => Grouping::Office,
        "organization" => Grouping::Organization,
        "category" => Grouping::Category,
        "tag" => Grouping::Tag,
        _ => match raw.strip_prefix("cf.") {
            Some(key) if Fields::load(conn)?.all().iter().any(|field| field.key == key) => {
                Grouping::Field(key.to_owned())
            }
            Some(_) => return Err(DomainError::invalid("group_by", "names no active custom field")),
            None => {
                return Err(DomainError::invalid(
                    "group_by",
                    "must be advisor, office, organization, category, tag or cf.<key>",
                ));
            }
        },
    })
}

fn grouping_name(grouping: &Grouping) -> String {
    match grouping {
        Grouping::Advisor => "advisor".to_owned(),
        Grouping::Office => "office".to_owned(),
        Grouping::Organization => "organization".to_owned(),
        Grouping::Category => "category".to_owned(),
        Grouping::Tag => "tag".to_owned(),
        Grouping::Field(key) => format!("cf.{key}"),
    }
}

/// One group of the time report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TimeGroup {
    /// The group: a user, office or organisation id, a category, a tag or a field value; null for none (time on
    /// tickets without a tag or without a value).
    pub key: Option<String>,
    /// Its name (the person's, office's or organisation's; the key otherwise).
    pub label: Option<String>,
    /// Minutes spent.
    pub minutes: i64,
    /// The same in hours, to two decimals.
    pub hours: f64,
    /// Time entries.
    pub entries: i64,
    /// Tickets the time was spent on.
    pub tickets: i64,
}

/// The time report: minutes spent on days within the period, by group.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TimeReport {
    /// What it covers (the period by UTC date: from `from`'s day to the day before `to`).
    pub scope: ReportScope,
    /// What it groups by.
    pub group_by: String,
    /// The minutes of all entries in the period. With `group_by=tag` or a multi-select field a ticket's time
    /// counts under each of its tags or options, so the groups may add up to more.
    pub total_minutes: i64,
    /// The groups, most time first.
    pub rows: Vec<TimeGroup>,
}

/// The time spent in `scope`, by `grouping`.
pub fn time(
    conn: &mut PgConnection,
    caller: &Caller,
    scope: ReportScope,
    grouping: Grouping,
) -> DomainResult<TimeReport> {
    let scope = scope.authorize(caller)?;
    let rows = report::time_spent(conn, &scope.filter(), &grouping)?;
    let total = report::time_spent(conn, &scope.filter(), &Grouping::Category)?.iter().map(|row| row.minutes).sum();
    let rows = rows
        .into_iter()
        .map(|row| TimeGroup {
            key: row.key,
            label: row.label,
            minutes: row.minutes,
            hours: (row.minutes as f64 / 60.0 * 100.0).round() / 100.0,
            entries: row.entries,
            tickets: row.tickets,
        })
        .collect();
    Ok(TimeReport { scope, group_by: grouping_name(&grouping), total_minutes: total, rows })
}

impl Report for TimeReport {
    const NAME: &'static str = "time";

    fn scope(&self) -> &ReportScope {
        &self.scope
    }

    /// One group per line after a header.
    fn to_csv(&self) -> String {
        let mut rows = vec![["key", "label", "minutes", "hours", "entries", "tickets"].map(str::to_owned).to_vec()];
        rows.extend(self.rows.iter().map(|row| {
            vec![
                row.key.clone().unwrap_or_default(),
                row.label.clone().unwrap_or_default(),
                row.minutes.to_string(),
                row.hours.to_string(),
                row.entries.to_string(),
                row.tickets.to_string(),
            ]
        }));
        csv(&rows)
    }
}

/// One ticket of the ticket report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TicketRow {
    /// Identifier.
    pub id: Uuid,
    /// Reference number.
    pub reference: i64,
    /// Subject.
    pub subject: String,
    /// Status now.
    pub status: crate::vocabulary::TicketStatus,
    /// Priority now.
    pub priority: crate::vocabulary::Priority,
    /// Category now.
    pub category: Category,
    /// Country.
    pub country: String,
    /// Office now.
    pub office_id: Uuid,
    /// Requesting organisation.
    pub organization_id: Uuid,
    /// Assignee now.
    pub assignee_id: Option<Uuid>,
    /// When it was submitted.
    pub created_at: DateTime<Utc>,
    /// When it was resolved, if it is.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Its tags.
    pub tags: Vec<String>,
    /// The minutes spent on it.
    pub time_spent_minutes: i32,
    /// The ticket it was merged into, when it is a merged duplicate.
    pub merged_into: Option<Uuid>,
    /// Its custom field values.
    #[schema(value_type = Object)]
    pub custom_fields: serde_json::Value,
}

/// One group of the grouped ticket report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TicketGroup {
    /// The group (see the time report's); null for none.
    pub key: Option<String>,
    /// Its name.
    pub label: Option<String>,
    /// Tickets submitted in the period.
    pub opened: i64,
    /// Of those, resolved by now.
    pub resolved: i64,
    /// The minutes spent on them.
    pub time_spent_minutes: i64,
}

/// The ticket report: the tickets submitted in the period, one row each with their tags, time and custom fields,
/// or grouped.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TicketReport {
    /// What it covers.
    pub scope: ReportScope,
    /// What it groups by; null: one row per ticket.
    pub group_by: Option<String>,
    /// The custom fields, one column each in the CSV (`cf.<key>`), in order.
    pub fields: Vec<String>,
    /// One row per ticket, oldest first (without `group_by`; at most 10,000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tickets: Option<Vec<TicketRow>>,
    /// Whether there were more tickets than listed (ask for a shorter period).
    pub truncated: bool,
    /// The groups, most tickets first (with `group_by`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<TicketGroup>>,
}

/// The tickets submitted in `scope`, one by one or by `grouping`.
pub fn tickets(
    conn: &mut PgConnection,
    caller: &Caller,
    scope: ReportScope,
    grouping: Option<Grouping>,
) -> DomainResult<TicketReport> {
    let scope = scope.authorize(caller)?;
    let fields = Fields::load(conn)?.all().iter().map(|field| field.key.clone()).collect();
    let mut report = TicketReport { scope, group_by: None, fields, tickets: None, truncated: false, groups: None };
    match grouping {
        Some(grouping) => {
            let rows = report::ticket_groups(conn, &report.scope.filter(), &grouping)?;
            report.group_by = Some(grouping_name(&grouping));
            report.groups = Some(
                rows.into_iter()
                    .map(|row| TicketGroup {
                        key: row.key,
                        label: row.label,
                        opened: row.opened,
                        resolved: row.resolved,
                        time_spent_minutes: row.time_spent_minutes,
                    })
                    .collect(),
            );
        }
        None => {
            let mut tickets = report::tickets_between(conn, &report.scope.filter(), TICKET_ROWS_MAX + 1)?;
            report.truncated = tickets.len() as i64 > TICKET_ROWS_MAX;
            tickets.truncate(TICKET_ROWS_MAX as usize);
            report.tickets = Some(
                tickets
                    .into_iter()
                    .map(|t| TicketRow {
                        id: t.id,
                        reference: t.reference,
                        subject: t.subject,
                        status: t.status,
                        priority: t.priority,
                        category: t.category,
                        country: t.country,
                        office_id: t.office_id,
                        organization_id: t.organization_id,
                        assignee_id: t.assignee_id,
                        created_at: t.created_at,
                        resolved_at: t.resolved_at,
                        tags: t.tags,
                        time_spent_minutes: t.time_spent_minutes,
                        merged_into: t.merged_into,
                        custom_fields: t.custom_fields,
                    })
                    .collect(),
            );
        }
    }
    Ok(report)
}

/// A custom field value as one CSV field (a multi-select's options separated by `; `).
fn field_text(value: Option<&serde_json::Value>) -> String {
    match value {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(serde_json::Value::Array(items)) => {
            items.iter().map(|item| field_text(Some(item))).collect::<Vec<_>>().join("; ")
        }
        Some(other) => other.to_string(),
    }
}

impl Report for TicketReport {
    const NAME: &'static str = "tickets";

    fn scope(&self) -> &ReportScope {
        &self.scope
    }

    /// One ticket (or group) per line after a header; a ticket's custom fields as `cf.<key>` columns.
    fn to_csv(&self) -> String {
        let id = |id: Option<Uuid>| id.map(|id| id.to_string()).unwrap_or_default();
        if let Some(groups) = &self.groups {
            let mut rows =
                vec![["key", "label", "opened", "resolved", "time_spent_minutes"].map(str::to_owned).to_vec()];
            rows.extend(groups.iter().map(|g| {
                vec![
                    g.key.clone().unwrap_or_default(),
                    g.label.clone().unwrap_or_default(),
                    g.opened.to_string(),
                    g.resolved.to_string(),
                    g.time_spent_minutes.to_string(),
                ]
            }));
            return csv(&rows);
        }
        let mut header: Vec<String> = [
            "id",
            "reference",
            "subject",
            "status",
            "priority",
            "category",
            "country",
            "office_id",
            "organization_id",
            "assignee_id",
            "created_at",
            "resolved_at",
            "tags",
            "time_spent_minutes",
            "merged_into",
        ]
        .map(str::to_owned)
        .to_vec();
        header.extend(self.fields.iter().map(|key| format!("cf.{key}")));
        let mut rows = vec![header];
        rows.extend(self.tickets.iter().flatten().map(|t| {
            let mut row = vec![
                t.id.to_string(),
                t.reference.to_string(),
                t.subject.clone(),
                t.status.to_string(),
                t.priority.to_string(),
                t.category.to_string(),
                t.country.clone(),
                t.office_id.to_string(),
                t.organization_id.to_string(),
                id(t.assignee_id),
                t.created_at.to_rfc3339(),
                t.resolved_at.map(|at| at.to_rfc3339()).unwrap_or_default(),
                t.tags.join(" "),
                t.time_spent_minutes.to_string(),
                id(t.merged_into),
            ];
            row.extend(self.fields.iter().map(|key| field_text(t.custom_fields.get(key))));
            row
        }));
        csv(&rows)
    }
}

/// How often one saved reply was used in the period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SavedReplyUse {
    /// The saved reply.
    pub saved_reply_id: Uuid,
    /// Its name.
    pub name: String,
    /// Messages written with it in the period.
    pub uses: i64,
}

/// The saved-replies report: uses per saved reply in the period, most used first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SavedReplyReport {
    /// What it covers: messages written in the period on the tickets it selects.
    pub scope: ReportScope,
    /// The saved replies used, most used first.
    pub saved_replies: Vec<SavedReplyUse>,
}

/// The uses of saved replies on the tickets of `scope` (advisors: of their office, and of the personal replies
/// only their own).
pub fn saved_replies(conn: &mut PgConnection, caller: &Caller, scope: ReportScope) -> DomainResult<SavedReplyReport> {
    let scope = scope.authorize(caller)?;
    let managers = matches!(caller.role(), Role::Admin | Role::Coordinator);
    let rows = report::saved_reply_uses(conn, &scope.filter(), caller.id(), managers)?;
    let saved_replies = rows
        .into_iter()
        .map(|row| SavedReplyUse { saved_reply_id: row.saved_reply_id, name: row.name, uses: row.uses })
        .collect();
    Ok(SavedReplyReport { scope, saved_replies })
}

impl Report for SavedReplyReport {
    const NAME: &'static str = "saved-replies";

    fn scope(&self) -> &ReportScope {
        &self.scope
    }

    /// One saved reply per line after a header.
    fn to_csv(&self) -> String {
        let mut rows = vec![["saved_reply_id", "name", "uses"].map(str::to_owned).to_vec()];
        rows.extend(
            self.saved_replies.iter().map(|r| vec![r.saved_reply_id.to_string(), r.name.clone(), r.uses.to_string()]),
        );
        csv(&rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let field = |value: &str| csv(&[vec![value.to_owned()]]).trim_end_matches("\r\n").to_owned();
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("-1.5"), "-1.5", "a negative number stays a number");
        assert_eq!(csv(&[vec!["a".into(), "b".into()]]), "a,b\r\n");
        assert_eq!(csv(&[vec!["x".into(), "line\nbreak".into()]]), "x,\"line\nbreak\"\r\n");
    }

    #[test]
    fn hours_and_percent_round() {
        assert_eq!(hours(Some(5400.0)), Some(1.5));
        assert_eq!(hours(None), None);
        assert_eq!(percent(2, 3), Some(66.7));
        assert_eq!(percent(0, 0), None);
    }
}
