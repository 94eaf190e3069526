//! `/api/v1/reports`: figures for programme staff and funders, as JSON or CSV.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::db::{self, DbPool};
use crate::domain::caller::Caller;
use crate::domain::error::DomainResult;
use crate::domain::reports::{
    self, AdvisorReport, Report, ReportScope, SavedReplyReport, SummaryReport, TicketReport, TimeReport,
};
use crate::error::{ApiError, ApiResult};
use crate::routes::tickets::country_filter;
use crate::vocabulary::Category;

/// The period, narrowing and format of a report.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// Start of the period (RFC 3339, inclusive, before `to`, at most three years before it); 30 days before `to`
    /// when absent.
    #[param(value_type = Option<DateTime<Utc>>)]
    pub from: Option<String>,
    /// End of the period (RFC 3339, exclusive); now when absent.
    #[param(value_type = Option<DateTime<Utc>>)]
    pub to: Option<String>,
    /// Only this country (ISO 3166-1 alpha-2).
    #[param(pattern = "^[A-Za-z]{2}$")]
    pub country: Option<String>,
    /// Only this office's queue.
    #[param(value_type = Option<Uuid>)]
    pub office_id: Option<String>,
    /// Only this category.
    #[param(value_type = Option<Category>)]
    pub category: Option<String>,
    /// `json` (default) or `csv`; `Accept: text/csv` asks for CSV too.
    #[param(pattern = "^(json|csv)$")]
    pub format: Option<String>,
    /// The time and ticket reports: `advisor`, `office`, `organization`, `category`, `tag` or `cf.<key>` (a custom
    /// field); the time report groups by `advisor` by default, the ticket report lists tickets one by one.
    #[param(pattern = "^(advisor|office|organization|category|tag|cf\\.[a-z][a-z0-9_]{0,49})$")]
    pub group_by: Option<String>,
}

fn instant(name: &str, raw: Option<&str>) -> ApiResult<Option<DateTime<Utc>>> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(raw) => DateTime::parse_from_rfc3339(raw)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| ApiError::invalid(name, "must be an RFC 3339 instant such as 2026-01-01T00:00:00Z")),
    }
}

impl ReportParams {
    fn scope(&self) -> ApiResult<ReportScope> {
        let country = match self.country.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => Some(country_filter("country", raw)?),
        };
        let office_id = match self.office_id.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => Some(Uuid::parse_str(raw).map_err(|_| ApiError::invalid("office_id", "must be a uuid"))?),
        };
        let category = match self.category.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => Some(raw.parse::<Category>().map_err(|e| ApiError::invalid("category", e))?),
        };
        let from = instant("from", self.from.as_deref())?;
        let to = instant("to", self.to.as_deref())?;
        Ok(ReportScope::new(from, to, country, office_id, category)?)
    }

    /// Whether the caller asked for CSV.
    fn wants_csv(&self, request: &HttpRequest) -> ApiResult<bool> {
        match self.format.as_deref().map(str::trim) {
            Some("csv") => Ok(true),
            Some("json") => Ok(false),
            Some("") | None => {
                let accept = request.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
                Ok(accept.split(',').any(|item| item.trim().starts_with("text/csv")))
            }
            Some(_) => Err(ApiError::invalid("format", "must be json or csv")),
        }
    }
}

/// Computes a report with `build` and answers it as JSON, or as a CSV attachment when asked.
async fn answer<R, F>(
    request: HttpRequest,
    pool: &DbPool,
    caller: Caller,
    params: &ReportParams,
    build: F,
) -> ApiResult<HttpResponse>
where
    R: Report + Send + 'static,
    F: FnOnce(&mut diesel::PgConnection, &Caller, ReportScope) -> DomainResult<R> + Send + 'static,
{
    let csv = params.wants_csv(&request)?;
    let scope = params.scope()?;
    let report = db::run(pool, move |conn| build(conn, &caller, scope)).await?;
    if !csv {
        return Ok(HttpResponse::Ok().json(report));
    }
    let scope = report.scope();
    let filename = format!("civicdesk-{}-{}-{}.csv", R::NAME, scope.from.format("%Y%m%d"), scope.to.format("%Y%m%d"));
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")))
        .body(report.to_csv()))
}

/// Summary report (staff).
///
/// Tickets opened and resolved, business-hour response and resolution times (median, 90th percentile), SLA compliance,
/// satisfaction and the backlog by age, over a period (the last 30 days by default). Advisors see their own office.
/// JSON, or CSV with `format=csv` or `Accept: text/csv`.
#[utoipa::path(
    get, path = "/api/v1/reports/summary", tag = "reports", operation_id = "getSummaryReport", params(ReportParams),
    responses((status = 200, description = "The report", content(
        (SummaryReport = "application/json"),
        (String = "text/csv", example = "metric,value\r\nopened,12\r\n"),
    )))
)]
pub async fn summary(
    request: HttpRequest,
    pool: web::Data<DbPool>,
    caller: Caller,
    params: web::Query<ReportParams>,
) -> ApiResult<HttpResponse> {
    answer(request, &pool, caller, &params, reports::summary).await
}

/// Load per advisor (staff).
///
/// Per advisor: open tickets now, and the tickets assigned and resolved in the period, the median first response and
/// the breaches. Advisors see their own office. JSON, or CSV with `format=csv` or `Accept: text/csv`.
#[utoipa::path(
    get, path = "/api/v1/reports/advisors", tag = "reports", operation_id = "getAdvisorReport", params(ReportParams),
    responses((status = 200, description = "The report", content(
        (AdvisorReport = "application/json"),
        (String = "text/csv", example = "user_id,name,office_id,open_now,assigned,resolved,first_response_median_hours,breached\r\n"),
    )))
)]
pub async fn advisors(
    request: HttpRequest,
    pool: web::Data<DbPool>,
    caller: Caller,
    params: web::Query<ReportParams>,
) -> ApiResult<HttpResponse> {
    answer(request, &pool, caller, &params, reports::advisors).await
}

/// Time spent (staff).
///
/// Minutes staff logged on days within the period (UTC dates), per advisor (default), office, organisation,
/// category, tag or custom field (`group_by=cf.<key>`). Advisors see their own office. JSON, or CSV with
/// `format=csv` or `Accept: text/csv`.
#[utoipa::path(
    get, path = "/api/v1/reports/time", tag = "reports", operation_id = "getTimeReport", params(ReportParams),
    responses((status = 200, description = "The report", content(
        (TimeReport = "application/json"),
        (String = "text/csv", example = "key,label,minutes,hours,entries,tickets\r\n"),
    )))
)]
pub async fn time(
    request: HttpRequest,
    pool: web::Data<DbPool>,
    caller: Caller,
    params: web::Query<ReportParams>,
) -> ApiResult<HttpResponse> {
    let group_by = params.group_by.clone().unwrap_or_else(|| "advisor".to_owned());
    answer(request, &pool, caller, &params, move |conn, caller, scope| {
        let grouping = reports::grouping(conn, &group_by)?;
        reports::time(conn, caller, scope, grouping)
    })
    .await
}

/// Tickets, with their tags, time and custom fields (staff).
///
/// The tickets submitted in the period, one row each (at most 10,000; `truncated` says if there were more) with
/// their tags, time spent and custom fields (`cf.<key>` columns in the CSV), or counted per `group_by`. Advisors
/// see their own office. JSON, or CSV with `format=csv` or `Accept: text/csv`.
#[utoipa::path(
    get, path = "/api/v1/reports/tickets", tag = "reports", operation_id = "getTicketReport", params(ReportParams),
    responses((status = 200, description = "The report", content(
        (TicketReport = "application/json"),
        (String = "text/csv", example = "id,reference,subject,status,priority,category,country,office_id,organization_id,assignee_id,created_at,resolved_at,tags,time_spent_minutes,merged_into\r\n"),
    )))
)]
pub async fn tickets(
    request: HttpRequest,
    pool: web::Data<DbPool>,
    caller: Caller,
    params: web::Query<ReportParams>,
) -> ApiResult<HttpResponse> {
    let group_by = params.group_by.clone().filter(|g| !g.trim().is_empty());
    answer(request, &pool, caller, &params, move |conn, caller, scope| {
        let grouping = group_by.map(|raw| reports::grouping(conn, &raw)).transpose()?;
        reports::tickets(conn, caller, scope, grouping)
    })
    .await
}

/// Saved replies used (staff).
///
/// How many messages were written with each saved reply in the period, most used first. JSON, or CSV with
/// `format=csv` or `Accept: text/csv`.
#[utoipa::path(
    get, path = "/api/v1/reports/saved-replies", tag = "reports", operation_id = "getSavedReplyReport",
    params(ReportParams),
    responses((status = 200, description = "The report", content(
        (SavedReplyReport = "application/json"),
        (String = "text/csv", example = "saved_reply_id,name,uses\r\n"),
    )))
)]
pub async fn saved_replies(
    request: HttpRequest,
    pool: web::Data<DbPool>,
    caller: Caller,
    params: web::Query<ReportParams>,
) -> ApiResult<HttpResponse> {
    answer(request, &pool, caller, &params, reports::saved_replies).await
}
