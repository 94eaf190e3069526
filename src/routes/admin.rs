//! `/api/v1/admin`: operations for administrators: the email outbox and the inbound emails.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::db::{self, DbPool};
use crate::domain::caller::Caller;
use crate::domain::inbound::Ingested;
use crate::domain::{self, outbox};
use crate::error::ApiResult;
use crate::models::inbound_email::InboundStatus;
use crate::models::outbox::OutboxStatus;
use crate::routes::inbound::InboundEndpoint;
use crate::routes::{IdCursor, page_limit, vocabulary_filter};
use crate::views::{InboundEmailView, OutboxEntryView};

/// One page of outbox notifications.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxPage {
    /// The notifications of this page, oldest first.
    pub items: Vec<OutboxEntryView>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Filters and page of the outbox listing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListOutbox {
    /// Only notifications in this status: pending, sending, sent or failed.
    #[param(value_type = Option<OutboxStatus>)]
    pub status: Option<String>,
    /// Page size, 1 to 100 (default 25).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// List outbox notifications (admins).
///
/// The notifications queued for email, oldest first: waiting, being sent, sent or failed. `status` narrows the list,
/// such as `failed` to find the ones to retry.
#[utoipa::path(
    get, path = "/api/v1/admin/outbox", tag = "admin", operation_id = "listOutboxEntries", params(ListOutbox),
    responses((status = 200, description = "One page of notifications", body = OutboxPage))
)]
pub async fn list_outbox(
    pool: web::Data<DbPool>,
    caller: Caller,
    query: web::Query<ListOutbox>,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner();
    let limit = page_limit(query.limit.as_deref())?;
    let status = vocabulary_filter::<OutboxStatus>("status", query.status.as_deref())?;
    let after = IdCursor::decode(query.cursor.as_deref())?;
    let mut items = db::run(&pool, move |conn| outbox::list(conn, &caller, status, after, limit + 1)).await?;
    let next_cursor = IdCursor::next_page(&mut items, limit, |entry| entry.id);
    let items = items.into_iter().map(OutboxEntryView::from).collect();
    Ok(HttpResponse::Ok().json(OutboxPage { items, next_cursor }))
}

/// Retry a failed notification (admins).
///
/// It goes back in the queue with a fresh round of attempts, to the recipient's current email address. Only a failed
/// notification is retried: any other answers 409.
#[utoipa::path(
    post, path = "/api/v1/admin/outbox/{id}/retry", tag = "admin", operation_id = "retryOutboxEntry",
    params(("id" = Uuid, Path, description = "Notification id")),
    responses((status = 200, description = "The queued notification", body = OutboxEntryView))
)]
pub async fn retry_outbox(pool: web::Data<DbPool>, caller: Caller, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let entry = db::run(&pool, move |conn| outbox::retry(conn, &caller, id)).await?;
    Ok(HttpResponse::Ok().json(OutboxEntryView::from(entry)))
}

/// One page of inbound emails.
#[derive(Debug, Serialize, ToSchema)]
pub struct InboundPage {
    /// The emails of this page, newest first.
    pub items: Vec<InboundEmailView>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Filters and page of the inbound email listing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListInbound {
    /// Only emails in this status: received, processed or failed.
    #[param(value_type = Option<InboundStatus>)]
    pub status: Option<String>,
    /// Page size, 1 to 100 (default 25).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// List inbound emails (admins).
///
/// Every email received, newest first. `status=failed` lists the ones that could not be taken in, with the reason.
#[utoipa::path(
    get, path = "/api/v1/admin/inbound", tag = "admin", operation_id = "listInboundEmails", params(ListInbound),
    responses((status = 200, description = "One page of inbound emails, newest first", body = InboundPage))
)]
pub async fn list_inbound(
    pool: web::Data<DbPool>,
    caller: Caller,
    query: web::Query<ListInbound>,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner();
    let limit = page_limit(query.limit.as_deref())?;
    let status = vocabulary_filter::<InboundStatus>("status", query.status.as_deref())?;
    let before = IdCursor::decode(query.cursor.as_deref())?;
    let mut items = db::run(&pool, move |conn| domain::inbound::list(conn, &caller, status, before, limit + 1)).await?;
    let next_cursor = IdCursor::next_page(&mut items, limit, |email| email.id);
    let items = items.into_iter().map(InboundEmailView::from).collect();
    Ok(HttpResponse::Ok().json(InboundPage { items, next_cursor }))
}

/// Take in a failed inbound email again (admins).
///
/// Once the cause is fixed, the stored message goes through intake again. Answers what became of it, 409 when the email
/// has not failed, or 422 with the reason when it failed again.
#[utoipa::path(
    post, path = "/api/v1/admin/inbound/{id}/retry", tag = "admin", operation_id = "retryInboundEmail",
    params(("id" = Uuid, Path, description = "Inbound email id")),
    responses(
        (status = 200, description = "Taken in this time: what became of it", body = Ingested),
        (status = 409, description = "The email has not failed", body = crate::error::Problem),
        (status = 422, description = "It failed again; the reason is kept on the email", body = crate::error::Problem),
    )
)]
pub async fn retry_inbound(
    pool: web::Data<DbPool>,
    caller: Caller,
    endpoint: web::Data<InboundEndpoint>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let settings = endpoint.settings.clone();
    let outcome = db::run(&pool, move |conn| {
        crate::email::inbound::retry(conn, &caller, &settings, id)?.map_err(crate::error::ApiError::from)
    })
    .await?;
    Ok(HttpResponse::Ok().json(outcome))
}

/// Download an inbound email as received (admins).
///
/// The raw message (`message/rfc822`), byte for byte as it arrived, to see why it could not be taken in.
#[utoipa::path(
    get, path = "/api/v1/admin/inbound/{id}/raw", tag = "admin", operation_id = "downloadInboundEmail",
    params(("id" = Uuid, Path, description = "Inbound email id")),
    responses((status = 200, description = "The message as received", content_type = "message/rfc822", body = Vec<u8>))
)]
pub async fn inbound_raw(pool: web::Data<DbPool>, caller: Caller, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let raw = db::run(&pool, move |conn| domain::inbound::raw(conn, &caller, id)).await?;
    Ok(HttpResponse::Ok().content_type("message/rfc822").body(raw))
}
