//! Rate limits: a budget of reads and one of writes per token a minute (per client address for requests without a
//! token), counted in PostgreSQL so that every server process draws on the same budget, and failed
//! authentication from one address slowed down, then refused.
//!
//! Every answer under `/api/` carries the IETF `RateLimit-Policy` and `RateLimit` headers
//! (draft-ietf-httpapi-ratelimit-headers); over the budget is `429` with `Retry-After` and a problem document.
//! The counting is one statement per request; when the database cannot be reached the request goes through
//! uncounted (it will most likely get its own 503).

use std::net::IpAddr;
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{ResponseError, web};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use sha2::{Digest, Sha256};

use crate::db::{self, DbPool};
use crate::error::ApiError;
use crate::models::rate_limit;

/// The length of a budget's window, in seconds.
const WINDOW_SECONDS: i64 = 60;
/// Failed authentications from one address in a window before each further request is slowed down.
const FAILURES_BEFORE_DELAY: i32 = 5;
/// The delay added per failed authentication past [`FAILURES_BEFORE_DELAY`].
const DELAY_PER_FAILURE: Duration = Duration::from_millis(250);
/// The longest delay.
const MAX_DELAY: Duration = Duration::from_secs(3);

/// The rate limits (`RATE_LIMIT*` settings).
#[derive(Debug, Clone)]
pub struct RateLimitSettings {
    /// `RATE_LIMIT=on|off`.
    pub enabled: bool,
    /// `RATE_LIMIT_READS_PER_MINUTE`: GET and HEAD requests per token (or address) a minute.
    pub reads_per_minute: i32,
    /// `RATE_LIMIT_WRITES_PER_MINUTE`: other requests per token (or address) a minute.
    pub writes_per_minute: i32,
    /// `RATE_LIMIT_AUTH_FAILURES_PER_MINUTE`: failed authentications from one address a minute before its
    /// requests are refused until the window ends (past five, each is slowed down first).
    pub auth_failures_per_minute: i32,
    /// `RATE_LIMIT_TRUST_FORWARDED`: take the client's address from `Forwarded`/`X-Forwarded-For` (only behind a
    /// reverse proxy that sets them).
    pub trust_forwarded: bool,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        RateLimitSettings {
            enabled: true,
            reads_per_minute: 600,
            writes_per_minute: 120,
            auth_failures_per_minute: 30,
            trust_forwarded: false,
        }
    }
}

impl RateLimitSettings {
    /// Limits turned off (tests and tools; `RATE_LIMIT=off`).
    pub fn off() -> Self {
        RateLimitSettings { enabled: false, ..Default::default() }
    }
}

/// Which budget a request draws on.
struct Budget {
    /// Its name in the headers: `reads` or `writes`.
    name: &'static str,
    /// The counter's key.
    key: String,
    /// Hits allowed a window.
    quota: i32,
}

/// Whether a path is counted: the API, except inbound mail (relays authenticate with their own secret and must
/// never be turned away).
fn counted(path: &str) -> bool {
    path.starts_with("/api/") && path != "/api/v1/inbound/email"
}

fn client_address(request: &ServiceRequest, trust_forwarded: bool) -> String {
    let forwarded =
        trust_forwarded.then(|| request.connection_info().realip_remote_addr().map(str::to_owned)).flatten();
    let address = forwarded.or_else(|| request.peer_addr().map(|peer| peer.ip().to_string()));
    match address.as_deref().map(|a| a.trim_start_matches('[')).and_then(|a| a.split(']').next()) {
        // An IPv6 client is counted by its /64, which one machine usually owns whole.
        Some(address) => match address.parse::<IpAddr>() {
            Ok(IpAddr::V6(v6)) => {
                let segments = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", segments[0], segments[1], segments[2], segments[3])
            }
            Ok(v4) => v4.to_string(),
            Err(_) => address.to_owned(),
        },
        None => "unknown".to_owned(),
    }
}

fn budget(request: &ServiceRequest, settings: &RateLimitSettings, address: &str) -> Budget {
    let write = !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let (name, quota) = match write {
        true => ("writes", settings.writes_per_minute),
        false => ("reads", settings.reads_per_minute),
    };
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|token| !token.is_empty());
    let key = match token {
        // A digest, so that no token is ever stored; the same one the token is looked up by, shortened.
        Some(token) => format!("token:{}:{name}", hex_prefix(&Sha256::digest(token.as_bytes()))),
        None => format!("address:{address}:{name}"),
    };
    Budget { name, key, quota }
}

fn hex_prefix(digest: &[u8]) -> String {
    digest.iter().take(16).map(|byte| format!("{byte:02x}")).collect()
}

/// The start of the current window, and the seconds left in it.
fn window(now: DateTime<Utc>) -> (DateTime<Utc>, u64) {
    let start = now.duration_trunc(TimeDelta::seconds(WINDOW_SECONDS)).unwrap_or(now);
    let left = (start + TimeDelta::seconds(WINDOW_SECONDS) - now).num_seconds().clamp(1, WINDOW_SECONDS);
    (start, u64::try_from(left).unwrap_or(1))
}

fn insert(response_headers: &mut actix_web::http::header::HeaderMap, name: &'static str, value: String) {
    if let Ok(value) = HeaderValue::from_str(&value) {
        response_headers.insert(HeaderName::from_static(name), value);
    }
}

/// Middleware: counts the request against its budget, refuses it (429) when the budget is spent or its address
/// has failed to authenticate too often, slows it down after a few failures, and adds the rate-limit headers.
pub async fn limit(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let settings = request.app_data::<web::Data<RateLimitSettings>>().cloned();
    let pool = request.app_data::<web::Data<DbPool>>().cloned();
    let (Some(settings), Some(pool)) = (settings, pool) else {
        return next.call(request).await.map(ServiceResponse::map_into_left_body);
    };
    if !settings.enabled || !counted(request.path()) {
        return next.call(request).await.map(ServiceResponse::map_into_left_body);
    }
    let address = client_address(&request, settings.trust_forwarded);
    let budget = budget(&request, &settings, &address);
    let failures_key = format!("auth-failures:{address}");
    let (window_start, reset) = window(Utc::now());
    let key = budget.key.clone();
    let failures = failures_key.clone();
    let counted =
        db::run(&pool, move |conn| -> anyhow::Result<_> { Ok(rate_limit::hit(conn, &key, &failures, window_start)?) })
            .await;
    let Ok(counted) = counted else {
        return next.call(request).await.map(ServiceResponse::map_into_left_body);
    };
    let remaining = (budget.quota - counted.hits).max(0);
    let policy = format!("\"{}\";q={};w={WINDOW_SECONDS}", budget.name, budget.quota);
    let state = format!("\"{}\";r={remaining};t={reset}", budget.name);
    let refusal = if counted.failures >= settings.auth_failures_per_minute {
        Some("too many failed authentications from this address: wait before trying again".to_owned())
    } else if counted.hits > budget.quota {
        Some(format!("more than {} {} a minute: wait {reset} s (see the RateLimit header)", budget.quota, budget.name))
    } else {
        None
    };
    if let Some(detail) = refusal {
        let mut response = ApiError::TooManyRequests { detail, retry_after: reset }.error_response();
        insert(response.headers_mut(), "ratelimit-policy", policy);
        insert(response.headers_mut(), "ratelimit", state);
        return Ok(request.into_response(response).map_into_right_body());
    }
    if counted.failures > FAILURES_BEFORE_DELAY {
        let over = u32::try_from(counted.failures - FAILURES_BEFORE_DELAY).unwrap_or(u32::MAX);
        tokio::time::sleep(DELAY_PER_FAILURE.saturating_mul(over).min(MAX_DELAY)).await;
    }
    let mut response = next.call(request).await?;
    if response.status() == StatusCode::UNAUTHORIZED {
        // Counted apart: a failed authentication must not spend the budget of the token it guessed at.
        let _ = db::run(&pool, move |conn| -> anyhow::Result<_> {
            Ok(rate_limit::count_failure(conn, &failures_key, window_start)?)
        })
        .await;
    }
    insert(response.headers_mut(), "ratelimit-policy", policy);
    insert(response.headers_mut(), "ratelimit", state);
    Ok(response.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_whole_minutes() {
        let now = DateTime::parse_from_rfc3339("2026-12-01T10:00:42.5Z").unwrap().with_timezone(&Utc);
        let (start, left) = window(now);
        assert_eq!(start.to_rfc3339(), "2026-12-01T10:00:00+00:00");
        assert_eq!(left, 17);
    }

    #[test]
    fn inbound_mail_and_probes_are_not_counted() {
        assert!(counted("/api/v1/tickets"));
        assert!(!counted("/api/v1/inbound/email"));
        assert!(!counted("/healthz"));
        assert!(!counted("/metrics"));
    }
}
