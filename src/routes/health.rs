//! Liveness and readiness probes.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::{self, DbPool};
use crate::domain::error::DomainError;
use crate::error::ApiResult;
use crate::metrics::{Metrics, MetricsEndpoint};

/// A probe's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` when healthy.
    pub status: &'static str,
}

/// The process is up.
///
/// Liveness: answers 200 while the process serves requests, without asking the database.
#[utoipa::path(
    get, path = "/healthz", tag = "health", operation_id = "checkLiveness", security(()),
    responses((status = 200, description = "Up", body = Health))
)]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// Prometheus metrics: HTTP traffic of this process and the state of tickets, the outbox and inbound mail.
///
/// Open unless `METRICS_TOKEN` or `METRICS_ALLOW` is set; then the bearer token or a peer address in the list
/// lets a scrape in. The database figures are reused for `METRICS_CACHE_SECS`.
#[utoipa::path(
    get, path = "/metrics", tag = "health", operation_id = "getMetrics", security(()),
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain", body = String),
        (status = 401, description = "METRICS_TOKEN is set and the request carries no token or another one", body = crate::error::Problem),
        (status = 403, description = "Only METRICS_ALLOW is set and the peer address is not in it", body = crate::error::Problem),
    )
)]
pub async fn metrics(
    request: HttpRequest,
    pool: web::Data<DbPool>,
    metrics: web::Data<Metrics>,
    endpoint: web::Data<MetricsEndpoint>,
) -> ApiResult<HttpResponse> {
    let authorization = request.headers().get(header::AUTHORIZATION).and_then(|value| value.to_str().ok());
    endpoint.authorize(authorization, request.peer_addr().map(|peer| peer.ip()))?;
    let body = endpoint.scrape(&metrics, &pool).await?;
    Ok(HttpResponse::Ok().content_type(crate::metrics::CONTENT_TYPE).body(body))
}

/// The database is reachable.
///
/// Readiness: answers 200 when the database answers a query, 503 otherwise, so that traffic goes only to processes that
/// can serve it.
#[utoipa::path(
    get, path = "/readyz", tag = "health", operation_id = "checkReadiness", security(()),
    responses((status = 200, description = "Ready", body = Health))
)]
pub async fn readyz(pool: web::Data<DbPool>) -> ApiResult<HttpResponse> {
    db::run(&pool, |conn| {
        db::ping(conn).map_err(|error| DomainError::Unavailable(format!("the database does not answer: {error}")))
    })
    .await?;
    Ok(HttpResponse::Ok().json(Health { status: "ok" }))
}
