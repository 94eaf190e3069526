//! Users and their API tokens: who may create, change and see them, and the first admin.

use diesel::{Connection, PgConnection};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::caller::Caller;
use crate::domain::error::{DomainError, DomainResult, FieldError};
use crate::domain::tokens;
use crate::domain::values::{self, Checks, NAME_MAX};
use crate::domain::{advisors, routing};
use crate::models::api_token::NewApiToken;
use crate::models::user::{NewUser, UserChanges, UserFilter};
use crate::models::{AdvisorProfile, ApiToken, Office, Organization, User};
use crate::vocabulary::Role;

/// Longest token label accepted.
const LABEL_MAX: usize = 100;

/// A new user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Full name.
    #[schema(min_length = 1, max_length = 200, example = "Arben Hoxha")]
    pub name: String,
    /// Email address, unique (case-insensitive).
    #[schema(example = "arben@example.org")]
    pub email: String,
    /// Preferred language (BCP 47); `en` when absent.
    #[schema(example = "sq")]
    pub language: Option<String>,
    /// The role.
    pub role: Role,
    /// The office: required for advisors and coordinators, optional for admins, not allowed for requesters.
    pub office_id: Option<Uuid>,
    /// The organisation: required for requesters, not allowed for staff.
    pub organization_id: Option<Uuid>,
}

/// Changes to a user; absent fields stay as they are. Users may change their own name and language; the
/// rest is for admins.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    /// See [`CreateUser::name`].
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    /// See [`CreateUser::language`].
    pub language: Option<String>,
    /// See [`CreateUser::role`].
    pub role: Option<Role>,
    /// See [`CreateUser::office_id`]; `null` clears it.
    #[serde(default, deserialize_with = "crate::domain::patch::nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub office_id: Option<Option<Uuid>>,
    /// See [`CreateUser::organization_id`]; `null` clears it.
    #[serde(default, deserialize_with = "crate::domain::patch::nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub organization_id: Option<Option<Uuid>>,
    /// `false` deactivates the user: their tokens stop working at once.
    pub active: Option<bool>,
}

/// A new token's label.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// What the token is for; `api` when absent.
    #[schema(min_length = 1, max_length = 100, example = "portal integration")]
    pub label: Option<String>,
}

/// A token just created: the only time its secret is shown.
#[derive(Debug)]
pub struct CreatedToken {
    /// The token as listed from now on.
    pub token: ApiToken,
    /// The secret, to send as `Authorization: Bearer <token>`. It cannot be shown again.
    pub token_secret: String,
}

/// Checks that a role and its affiliation fit together (the same rule as the `users_role_affiliation` CHECK).
fn check_affiliation(role: Role, office: Option<Uuid>, organization: Option<Uuid>) -> Result<(), FieldError> {
    match role {
        Role::Requester if organization.is_none() => {
            Err(FieldError::new("organization_id", "is required for requesters"))
        }
        Role::Requester if office.is_some() => Err(FieldError::new("office_id", "must be empty for requesters")),
        Role::Advisor | Role::Coordinator if office.is_none() => {
            Err(FieldError::new("office_id", "is required for advisors and coordinators"))
        }
        Role::Advisor | Role::Coordinator | Role::Admin if organization.is_some() => {
            Err(FieldError::new("organization_id", "must be empty for staff"))
        }
        _ => Ok(()),
    }
}

/// Checks that the office and organisation a user (or a webhook's filter) names exist.
pub(crate) fn check_references(
    conn: &mut PgConnection,
    office: Option<Uuid>,
    organization: Option<Uuid>,
    checks: &mut Checks,
) -> DomainResult<()> {
    if let Some(office) = office
        && Office::find(conn, office)?.is_none()
    {
        checks.fail("office_id", "no such office");
    }
    if let Some(organization) = organization
        && Organization::find(conn, organization)?.is_none()
    {
        checks.fail("organization_id", "no such organization");
    }
    Ok(())
}

/// Creates a user (admins).
pub fn create(conn: &mut PgConnection, caller: &Caller, input: CreateUser) -> DomainResult<User> {
    caller.require_admin()?;
    let mut checks = Checks::default();
    let name = checks.check(values::bounded_text("name", &input.name, NAME_MAX, false));
    let email = checks.check(values::email("email", &input.email));
    let language = checks.check(values::language("language", input.language.as_deref().unwrap_or("en")));
    checks.check(check_affiliation(input.role, input.office_id, input.organization_id));
    check_references(conn, input.office_id, input.organization_id, &mut checks)?;
    checks.finish()?;
    let new = NewUser {
        id: Uuid::now_v7(),
        name,
        email,
        language,
        role: input.role,
        office_id: input.office_id,
        organization_id: input.organization_id,
    };
    conn.transaction(|conn| {
        let user = User::insert(conn, &new)?;
        advisors::ensure_profile(conn, &user)?;
        Ok(user)
    })
}

/// Changes a user: admins anything, users their own name and language.
pub fn update(conn: &mut PgConnection, caller: &Caller, id: Uuid, input: UpdateUser) -> DomainResult<User> {
    caller.require_self_or_admin(id)?;
    let admin_only =
        input.role.is_some() || input.office_id.is_some() || input.organization_id.is_some() || input.active.is_some();
    if admin_only {
        caller.require_admin()?;
    }
    conn.transaction(|conn| {
        let user = User::find(conn, id)?.ok_or(DomainError::NotFound("user"))?;
        let mut checks = Checks::default();
        let changes = UserChanges {
            name: input.name.map(|v| checks.check(values::bounded_text("name", &v, NAME_MAX, false))),
            language: input.language.map(|v| checks.check(values::language("language", &v))),
            role: input.role,
            office_id: input.office_id,
            organization_id: input.organization_id,
            active: input.active,
        };
        let role = changes.role.unwrap_or(user.role);
        let office = changes.office_id.unwrap_or(user.office_id);
        let organization = changes.organization_id.unwrap_or(user.organization_id);
        checks.check(check_affiliation(role, office, organization));
        check_references(conn, changes.office_id.flatten(), changes.organization_id.flatten(), &mut checks)?;
        checks.finish()?;
        let stops_being_admin =
            user.role == Role::Admin && user.active && (role != Role::Admin || changes.active == Some(false));
        if stops_being_admin && User::count_active_admins(conn)? <= 1 {
            return Err(DomainError::Conflict("this is the last active admin; make another admin first".to_owned()));
        }
        if changes.is_empty() {
            return Ok(user);
        }
        let was_routable = user.role == Role::Advisor && user.active;
        // Their open tickets and then their profile, in the order every change to a ticket takes them: routing
        // re-checks only the profile row when it locks it, so the profile says whether they can take work.
        routing::lock_for_release(conn, id)?;
        let updated = User::update(conn, id, &changes)?;
        advisors::ensure_profile(conn, &updated)?;
        let routable = updated.role == Role::Advisor && updated.active;
        AdvisorProfile::set_routable(conn, id, routable)?;
        if was_routable && !routable {
            routing::release_tickets(conn, id, Some(caller.id()))?;
        }
        Ok(updated)
    })
}

/// One user: staff see anyone, requesters only themselves.
pub fn get(conn: &mut PgConnection, caller: &Caller, id: Uuid) -> DomainResult<User> {
    if !caller.is_staff() && caller.id() != id {
        return Err(DomainError::NotFound("user"));
    }
    User::find(conn, id)?.ok_or(DomainError::NotFound("user"))
}

/// Users (staff).
pub fn list(conn: &mut PgConnection, caller: &Caller, filter: UserFilter) -> DomainResult<Vec<User>> {
    caller.require_staff()?;
    Ok(User::list(conn, &filter)?)
}

/// Creates a token for `user_id` (the user themselves or an admin) and returns its secret once.
pub fn create_token(
    conn: &mut PgConnection,
    caller: &Caller,
    user_id: Uuid,
    input: CreateToken,
) -> DomainResult<CreatedToken> {
    caller.require_self_or_admin(user_id)?;
    let label = input
        .label
        .map(|label| values::bounded_text("label", &label, LABEL_MAX, false))
        .transpose()
        .map_err(|error| DomainError::Invalid(vec![error]))?
        .unwrap_or_else(|| "api".to_owned());
    let user = User::find(conn, user_id)?.ok_or(DomainError::NotFound("user"))?;
    if !user.active {
        return Err(DomainError::Conflict("the user is inactive; reactivate them first".to_owned()));
    }
    issue_token(conn, user.id, label)
}

fn issue_token(conn: &mut PgConnection, user_id: Uuid, label: String) -> DomainResult<CreatedToken> {
    let secret = tokens::generate();
    let token = ApiToken::insert(
        conn,
        &NewApiToken {
            id: Uuid::now_v7(),
            user_id,
            label,
            token_hash: secret.hash,
            token_prefix: secret.display_prefix,
        },
    )?;
    Ok(CreatedToken { token, token_secret: secret.secret })
}

/// The tokens of `user_id` (the user themselves or an admin).
pub fn list_tokens(conn: &mut PgConnection, caller: &Caller, user_id: Uuid) -> DomainResult<Vec<ApiToken>> {
    caller.require_self_or_admin(user_id)?;
    User::find(conn, user_id)?.ok_or(DomainError::NotFound("user"))?;
    Ok(ApiToken::list_for_user(conn, user_id)?)
}

/// Revokes a token of `user_id` (the user themselves or an admin); revoking twice is harmless.
pub fn revoke_token(conn: &mut PgConnection, caller: &Caller, user_id: Uuid, token_id: Uuid) -> DomainResult<ApiToken> {
    caller.require_self_or_admin(user_id)?;
    ApiToken::revoke(conn, user_id, token_id)?.ok_or(DomainError::NotFound("token"))
}

/// Creates the administrator `email` if there is no such user, and returns a fresh token for them.
///
/// Running it again for an existing admin issues another token; an existing non-admin user is refused.
pub fn bootstrap_admin(conn: &mut PgConnection, email: &str, name: &str) -> DomainResult<(User, String)> {
    let mut checks = Checks::default();
    let email = checks.check(values::email("email", email));
    let name = checks.check(values::bounded_text("name", name, NAME_MAX, false));
    checks.finish()?;
    conn.transaction(|conn| {
        let user = match User::find_by_email(conn, &email)? {
            Some(user) if user.role == Role::Admin => {
                if !user.active {
                    let changes = UserChanges { active: Some(true), ..UserChanges::default() };
                    User::update(conn, user.id, &changes)?
                } else {
                    user
                }
            }
            Some(_) => {
                return Err(DomainError::Conflict(format!("{email} belongs to a user who is not an admin")));
            }
            None => User::insert(
                conn,
                &NewUser {
                    id: Uuid::now_v7(),
                    name,
                    email,
                    language: "en".to_owned(),
                    role: Role::Admin,
                    office_id: None,
                    organization_id: None,
                },
            )?,
        };
        let token = issue_token(conn, user.id, "bootstrap".to_owned())?;
        Ok((user, token.token_secret))
    })
}
