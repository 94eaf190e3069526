//! `/api/v1/advisors`: advisor profiles (expertise, languages, capacity, availability) and their load.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::db::{self, DbPool};
use crate::domain::advisors::{self, AdvisorView, UpdateAdvisor};
use crate::domain::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::routes::extract::ApiJson;

/// Filters of the advisor listing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListAdvisors {
    /// Only advisors of this office.
    #[param(value_type = Option<Uuid>)]
    pub office_id: Option<String>,
}

/// List advisors (staff).
///
/// Every advisor with their routing profile (categories, languages, capacity, availability) and current load;
/// `office_id` narrows the list to one office.
#[utoipa::path(
    get, path = "/api/v1/advisors", tag = "routing", operation_id = "listAdvisors", params(ListAdvisors),
    responses((status = 200, description = "The advisors", body = Vec<AdvisorView>))
)]
pub async fn list(pool: web::Data<DbPool>, caller: Caller, query: web::Query<ListAdvisors>) -> ApiResult<HttpResponse> {
    let office_id = query
        .office_id
        .as_deref()
        .map(|v| Uuid::parse_str(v.trim()).map_err(|_| ApiError::invalid("office_id", "must be a uuid")))
        .transpose()?;
    let advisors = db::run(&pool, move |conn| advisors::list(conn, &caller, office_id)).await?;
    Ok(HttpResponse::Ok().json(advisors))
}

/// Read an advisor (staff).
///
/// The advisor's routing profile and current load, by their user id.
#[utoipa::path(
    get, path = "/api/v1/advisors/{id}", tag = "routing", operation_id = "getAdvisor",
    params(("id" = Uuid, Path, description = "The advisor's user id")),
    responses((status = 200, description = "The advisor", body = AdvisorView))
)]
pub async fn get(pool: web::Data<DbPool>, caller: Caller, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let advisor = db::run(&pool, move |conn| advisors::get(conn, &caller, id)).await?;
    Ok(HttpResponse::Ok().json(advisor))
}

/// Change an advisor's profile.
///
/// Admins and coordinators change anything; advisors only their own availability (`available` and `away_until`).
/// Setting an advisor away (`available: false`) hands their open tickets to colleagues or the office queue.
#[utoipa::path(
    patch, path = "/api/v1/advisors/{id}", tag = "routing", operation_id = "updateAdvisor",
    params(("id" = Uuid, Path, description = "The advisor's user id")),
    request_body = UpdateAdvisor,
    responses((status = 200, description = "The changed advisor", body = AdvisorView))
)]
pub async fn update(
    pool: web::Data<DbPool>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: ApiJson<UpdateAdvisor>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let advisor = db::run(&pool, move |conn| advisors::update(conn, &caller, id, body.0)).await?;
    Ok(HttpResponse::Ok().json(advisor))
}
