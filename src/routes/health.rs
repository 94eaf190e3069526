//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::{self, DbPool};
use crate::domain::error::DomainError;
use crate::error::ApiResult;

/// A probe's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` when healthy.
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(
    get, path = "/healthz", tag = "health", security(()),
    responses((status = 200, description = "Up", body = Health))
)]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// Prometheus metrics: HTTP traffic of this process and the state of tickets, the outbox and inbound mail.
#[utoipa::path(
    get, path = "/metrics", tag = "health", security(()),
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String))
)]
pub async fn metrics(pool: web::Data<DbPool>, metrics: web::Data<crate::metrics::Metrics>) -> ApiResult<HttpResponse> {
    let scrape_pool = pool.get_ref().clone();
    let body = db::run(&pool, move |conn| ApiResult::Ok(crate::metrics::render(&metrics, &scrape_pool, conn)?)).await?;
    Ok(HttpResponse::Ok().content_type(crate::metrics::CONTENT_TYPE).body(body))
}

/// The database is reachable; 503 otherwise.
#[utoipa::path(
    get, path = "/readyz", tag = "health", security(()),
    responses((status = 200, description = "Ready", body = Health))
)]
pub async fn readyz(pool: web::Data<DbPool>) -> ApiResult<HttpResponse> {
    db::run(&pool, |conn| {
        db::ping(conn).map_err(|error| DomainError::Unavailable(format!("the database does not answer: {error}")))
    })
    .await?;
    Ok(HttpResponse::Ok().json(Health { status: "ok" }))
}
