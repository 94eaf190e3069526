//! `/api/v1/routing-rules`: the ordered rules that send tickets to offices and advisors.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use utoipa::openapi::schema::{Schema, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};
use uuid::Uuid;

use crate::db::{self, DbPool};
use crate::domain::caller::Caller;
use crate::domain::routing_rules::{self, RoutingRuleInput};
use crate::error::ApiResult;
use crate::routes::extract::ApiJson;
use crate::routes::openapi::rules;
use crate::views::RoutingRuleView;

/// The lists a rule matches tickets by.
const MATCHERS: [&str; 5] = ["countries", "categories", "priorities", "organization_ids", "keywords"];

/// The targets a rule sends tickets to, exactly one of which it has.
const TARGETS: [&str; 2] = ["target_office_id", "target_advisor_id"];

/// Exactly one target has a value: `oneOf` refuses a body that fits both shapes.
fn exactly_one_target() -> Schema {
    rules::exactly_one(
        "Exactly one target",
        TARGETS.map(|target| {
            rules::shape(&format!("Sets {target}"))
                .property(target, rules::set(Type::String))
                .required(target)
                .build()
                .into()
        }),
    )
}

/// Registers [`RoutingRuleInput`], the fields both documented bodies are made of.
fn input_schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
    schemas.push((RoutingRuleInput::name().into_owned(), RoutingRuleInput::schema()));
    RoutingRuleInput::schemas(schemas);
}

/// The documented body of `POST /api/v1/routing-rules`: [`RoutingRuleInput`] with a name, at least one matcher
/// and exactly one target (the checks of [`routing_rules::insert`]).
pub struct CreateRoutingRule;

impl PartialSchema for CreateRoutingRule {
    fn schema() -> RefOr<Schema> {
        let named = rules::shape("Named").property("name", rules::set(Type::String)).required("name");
        let matchers = MATCHERS.map(|field| {
            rules::shape(&format!("Matches by {field}"))
                .property(field, rules::non_empty_list())
                .required(field)
                .build()
                .into()
        });
        rules::all(
            "A new routing rule: a name, at least one non-empty matcher list (countries, categories, priorities, \
             organization_ids or keywords) and exactly one target (target_office_id or target_advisor_id).",
            Ref::from_schema_name(RoutingRuleInput::name()),
            [named.build().into(), rules::at_least_one("At least one matcher", matchers), exactly_one_target()],
        )
        .into()
    }
}

impl ToSchema for CreateRoutingRule {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        input_schemas(schemas);
    }
}

/// The documented body of `PATCH /api/v1/routing-rules/{id}`: [`RoutingRuleInput`], where absent fields stay,
/// giving one target replaces the other, and the matcher lists are not all emptied (the checks of
/// [`routing_rules::update`]).
pub struct UpdateRoutingRule;

impl PartialSchema for UpdateRoutingRule {
    fn schema() -> RefOr<Schema> {
        let at_most_one_target = rules::at_least_one(
            "At most one target: giving one replaces the other",
            TARGETS.map(|target| {
                rules::shape(&format!("Leaves {target} without a value"))
                    .property(target, rules::unset())
                    .build()
                    .into()
            }),
        );
        let matchers = MATCHERS.map(|field| {
            rules::shape(&format!("Leaves {field} absent or not empty"))
                .property(field, rules::not_emptied())
                .build()
                .into()
        });
        rules::all(
            "Changes to a routing rule; absent fields stay as they are. At most one target: giving one replaces the \
             other. The matcher lists must not all be emptied.",
            Ref::from_schema_name(RoutingRuleInput::name()),
            [at_most_one_target, rules::at_least_one("Some matcher left", matchers)],
        )
        .into()
    }
}

impl ToSchema for UpdateRoutingRule {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        input_schemas(schemas);
    }
}

/// List the routing rules (staff).
///
/// In the order they are tried: the first active rule that matches a ticket decides where it goes.
#[utoipa::path(
    get, path = "/api/v1/routing-rules", tag = "routing", operation_id = "listRoutingRules",
    responses((status = 200, description = "The rules, first tried first", body = Vec<RoutingRuleView>))
)]
pub async fn list(pool: web::Data<DbPool>, caller: Caller) -> ApiResult<HttpResponse> {
    let rules = db::run(&pool, move |conn| routing_rules::list(conn, &caller)).await?;
    Ok(HttpResponse::Ok().json(rules.into_iter().map(RoutingRuleView::from).collect::<Vec<_>>()))
}

/// Create a routing rule (admins and coordinators).
///
/// It needs a name, at least one matcher (countries, categories, priorities, organisations or keywords) and exactly one
/// target (an office or an advisor). Without `position` it goes to the end of the list.
#[utoipa::path(
    post, path = "/api/v1/routing-rules", tag = "routing", operation_id = "createRoutingRule",
    request_body = CreateRoutingRule,
    responses((status = 201, description = "Created", body = RoutingRuleView, headers(("Location" = String))))
)]
pub async fn create(
    pool: web::Data<DbPool>,
    caller: Caller,
    body: ApiJson<RoutingRuleInput>,
) -> ApiResult<HttpResponse> {
    let rule = db::run(&pool, move |conn| routing_rules::create(conn, &caller, body.0)).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/routing-rules/{}", rule.id)))
        .json(RoutingRuleView::from(rule)))
}

/// Read a routing rule (staff).
///
/// Its matchers, its target, its position in the list and whether it is active.
#[utoipa::path(
    get, path = "/api/v1/routing-rules/{id}", tag = "routing", operation_id = "getRoutingRule",
    params(("id" = Uuid, Path, description = "Rule id")),
    responses((status = 200, description = "The rule", body = RoutingRuleView))
)]
pub async fn get(pool: web::Data<DbPool>, caller: Caller, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let rule = db::run(&pool, move |conn| routing_rules::get(conn, &caller, id)).await?;
    Ok(HttpResponse::Ok().json(RoutingRuleView::from(rule)))
}

/// Change a routing rule (admins and coordinators).
///
/// Absent fields stay as they are, and giving one target replaces the other. The changed rule still needs a name, a
/// matcher and one target.
#[utoipa::path(
    patch, path = "/api/v1/routing-rules/{id}", tag = "routing", operation_id = "updateRoutingRule",
    params(("id" = Uuid, Path, description = "Rule id")),
    request_body = UpdateRoutingRule,
    responses((status = 200, description = "The changed rule", body = RoutingRuleView))
)]
pub async fn update(
    pool: web::Data<DbPool>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: ApiJson<RoutingRuleInput>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let rule = db::run(&pool, move |conn| routing_rules::update(conn, &caller, id, body.0)).await?;
    Ok(HttpResponse::Ok().json(RoutingRuleView::from(rule)))
}

/// Delete a routing rule (admins and coordinators).
///
/// Tickets it routed stay where they are.
#[utoipa::path(
    delete, path = "/api/v1/routing-rules/{id}", tag = "routing", operation_id = "deleteRoutingRule",
    params(("id" = Uuid, Path, description = "Rule id")),
    responses((status = 204, description = "Deleted"))
)]
pub async fn delete(pool: web::Data<DbPool>, caller: Caller, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    db::run(&pool, move |conn| routing_rules::delete(conn, &caller, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
