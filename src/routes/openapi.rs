//! The OpenAPI 3.1 document, generated from the handlers and types, served at `/openapi.json`.

use actix_web::HttpResponse;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::error::PROBLEM_JSON;
use crate::routes::{
    admin, advisors, attachments, health, inbound, offices, organizations, reports, routing_rules, satisfaction,
    sla_policies, tickets, uploads, users,
};

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "civicdesk",
        description = "Help desk for networks that give technical assistance to civil-society organisations. \
            Authenticate with `Authorization: Bearer <token>`. Errors are `application/problem+json` (RFC 9457).",
        license(name = "AGPL-3.0-or-later")
    ),
    paths(
        health::healthz, health::readyz, health::metrics,
        offices::create, offices::list, offices::get, offices::update,
        organizations::create, organizations::list, organizations::get, organizations::update,
        users::create, users::list, users::get, users::update, users::deactivate,
        users::create_token, users::list_tokens, users::revoke_token,
        tickets::submit, tickets::list, tickets::get, tickets::update,
        tickets::post_message, tickets::messages, tickets::events, tickets::route,
        advisors::list, advisors::get, advisors::update,
        admin::list_outbox, admin::retry_outbox, admin::list_inbound, admin::retry_inbound, admin::inbound_raw,
        attachments::download, attachments::original, uploads::create, inbound::receive,
        routing_rules::list, routing_rules::create, routing_rules::get, routing_rules::update, routing_rules::delete,
        tickets::satisfaction, tickets::rate, satisfaction::show_choice, satisfaction::rate_by_link,
        offices::calendar, offices::set_working_hours, offices::add_holiday, offices::remove_holiday,
        sla_policies::list, sla_policies::create, sla_policies::get, sla_policies::replace, sla_policies::delete,
        reports::summary, reports::advisors,
    ),
    components(schemas(crate::error::Problem)),
    modifiers(&ProblemResponses),
    security(("bearer" = [])),
    tags(
        (name = "tickets", description = "Requests for help, their messages and audit trail"),
        (name = "users", description = "People and their API tokens"),
        (name = "uploads", description = "Files uploaded to be attached to tickets and messages"),
        (name = "offices", description = "The regional and national offices"),
        (name = "organizations", description = "The civil-society organisations"),
        (name = "routing", description = "Advisor profiles and the rules that route tickets"),
        (name = "service levels", description = "Business calendars and SLA policies"),
        (name = "reports", description = "Figures for programme staff and funders (JSON or CSV)"),
        (name = "admin", description = "Operations: the email outbox, inbound emails"),
        (name = "inbound", description = "Inbound email posted by relays"),
        (name = "health", description = "Probes"),
    )
)]
pub struct ApiDoc;

/// Adds the bearer security scheme, and to every API operation the error answers it can give, so that the
/// document lists every status the server really sends.
struct ProblemResponses;

impl Modify for ProblemResponses {
    fn modify(&self, document: &mut Document) {
        let components = document.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
        let problem = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(PROBLEM_JSON, ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build())
                .build()
        };
        for (path, item) in document.paths.paths.iter_mut() {
            let api = path.starts_with("/api/");
            let operations = [
                (&mut item.get, false),
                (&mut item.post, true),
                (&mut item.patch, true),
                (&mut item.put, true),
                (&mut item.delete, false),
            ];
            for (operation, has_body) in operations {
                let Some(operation) = operation.as_mut() else {
                    continue;
                };
                let mut errors = vec![("503", "The database is unavailable; retry later")];
                if api {
                    errors.extend([
                        ("400", "The request could not be read"),
                        ("401", "No valid token"),
                        ("403", "The caller may not do this"),
                        ("404", "Not found, or not visible to the caller"),
                        ("409", "Conflicts with the current state"),
                        ("422", "Some fields are invalid"),
                    ]);
                }
                if has_body {
                    errors.extend([("413", "The body is too large"), ("415", "The body is not JSON")]);
                }
                for (status, description) in errors {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| problem(description).into());
                }
            }
        }
    }
}

/// Serves the OpenAPI document.
pub async fn document() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
