//! `/api/v1/webhooks` and `/api/v1/webhook-deliveries`: signed webhook subscriptions and what became of their
//! deliveries (admins).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::db::{self, DbPool};
use crate::domain::caller::Caller;
use crate::domain::cursor;
use crate::domain::webhooks::{self, WebhookInput, WebhookSettings};
use crate::error::ApiResult;
use crate::models::webhook::DeliveryStatus;
use crate::routes::{page_limit, vocabulary_filter};
use crate::views::{WebhookDeliveryView, WebhookView, WebhookWithSecretView};

/// Create a webhook subscription.
///
/// Admins only. The answer holds its signing secret (`whsec_...`), shown this once: keep it to verify the
/// `Webhook-Signature` of each delivery (docs/webhooks.md).
#[utoipa::path(
    post, path = "/api/v1/webhooks", tag = "webhooks", operation_id = "createWebhook", request_body = WebhookInput,
    responses((status = 201, description = "Created, with its secret", body = WebhookWithSecretView,
        headers(("Location" = String, description = "The subscription's URL"))))
)]
pub async fn create(
    pool: web::Data<DbPool>,
    settings: web::Data<WebhookSettings>,
    caller: Caller,
    body: crate::routes::extract::ApiJson<WebhookInput>,
) -> ApiResult<HttpResponse> {
    let settings = settings.into_inner();
    let webhook = db::run(&pool, move |conn| webhooks::create(conn, &caller, &settings, body.0)).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/webhooks/{}", webhook.id)))
        .json(WebhookWithSecretView::from(webhook)))
}

/// List the webhook subscriptions.
///
/// Admins only; oldest first, without their secrets.
#[utoipa::path(
    get, path = "/api/v1/webhooks", tag = "webhooks", operation_id = "listWebhooks",
    responses((status = 200, description = "Every subscription, oldest first", body = Vec<WebhookView>))
)]
pub async fn list(pool: web::Data<DbPool>, caller: Caller) -> ApiResult<HttpResponse> {
    let hooks = db::run(&pool, move |conn| webhooks::list(conn, &caller)).await?;
    Ok(HttpResponse::Ok().json(hooks.into_iter().map(WebhookView::from).collect::<Vec<_>>()))
}

/// Read a webhook subscription.
///
/// Admins only; without its secret. `disabled_at` and `failing_since` tell whether its receiver is failing.
#[utoipa::path(
    get, path = "/api/v1/webhooks/{id}", tag = "webhooks", operation_id = "getWebhook",
    params(("id" = Uuid, Path, description = "Subscription id")),
    responses((status = 200, description = "The subscription", body = WebhookView))
)]
pub async fn get(pool: web::Data<DbPool>, caller: Caller, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let webhook = db::run(&pool, move |conn| webhooks::get(conn, &caller, id)).await?;
    Ok(HttpResponse::Ok().json(WebhookView::from(webhook)))
}

/// Change a webhook subscription.
///
/// Admins only; absent fields stay as they are. `"active": true` re-enables one the service disabled after its
/// receiver failed for days.
#[utoipa::path(
    patch, path = "/api/v1/webhooks/{id}", tag = "webhooks", operation_id = "updateWebhook",
    params(("id" = Uuid, Path, description = "Subscription id")), request_body = WebhookInput,
    responses((status = 200, description = "The changed subscription", body = WebhookView))
)]
pub async fn update(
    pool: web::Data<DbPool>,
    settings: web::Data<WebhookSettings>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: crate::routes::extract::ApiJson<WebhookInput>,
) -> ApiResult<HttpResponse> {
    let (id, settings) = (id.into_inner(), settings.into_inner());
    let webhook = db::run(&pool, move |conn| webhooks::update(conn, &caller, &settings, id, body.0)).await?;
    Ok(HttpResponse::Ok().json(WebhookView::from(webhook)))
}

/// Delete a webhook subscription.
///
/// Admins only. Its deliveries, sent or not, are deleted with it.
#[utoipa::path(
    delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", operation_id = "deleteWebhook",
    params(("id" = Uuid, Path, description = "Subscription id")),
    responses((status = 204, description = "Deleted"))
)]
pub async fn delete(pool: web::Data<DbPool>, caller: Caller, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    db::run(&pool, move |conn| webhooks::delete(conn, &caller, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Rotate a webhook subscription's secret.
///
/// Admins only. The answer holds the new secret. The old one keeps working for 24 hours: meanwhile every
/// delivery carries both signatures.
#[utoipa::path(
    post, path = "/api/v1/webhooks/{id}/rotate-secret", tag = "webhooks", operation_id = "rotateWebhookSecret",
    params(("id" = Uuid, Path, description = "Subscription id")),
    responses((status = 200, description = "The subscription with its new secret", body = WebhookWithSecretView))
)]
pub async fn rotate_secret(pool: web::Data<DbPool>, caller: Caller, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let webhook = db::run(&pool, move |conn| webhooks::rotate_secret(conn, &caller, id)).await?;
    Ok(HttpResponse::Ok().json(WebhookWithSecretView::from(webhook)))
}

/// Send a test event to a webhook subscription.
///
/// Admins only. Queues a `webhook.ping` delivery (even to an inactive subscription); follow it in the
/// subscription's deliveries.
#[utoipa::path(
    post, path = "/api/v1/webhooks/{id}/ping", tag = "webhooks", operation_id = "pingWebhook",
    params(("id" = Uuid, Path, description = "Subscription id")),
    responses((status = 202, description = "Queued", body = WebhookDeliveryView))
)]
pub async fn ping(pool: web::Data<DbPool>, caller: Caller, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let delivery = db::run(&pool, move |conn| webhooks::ping(conn, &caller, id)).await?;
    Ok(HttpResponse::Accepted().json(WebhookDeliveryView::from(delivery)))
}

/// One page of deliveries.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDeliveryPage {
    /// The deliveries, newest first.
    pub items: Vec<WebhookDeliveryView>,
    /// Pass as `cursor` to get the next (older) page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Filters and page of the deliveries.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListDeliveries {
    /// Only deliveries in this status: pending, delivered or failed.
    #[param(value_type = Option<DeliveryStatus>)]
    pub status: Option<String>,
    /// Page size, 1 to 100 (default 25).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A position in the deliveries, newest first.
#[derive(Debug, Serialize, Deserialize)]
struct DeliveryCursor {
    before: i64,
}

/// List a webhook subscription's deliveries.
///
/// Admins only; newest first: status, attempts, the last answer's code and the start of its body, timing.
#[utoipa::path(
    get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks", operation_id = "listWebhookDeliveries",
    params(("id" = Uuid, Path, description = "Subscription id"), ListDeliveries),
    responses((status = 200, description = "One page of deliveries", body = WebhookDeliveryPage))
)]
pub async fn deliveries(
    pool: web::Data<DbPool>,
    caller: Caller,
    id: web::Path<Uuid>,
    query: web::Query<ListDeliveries>,
) -> ApiResult<HttpResponse> {
    let (id, query) = (id.into_inner(), query.into_inner());
    let limit = page_limit(query.limit.as_deref())?;
    let status = vocabulary_filter::<DeliveryStatus>("status", query.status.as_deref())?;
    let before = match query.cursor.as_deref() {
        None | Some("") => None,
        Some(raw) => Some(cursor::decode::<DeliveryCursor>(raw)?.before),
    };
    let mut items =
        db::run(&pool, move |conn| webhooks::deliveries(conn, &caller, id, status, before, limit + 1)).await?;
    let page = usize::try_from(limit).unwrap_or(usize::MAX);
    let next_cursor = if items.len() > page {
        items.truncate(page);
        items.last().map(|last| cursor::encode(&DeliveryCursor { before: last.seq }))
    } else {
        None
    };
    let items = items.into_iter().map(WebhookDeliveryView::from).collect();
    Ok(HttpResponse::Ok().json(WebhookDeliveryPage { items, next_cursor }))
}

/// Send a webhook delivery again.
///
/// Admins only; delivered, failed or pending: it is due now, with the same id (so receivers that deduplicate on
/// `Webhook-Id` see a repeat), and retried for another 24 hours if it fails.
#[utoipa::path(
    post, path = "/api/v1/webhook-deliveries/{id}/redeliver", tag = "webhooks", operation_id = "redeliverWebhookDelivery",
    params(("id" = Uuid, Path, description = "Delivery id")),
    responses((status = 202, description = "Queued again", body = WebhookDeliveryView))
)]
pub async fn redeliver(pool: web::Data<DbPool>, caller: Caller, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let delivery = db::run(&pool, move |conn| webhooks::redeliver(conn, &caller, id)).await?;
    Ok(HttpResponse::Accepted().json(WebhookDeliveryView::from(delivery)))
}
