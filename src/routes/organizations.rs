//! `/api/v1/organizations`: the CSOs.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::db::{self, DbPool};
use crate::domain::caller::{AuthCache, Caller};
use crate::domain::organizations::{self, CreateOrganization, OrganizationQuery, UpdateOrganization};
use crate::error::{ApiError, ApiResult};
use crate::routes::extract::ApiJson;
use crate::routes::{IdCursor, page_limit};
use crate::views::OrganizationView;

/// One page of organisations.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationPage {
    /// The organisations of this page, in creation order.
    pub items: Vec<OrganizationView>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Filters and page of an organisation listing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListOrganizations {
    /// Only this country (ISO 3166-1 alpha-2).
    #[param(pattern = "^([A-Za-z]{2})?$")]
    pub country: Option<String>,
    /// Only names containing this text (case-insensitive).
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// Page size, 1 to 100 (default 25).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Create an organisation (admins and coordinators).
///
/// The registration number is unique within the country. An email domain must be the organisation's own, never a public
/// webmail domain; only admins mark it verified (`email_domain_verified`), and only then do people writing from it for
/// the first time join the organisation.
#[utoipa::path(
    post, path = "/api/v1/organizations", tag = "organizations", operation_id = "createOrganization",
    request_body = CreateOrganization,
    responses((status = 201, description = "Created", body = OrganizationView, headers(("Location" = String))))
)]
pub async fn create(
    pool: web::Data<DbPool>,
    caller: Caller,
    body: ApiJson<CreateOrganization>,
) -> ApiResult<HttpResponse> {
    let organization = db::run(&pool, move |conn| organizations::create(conn, &caller, body.0)).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/organizations/{}", organization.id)))
        .json(OrganizationView::from(organization)))
}

/// List organisations.
///
/// Staff see all, requesters only their own; `country` and `q` (part of the name) narrow the list, paged with `limit`
/// and `cursor`.
#[utoipa::path(
    get, path = "/api/v1/organizations", tag = "organizations", operation_id = "listOrganizations",
    params(ListOrganizations),
    responses((status = 200, description = "One page of organisations", body = OrganizationPage))
)]
pub async fn list(
    pool: web::Data<DbPool>,
    caller: Caller,
    query: web::Query<ListOrganizations>,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner();
    let limit = page_limit(query.limit.as_deref())?;
    let name_contains = match query.q.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(q) if q.chars().count() > 200 => {
            return Err(ApiError::invalid("q", "must be at most 200 characters"));
        }
        Some(q) => Some(q.to_owned()),
    };
    let filter = OrganizationQuery {
        country: query
            .country
            .as_deref()
            .filter(|c| !c.trim().is_empty())
            .map(|c| crate::routes::tickets::country_filter("country", c))
            .transpose()?,
        name_contains,
        after: IdCursor::decode(query.cursor.as_deref())?,
        limit: limit + 1,
    };
    let mut items = db::run(&pool, move |conn| organizations::list(conn, &caller, filter)).await?;
    let next_cursor = IdCursor::next_page(&mut items, limit, |o| o.id);
    let items = items.into_iter().map(OrganizationView::from).collect();
    Ok(HttpResponse::Ok().json(OrganizationPage { items, next_cursor }))
}

/// Read an organisation.
///
/// Staff read any organisation, requesters only their own (404 for any other).
#[utoipa::path(
    get, path = "/api/v1/organizations/{id}", tag = "organizations", operation_id = "getOrganization",
    params(("id" = Uuid, Path, description = "Organisation id")),
    responses((status = 200, description = "The organisation", body = OrganizationView))
)]
pub async fn get(pool: web::Data<DbPool>, caller: Caller, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let organization = db::run(&pool, move |conn| organizations::get(conn, &caller, id)).await?;
    Ok(HttpResponse::Ok().json(OrganizationView::from(organization)))
}

/// Change an organisation (admins and coordinators).
///
/// Absent fields stay as they are; `null` clears the registration number or the email domain. A changed email domain is
/// unverified again unless `email_domain_verified` (admins only) is set in the same request.
#[utoipa::path(
    patch, path = "/api/v1/organizations/{id}", tag = "organizations", operation_id = "updateOrganization",
    params(("id" = Uuid, Path, description = "Organisation id")),
    request_body = UpdateOrganization,
    responses((status = 200, description = "The changed organisation", body = OrganizationView))
)]
pub async fn update(
    pool: web::Data<DbPool>,
    cache: web::Data<AuthCache>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: ApiJson<UpdateOrganization>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let organization = db::run(&pool, move |conn| organizations::update(conn, &caller, id, body.0)).await?;
    // Cached callers carry their organisation (its country routes their submissions).
    cache.clear();
    Ok(HttpResponse::Ok().json(OrganizationView::from(organization)))
}
