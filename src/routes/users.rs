//! `/api/v1/users`: people, and their API tokens.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::db::{self, DbPool};
use crate::domain::caller::{AuthCache, Caller};
use crate::domain::users::{self, CreateToken, CreateUser, UpdateUser};
use crate::error::{ApiError, ApiResult};
use crate::models::user::UserFilter;
use crate::routes::extract::{ApiJson, OptionalApiJson};
use crate::routes::{IdCursor, page_limit, vocabulary_filter};
use crate::views::{ApiTokenView, CreatedTokenView, UserView};
use crate::vocabulary::Role;

/// One page of users.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    /// The users of this page, in creation order.
    pub items: Vec<UserView>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Filters and page of a user listing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListUsers {
    /// Only this role.
    #[param(value_type = Option<Role>)]
    pub role: Option<String>,
    /// Only staff of this office.
    #[param(value_type = Option<Uuid>)]
    pub office_id: Option<String>,
    /// Only people of this organisation.
    #[param(value_type = Option<Uuid>)]
    pub organization_id: Option<String>,
    /// Only active (`true`) or inactive (`false`) users.
    #[param(value_type = Option<bool>)]
    pub active: Option<String>,
    /// Page size, 1 to 100 (default 25).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A user path parameter: a uuid, or `me` for the caller.
fn user_id(raw: &str, caller: &Caller) -> ApiResult<Uuid> {
    if raw == "me" {
        return Ok(caller.id());
    }
    Uuid::parse_str(raw).map_err(|_| ApiError::NotFound("user"))
}

fn optional_uuid(name: &str, value: Option<&str>) -> ApiResult<Option<Uuid>> {
    value.map(|v| Uuid::parse_str(v.trim()).map_err(|_| ApiError::invalid(name, "must be a uuid"))).transpose()
}

/// Create a user (admins).
#[utoipa::path(
    post, path = "/api/v1/users", tag = "users", request_body = CreateUser,
    responses((status = 201, description = "Created", body = UserView, headers(("Location" = String))))
)]
pub async fn create(pool: web::Data<DbPool>, caller: Caller, body: ApiJson<CreateUser>) -> ApiResult<HttpResponse> {
    let user = db::run(&pool, move |conn| users::create(conn, &caller, body.0)).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/users/{}", user.id)))
        .json(UserView::from(user)))
}

/// List users (staff).
#[utoipa::path(
    get, path = "/api/v1/users", tag = "users", params(ListUsers),
    responses((status = 200, description = "One page of users", body = UserPage))
)]
pub async fn list(pool: web::Data<DbPool>, caller: Caller, query: web::Query<ListUsers>) -> ApiResult<HttpResponse> {
    let query = query.into_inner();
    let limit = page_limit(query.limit.as_deref())?;
    let filter = UserFilter {
        role: vocabulary_filter::<Role>("role", query.role.as_deref())?,
        office_id: optional_uuid("office_id", query.office_id.as_deref())?,
        organization_id: optional_uuid("organization_id", query.organization_id.as_deref())?,
        active: match query.active.as_deref().map(str::trim) {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(_) => return Err(ApiError::invalid("active", "must be true or false")),
        },
        after: IdCursor::decode(query.cursor.as_deref())?,
        limit: limit + 1,
    };
    let mut items = db::run(&pool, move |conn| users::list(conn, &caller, filter)).await?;
    let next_cursor = IdCursor::next_page(&mut items, limit, |u| u.id);
    let items = items.into_iter().map(UserView::from).collect();
    Ok(HttpResponse::Ok().json(UserPage { items, next_cursor }))
}

/// Read a user (`me` for the caller): staff see anyone, requesters only themselves.
#[utoipa::path(
    get, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path, description = "User id, or `me`")),
    responses((status = 200, description = "The user", body = UserView))
)]
pub async fn get(pool: web::Data<DbPool>, caller: Caller, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let id = user_id(&id, &caller)?;
    let user = db::run(&pool, move |conn| users::get(conn, &caller, id)).await?;
    Ok(HttpResponse::Ok().json(UserView::from(user)))
}

/// Change a user: admins anything (`active: false` deactivates), users their own name and language.
#[utoipa::path(
    patch, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path, description = "User id, or `me`")),
    request_body = UpdateUser,
    responses((status = 200, description = "The changed user", body = UserView))
)]
pub async fn update(
    pool: web::Data<DbPool>,
    cache: web::Data<AuthCache>,
    caller: Caller,
    id: web::Path<String>,
    body: ApiJson<UpdateUser>,
) -> ApiResult<HttpResponse> {
    let id = user_id(&id, &caller)?;
    let user = db::run(&pool, move |conn| users::update(conn, &caller, id, body.0)).await?;
    cache.clear();
    Ok(HttpResponse::Ok().json(UserView::from(user)))
}

/// Create an API token for a user (the user themselves or an admin). The secret is in the answer, once.
#[utoipa::path(
    post, path = "/api/v1/users/{id}/tokens", tag = "users", params(("id" = String, Path, description = "User id, or `me`")),
    request_body(content = Option<CreateToken>, description = "Optional: a label for the token", content_type = "application/json"),
    responses((status = 201, description = "The token and its secret", body = CreatedTokenView))
)]
pub async fn create_token(
    pool: web::Data<DbPool>,
    caller: Caller,
    id: web::Path<String>,
    body: OptionalApiJson<CreateToken>,
) -> ApiResult<HttpResponse> {
    let id = user_id(&id, &caller)?;
    let token = db::run(&pool, move |conn| users::create_token(conn, &caller, id, body.0)).await?;
    Ok(HttpResponse::Created().json(CreatedTokenView::from(token)))
}

/// List a user's tokens (the user themselves or an admin); secrets are never shown.
#[utoipa::path(
    get, path = "/api/v1/users/{id}/tokens", tag = "users", params(("id" = String, Path, description = "User id, or `me`")),
    responses((status = 200, description = "The tokens, newest first", body = Vec<ApiTokenView>))
)]
pub async fn list_tokens(pool: web::Data<DbPool>, caller: Caller, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let id = user_id(&id, &caller)?;
    let tokens = db::run(&pool, move |conn| users::list_tokens(conn, &caller, id)).await?;
    Ok(HttpResponse::Ok().json(tokens.into_iter().map(ApiTokenView::from).collect::<Vec<_>>()))
}

/// Revoke a token (the user themselves or an admin); it stops working at once.
#[utoipa::path(
    delete, path = "/api/v1/users/{id}/tokens/{token_id}", tag = "users",
    params(("id" = String, Path, description = "User id, or `me`"), ("token_id" = Uuid, Path, description = "Token id")),
    responses((status = 200, description = "The revoked token", body = ApiTokenView))
)]
pub async fn revoke_token(
    pool: web::Data<DbPool>,
    cache: web::Data<AuthCache>,
    caller: Caller,
    path: web::Path<(String, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (user, token_id) = path.into_inner();
    let user_id = user_id(&user, &caller)?;
    let token = db::run(&pool, move |conn| users::revoke_token(conn, &caller, user_id, token_id)).await?;
    cache.clear();
    Ok(HttpResponse::Ok().json(ApiTokenView::from(token)))
}

/// Deactivate a user (admins): the same as `PATCH {"active": false}`. Their tokens stop working at once and, for an
/// advisor, their open tickets are routed to colleagues. Users are never deleted: the audit trail names them.
#[utoipa::path(
    delete, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path, description = "User id")),
    responses((status = 200, description = "The deactivated user", body = UserView))
)]
pub async fn deactivate(
    pool: web::Data<DbPool>,
    cache: web::Data<AuthCache>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = user_id(&id, &caller)?;
    let input = UpdateUser { active: Some(false), ..UpdateUser::default() };
    let user = db::run(&pool, move |conn| users::update(conn, &caller, id, input)).await?;
    cache.clear();
    Ok(HttpResponse::Ok().json(UserView::from(user)))
}
