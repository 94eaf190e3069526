//! `/api/v1/routing-rules`: the ordered rules that send tickets to offices and advisors.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use uuid::Uuid;

use crate::db::{self, DbPool};
use crate::domain::caller::Caller;
use crate::domain::routing_rules::{self, RoutingRuleInput};
use crate::error::ApiResult;
use crate::routes::extract::ApiJson;
use crate::views::RoutingRuleView;

/// List the rules in the order they are tried (staff).
#[utoipa::path(
    get, path = "/api/v1/routing-rules", tag = "routing",
    responses((status = 200, description = "The rules, first tried first", body = Vec<RoutingRuleView>))
)]
pub async fn list(pool: web::Data<DbPool>, caller: Caller) -> ApiResult<HttpResponse> {
    let rules = db::run(&pool, move |conn| routing_rules::list(conn, &caller)).await?;
    Ok(HttpResponse::Ok().json(rules.into_iter().map(RoutingRuleView::from).collect::<Vec<_>>()))
}

/// Create a rule (admins and coordinators). It needs a name, at least one matcher and exactly one target.
#[utoipa::path(
    post, path = "/api/v1/routing-rules", tag = "routing", request_body = RoutingRuleInput,
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

/// Read a rule (staff).
#[utoipa::path(
    get, path = "/api/v1/routing-rules/{id}", tag = "routing", params(("id" = Uuid, Path, description = "Rule id")),
    responses((status = 200, description = "The rule", body = RoutingRuleView))
)]
pub async fn get(pool: web::Data<DbPool>, caller: Caller, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let rule = db::run(&pool, move |conn| routing_rules::get(conn, &caller, id)).await?;
    Ok(HttpResponse::Ok().json(RoutingRuleView::from(rule)))
}

/// Change a rule (admins and coordinators); absent fields stay as they are.
#[utoipa::path(
    patch, path = "/api/v1/routing-rules/{id}", tag = "routing", params(("id" = Uuid, Path, description = "Rule id")),
    request_body = RoutingRuleInput,
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

/// Delete a rule (admins and coordinators).
#[utoipa::path(
    delete, path = "/api/v1/routing-rules/{id}", tag = "routing", params(("id" = Uuid, Path, description = "Rule id")),
    responses((status = 204, description = "Deleted"))
)]
pub async fn delete(pool: web::Data<DbPool>, caller: Caller, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    db::run(&pool, move |conn| routing_rules::delete(conn, &caller, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
