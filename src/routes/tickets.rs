//! `/api/v1/tickets`: submit, list, read and change tickets, their messages and their audit trail.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use diesel::Connection;
use serde::{Deserialize, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;
use utoipa::{IntoParams, PartialSchema, ToSchema};
use uuid::Uuid;

use crate::db::{self, DbPool};
use crate::domain::caller::Caller;
use crate::domain::cursor;
use crate::domain::error::DomainResult;
use crate::domain::network::NetworkCache;
use crate::domain::satisfaction::{self, RateTicket};
use crate::domain::saved_replies::ReplySettings;
use crate::domain::tickets::{self, Origin, PostMessage, SubmitTicket, Submitted, UpdateTicket};
use crate::domain::uploads::{self, UploadLimits};
use crate::error::{ApiError, ApiResult};
use crate::models::ticket::{AssigneeFilter, SlaFilter, TicketFilter, TicketScope, TicketSort};
use crate::routes::extract::{ApiJson, FormFile, JsonOrForm, idempotency_key};
use crate::routes::openapi::rules;
use crate::routes::{page_limit, parse_list};
use crate::views::{MergedFrom, MessageView, SatisfactionRatingView, TicketEventView, TicketView};
use crate::vocabulary::TicketStatus;
use crate::vocabulary::{Category, Priority};

/// One page of tickets.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketPage {
    /// The tickets of this page.
    pub items: Vec<TicketView>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Filters, order and page of a ticket listing. List filters take comma-separated values (`status=open,pending`).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListTickets {
    /// Statuses, comma-separated: new, open, pending, resolved, closed.
    #[param(
        example = "open,pending",
        pattern = "^((new|open|pending|resolved|closed)(,(new|open|pending|resolved|closed))*)?$"
    )]
    pub status: Option<String>,
    /// Priorities, comma-separated: low, normal, high, urgent.
    #[param(pattern = "^((low|normal|high|urgent)(,(low|normal|high|urgent))*)?$")]
    pub priority: Option<String>,
    /// Categories, comma-separated.
    #[param(
        pattern = "^((legal_registration|funding|financial_management|capacity_building|partnership_networking|advocacy|visibility|other)(,(legal_registration|funding|financial_management|capacity_building|partnership_networking|advocacy|visibility|other))*)?$"
    )]
    pub category: Option<String>,
    /// Countries (ISO 3166-1 alpha-2), comma-separated.
    #[param(pattern = "^([A-Za-z]{2}(,[A-Za-z]{2})*)?$")]
    pub country: Option<String>,
    /// Only this office's queue.
    #[param(value_type = Option<Uuid>)]
    pub office_id: Option<String>,
    /// Only this organisation's tickets.
    #[param(value_type = Option<Uuid>)]
    pub organization_id: Option<String>,
    /// A user id, `me`, or `unassigned`.
    #[param(
        example = "me",
        pattern = "^(me|unassigned|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$"
    )]
    pub assignee: Option<String>,
    /// Only tickets created at or after this instant (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub created_after: Option<String>,
    /// Only tickets created before this instant (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    pub created_before: Option<String>,
    /// Service level: `at_risk` (a target is near, none passed yet) or `breached` (a target passed).
    #[param(pattern = "^(at_risk|breached)?$")]
    pub sla: Option<String>,
    /// Staff: tickets with any of these tags, comma-separated.
    #[param(example = "ipa,grant:2026")]
    pub tag: Option<String>,
    /// Staff: tickets with all of these tags, comma-separated.
    pub tag_all: Option<String>,
    /// Full-text search over the subject and public messages: words, "a phrase", -excluded, or.
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// `-created_at` (default), `created_at`, `-updated_at` or `updated_at`.
    #[param(value_type = Option<String>, pattern = "^-?(created_at|updated_at)$")]
    pub sort: Option<String>,
    /// Page size, 1 to 100 (default 25).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Where a ticket listing stopped: the order, and the sort key and id of the last ticket.
#[derive(Debug, Serialize, Deserialize)]
struct TicketCursor {
    sort: TicketSort,
    at: DateTime<Utc>,
    id: Uuid,
}

/// A country in a filter: any two letters (an unknown code simply matches nothing).
pub fn country_filter(name: &str, value: &str) -> ApiResult<String> {
    let code = value.trim().to_ascii_uppercase();
    if code.len() == 2 && code.chars().all(|c| c.is_ascii_alphabetic()) {
        Ok(code)
    } else {
        Err(ApiError::invalid(name, "must be an ISO 3166-1 alpha-2 country code such as AL or XK"))
    }
}

/// Comma-separated tags, normalised.
fn tag_list(name: &str, value: Option<&str>) -> ApiResult<Vec<String>> {
    let raw: Vec<String> =
        value.unwrap_or_default().split(',').filter(|t| !t.trim().is_empty()).map(str::to_owned).collect();
    if raw.len() > crate::domain::tags::TAGS_PER_TICKET_MAX {
        return Err(ApiError::invalid(name, "names at most 50 tags"));
    }
    raw.iter()
        .map(|tag| crate::domain::tags::normalize(name, tag).map_err(|e| ApiError::invalid(name, e.message)))
        .collect()
}

/// The `cf.<key>=<value>` parameters of a query string (at most 20).
fn field_filters(query: &str) -> ApiResult<tickets::FieldFilters> {
    let filters: tickets::FieldFilters = url::form_urlencoded::parse(query.as_bytes())
        .filter_map(|(name, value)| name.strip_prefix("cf.").map(|key| (key.to_owned(), value.into_owned())))
        .collect();
    if filters.len() > 20 {
        return Err(ApiError::invalid("cf", "at most 20 custom field filters"));
    }
    Ok(filters)
}

fn uuid_param(name: &str, value: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(value.trim()).map_err(|_| ApiError::invalid(name, "must be a uuid"))
}

fn instant_param(name: &str, value: &str) -> ApiResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ApiError::invalid(name, "must be an RFC 3339 instant such as 2026-01-31T09:00:00Z"))
}

impl ListTickets {
    /// The storage filter for these parameters, on behalf of `caller`.
    fn into_filter(self, caller: &Caller) -> ApiResult<TicketFilter> {
        let sort = match self.sort.as_deref().map(str::trim) {
            None | Some("-created_at") => TicketSort::CreatedDesc,
            Some("created_at") => TicketSort::CreatedAsc,
            Some("-updated_at") => TicketSort::UpdatedDesc,
            Some("updated_at") => TicketSort::UpdatedAsc,
            Some(_) => {
                return Err(ApiError::invalid("sort", "must be -created_at, created_at, -updated_at or updated_at"));
            }
        };
        let after = match self.cursor.as_deref() {
            None | Some("") => None,
            Some(raw) => {
                let position: TicketCursor = cursor::decode(raw)?;
                if position.sort != sort {
                    return Err(ApiError::BadRequest("the cursor belongs to a listing in another order".to_owned()));
                }
                Some((position.at, position.id))
            }
        };
        let countries = parse_list::<String>("country", self.country.as_deref())?
            .into_iter()
            .map(|c| country_filter("country", &c))
            .collect::<ApiResult<Vec<_>>>()?;
        let assignee = match self.assignee.as_deref().map(str::trim) {
            None | Some("") => None,
            Some("me") => Some(AssigneeFilter::User(caller.id())),
            Some("unassigned") => Some(AssigneeFilter::Unassigned),
            Some(other) => Some(AssigneeFilter::User(
                Uuid::parse_str(other)
                    .map_err(|_| ApiError::invalid("assignee", "must be a user id, me or unassigned"))?,
            )),
        };
        let text = match self.q.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(q) if q.chars().count() > 200 => {
                return Err(ApiError::invalid("q", "must be at most 200 characters"));
            }
            Some(q) if q.chars().any(char::is_control) => {
                return Err(ApiError::invalid("q", "must not contain control characters"));
            }
            Some(q) => Some(q.to_owned()),
        };
        Ok(TicketFilter {
            scope: TicketScope::All,
            statuses: parse_list::<TicketStatus>("status", self.status.as_deref())?,
            priorities: parse_list::<Priority>("priority", self.priority.as_deref())?,
            categories: parse_list::<Category>("category", self.category.as_deref())?,
            countries,
            office_id: self.office_id.as_deref().map(|v| uuid_param("office_id", v)).transpose()?,
            organization_id: self.organization_id.as_deref().map(|v| uuid_param("organization_id", v)).transpose()?,
            assignee,
            created_after: self.created_after.as_deref().map(|v| instant_param("created_after", v)).transpose()?,
            created_before: self.created_before.as_deref().map(|v| instant_param("created_before", v)).transpose()?,
            text,
            sla: match self.sla.as_deref().map(str::trim) {
                None | Some("") => None,
                Some("at_risk") => Some(SlaFilter::AtRisk),
                Some("breached") => Some(SlaFilter::Breached),
                Some(_) => return Err(ApiError::invalid("sla", "must be at_risk or breached")),
            },
            tags_any: tag_list("tag", self.tag.as_deref())?,
            tags_all: tag_list("tag_all", self.tag_all.as_deref())?,
            custom_fields: Vec::new(),
            sort,
            after,
            limit: page_limit(self.limit.as_deref())? + 1,
        })
    }
}

/// Submit a ticket.
///
/// Requesters submit for themselves; staff name the requester. Organisation and country come from the
/// requester. Send an `Idempotency-Key` header to make retries safe: the same key with the same body returns
/// the ticket the first request created (with `Idempotent-Replayed: true`).
#[utoipa::path(
    post, path = "/api/v1/tickets", tag = "tickets", operation_id = "submitTicket",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1 to 255 printable ASCII characters")),
    request_body(content(
        (SubmitTicket = "application/json"),
        (SubmitTicketForm = "multipart/form-data"),
    )),
    responses(
        (status = 201, description = "Created", body = TicketView, headers(("Location" = String, description = "The ticket's URL"))),
        (status = 200, description = "Replay of an earlier request with the same Idempotency-Key", body = TicketView),
    )
)]
pub async fn submit(
    pool: web::Data<DbPool>,
    network: web::Data<NetworkCache>,
    limits: web::Data<UploadLimits>,
    caller: Caller,
    request: HttpRequest,
    body: JsonOrForm<SubmitTicket>,
) -> ApiResult<HttpResponse> {
    let key = idempotency_key(&request)?;
    let JsonOrForm { body: mut input, files } = body;
    let staff = caller.is_staff();
    let submitted = db::run(&pool, move |conn| {
        let network = network.get(conn)?;
        if files.is_empty() {
            // A JSON body: the submission is its own transaction (no savepoint inside another).
            return tickets::submit(conn, &network, &caller, input, key.as_deref(), Origin::api(), &limits);
        }
        conn.transaction(|conn| {
            input.attachment_ids.extend(store_files(conn, &caller, &limits, &files)?);
            tickets::submit(conn, &network, &caller, input, key.as_deref(), Origin::api(), &limits)
        })
    })
    .await?;
    Ok(match submitted {
        Submitted::Created(ticket) => HttpResponse::Created()
            .insert_header((header::LOCATION, format!("/api/v1/tickets/{}", ticket.id)))
            .json(TicketView::of(ticket, staff)),
        Submitted::Replayed(ticket) => HttpResponse::Ok()
            .insert_header((header::LOCATION, format!("/api/v1/tickets/{}", ticket.id)))
            .insert_header(("Idempotent-Replayed", "true"))
            .json(TicketView::of(ticket, staff)),
    })
}

/// List tickets.
///
/// Only tickets the caller may see: requesters their organisation's, advisors their office's queue and their
/// assignments, coordinators and admins all.
#[utoipa::path(
    get, path = "/api/v1/tickets", tag = "tickets", operation_id = "listTickets", params(ListTickets),
    responses((status = 200, description = "One page of tickets", body = TicketPage))
)]
pub async fn list(
    pool: web::Data<DbPool>,
    network: web::Data<NetworkCache>,
    caller: Caller,
    request: HttpRequest,
    query: web::Query<ListTickets>,
) -> ApiResult<HttpResponse> {
    let filter = query.into_inner().into_filter(&caller)?;
    let fields = field_filters(request.query_string())?;
    let page_size = (filter.limit - 1) as usize;
    let sort = filter.sort;
    let staff = caller.is_staff();
    let mut items = db::run(&pool, move |conn| {
        let network = network.get(conn)?;
        tickets::list(conn, &caller, filter, fields, network.fields())
    })
    .await?;
    let next_cursor = if items.len() > page_size {
        items.truncate(page_size);
        items.last().map(|last| cursor::encode(&TicketCursor { sort, at: sort.key_of(last), id: last.id }))
    } else {
        None
    };
    let items = items.into_iter().map(|ticket| TicketView::of(ticket, staff)).collect();
    Ok(HttpResponse::Ok().json(TicketPage { items, next_cursor }))
}

/// Read a ticket.
///
/// By its uuid or its reference number (`1042` or `#1042`), if the caller may see it (404 otherwise). A ticket
/// merged into another answers with that one (the one it was merged into), with `merged_from` naming the ticket
/// asked for and a `Content-Location` header giving the answered ticket's address.
#[utoipa::path(
    get, path = "/api/v1/tickets/{ticket}", tag = "tickets", operation_id = "getTicket",
    params(("ticket" = String, Path, description = "The ticket's uuid or its reference number (such as 1042)")),
    responses((status = 200, description = "The ticket (for a merged ticket, the one it was merged into)", body = TicketView,
        headers(("Content-Location" = String, description = "Sent when a merged ticket was asked for: the answered ticket's URL"))))
)]
pub async fn get(
    pool: web::Data<DbPool>,
    network: web::Data<NetworkCache>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let key = tickets::parse_key(&path)?;
    let staff = caller.is_staff();
    let (ticket, asked) = db::run(&pool, move |conn| {
        let network = network.get(conn)?;
        tickets::get(conn, &caller, key, network.fields())
    })
    .await?;
    let location = format!("/api/v1/tickets/{}", ticket.id);
    let mut view = TicketView::of(ticket, staff);
    let mut response = HttpResponse::Ok();
    if let Some((id, reference)) = asked {
        view.merged_from = Some(MergedFrom { id, reference });
        response.insert_header((header::CONTENT_LOCATION, location));
    }
    Ok(response.json(view))
}

/// Change a ticket.
///
/// Staff change status, priority, category, assignee and office. Requesters may only close their ticket or
/// reopen it once resolved. A status change the status machine does not allow answers 409 with the allowed ones.
#[utoipa::path(
    patch, path = "/api/v1/tickets/{ticket}", tag = "tickets", operation_id = "updateTicket",
    params(("ticket" = String, Path, description = "The ticket's uuid or its reference number")),
    request_body = UpdateTicket,
    responses((status = 200, description = "The changed ticket", body = TicketView))
)]
pub async fn update(
    pool: web::Data<DbPool>,
    caller: Caller,
    path: web::Path<String>,
    body: ApiJson<UpdateTicket>,
) -> ApiResult<HttpResponse> {
    let key = tickets::parse_key(&path)?;
    let staff = caller.is_staff();
    let ticket = db::run(&pool, move |conn| tickets::update(conn, &caller, key, body.0)).await?;
    Ok(HttpResponse::Ok().json(TicketView::of(ticket, staff)))
}

/// Reply to a ticket, or add an internal note (staff).
///
/// A requester's reply reopens a pending or resolved ticket; the first public staff reply sets the
/// first-response time. Closed tickets take no more messages.
#[utoipa::path(
    post, path = "/api/v1/tickets/{ticket}/messages", tag = "tickets", operation_id = "postTicketMessage",
    params(("ticket" = String, Path, description = "The ticket's uuid or its reference number")),
    request_body(content(
        (PostMessage = "application/json"),
        (PostMessageForm = "multipart/form-data"),
    )),
    responses((status = 201, description = "The message", body = MessageView))
)]
pub async fn post_message(
    pool: web::Data<DbPool>,
    limits: web::Data<UploadLimits>,
    replies: web::Data<ReplySettings>,
    caller: Caller,
    path: web::Path<String>,
    body: JsonOrForm<PostMessage>,
) -> ApiResult<HttpResponse> {
    let key = tickets::parse_key(&path)?;
    let staff = caller.is_staff();
    let JsonOrForm { body: mut input, files } = body;
    let message = db::run(&pool, move |conn| {
        if files.is_empty() {
            return tickets::post_message(conn, &caller, key, input, Origin::api(), &limits, &replies);
        }
        conn.transaction(|conn| {
            input.attachment_ids.extend(store_files(conn, &caller, &limits, &files)?);
            tickets::post_message(conn, &caller, key, input, Origin::api(), &limits, &replies)
        })
    })
    .await?;
    Ok(HttpResponse::Created().json(MessageView::of(message, staff)))
}

/// The documented body of `POST /api/v1/tickets` as `multipart/form-data` (`curl -F subject=... -F
/// files=@statute.pdf`): the fields of the JSON body as form fields, or one `application/json` part named `data`
/// (which then stands for all of them), and the files as parts named `files`.
pub struct SubmitTicketForm;

impl PartialSchema for SubmitTicketForm {
    fn schema() -> RefOr<Schema> {
        let fields =
            rules::shape("The fields as form fields").required("subject").required("body").required("category");
        let data = rules::shape("The JSON body as a data part").required("data");
        rules::all(
            "`POST /api/v1/tickets` as `multipart/form-data`: the fields of the JSON body as form fields (or one \
             `application/json` part named `data`, which then stands for all of them), the files as parts named \
             `files`.",
            SubmitTicketFormFields::schema(),
            [rules::at_least_one("The fields, or a data part", [fields.build().into(), data.build().into()])],
        )
        .into()
    }
}

impl ToSchema for SubmitTicketForm {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        SubmitTicketFormFields::schemas(schemas);
    }
}

/// The parts of the form, each one optional by itself.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SubmitTicketFormFields {
    /// See the JSON body (required unless `data` is sent).
    subject: Option<String>,
    /// See the JSON body (required unless `data` is sent).
    body: Option<String>,
    /// See the JSON body (required unless `data` is sent).
    category: Option<Category>,
    /// See the JSON body.
    priority: Option<Priority>,
    /// See the JSON body.
    requester_id: Option<Uuid>,
    /// Uploads to attach besides the files (repeat the field for several).
    attachment_ids: Option<Vec<Uuid>>,
    /// Instead of the fields: the JSON body as one part (`Content-Type: application/json`).
    data: Option<SubmitTicket>,
    /// The files, under the upload limits and checks.
    files: Option<Vec<crate::routes::attachments::Binary>>,
}

/// The documented body of `POST /api/v1/tickets/{ticket}/messages` as `multipart/form-data`: the JSON body's
/// fields as form fields, or one `application/json` part named `data` (which then stands for all of them), and the
/// files as parts named `files`.
pub struct PostMessageForm;

impl PartialSchema for PostMessageForm {
    fn schema() -> RefOr<Schema> {
        let fields = rules::shape("The fields as form fields").required("body");
        let data = rules::shape("The JSON body as a data part").required("data");
        rules::all(
            "`POST /api/v1/tickets/{ticket}/messages` as `multipart/form-data`: the JSON body's fields as form fields \
             (or one `application/json` part named `data`, which then stands for all of them), the files as parts \
             named `files`.",
            PostMessageFormFields::schema(),
            [rules::at_least_one("The fields, or a data part", [fields.build().into(), data.build().into()])],
        )
        .into()
    }
}

impl ToSchema for PostMessageForm {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        PostMessageFormFields::schemas(schemas);
    }
}

/// The parts of the form, each one optional by itself.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PostMessageFormFields {
    /// See the JSON body (required unless `data` is sent).
    body: Option<String>,
    /// See the JSON body (`true` or `false`).
    internal: Option<bool>,
    /// See the JSON body.
    status: Option<TicketStatus>,
    /// See the JSON body.
    saved_reply_id: Option<Uuid>,
    /// See the JSON body.
    time_spent_minutes: Option<i32>,
    /// Uploads to attach besides the files (repeat the field for several).
    attachment_ids: Option<Vec<Uuid>>,
    /// Instead of the fields: the JSON body as one part (`Content-Type: application/json`).
    data: Option<PostMessage>,
    /// The files, under the upload limits and checks.
    files: Option<Vec<crate::routes::attachments::Binary>>,
}

/// Stores the files of a `multipart/form-data` body as the caller's uploads; returns their ids.
fn store_files(
    conn: &mut diesel::PgConnection,
    caller: &Caller,
    limits: &UploadLimits,
    files: &[FormFile],
) -> DomainResult<Vec<Uuid>> {
    files
        .iter()
        .map(|file| Ok(uploads::store(conn, caller, limits, &file.name, &file.content_type, &file.data)?.id))
        .collect()
}

/// List a ticket's messages.
///
/// Oldest first, with their attachments; requesters never see internal notes.
#[utoipa::path(
    get, path = "/api/v1/tickets/{ticket}/messages", tag = "tickets", operation_id = "listTicketMessages",
    params(("ticket" = String, Path, description = "The ticket's uuid or its reference number")),
    responses((status = 200, description = "The messages", body = Vec<MessageView>))
)]
pub async fn messages(pool: web::Data<DbPool>, caller: Caller, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let key = tickets::parse_key(&path)?;
    let staff = caller.is_staff();
    let messages = db::run(&pool, move |conn| tickets::messages(conn, &caller, key)).await?;
    Ok(HttpResponse::Ok().json(messages.into_iter().map(|m| MessageView::of(m, staff)).collect::<Vec<_>>()))
}

/// List a ticket's audit trail.
///
/// Every change to the ticket as an event, oldest first; requesters never see staff-only events.
#[utoipa::path(
    get, path = "/api/v1/tickets/{ticket}/events", tag = "tickets", operation_id = "listTicketEvents",
    params(("ticket" = String, Path, description = "The ticket's uuid or its reference number")),
    responses((status = 200, description = "The events", body = Vec<TicketEventView>))
)]
pub async fn events(pool: web::Data<DbPool>, caller: Caller, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let key = tickets::parse_key(&path)?;
    let (ticket, events) = db::run(&pool, move |conn| tickets::events(conn, &caller, key)).await?;
    let events: Vec<_> = events.into_iter().map(|event| TicketEventView::in_trail_of(event, ticket.id)).collect();
    Ok(HttpResponse::Ok().json(events))
}

/// Route a ticket again (staff): the rules, then the best advisor of the office, as at submission.
///
/// The decision and its explanation are added to the ticket's audit trail (`routed`).
#[utoipa::path(
    post, path = "/api/v1/tickets/{ticket}/route", tag = "tickets", operation_id = "routeTicket",
    params(("ticket" = String, Path, description = "The ticket's uuid or its reference number")),
    responses((status = 200, description = "The routed ticket", body = TicketView))
)]
pub async fn route(
    pool: web::Data<DbPool>,
    network: web::Data<NetworkCache>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let key = tickets::parse_key(&path)?;
    let ticket = db::run(&pool, move |conn| {
        let network = network.get(conn)?;
        crate::domain::routing::reroute(conn, &network, &caller, key)
    })
    .await?;
    Ok(HttpResponse::Ok().json(TicketView::of(ticket, true)))
}

/// Read a ticket's satisfaction rating.
///
/// The requester's verdict and comment; 404 while there is none.
#[utoipa::path(
    get, path = "/api/v1/tickets/{ticket}/satisfaction", tag = "tickets", operation_id = "getTicketSatisfaction",
    params(("ticket" = String, Path, description = "The ticket's uuid or its reference number")),
    responses((status = 200, description = "The rating", body = SatisfactionRatingView))
)]
pub async fn satisfaction(pool: web::Data<DbPool>, caller: Caller, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let key = tickets::parse_key(&path)?;
    let rating = db::run(&pool, move |conn| satisfaction::get(conn, &caller, key)).await?;
    Ok(HttpResponse::Ok().json(SatisfactionRatingView::from(rating)))
}

/// Rate a ticket (its requester).
///
/// How a resolved or closed ticket was handled; a new rating replaces the earlier one.
#[utoipa::path(
    post, path = "/api/v1/tickets/{ticket}/satisfaction", tag = "tickets", operation_id = "rateTicket",
    params(("ticket" = String, Path, description = "The ticket's uuid or its reference number")),
    request_body = RateTicket,
    responses((status = 200, description = "The rating", body = SatisfactionRatingView))
)]
pub async fn rate(
    pool: web::Data<DbPool>,
    caller: Caller,
    path: web::Path<String>,
    body: ApiJson<RateTicket>,
) -> ApiResult<HttpResponse> {
    let key = tickets::parse_key(&path)?;
    let rating = db::run(&pool, move |conn| satisfaction::rate(conn, &caller, key, body.0)).await?;
    Ok(HttpResponse::Ok().json(SatisfactionRatingView::from(rating)))
}
