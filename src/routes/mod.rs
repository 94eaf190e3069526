//! The HTTP API: thin handlers that read the request, call the domain and shape the answer.

pub mod admin;
pub mod advisors;
pub mod attachments;
pub mod events;
pub mod extract;
pub mod health;
pub mod inbound;
pub mod offices;
pub mod openapi;
pub mod organizations;
pub mod rate_limit;
pub mod reports;
pub mod routing_rules;
pub mod satisfaction;
pub mod sla_policies;
pub mod tickets;
pub mod toolkit;
pub mod uploads;
pub mod users;
pub mod webhooks;

use std::str::FromStr;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::cursor;
use crate::domain::network::NetworkCache;
use crate::error::{ApiError, ApiResult};

/// Default page size of listings.
pub const DEFAULT_PAGE_SIZE: i64 = 25;
/// Largest page size of listings.
pub const MAX_PAGE_SIZE: i64 = 100;

/// Registers every route.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .app_data(web::PathConfig::default().error_handler(extract::path_error))
        .app_data(web::QueryConfig::default().error_handler(extract::query_error))
        .app_data(web::FormConfig::default().limit(16 * 1024).error_handler(extract::form_error))
        .service(resource("/healthz", "GET").get(health::healthz))
        .service(resource("/readyz", "GET").get(health::readyz))
        .service(resource("/openapi.json", "GET").get(openapi::document))
        .service(resource("/metrics", "GET").get(health::metrics))
        .service(
            web::scope("/api/v1")
                .service(resource("/offices", "GET, POST").get(offices::list).post(offices::create))
                .service(resource("/offices/{id}", "GET, PATCH").get(offices::get).patch(offices::update))
                .service(resource("/offices/{id}/calendar", "GET").get(offices::calendar))
                .service(resource("/offices/{id}/calendar/working-hours", "PUT").put(offices::set_working_hours))
                .service(resource("/offices/{id}/calendar/holidays", "POST").post(offices::add_holiday))
                .service(resource("/offices/{id}/calendar/holidays/{date}", "DELETE").delete(offices::remove_holiday))
                .service(resource("/organizations", "GET, POST").get(organizations::list).post(organizations::create))
                .service(
                    resource("/organizations/{id}", "GET, PATCH").get(organizations::get).patch(organizations::update),
                )
                .service(resource("/users", "GET, POST").get(users::list).post(users::create))
                .service(
                    resource("/users/{id}", "GET, PATCH, DELETE")
                        .get(users::get)
                        .patch(users::update)
                        .delete(users::deactivate),
                )
                .service(resource("/users/{id}/tokens", "GET, POST").get(users::list_tokens).post(users::create_token))
                .service(resource("/users/{id}/tokens/{token_id}", "DELETE").delete(users::revoke_token))
                .service(resource("/tickets", "GET, POST").get(tickets::list).post(tickets::submit))
                // Before `/tickets/{ticket}`, which the path would match too.
                .service(resource("/tickets/bulk", "POST").post(toolkit::bulk_update))
                .service(resource("/tickets/{ticket}", "GET, PATCH").get(tickets::get).patch(tickets::update))
                .service(
                    resource("/tickets/{ticket}/messages", "GET, POST")
                        .get(tickets::messages)
                        .post(tickets::post_message),
                )
                .service(resource("/tickets/{ticket}/events", "GET").get(tickets::events))
                .service(
                    resource("/tickets/{ticket}/tags/{tag}", "PUT, DELETE")
                        .put(toolkit::add_tag)
                        .delete(toolkit::remove_tag),
                )
                .service(
                    resource("/tickets/{ticket}/time", "GET, POST").get(toolkit::list_time).post(toolkit::log_time),
                )
                .service(
                    resource("/tickets/{ticket}/time/{id}", "PATCH, DELETE")
                        .patch(toolkit::update_time)
                        .delete(toolkit::delete_time),
                )
                .service(resource("/tickets/{ticket}/merge", "POST").post(toolkit::merge))
                .service(resource("/tags", "GET").get(toolkit::list_tags))
                .service(resource("/custom-fields", "GET, POST").get(toolkit::list_fields).post(toolkit::create_field))
                .service(
                    resource("/custom-fields/{key}", "GET, PATCH, DELETE")
                        .get(toolkit::get_field)
                        .patch(toolkit::update_field)
                        .delete(toolkit::delete_field),
                )
                .service(resource("/saved-replies", "GET, POST").get(toolkit::list_replies).post(toolkit::create_reply))
                .service(
                    resource("/saved-replies/{id}", "GET, PATCH, DELETE")
                        .get(toolkit::get_reply)
                        .patch(toolkit::update_reply)
                        .delete(toolkit::delete_reply),
                )
                .service(resource("/events", "GET").get(events::read))
                .service(resource("/webhooks", "GET, POST").get(webhooks::list).post(webhooks::create))
                .service(
                    resource("/webhooks/{id}", "GET, PATCH, DELETE")
                        .get(webhooks::get)
                        .patch(webhooks::update)
                        .delete(webhooks::delete),
                )
                .service(resource("/webhooks/{id}/rotate-secret", "POST").post(webhooks::rotate_secret))
                .service(resource("/webhooks/{id}/ping", "POST").post(webhooks::ping))
                .service(resource("/webhooks/{id}/deliveries", "GET").get(webhooks::deliveries))
                .service(resource("/webhook-deliveries/{id}/redeliver", "POST").post(webhooks::redeliver))
                .service(resource("/tickets/{ticket}/route", "POST").post(tickets::route))
                .service(
                    resource("/tickets/{ticket}/satisfaction", "GET, POST")
                        .get(tickets::satisfaction)
                        .post(tickets::rate),
                )
                .service(
                    resource("/satisfaction/{token}", "GET, HEAD, POST")
                        .get(satisfaction::show_choice)
                        .route(web::head().to(satisfaction::show_choice))
                        .post(satisfaction::rate_by_link),
                )
                .service(resource("/reports/summary", "GET").get(reports::summary))
                .service(resource("/reports/advisors", "GET").get(reports::advisors))
                .service(resource("/reports/time", "GET").get(reports::time))
                .service(resource("/reports/tickets", "GET").get(reports::tickets))
                .service(resource("/reports/saved-replies", "GET").get(reports::saved_replies))
                .service(resource("/sla-policies", "GET, POST").get(sla_policies::list).post(sla_policies::create))
                .service(
                    resource("/sla-policies/{id}", "GET, PUT, DELETE")
                        .get(sla_policies::get)
                        .put(sla_policies::replace)
                        .delete(sla_policies::delete),
                )
                .service(resource("/tickets/{ticket}/messages/{message}/original", "GET").get(attachments::original))
                .service(resource("/attachments/{id}", "GET").get(attachments::download))
                .service(resource("/uploads", "POST").post(uploads::create))
                .service(resource("/inbound/email", "POST").post(inbound::receive))
                .service(resource("/admin/outbox", "GET").get(admin::list_outbox))
                .service(resource("/admin/outbox/{id}/retry", "POST").post(admin::retry_outbox))
                .service(resource("/admin/inbound", "GET").get(admin::list_inbound))
                .service(resource("/admin/inbound/{id}/retry", "POST").post(admin::retry_inbound))
                .service(resource("/admin/inbound/{id}/raw", "GET").get(admin::inbound_raw))
                .service(resource("/advisors", "GET").get(advisors::list))
                .service(resource("/advisors/{id}", "GET, PATCH").get(advisors::get).patch(advisors::update))
                .service(resource("/routing-rules", "GET, POST").get(routing_rules::list).post(routing_rules::create))
                .service(
                    resource("/routing-rules/{id}", "GET, PATCH, DELETE")
                        .get(routing_rules::get)
                        .patch(routing_rules::update)
                        .delete(routing_rules::delete),
                ),
        )
        .default_service(web::to(not_found));
}

/// The paths under which the network's configuration is changed (offices and their calendars, service-level
/// policies, routing rules, custom fields).
const NETWORK_PATHS: [&str; 4] =
    ["/api/v1/offices", "/api/v1/sla-policies", "/api/v1/routing-rules", "/api/v1/custom-fields"];

/// Forgets this process's copy of the network after any request that may have changed it, before the answer
/// goes out: the next request here sees the change at once (other processes hear of it by notification).
pub async fn forget_network_on_change(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let writes = !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        && NETWORK_PATHS.iter().any(|path| request.path().starts_with(path));
    let cache = writes.then(|| request.app_data::<web::Data<NetworkCache>>().cloned()).flatten();
    let response = next.call(request).await;
    if let Some(cache) = cache {
        cache.invalidate();
    }
    response
}

/// Unknown paths get a problem document too.
async fn not_found() -> HttpResponse {
    actix_web::ResponseError::error_response(&ApiError::NotFound("route"))
}

/// A resource whose other methods answer 405 with an `Allow` header listing `allow`, as a problem document.
fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move || async move {
        let mut response = actix_web::ResponseError::error_response(&ApiError::MethodNotAllowed);
        response.headers_mut().insert(header::ALLOW, header::HeaderValue::from_static(allow));
        response
    }))
}

/// Parses an optional vocabulary filter of the query string (`status=failed`, `role=advisor`); an unknown value is
/// a 422 naming the field.
pub fn vocabulary_filter<T: std::str::FromStr<Err = String>>(field: &str, raw: Option<&str>) -> ApiResult<Option<T>> {
    raw.map(|value| value.trim().parse::<T>().map_err(|message| ApiError::invalid(field, message))).transpose()
}

/// Parses the `limit` query parameter: 1 to [`MAX_PAGE_SIZE`], default [`DEFAULT_PAGE_SIZE`].
pub fn page_limit(raw: Option<&str>) -> ApiResult<i64> {
    page_limit_within(raw, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
}

/// Parses the `limit` query parameter of a listing with its own page sizes: 1 to `max`, default `default`.
pub fn page_limit_within(raw: Option<&str>, default: i64, max: i64) -> ApiResult<i64> {
    match raw.map(str::trim) {
        None | Some("") => Ok(default),
        Some(raw) => match raw.parse::<i64>() {
            Ok(limit) if (1..=max).contains(&limit) => Ok(limit),
            _ => Err(ApiError::invalid("limit", format!("must be a whole number from 1 to {max}"))),
        },
    }
}

/// Parses a comma-separated query parameter into values; empty items are ignored.
pub fn parse_list<T>(field: &str, raw: Option<&str>) -> ApiResult<Vec<T>>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    if raw.len() > 1000 {
        return Err(ApiError::invalid(field, "is too long"));
    }
    raw.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| item.parse::<T>().map_err(|error| ApiError::invalid(field, error.to_string())))
        .collect()
}

/// A position in a listing ordered by id (users and organisations, whose UUIDv7 ids follow creation order).
#[derive(Debug, Serialize, Deserialize)]
pub struct IdCursor {
    after: Uuid,
}

impl IdCursor {
    /// The id a `cursor` query parameter continues after.
    pub fn decode(raw: Option<&str>) -> ApiResult<Option<Uuid>> {
        match raw {
            None | Some("") => Ok(None),
            Some(raw) => Ok(cursor::decode::<IdCursor>(raw).map(|c| Some(c.after))?),
        }
    }

    /// Cuts `items` (fetched with one extra row) to `limit` and returns the cursor of the next page, if any.
    pub fn next_page<T>(items: &mut Vec<T>, limit: i64, id: impl Fn(&T) -> Uuid) -> Option<String> {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        if items.len() <= limit {
            return None;
        }
        items.truncate(limit);
        items.last().map(|last| cursor::encode(&IdCursor { after: id(last) }))
    }
}
