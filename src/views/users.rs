//! People and their API tokens as the API shows them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::users::CreatedToken;
use crate::models::{ApiToken, User};
use crate::vocabulary::Role;

/// A person who uses the help desk.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = User)]
pub struct UserView {
    /// Identifier.
    pub id: Uuid,
    /// Full name.
    pub name: String,
    /// Email address; unique, compared case-insensitively.
    pub email: String,
    /// Preferred language (BCP 47), used for notifications.
    pub language: String,
    /// What the user may do.
    pub role: Role,
    /// The office of a staff member.
    pub office_id: Option<Uuid>,
    /// The organisation of a requester.
    pub organization_id: Option<Uuid>,
    /// Inactive users cannot sign in and get no work.
    pub active: bool,
    /// When the user was created.
    pub created_at: DateTime<Utc>,
    /// When the user last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        UserView {
            id: user.id,
            name: user.name,
            email: user.email,
            language: user.language,
            role: user.role,
            office_id: user.office_id,
            organization_id: user.organization_id,
            active: user.active,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

/// A token as its owner sees it in a listing: never the secret, only its first characters.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = ApiToken)]
pub struct ApiTokenView {
    /// Identifier.
    pub id: Uuid,
    /// The owner.
    pub user_id: Uuid,
    /// What the token is for, such as `portal integration`.
    pub label: String,
    /// The first characters of the token, to tell tokens apart.
    pub prefix: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last used (updated at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked; a revoked token no longer works.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiToken> for ApiTokenView {
    fn from(token: ApiToken) -> Self {
        ApiTokenView {
            id: token.id,
            user_id: token.user_id,
            label: token.label,
            prefix: token.token_prefix,
            created_at: token.created_at,
            last_used_at: token.last_used_at,
            revoked_at: token.revoked_at,
        }
    }
}

/// A token just created: the only time its secret is shown.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CreatedToken)]
pub struct CreatedTokenView {
    /// The token as listed from now on.
    #[serde(flatten)]
    pub token: ApiTokenView,
    /// The secret, to send as `Authorization: Bearer <token>`. It cannot be shown again.
    pub token_secret: String,
}

impl From<CreatedToken> for CreatedTokenView {
    fn from(created: CreatedToken) -> Self {
        CreatedTokenView { token: created.token.into(), token_secret: created.token_secret }
    }
}
