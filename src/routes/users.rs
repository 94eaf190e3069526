//! `/api/v1/users`: people, and their API tokens.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{Schema, Type};
use utoipa::{IntoParams, PartialSchema, ToSchema};
use uuid::Uuid;

use crate::db::{self, DbPool};
use crate::domain::caller::{AuthCache, Caller};
use crate::domain::users::{self, CreateToken, CreateUser, UpdateUser};
use crate::error::{ApiError, ApiResult};
use crate::models::user::UserFilter;
use crate::routes::extract::{ApiJson, OptionalApiJson};
use crate::routes::openapi::rules;
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

/// The documented body of `POST /api/v1/users`: [`CreateUser`], with the office or organisation each role needs
/// (the checks of [`users::create`]).
pub struct CreateUserBody;

impl PartialSchema for CreateUserBody {
    fn schema() -> RefOr<Schema> {
        let requester = rules::shape("A requester: in an organisation, in no office")
            .property("role", rules::value_in(&["requester"]))
            .required("role")
            .property("organization_id", rules::set(Type::String))
            .required("organization_id")
            .property("office_id", rules::unset());
        let office_staff = rules::shape("An advisor or coordinator: in an office, in no organisation")
            .property("role", rules::value_in(&["advisor", "coordinator"]))
            .required("role")
            .property("office_id", rules::set(Type::String))
            .required("office_id")
            .property("organization_id", rules::unset());
        let admin = rules::shape("An admin: in an office or none, in no organisation")
            .property("role", rules::value_in(&["admin"]))
            .required("role")
            .property("organization_id", rules::unset());
        rules::all(
            "A new user. Requesters need `organization_id` and no office; advisors and coordinators need \
             `office_id` and no organisation; admins may have an office and have no organisation.",
            CreateUser::schema(),
            [rules::exactly_one(
                "The office or organisation the role needs",
                [requester.build().into(), office_staff.build().into(), admin.build().into()],
            )],
        )
        .into()
    }
}

impl ToSchema for CreateUserBody {
    fn name() -> Cow<'static, str> {
        CreateUser::name()
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        CreateUser::schemas(schemas);
    }
}

/// The documented body of `PATCH /api/v1/users/{id}`: [`UpdateUser`], with the combinations of role, office and
/// organisation that [`users::update`] refuses whatever the user was before.
pub struct UpdateUserBody;

impl PartialSchema for UpdateUserBody {
    fn schema() -> RefOr<Schema> {
        let requester = rules::shape("Becomes or stays a requester: no office")
            .property("role", rules::value_in(&["requester"]))
            .required("role")
            .property("organization_id", rules::set(Type::String))
            .property("office_id", rules::unset());
        let office_staff = rules::shape("Becomes or stays an advisor or coordinator: no organisation")
            .property("role", rules::value_in(&["advisor", "coordinator"]))
            .required("role")
            .property("office_id", rules::set(Type::String))
            .property("organization_id", rules::unset());
        let admin = rules::shape("Becomes or stays an admin: no organisation")
            .property("role", rules::value_in(&["admin"]))
            .required("role")
            .property("organization_id", rules::unset());
        let same_role = rules::all(
            "Keeps the role: the office or organisation given must fit it",
            rules::shape("Keeps the role").property("role", rules::unset()).build(),
            [rules::at_least_one(
                "Never both an office and an organisation",
                [
                    rules::shape("No new office").property("office_id", rules::unset()).build().into(),
                    rules::shape("No new organisation").property("organization_id", rules::unset()).build().into(),
                ],
            )],
        );
        rules::all(
            "Changes to a user; absent fields stay as they are. Users may change their own name and language; the \
             rest is for admins. The result must fit the role: requesters have an organisation and no office, \
             advisors and coordinators an office and no organisation, admins no organisation (`null` clears a \
             field).",
            UpdateUser::schema(),
            [rules::exactly_one(
                "The role, and the office or organisation it allows",
                [requester.build().into(), office_staff.build().into(), admin.build().into(), same_role],
            )],
        )
        .into()
    }
}

impl ToSchema for UpdateUserBody {
    fn name() -> Cow<'static, str> {
        UpdateUser::name()
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        UpdateUser::schemas(schemas);
    }
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
///
/// Requesters belong to an organisation and advisors and coordinators to an office; admins may have an office. The
/// email address is unique, in any case. Answers the user, with its URL in `Location`; `POST /api/v1/users/{id}/tokens`
/// gives them a token.
#[utoipa::path(
    post, path = "/api/v1/users", tag = "users", operation_id = "createUser", request_body = CreateUserBody,
    responses((status = 201, description = "Created", body = UserView, headers(("Location" = String))))
)]
pub async fn create(pool: web::Data<DbPool>, caller: Caller, body: ApiJson<CreateUser>) -> ApiResult<HttpResponse> {
    let user = db::run(&pool, move |conn| users::create(conn, &caller, body.0)).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/users/{}", user.id)))
        .json(UserView::from(user)))
}

/// List users (staff).
///
/// In creation order, narrowed by role, office, organisation or whether they are active, and paged with `limit` and
/// `cursor`.
#[utoipa::path(
    get, path = "/api/v1/users", tag = "users", operation_id = "listUsers", params(ListUsers),
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

/// Read a user.
///
/// `me` reads the caller. Staff read anyone, requesters only themselves.
#[utoipa::path(
    get, path = "/api/v1/users/{id}", tag = "users", operation_id = "getUser",
    params(("id" = String, Path, description = "User id, or `me`")),
    responses((status = 200, description = "The user", body = UserView))
)]
pub async fn get(pool: web::Data<DbPool>, caller: Caller, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let id = user_id(&id, &caller)?;
    let user = db::run(&pool, move |conn| users::get(conn, &caller, id)).await?;
    Ok(HttpResponse::Ok().json(UserView::from(user)))
}

/// Change a user.
///
/// Admins change anything (`active: false` deactivates); users change their own name and language. Role, office and
/// organisation must fit together, and the last active admin stays one.
#[utoipa::path(
    patch, path = "/api/v1/users/{id}", tag = "users", operation_id = "updateUser",
    params(("id" = String, Path, description = "User id, or `me`")),
    request_body = UpdateUserBody,
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

/// Create an API token for a user.
///
/// The user themselves or an admin. The secret is in the answer, once: send it as `Authorization: Bearer <token>`. An
/// inactive user gets no token (409).
#[utoipa::path(
    post, path = "/api/v1/users/{id}/tokens", tag = "users", operation_id = "createUserToken",
    params(("id" = String, Path, description = "User id, or `me`")),
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

/// List a user's API tokens.
///
/// The user themselves or an admin, newest first. Secrets are never shown.
#[utoipa::path(
    get, path = "/api/v1/users/{id}/tokens", tag = "users", operation_id = "listUserTokens",
    params(("id" = String, Path, description = "User id, or `me`")),
    responses((status = 200, description = "The tokens, newest first", body = Vec<ApiTokenView>))
)]
pub async fn list_tokens(pool: web::Data<DbPool>, caller: Caller, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let id = user_id(&id, &caller)?;
    let tokens = db::run(&pool, move |conn| users::list_tokens(conn, &caller, id)).await?;
    Ok(HttpResponse::Ok().json(tokens.into_iter().map(ApiTokenView::from).collect::<Vec<_>>()))
}

/// Revoke an API token.
///
/// The user themselves or an admin; it stops working at once.
#[utoipa::path(
    delete, path = "/api/v1/users/{id}/tokens/{token_id}", tag = "users", operation_id = "revokeUserToken",
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

/// Deactivate a user (admins).
///
/// The same as `PATCH {"active": false}`. Their tokens stop working at once and, for an advisor, their open tickets are
/// routed to colleagues. Users are never deleted: the audit trail names them.
#[utoipa::path(
    delete, path = "/api/v1/users/{id}", tag = "users", operation_id = "deactivateUser",
    params(("id" = String, Path, description = "User id")),
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
