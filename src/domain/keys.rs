//! The key that signs reply addresses and rating links (see [`crate::domain::signed_token`]): `MAIL_SECRET` when it
//! is configured, otherwise one generated once and kept in `app_secrets`, so that every process and every restart
//! agrees on it. Every way in loads it here at start: the HTTP server, the outbox worker, the IMAP poller and the
//! `ingest-email` pipe.

use anyhow::Context;
use diesel::PgConnection;
use rand::Rng;

use crate::db::DbPool;
use crate::models::app_secret::AppSecret;

/// The name of the signing key in `app_secrets` (it signed reply addresses first, hence the name).
pub const SIGNING_KEY: &str = "reply_token_key";

/// The signing key: `configured` (`MAIL_SECRET`) when given, otherwise the stored one, generated on first use.
pub fn signing_key(conn: &mut PgConnection, configured: Option<&str>) -> diesel::QueryResult<Vec<u8>> {
    if let Some(secret) = configured {
        return Ok(secret.as_bytes().to_vec());
    }
    let mut fresh = [0u8; 32];
    rand::rng().fill(&mut fresh);
    AppSecret::get_or_create(conn, SIGNING_KEY, &fresh)
}

/// [`signing_key`] for the long-running processes: from the pool, off the async threads, and without a
/// connection at all when the key is configured.
pub async fn load_signing_key(pool: &DbPool, configured: Option<&str>) -> anyhow::Result<Vec<u8>> {
    if let Some(secret) = configured {
        return Ok(secret.as_bytes().to_vec());
    }
    crate::db::run(pool, |conn| -> anyhow::Result<Vec<u8>> { Ok(signing_key(conn, None)?) })
        .await
        .context("could not load the key that signs reply addresses and rating links")
}
