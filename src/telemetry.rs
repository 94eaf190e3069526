//! Logging: the tracing subscriber, and one log line per HTTP request with its id, method, route, status and
//! latency.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// The header that carries a request's id, both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Installs the global subscriber; `RUST_LOG` filters (default `info`). Safe to call more than once.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _already_set = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Keeps a client's request id if it is short and plain, so ids can be followed across services.
fn incoming_request_id(request: &ServiceRequest) -> Option<String> {
    let value = request.headers().get(REQUEST_ID_HEADER)?.to_str().ok()?;
    let plain = !value.is_empty()
        && value.len() <= 64
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    plain.then(|| value.to_owned())
}

/// Middleware: gives each request an id (echoed in `X-Request-Id`), runs it inside a span carrying that id, and
/// logs the outcome. Only the route pattern is logged, never query strings or headers, so no secret lands
/// in the logs.
pub async fn log_requests(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let request_id = incoming_request_id(&request).unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    // The route pattern, never the raw path: ids and probes of unknown paths stay out of logs and metric labels.
    let pattern = request.match_pattern();
    let route = pattern.clone().unwrap_or_else(|| "unmatched".to_owned());
    let span = tracing::info_span!("request", request_id = %request_id, method = %request.method(), route = %route);
    let started = Instant::now();
    let result = next.call(request).instrument(span.clone()).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    match result {
        Ok(mut response) => {
            let status = response.status().as_u16();
            if let Ok(value) = HeaderValue::from_str(&request_id) {
                response.headers_mut().insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
            }
            span.in_scope(|| tracing::info!(status, latency_ms, "request finished"));
            if let Some(metrics) = response.request().app_data::<actix_web::web::Data<crate::metrics::Metrics>>() {
                metrics.observe(pattern.as_deref(), response.request().method().as_str(), status, latency_ms / 1000.0);
            }
            Ok(response)
        }
        Err(error) => {
            let status = error.as_response_error().status_code().as_u16();
            span.in_scope(|| tracing::info!(status, latency_ms, "request failed"));
            Err(error)
        }
    }
}
