//! The advisors' toolkit: tags (`/api/v1/tags`, `/api/v1/tickets/{ticket}/tags/{tag}`), custom fields
//! (`/api/v1/custom-fields`), saved replies (`/api/v1/saved-replies`), time spent
//! (`/api/v1/tickets/{ticket}/time`), merging (`/api/v1/tickets/{ticket}/merge`) and bulk updates
//! (`/api/v1/tickets/bulk`).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::db::{self, DbPool};
use crate::domain::bulk::{self, BulkUpdate};
use crate::domain::caller::Caller;
use crate::domain::custom_fields::{self, ChangeField, DefineField};
use crate::domain::merge::{self, MergeTicket};
use crate::domain::saved_replies::{self, ChangeSavedReply, CreateSavedReply};
use crate::domain::tags::{self, TagUse};
use crate::domain::time_spent::{self, ChangeTime, LogTime};
use crate::domain::{cursor, tickets};
use crate::error::{ApiError, ApiResult};
use crate::models::saved_reply::{SavedReplyFilter, SavedReplyScope};
use crate::routes::extract::{ApiJson, idempotency_key};
use crate::routes::{page_limit_within, vocabulary_filter};
use crate::views::{CustomFieldView, SavedReplyView, TicketView, TimeEntryView};

/// A ticket's tags.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketTags {
    /// The tags, sorted.
    pub tags: Vec<String>,
}

/// Tag a ticket (staff).
///
/// The tag is normalised (trimmed, lower-case; `a-z 0-9 - _ :`, at most 50 characters); a tag the ticket has
/// already is no change. Answers the ticket's tags.
#[utoipa::path(
    put, path = "/api/v1/tickets/{ticket}/tags/{tag}", tag = "tickets", operation_id = "addTicketTag",
    params(("ticket" = String, Path, description = "The ticket's uuid or its reference number"),
           ("tag" = String, Path, description = "The tag")),
    responses((status = 200, description = "The ticket's tags", body = TicketTags))
)]
pub async fn add_tag(
    pool: web::Data<DbPool>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    put_tag(pool, caller, path.into_inner(), true).await
}

/// Untag a ticket (staff).
///
/// Removing a tag the ticket does not have is no change. Answers the ticket's tags.
#[utoipa::path(
    delete, path = "/api/v1/tickets/{ticket}/tags/{tag}", tag = "tickets", operation_id = "removeTicketTag",
    params(("ticket" = String, Path, description = "The ticket's uuid or its reference number"),
           ("tag" = String, Path, description = "The tag")),
    responses((status = 200, description = "The ticket's tags", body = TicketTags))
)]
pub async fn remove_tag(
    pool: web::Data<DbPool>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    put_tag(pool, caller, path.into_inner(), false).await
}

async fn put_tag(
    pool: web::Data<DbPool>,
    caller: Caller,
    (ticket, tag): (String, String),
    add: bool,
) -> ApiResult<HttpResponse> {
    let key = tickets::parse_key(&ticket)?;
    let ticket = db::run(&pool, move |conn| tags::put(conn, &caller, key, &tag, add)).await?;
    Ok(HttpResponse::Ok().json(TicketTags { tags: ticket.tags }))
}

/// How to list tags.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListTags {
    /// Only tags starting with this.
    #[param(max_length = 50)]
    pub q: Option<String>,
    /// At most this many, 1 to 500 (default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
}

/// Tags in use.
#[derive(Debug, Serialize, ToSchema)]
pub struct TagList {
    /// The tags, most used first.
    pub items: Vec<TagUse>,
}

/// List the tags in use (staff).
///
/// With how many of the tickets the caller may see carry each, most used first.
#[utoipa::path(
    get, path = "/api/v1/tags", tag = "tickets", operation_id = "listTags", params(ListTags),
    responses((status = 200, description = "The tags", body = TagList))
)]
pub async fn list_tags(
    pool: web::Data<DbPool>,
    caller: Caller,
    query: web::Query<ListTags>,
) -> ApiResult<HttpResponse> {
    let limit = page_limit_within(query.limit.as_deref(), 100, 500)?;
    let prefix = query.q.as_deref().unwrap_or_default().trim().to_lowercase();
    if prefix.chars().count() > tags::TAG_MAX || !prefix.chars().all(tags::is_tag_char) {
        return Err(ApiError::invalid("q", "must be the start of a tag: at most 50 of a-z, 0-9 and - _ :"));
    }
    let items = db::run(&pool, move |conn| tags::counts(conn, &caller, &prefix, limit)).await?;
    Ok(HttpResponse::Ok().json(TagList { items }))
}

/// How to list custom fields.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListFields {
    /// Staff: retired fields too (`true`).
    #[param(value_type = Option<bool>)]
    pub include_inactive: Option<String>,
}

/// Custom fields.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomFieldList {
    /// The fields, by position.
    pub items: Vec<CustomFieldView>,
}

/// Define a custom field (admins).
///
/// Values of it can then be set on tickets (`custom_fields`), filtered (`cf.<key>=`) and reported on.
#[utoipa::path(
    post, path = "/api/v1/custom-fields", tag = "custom fields", operation_id = "createCustomField",
    request_body = DefineField,
    responses((status = 201, description = "Created", body = CustomFieldView,
        headers(("Location" = String, description = "The field's URL"))))
)]
pub async fn create_field(
    pool: web::Data<DbPool>,
    caller: Caller,
    body: ApiJson<DefineField>,
) -> ApiResult<HttpResponse> {
    let field = db::run(&pool, move |conn| custom_fields::create(conn, &caller, body.0)).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/custom-fields/{}", field.key)))
        .json(CustomFieldView::from(field)))
}

/// List the custom fields.
///
/// Staff see every field; requesters the fields shown to them (which they may set when they submit).
#[utoipa::path(
    get, path = "/api/v1/custom-fields", tag = "custom fields", operation_id = "listCustomFields", params(ListFields),
    responses((status = 200, description = "The fields", body = CustomFieldList))
)]
pub async fn list_fields(
    pool: web::Data<DbPool>,
    caller: Caller,
    query: web::Query<ListFields>,
) -> ApiResult<HttpResponse> {
    let include_inactive = match query.include_inactive.as_deref().map(str::trim) {
        None | Some("" | "false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::invalid("include_inactive", "must be true or false")),
    };
    let fields = db::run(&pool, move |conn| custom_fields::list(conn, &caller, include_inactive)).await?;
    Ok(HttpResponse::Ok().json(CustomFieldList { items: fields.into_iter().map(Into::into).collect() }))
}

/// Read a custom field.
///
/// Requesters may read only the active fields shown to them.
#[utoipa::path(
    get, path = "/api/v1/custom-fields/{key}", tag = "custom fields", operation_id = "getCustomField",
    params(("key" = String, Path, description = "The field's key")),
    responses((status = 200, description = "The field", body = CustomFieldView))
)]
pub async fn get_field(pool: web::Data<DbPool>, caller: Caller, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let field = db::run(&pool, move |conn| custom_fields::get(conn, &caller, &path)).await?;
    Ok(HttpResponse::Ok().json(CustomFieldView::from(field)))
}

/// Change a custom field (admins).
///
/// Its label, options, requirement, visibility, position or whether it is active; never its key or type.
#[utoipa::path(
    patch, path = "/api/v1/custom-fields/{key}", tag = "custom fields", operation_id = "updateCustomField",
    params(("key" = String, Path, description = "The field's key")),
    request_body = ChangeField,
    responses((status = 200, description = "The field", body = CustomFieldView))
)]
pub async fn update_field(
    pool: web::Data<DbPool>,
    caller: Caller,
    path: web::Path<String>,
    body: ApiJson<ChangeField>,
) -> ApiResult<HttpResponse> {
    let field = db::run(&pool, move |conn| custom_fields::update(conn, &caller, &path, body.0)).await?;
    Ok(HttpResponse::Ok().json(CustomFieldView::from(field)))
}

/// Retire a custom field (admins).
///
/// It is no longer shown, accepted or required; the values stored on tickets stay (`PATCH` with `active: true`
/// brings it back).
#[utoipa::path(
    delete, path = "/api/v1/custom-fields/{key}", tag = "custom fields", operation_id = "deleteCustomField",
    params(("key" = String, Path, description = "The field's key")),
    responses((status = 204, description = "Retired"))
)]
pub async fn delete_field(pool: web::Data<DbPool>, caller: Caller, path: web::Path<String>) -> ApiResult<HttpResponse> {
    db::run(&pool, move |conn| custom_fields::deactivate(conn, &caller, &path)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// How to find saved replies.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListSavedReplies {
    /// Words of the name.
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// Only this category.
    pub category: Option<String>,
    /// Only replies with a body in this language (a BCP 47 tag).
    pub language: Option<String>,
    /// Only this scope.
    #[param(value_type = Option<SavedReplyScope>)]
    pub scope: Option<String>,
    /// Page size, 1 to 100 (default 25).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Where a listing of saved replies stopped.
#[derive(Debug, Serialize, Deserialize)]
struct SavedReplyCursor {
    name: String,
    id: Uuid,
}

/// One page of saved replies.
#[derive(Debug, Serialize, ToSchema)]
pub struct SavedReplyPage {
    /// The saved replies, by name.
    pub items: Vec<SavedReplyView>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Save a reply (staff).
///
/// A template per language with placeholders such as `{{ requester.name }}` and `{{ ticket.reference }}`; an
/// unknown placeholder or a template error is refused now (422), never when the reply is used. Personal replies
/// are anyone's; office replies are managed by that office's advisors and by coordinators, network replies by
/// coordinators and admins.
#[utoipa::path(
    post, path = "/api/v1/saved-replies", tag = "saved replies", operation_id = "createSavedReply",
    request_body = CreateSavedReply,
    responses((status = 201, description = "Created", body = SavedReplyView,
        headers(("Location" = String, description = "The saved reply's URL"))))
)]
pub async fn create_reply(
    pool: web::Data<DbPool>,
    caller: Caller,
    body: ApiJson<CreateSavedReply>,
) -> ApiResult<HttpResponse> {
    let reply = db::run(&pool, move |conn| saved_replies::create(conn, &caller, body.0)).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/saved-replies/{}", reply.id)))
        .json(SavedReplyView::from(reply)))
}

/// Find saved replies (staff).
///
/// Those the caller may use (the network's, their office's, their own), by name.
#[utoipa::path(
    get, path = "/api/v1/saved-replies", tag = "saved replies", operation_id = "listSavedReplies",
    params(ListSavedReplies),
    responses((status = 200, description = "One page of saved replies", body = SavedReplyPage))
)]
pub async fn list_replies(
    pool: web::Data<DbPool>,
    caller: Caller,
    query: web::Query<ListSavedReplies>,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner();
    let limit = crate::routes::page_limit(query.limit.as_deref())?;
    let after = match query.cursor.as_deref() {
        None | Some("") => None,
        Some(raw) => {
            let position: SavedReplyCursor = cursor::decode(raw)?;
            Some((position.name, position.id))
        }
    };
    let text = |name: &str, value: Option<String>, max: usize| -> ApiResult<Option<String>> {
        match value.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) if v.chars().count() > max || v.chars().any(char::is_control) => {
                Err(ApiError::invalid(name, format!("must be at most {max} characters, without control characters")))
            }
            Some(v) => Ok(Some(v.to_owned())),
        }
    };
    let language = match text("language", query.language, 35)? {
        Some(tag) => Some(
            crate::domain::values::language("language", &tag).map_err(|e| ApiError::invalid("language", e.message))?,
        ),
        None => None,
    };
    let filter = SavedReplyFilter {
        q: text("q", query.q, 200)?,
        category: text("category", query.category, 100)?,
        language,
        scope: vocabulary_filter("scope", query.scope.as_deref())?,
        after,
        limit: limit + 1,
        ..SavedReplyFilter::default()
    };
    let mut replies = db::run(&pool, move |conn| saved_replies::list(conn, &caller, filter)).await?;
    let next_cursor = if replies.len() as i64 > limit {
        replies.truncate(limit as usize);
        replies.last().map(|last| cursor::encode(&SavedReplyCursor { name: last.name.clone(), id: last.id }))
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(SavedReplyPage { items: replies.into_iter().map(Into::into).collect(), next_cursor }))
}

/// Read a saved reply (staff who may use it).
///
/// With its template per language, its actions and how often it was used.
#[utoipa::path(
    get, path = "/api/v1/saved-replies/{id}", tag = "saved replies", operation_id = "getSavedReply",
    params(("id" = Uuid, Path, description = "Saved reply id")),
    responses((status = 200, description = "The saved reply", body = SavedReplyView))
)]
pub async fn get_reply(pool: web::Data<DbPool>, caller: Caller, path: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let reply = db::run(&pool, move |conn| saved_replies::get(conn, &caller, id)).await?;
    Ok(HttpResponse::Ok().json(SavedReplyView::from(reply)))
}

/// Change a saved reply (who may manage it).
///
/// New templates are checked as at creation.
#[utoipa::path(
    patch, path = "/api/v1/saved-replies/{id}", tag = "saved replies", operation_id = "updateSavedReply",
    params(("id" = Uuid, Path, description = "Saved reply id")),
    request_body = ChangeSavedReply,
    responses((status = 200, description = "The saved reply", body = SavedReplyView))
)]
pub async fn update_reply(
    pool: web::Data<DbPool>,
    caller: Caller,
    path: web::Path<Uuid>,
    body: ApiJson<ChangeSavedReply>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let reply = db::run(&pool, move |conn| saved_replies::update(conn, &caller, id, body.0)).await?;
    Ok(HttpResponse::Ok().json(SavedReplyView::from(reply)))
}

/// Delete a saved reply (who may manage it).
///
/// The messages written with it keep naming it.
#[utoipa::path(
    delete, path = "/api/v1/saved-replies/{id}", tag = "saved replies", operation_id = "deleteSavedReply",
    params(("id" = Uuid, Path, description = "Saved reply id")),
    responses((status = 204, description = "Deleted"))
)]
pub async fn delete_reply(pool: web::Data<DbPool>, caller: Caller, path: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    db::run(&pool, move |conn| saved_replies::delete(conn, &caller, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A ticket's time entries.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimeEntryList {
    /// The entries, oldest first.
    pub items: Vec<TimeEntryView>,
    /// Their minutes in all.
    pub total_minutes: i64,
}

/// Log time spent on a ticket (staff).
///
/// Minutes (1 to 1440) on a day (today by default), with a note.
#[utoipa::path(
    post, path = "/api/v1/tickets/{ticket}/time", tag = "time", operation_id = "logTicketTime",
    params(("ticket" = String, Path, description = "The ticket's uuid or its reference number")),
    request_body = LogTime,
    responses((status = 201, description = "The entry", body = TimeEntryView))
)]
pub async fn log_time(
    pool: web::Data<DbPool>,
    caller: Caller,
    path: web::Path<String>,
    body: ApiJson<LogTime>,
) -> ApiResult<HttpResponse> {
    let key = tickets::parse_key(&path)?;
    let entry = db::run(&pool, move |conn| time_spent::log(conn, &caller, key, body.0)).await?;
    Ok(HttpResponse::Created().json(TimeEntryView::from(entry)))
}

/// List the time spent on a ticket (staff).
///
/// Every entry, oldest first, with their total (also the ticket's `time_spent_minutes`).
#[utoipa::path(
    get, path = "/api/v1/tickets/{ticket}/time", tag = "time", operation_id = "listTicketTime",
    params(("ticket" = String, Path, description = "The ticket's uuid or its reference number")),
    responses((status = 200, description = "The entries and their total", body = TimeEntryList))
)]
pub async fn list_time(pool: web::Data<DbPool>, caller: Caller, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let key = tickets::parse_key(&path)?;
    let (_, entries) = db::run(&pool, move |conn| time_spent::list(conn, &caller, key)).await?;
    let total_minutes = entries.iter().map(|entry| i64::from(entry.minutes)).sum();
    Ok(HttpResponse::Ok().json(TimeEntryList { items: entries.into_iter().map(Into::into).collect(), total_minutes }))
}

/// Change a time entry.
///
/// Its author may for 7 days after logging it; coordinators and admins always.
#[utoipa::path(
    patch, path = "/api/v1/tickets/{ticket}/time/{id}", tag = "time", operation_id = "updateTicketTime",
    params(("ticket" = String, Path, description = "The ticket's uuid or its reference number"),
           ("id" = Uuid, Path, description = "Time entry id")),
    request_body = ChangeTime,
    responses((status = 200, description = "The entry", body = TimeEntryView))
)]
pub async fn update_time(
    pool: web::Data<DbPool>,
    caller: Caller,
    path: web::Path<(String, Uuid)>,
    body: ApiJson<ChangeTime>,
) -> ApiResult<HttpResponse> {
    let (ticket, id) = path.into_inner();
    let key = tickets::parse_key(&ticket)?;
    let entry = db::run(&pool, move |conn| time_spent::change(conn, &caller, key, id, Some(body.0))).await?;
    let entry = entry.ok_or(ApiError::NotFound("time entry"))?;
    Ok(HttpResponse::Ok().json(TimeEntryView::from(entry)))
}

/// Remove a time entry.
///
/// Its author may for 7 days after logging it; coordinators and admins always.
#[utoipa::path(
    delete, path = "/api/v1/tickets/{ticket}/time/{id}", tag = "time", operation_id = "deleteTicketTime",
    params(("ticket" = String, Path, description = "The ticket's uuid or its reference number"),
           ("id" = Uuid, Path, description = "Time entry id")),
    responses((status = 204, description = "Removed"))
)]
pub async fn delete_time(
    pool: web::Data<DbPool>,
    caller: Caller,
    path: web::Path<(String, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (ticket, id) = path.into_inner();
    let key = tickets::parse_key(&ticket)?;
    db::run(&pool, move |conn| time_spent::change(conn, &caller, key, id, None)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Merge a ticket into another (staff).
///
/// The ticket's messages, files, tags and time move to the other, in order of time and marked as merged (its
/// audit trail stays, and is listed with the other's); it is closed with `merged_into`, and its reference and its
/// emails' reply addresses lead to the other from then on. Both requesters are told once. Refused (409) into itself, into a closed ticket, for a ticket
/// merged already, and across organisations unless a coordinator or admin sends `across_organizations: true`.
#[utoipa::path(
    post, path = "/api/v1/tickets/{ticket}/merge", tag = "tickets", operation_id = "mergeTicket",
    params(("ticket" = String, Path, description = "The ticket to merge: its uuid or reference number")),
    request_body = MergeTicket,
    responses((status = 200, description = "The ticket merged into, as it is now", body = TicketView))
)]
pub async fn merge(
    pool: web::Data<DbPool>,
    caller: Caller,
    path: web::Path<String>,
    body: ApiJson<MergeTicket>,
) -> ApiResult<HttpResponse> {
    let key = tickets::parse_key(&path)?;
    let target = db::run(&pool, move |conn| merge::merge(conn, &caller, key, body.0)).await?;
    Ok(HttpResponse::Ok().json(TicketView::from(target)))
}

/// One ticket's outcome in a bulk update.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResult {
    /// The ticket.
    pub id: Uuid,
    /// `updated`, `unchanged` or `refused`.
    #[schema(pattern = "^(updated|unchanged|refused)$")]
    pub outcome: String,
    /// The status a single `PATCH` would have answered (200, or the refusal's 403, 404, 409, 422).
    pub status: u16,
    /// Why it was refused.
    pub detail: Option<String>,
    /// The ticket as the update left it (absent when refused).
    pub ticket: Option<TicketView>,
}

/// The answer to a bulk update.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkAnswer {
    /// Tickets changed.
    pub updated: u32,
    /// Tickets the change left as they were.
    pub unchanged: u32,
    /// Tickets the change was refused for.
    pub refused: u32,
    /// Each ticket's outcome, in the order of `ids`.
    pub results: Vec<BulkResult>,
}

/// Change many tickets at once (staff).
///
/// One change for up to 500 tickets, applied to each with the rules of `PATCH /api/v1/tickets/{ticket}`: a ticket
/// the change is refused for is reported with its reason, the others apply. One audit event per change per
/// ticket; each person told about the update gets one email. Send an `Idempotency-Key` header to make retries
/// safe (the same key with the same body answers the first answer, with `Idempotent-Replayed: true`).
#[utoipa::path(
    post, path = "/api/v1/tickets/bulk", tag = "tickets", operation_id = "bulkUpdateTickets",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1 to 255 printable ASCII characters")),
    request_body = BulkUpdate,
    responses((status = 200, description = "Each ticket's outcome", body = BulkAnswer))
)]
pub async fn bulk_update(
    pool: web::Data<DbPool>,
    caller: Caller,
    request: HttpRequest,
    body: ApiJson<BulkUpdate>,
) -> ApiResult<HttpResponse> {
    let key = idempotency_key(&request)?;
    let answering = bulk::Answering {
        refusal: crate::error::status_and_detail,
        ticket: |ticket| serde_json::to_value(TicketView::from(ticket)).unwrap_or_default(),
    };
    let answer = db::run(&pool, move |conn| bulk::update(conn, &caller, body.0, key.as_deref(), answering)).await?;
    let mut response = HttpResponse::Ok();
    if answer.replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(response.json(answer.body))
}
