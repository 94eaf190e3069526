//! `/api/v1/admin`: operations for administrators, such as the email outbox.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::db::{self, DbPool};
use crate::domain::caller::Caller;
use crate::domain::outbox;
use crate::error::{ApiError, ApiResult};
use crate::models::OutboxEntry;
use crate::models::outbox::OutboxStatus;
use crate::routes::{IdCursor, page_limit};

/// One page of outbox notifications.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxPage {
    /// The notifications of this page, oldest first.
    pub items: Vec<OutboxEntry>,
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

/// List outbox notifications, such as the failed ones (admins).
#[utoipa::path(
    get, path = "/api/v1/admin/outbox", tag = "admin", params(ListOutbox),
    responses((status = 200, description = "One page of notifications", body = OutboxPage))
)]
pub async fn list_outbox(
    pool: web::Data<DbPool>,
    caller: Caller,
    query: web::Query<ListOutbox>,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner();
    let limit = page_limit(query.limit.as_deref())?;
    let status = query
        .status
        .as_deref()
        .map(|s| s.trim().parse::<OutboxStatus>().map_err(|message| ApiError::invalid("status", message)))
        .transpose()?;
    let after = IdCursor::decode(query.cursor.as_deref())?;
    let mut items = db::run(&pool, move |conn| outbox::list(conn, &caller, status, after, limit + 1)).await?;
    let next_cursor = IdCursor::next_page(&mut items, limit, |entry| entry.id);
    Ok(HttpResponse::Ok().json(OutboxPage { items, next_cursor }))
}

/// Retry a failed notification: it goes back in the queue with a fresh round of attempts (admins).
#[utoipa::path(
    post, path = "/api/v1/admin/outbox/{id}/retry", tag = "admin",
    params(("id" = Uuid, Path, description = "Notification id")),
    responses((status = 200, description = "The queued notification", body = OutboxEntry))
)]
pub async fn retry_outbox(pool: web::Data<DbPool>, caller: Caller, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let entry = db::run(&pool, move |conn| outbox::retry(conn, &caller, id)).await?;
    Ok(HttpResponse::Ok().json(entry))
}
