//! `POST /api/v1/inbound/email`: relays and mail services post raw inbound messages here.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::db::{self, DbPool};
use crate::domain::inbound::{InboundSettings, Ingested};
use crate::error::{ApiError, ApiResult};
use crate::models::inbound_email::InboundSource;

/// What the inbound endpoint needs: ingestion settings and its bearer secret.
#[derive(Clone)]
pub struct InboundEndpoint {
    /// Ingestion settings.
    pub settings: Arc<InboundSettings>,
    /// The bearer secret; the endpoint answers 404 without one.
    pub secret: Option<String>,
}

/// Compares secrets in constant time (by comparing their hashes).
fn same_secret(given: &str, expected: &str) -> bool {
    Sha256::digest(given.as_bytes()) == Sha256::digest(expected.as_bytes())
}

/// Take in one raw email (RFC 5322), as a relay or mail service would post it.
///
/// Authenticated with `Authorization: Bearer <INBOUND_SECRET>`; off (404) when no secret is configured. The same
/// Message-ID posted twice is taken once (`duplicate: true`).
#[utoipa::path(
    post, path = "/api/v1/inbound/email", tag = "inbound", operation_id = "receiveInboundEmail",
    request_body(content = String, description = "The raw message", content_type = "message/rfc822"),
    responses(
        (status = 200, description = "Taken in: what became of it", body = Ingested),
        (status = 422, description = "Refused for good (malformed, a refused sender, cannot be applied): do not retry", body = crate::error::Problem),
        (status = 503, description = "A temporary failure: retry later", body = crate::error::Problem),
    )
)]
pub async fn receive(
    request: HttpRequest,
    mut payload: web::Payload,
    endpoint: web::Data<InboundEndpoint>,
    pool: web::Data<DbPool>,
) -> ApiResult<HttpResponse> {
    let Some(secret) = endpoint.secret.as_deref() else {
        return Err(ApiError::NotFound("inbound email endpoint (set INBOUND_SECRET to enable it)"));
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .unwrap_or_default();
    if !same_secret(given.trim(), secret) {
        return Err(ApiError::Unauthorized(
            "send the inbound secret as Authorization: Bearer <INBOUND_SECRET>".to_owned(),
        ));
    }
    let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if !matches!(essence.as_str(), "message/rfc822" | "text/plain" | "application/octet-stream") {
        return Err(ApiError::UnsupportedMediaType("send the raw message as Content-Type: message/rfc822".to_owned()));
    }
    let limit = endpoint.settings.max_message_bytes;
    let mut raw = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|error| ApiError::BadRequest(format!("could not read the body: {error}")))?;
        if raw.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        raw.extend_from_slice(&chunk);
    }
    let settings = endpoint.settings.clone();
    let outcome = db::run(&pool, move |conn| {
        crate::email::inbound::ingest(conn, &settings, &raw, InboundSource::Http).map_err(ApiError::from)
    })
    .await?;
    Ok(HttpResponse::Ok().json(outcome))
}
