//! The OpenAPI 3.1 document, generated from the handlers and types, served at `/openapi.json`.
//!
//! Every operation names itself with `operation_id` (clients generated from the document, and tools that call
//! the API, know an operation by it, so it never changes once released): lowerCamelCase, a verb and then the
//! resource as the path names it, singular for one and plural for a listing, with the parent resource first
//! when the path nests (`listOffices`, `getOffice`, `listTicketMessages`, `retryOutboxEntry`). The verbs are
//! `list`, `get`, `create`, `update` (PATCH), `replace` (PUT) and `delete`, or the domain's own word for an
//! action (`submitTicket`, `routeTicket`, `revokeUserToken`, `downloadAttachment`). The tests below hold every
//! operation to it.

use actix_web::HttpResponse;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::error::PROBLEM_JSON;
use crate::routes::{
    admin, advisors, attachments, events, health, inbound, offices, organizations, reports, routing_rules,
    satisfaction, sla_policies, tickets, toolkit, uploads, users, webhooks,
};

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "civicdesk",
        description = "Help desk for networks that give technical assistance to civil-society organisations. \
            Authenticate with `Authorization: Bearer <token>`. Errors are `application/problem+json` (RFC 9457).",
        license(name = "GNU Affero General Public License v3.0 or later", identifier = "AGPL-3.0-or-later")
    ),
    servers((url = "/", description = "The server that serves this document")),
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
        reports::summary, reports::advisors, reports::time, reports::tickets, reports::saved_replies,
        toolkit::add_tag, toolkit::remove_tag, toolkit::list_tags,
        toolkit::create_field, toolkit::list_fields, toolkit::get_field, toolkit::update_field, toolkit::delete_field,
        toolkit::create_reply, toolkit::list_replies, toolkit::get_reply, toolkit::update_reply, toolkit::delete_reply,
        toolkit::log_time, toolkit::list_time, toolkit::update_time, toolkit::delete_time,
        toolkit::merge, toolkit::bulk_update,
        events::read,
        webhooks::create, webhooks::list, webhooks::get, webhooks::update, webhooks::delete,
        webhooks::rotate_secret, webhooks::ping, webhooks::deliveries, webhooks::redeliver,
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
        (name = "custom fields", description = "Fields admins define for tickets, for reporting"),
        (name = "saved replies", description = "Answers staff give again and again, in every language"),
        (name = "time", description = "Time staff spend on tickets"),
        (name = "admin", description = "Operations: the email outbox, inbound emails"),
        (name = "inbound", description = "Inbound email posted by relays"),
        (name = "webhooks", description = "Signed webhook subscriptions and their deliveries"),
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
        let problem = |status: &str, description: &str| {
            let response = ResponseBuilder::new()
                .description(description)
                .content(PROBLEM_JSON, ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build());
            // `src/error.rs` sends `Retry-After` with these two.
            let retry_after = match status {
                "429" => Some("Seconds until the budget refills"),
                "503" => Some("Seconds to wait before retrying"),
                _ => None,
            };
            match retry_after {
                Some(description) => response
                    .header(
                        "Retry-After",
                        HeaderBuilder::new()
                            .schema(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)))
                            .description(Some(description))
                            .build(),
                    )
                    .build(),
                None => response.build(),
            }
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
                        ("429", "Too many requests: wait as long as Retry-After says"),
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
                        .or_insert_with(|| problem(status, description).into());
                }
            }
        }
    }
}

/// Serves the OpenAPI document.
pub async fn document() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

/// Building blocks for the request bodies whose fields depend on each other, so that their schemas say what the
/// domain checks across fields and a body valid by the schema is not refused for its shape: `oneOf` where
/// exactly one of several shapes fits, `anyOf` where at least one must. The Rust types that read the bodies stay
/// as they are; only the documented schema says more.
pub mod rules {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{
        AllOfBuilder, AnyOfBuilder, ArrayBuilder, Object, ObjectBuilder, OneOfBuilder, Schema, Type,
    };

    /// `base`, held to each of `rules` as well.
    pub fn all(description: &str, base: impl Into<RefOr<Schema>>, rules: impl IntoIterator<Item = Schema>) -> Schema {
        let builder = AllOfBuilder::new().description(Some(description)).item(base);
        rules.into_iter().fold(builder, |builder, rule| builder.item(rule)).build().into()
    }

    /// Exactly one of `shapes` fits.
    pub fn exactly_one(description: &str, shapes: impl IntoIterator<Item = Schema>) -> Schema {
        let builder = OneOfBuilder::new().description(Some(description));
        shapes.into_iter().fold(builder, |builder, shape| builder.item(shape)).build().into()
    }

    /// At least one of `shapes` fits.
    pub fn at_least_one(description: &str, shapes: impl IntoIterator<Item = Schema>) -> Schema {
        let builder = AnyOfBuilder::new().description(Some(description));
        shapes.into_iter().fold(builder, |builder, shape| builder.item(shape)).build().into()
    }

    /// One shape of a body, named for the reader by `title`; its properties only narrow the base's.
    pub fn shape(title: &str) -> ObjectBuilder {
        ObjectBuilder::new().title(Some(title))
    }

    /// A field that, when present, has a value of `kind` (not `null`).
    pub fn set(kind: Type) -> Object {
        Object::with_type(kind)
    }

    /// A field that is absent or `null`.
    pub fn unset() -> Object {
        Object::with_type(Type::Null)
    }

    /// A string field that, when present, is one of `values`.
    pub fn value_in(values: &[&str]) -> Object {
        ObjectBuilder::new().schema_type(Type::String).enum_values(Some(values.iter().copied())).build()
    }

    /// A list field that, when present, holds at least one item.
    pub fn non_empty_list() -> Schema {
        ArrayBuilder::new().min_items(Some(1)).build().into()
    }

    /// A list field that, when present, is `null` or holds at least one item.
    pub fn not_emptied() -> Schema {
        OneOfBuilder::new().item(unset()).item(non_empty_list()).build().into()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use utoipa::OpenApi;
    use utoipa::openapi::path::Operation;

    use super::ApiDoc;

    /// `listTicketMessages`: lowerCamelCase, of two words at least (a verb and a noun), so that the handler's own
    /// name (`list`, `list_outbox`), which utoipa takes when none is given, never passes.
    fn is_verb_and_noun(name: &str) -> bool {
        let mut chars = name.chars();
        chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && name.chars().all(|c| c.is_ascii_alphanumeric())
            && name.chars().any(|c| c.is_ascii_uppercase())
    }

    #[test]
    fn every_operation_is_named_once_and_described() {
        let document = ApiDoc::openapi();
        let declared_tags: Vec<String> = document.tags.iter().flatten().map(|tag| tag.name.clone()).collect();
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        let mut problems = Vec::new();
        for (path, item) in &document.paths.paths {
            let operations: [(&str, &Option<Operation>); 8] = [
                ("GET", &item.get),
                ("PUT", &item.put),
                ("POST", &item.post),
                ("DELETE", &item.delete),
                ("OPTIONS", &item.options),
                ("HEAD", &item.head),
                ("PATCH", &item.patch),
                ("TRACE", &item.trace),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation else { continue };
                let at = format!("{method} {path}");
                match operation.operation_id.as_deref() {
                    None => problems.push(format!("{at}: no operation_id")),
                    Some(name) => {
                        if !is_verb_and_noun(name) {
                            problems.push(format!("{at}: operation_id {name:?} is not lowerCamelCase verb and noun"));
                        }
                        if let Some(other) = names.insert(name.to_owned(), at.clone()) {
                            problems.push(format!("{at}: operation_id {name:?} is {other}'s too"));
                        }
                    }
                }
                let tags = operation.tags.as_deref().unwrap_or_default();
                for tag in tags.iter().filter(|tag| !declared_tags.contains(tag)) {
                    problems.push(format!("{at}: tag {tag:?} is not declared in the document's tags"));
                }
                if !path.starts_with("/api/") {
                    continue;
                }
                if tags.is_empty() {
                    problems.push(format!("{at}: no tag"));
                }
                if operation.summary.as_deref().is_none_or(|summary| summary.trim().is_empty()) {
                    problems.push(format!("{at}: no summary (the first line of the handler's doc comment)"));
                }
                for (class, what) in [('2', "success"), ('4', "error")] {
                    if !operation.responses.responses.keys().any(|status| status.starts_with(class)) {
                        problems.push(format!("{at}: no {class}xx ({what}) response"));
                    }
                }
            }
        }
        assert!(problems.is_empty(), "operations not held to the convention:\n{}", problems.join("\n"));
    }

    #[test]
    fn the_convention_test_knows_a_handler_name_from_an_operation_id() {
        for name in ["listOffices", "getOffice", "listTicketMessages", "retryOutboxEntry", "getSlaPolicy"] {
            assert!(is_verb_and_noun(name), "{name}");
        }
        for name in ["list", "get", "list_outbox", "ListOffices", "list-offices", "healthz", ""] {
            assert!(!is_verb_and_noun(name), "{name}");
        }
    }
}
