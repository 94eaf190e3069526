//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};
use diesel::RunQueryDsl;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::{self, DbPool};
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

/// The database is reachable; 503 otherwise.
#[utoipa::path(
    get, path = "/readyz", tag = "health", security(()),
    responses((status = 200, description = "Ready", body = Health))
)]
pub async fn readyz(pool: web::Data<DbPool>) -> ApiResult<HttpResponse> {
    db::run(&pool, |conn| {
        diesel::sql_query("SELECT 1")
            .execute(conn)
            .map_err(|error| crate::error::ApiError::Unavailable(format!("the database does not answer: {error}")))
    })
    .await?;
    Ok(HttpResponse::Ok().json(Health { status: "ok" }))
}
