//! The rate-limit middleware: counts each API request against its budget (`domain::rate_limits`), refuses it
//! (429) when the budget is spent, slows down an address that keeps failing to authenticate, and adds the IETF
//! `RateLimit-Policy` and `RateLimit` headers (draft-ietf-httpapi-ratelimit-headers) to every answer under
//! `/api/`. Over the budget is `429` with `Retry-After` and a problem document. The counting is one statement per
//! request (two when a request fails to authenticate); when the database cannot be reached the request goes
//! through uncounted (it will most likely get its own 503).

use std::net::IpAddr;
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};
use chrono::Utc;

use crate::db::{self, DbPool};
use crate::domain::rate_limits::{self, Budget, FAILURES_BEFORE_DELAY, Keys, RateLimitSettings, WINDOW_SECONDS};
use crate::error::ApiError;
use crate::routes::extract::{Authenticated, bearer_token};

/// The delay added per failed authentication past [`FAILURES_BEFORE_DELAY`].
const DELAY_PER_FAILURE: Duration = Duration::from_millis(250);
/// The longest delay.
const MAX_DELAY: Duration = Duration::from_secs(3);

/// Whether a path is counted: the API, except inbound mail (relays authenticate with their own secret and must
/// never be turned away).
fn counted(path: &str) -> bool {
    path.starts_with("/api/") && path != "/api/v1/inbound/email"
}

/// The last entry of `X-Forwarded-For`: the address the proxy in front saw (earlier entries are the client's
/// own claims).
fn forwarded_for(request: &ServiceRequest) -> Option<IpAddr> {
    let values = request.headers().get_all("x-forwarded-for");
    let last = values.filter_map(|value| value.to_str().ok()).last()?;
    let entry = last.rsplit(',').next()?.trim();
    let entry = entry.trim_start_matches('[');
    let entry = entry.split(']').next().unwrap_or(entry);
    entry.parse::<IpAddr>().ok().or_else(|| entry.rsplit_once(':').and_then(|(host, _)| host.parse().ok()))
}

/// The client's address as counted: IPv4 as it is, IPv6 by its /64 (which one machine usually owns whole).
fn client_address(request: &ServiceRequest, trust_forwarded: bool) -> String {
    let forwarded = if trust_forwarded { forwarded_for(request) } else { None };
    match forwarded.or_else(|| request.peer_addr().map(|peer| peer.ip())) {
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Some(v4) => v4.to_string(),
        None => "unknown".to_owned(),
    }
}

/// The request's bearer token, read as authentication reads it.
fn bearer(request: &ServiceRequest) -> Option<String> {
    bearer_token(request.request()).ok().filter(|token| !token.is_empty())
}

fn insert(headers: &mut actix_web::http::header::HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), value);
    }
}

fn too_many(detail: String, retry_after: u64, policy: &str, state: &str) -> actix_web::HttpResponse {
    let mut response = ApiError::TooManyRequests { detail, retry_after }.error_response();
    insert(response.headers_mut(), "ratelimit-policy", policy);
    insert(response.headers_mut(), "ratelimit", state);
    response
}

/// Middleware: see the module documentation.
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
    let budget = match *request.method() {
        Method::GET | Method::HEAD | Method::OPTIONS => Budget::Reads,
        _ => Budget::Writes,
    };
    let quota = budget.quota(&settings);
    let keys = Keys::new(bearer(&request).as_deref(), &client_address(&request, settings.trust_forwarded), budget);
    let (window, reset) = rate_limits::window(Utc::now());
    let counting = keys.clone();
    let Ok(count) = db::run(&pool, move |conn| rate_limits::count(conn, &counting, window)).await else {
        return next.call(request).await.map(ServiceResponse::map_into_left_body);
    };
    let remaining = (quota - count.hits.max(if keys.has_token { count.address_hits } else { 0 })).max(0);
    let policy = format!("\"{}\";q={quota};w={WINDOW_SECONDS}", budget.name());
    let state = format!("\"{}\";r={remaining};t={reset}", budget.name());
    if count.hits > quota || (keys.has_token && count.address_hits >= quota) {
        let detail = format!("more than {quota} {} a minute: wait {reset} s (see the RateLimit header)", budget.name());
        return Ok(request.into_response(too_many(detail, reset, &policy, &state)).map_into_right_body());
    }
    let blocked = count.failures >= settings.auth_failures_per_minute;
    if count.failures > FAILURES_BEFORE_DELAY {
        let over = u32::try_from(count.failures - FAILURES_BEFORE_DELAY).unwrap_or(u32::MAX);
        tokio::time::sleep(DELAY_PER_FAILURE.saturating_mul(over).min(MAX_DELAY)).await;
    }
    let mut response = next.call(request).await?;
    let authenticated = response.request().extensions().get::<Authenticated>().is_some();
    let failed = response.status() == StatusCode::UNAUTHORIZED;
    let _ = db::run(&pool, move |conn| rate_limits::count_after(conn, &keys, authenticated, failed, window)).await;
    if failed && blocked {
        // Past the limit a failed authentication says nothing more than "wait"; a valid token still works.
        let detail = "too many failed authentications from this address: wait before trying again".to_owned();
        return Ok(response.into_response(too_many(detail, reset, &policy, &state)).map_into_right_body());
    }
    insert(response.headers_mut(), "ratelimit-policy", &policy);
    insert(response.headers_mut(), "ratelimit", &state);
    Ok(response.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbound_mail_and_probes_are_not_counted() {
        assert!(counted("/api/v1/tickets"));
        assert!(!counted("/api/v1/inbound/email"));
        assert!(!counted("/healthz"));
        assert!(!counted("/metrics"));
    }

    #[test]
    fn the_proxy_s_own_entry_counts() {
        let request = actix_web::test::TestRequest::default()
            .insert_header(("x-forwarded-for", "6.6.6.6, 198.51.100.9"))
            .to_srv_request();
        assert_eq!(forwarded_for(&request), Some("198.51.100.9".parse().unwrap()));
        let request = actix_web::test::TestRequest::default()
            .insert_header(("x-forwarded-for", "[2001:db8::1]:443"))
            .to_srv_request();
        assert_eq!(forwarded_for(&request), Some("2001:db8::1".parse().unwrap()));
    }
}
