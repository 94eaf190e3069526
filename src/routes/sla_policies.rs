//! `/api/v1/sla-policies`: first-response and resolution targets per priority (and category).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use uuid::Uuid;

use crate::db::{self, DbPool};
use crate::domain::caller::Caller;
use crate::domain::sla_policies::{self, SlaPolicyInput};
use crate::error::ApiResult;
use crate::routes::extract::ApiJson;
use crate::views::SlaPolicyView;

/// List the SLA policies (staff).
///
/// Each gives the business minutes to the first response and to resolution for one priority, narrowed to one category
/// or covering every category without a narrower policy.
#[utoipa::path(
    get, path = "/api/v1/sla-policies", tag = "service levels", operation_id = "listSlaPolicies",
    responses((status = 200, description = "The policies", body = Vec<SlaPolicyView>))
)]
pub async fn list(pool: web::Data<DbPool>, caller: Caller) -> ApiResult<HttpResponse> {
    let policies = db::run(&pool, move |conn| sla_policies::list(conn, &caller)).await?;
    Ok(HttpResponse::Ok().json(policies.into_iter().map(SlaPolicyView::from).collect::<Vec<_>>()))
}

/// Create an SLA policy (admins and coordinators).
///
/// There is one policy per priority and category. It applies to tickets submitted afterwards and to tickets whose due
/// times are recomputed.
#[utoipa::path(
    post, path = "/api/v1/sla-policies", tag = "service levels", operation_id = "createSlaPolicy",
    request_body = SlaPolicyInput,
    responses((status = 201, description = "Created", body = SlaPolicyView, headers(("Location" = String))))
)]
pub async fn create(pool: web::Data<DbPool>, caller: Caller, body: ApiJson<SlaPolicyInput>) -> ApiResult<HttpResponse> {
    let policy = db::run(&pool, move |conn| sla_policies::create(conn, &caller, body.0)).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/sla-policies/{}", policy.id)))
        .json(SlaPolicyView::from(policy)))
}

/// Read an SLA policy (staff).
///
/// Its targets in business minutes, when it warns and what a breach does.
#[utoipa::path(
    get, path = "/api/v1/sla-policies/{id}", tag = "service levels", operation_id = "getSlaPolicy",
    params(("id" = Uuid, Path, description = "Policy id")),
    responses((status = 200, description = "The policy", body = SlaPolicyView))
)]
pub async fn get(pool: web::Data<DbPool>, caller: Caller, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let policy = db::run(&pool, move |conn| sla_policies::get(conn, &caller, id)).await?;
    Ok(HttpResponse::Ok().json(SlaPolicyView::from(policy)))
}

/// Replace an SLA policy (admins and coordinators).
///
/// The whole policy is sent again. Running tickets keep their due times until they are re-timed (a priority change, a
/// resume after pending).
#[utoipa::path(
    put, path = "/api/v1/sla-policies/{id}", tag = "service levels", operation_id = "replaceSlaPolicy",
    params(("id" = Uuid, Path, description = "Policy id")), request_body = SlaPolicyInput,
    responses((status = 200, description = "The policy", body = SlaPolicyView))
)]
pub async fn replace(
    pool: web::Data<DbPool>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: ApiJson<SlaPolicyInput>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let policy = db::run(&pool, move |conn| sla_policies::update(conn, &caller, id, body.0)).await?;
    Ok(HttpResponse::Ok().json(SlaPolicyView::from(policy)))
}

/// Delete an SLA policy (admins and coordinators).
///
/// Tickets that followed it keep their due times.
#[utoipa::path(
    delete, path = "/api/v1/sla-policies/{id}", tag = "service levels", operation_id = "deleteSlaPolicy",
    params(("id" = Uuid, Path, description = "Policy id")),
    responses((status = 204, description = "Deleted"))
)]
pub async fn delete(pool: web::Data<DbPool>, caller: Caller, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    db::run(&pool, move |conn| sla_policies::delete(conn, &caller, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
