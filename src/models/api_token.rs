//! API tokens, stored as SHA-256 hashes.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::models::User;
use crate::schema::{api_tokens, organizations, users};

/// A token as its owner sees it in a listing: never the secret, only its first characters.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = api_tokens, check_for_backend(diesel::pg::Pg))]
pub struct ApiToken {
    /// Identifier.
    pub id: Uuid,
    /// The owner.
    pub user_id: Uuid,
    /// What the token is for, such as `portal integration`.
    pub label: String,
    /// The first characters of the token, to tell tokens apart.
    pub token_prefix: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last used (updated at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked; a revoked token no longer works.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A new token.
#[derive(Debug, Insertable)]
#[diesel(table_name = api_tokens)]
pub struct NewApiToken {
    /// See [`ApiToken::id`].
    pub id: Uuid,
    /// See [`ApiToken::user_id`].
    pub user_id: Uuid,
    /// See [`ApiToken::label`].
    pub label: String,
    /// SHA-256 of the secret.
    pub token_hash: Vec<u8>,
    /// See [`ApiToken::token_prefix`].
    pub token_prefix: String,
}

/// An unrevoked token's id and last use, with its active owner and the name and country of the owner's
/// organisation.
pub type TokenOwner = (Uuid, Option<DateTime<Utc>>, User, Option<String>, Option<String>);

impl ApiToken {
    /// Inserts a token.
    pub fn insert(conn: &mut PgConnection, new: &NewApiToken) -> QueryResult<ApiToken> {
        diesel::insert_into(api_tokens::table).values(new).returning(ApiToken::as_returning()).get_result(conn)
    }

    /// The active user owning the unrevoked token with this hash, with the token's id and last use.
    pub fn authenticate(conn: &mut PgConnection, token_hash: &[u8]) -> QueryResult<Option<TokenOwner>> {
        api_tokens::table
            .inner_join(users::table.left_join(organizations::table))
            .filter(api_tokens::token_hash.eq(token_hash))
            .filter(api_tokens::revoked_at.is_null())
            .filter(users::active.eq(true))
            .select((
                api_tokens::id,
                api_tokens::last_used_at,
                User::as_select(),
                organizations::name.nullable(),
                organizations::country.nullable(),
            ))
            .first(conn)
            .optional()
    }

    /// Records a use of the token, at most once a minute so that reads do not turn into writes.
    pub fn touch(conn: &mut PgConnection, id: Uuid) -> QueryResult<usize> {
        diesel::update(api_tokens::table.find(id))
            .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
                "(api_tokens.last_used_at IS NULL OR api_tokens.last_used_at < now() - interval '1 minute')",
            ))
            .set(api_tokens::last_used_at.eq(diesel::dsl::now))
            .execute(conn)
    }

    /// Every token of a user, newest first.
    pub fn list_for_user(conn: &mut PgConnection, user_id: Uuid) -> QueryResult<Vec<ApiToken>> {
        api_tokens::table
            .filter(api_tokens::user_id.eq(user_id))
            .order(api_tokens::created_at.desc())
            .select(ApiToken::as_select())
            .load(conn)
    }

    /// Revokes a token of `user_id`; returns it, or `None` when the user has no such token.
    pub fn revoke(conn: &mut PgConnection, user_id: Uuid, token_id: Uuid) -> QueryResult<Option<ApiToken>> {
        diesel::update(api_tokens::table.find(token_id).filter(api_tokens::user_id.eq(user_id)))
            .set(api_tokens::revoked_at.eq(diesel::dsl::sql::<
                diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
            >("coalesce(api_tokens.revoked_at, now())")))
            .returning(ApiToken::as_returning())
            .get_result(conn)
            .optional()
    }
}
