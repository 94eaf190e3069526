//! The database: connection pool, the helper that runs diesel off the async workers, migrations, and
//! creating the database itself on first start; [`embedded`] is the private cluster used when no `DATABASE_URL` is
//! set.

use std::time::Duration;

use anyhow::Context;
use diesel::r2d2::{ConnectionManager, Pool, PooledConnection};
use diesel::{Connection, PgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub mod embedded;
pub mod notify;

/// Migrations compiled into the binary, applied by `civicdesk migrate` and at start.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// A pool of PostgreSQL connections.
pub type DbPool = Pool<ConnectionManager<PgConnection>>;

/// A connection checked out of [`DbPool`].
pub type DbConn = PooledConnection<ConnectionManager<PgConnection>>;

/// Builds the pool without opening connections yet; the first checkout connects.
pub fn build_pool(database_url: &str, max_size: u32, timeout: Duration) -> anyhow::Result<DbPool> {
    Pool::builder()
        .max_size(max_size)
        .min_idle(Some(max_size.min(2)))
        .connection_timeout(timeout)
        .test_on_check_out(false)
        .build(ConnectionManager::new(database_url))
        .context("could not connect to PostgreSQL")
}

/// Why [`run`] could not run its work at all.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// No connection could be checked out in time: the database is down or the pool is saturated.
    #[error("no database connection available: {0}")]
    NoConnection(#[from] diesel::r2d2::PoolError),
    /// The work panicked (a bug, or input that trips one): running it again would panic again.
    #[error("the database task panicked: {0}")]
    Panicked(String),
    /// The runtime is shutting down and cancelled the work before it ran.
    #[error("the database task was cancelled: {0}")]
    Cancelled(String),
}

/// Runs blocking diesel work on the runtime's blocking thread pool, never on an async worker.
///
/// The connection is checked out inside the blocking thread, so waiting for a free connection does not stall the
/// event loop either. The work's own error type is kept; failing to run it at all becomes `E` through
/// `From<RunError>` (for the API: 503 when no connection is to be had).
pub async fn run<T, E, F>(pool: &DbPool, work: F) -> Result<T, E>
where
    F: FnOnce(&mut PgConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<RunError> + Send + 'static,
{
    let pool = pool.clone();
    let span = tracing::Span::current();
    let joined = tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        let mut conn = pool.get().map_err(RunError::from)?;
        let result = work(&mut conn);
        if result.is_err() {
            discard_if_dead(&mut conn);
        }
        result
    })
    .await;
    match joined {
        Ok(result) => result,
        Err(join) if join.is_panic() => Err(RunError::Panicked(join.to_string()).into()),
        Err(join) => Err(RunError::Cancelled(join.to_string()).into()),
    }
}

/// Keeps a connection the server has closed (a PostgreSQL restart, a terminated backend) from going back into
/// the pool: diesel only reports a connection broken when a transaction was left open, so a failed plain query
/// would hand the dead connection to request after request. Checked only after a failure, with one `SELECT 1`.
fn discard_if_dead(conn: &mut PgConnection) {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    use diesel::r2d2::R2D2Connection;
    if conn.ping().is_err() {
        // r2d2 drops a connection whose transaction manager is in error instead of returning it to the pool.
        AnsiTransactionManager::transaction_manager_status_mut(conn).set_in_error();
    }
}

/// Creates the database if needed, applies pending migrations and returns the connection used
/// (command-line tasks need no pool).
pub fn connect_and_migrate(database_url: &str) -> anyhow::Result<PgConnection> {
    ensure_database_exists(database_url)?;
    let mut conn = PgConnection::establish(database_url).context("could not connect to PostgreSQL")?;
    run_migrations(&mut conn)?;
    Ok(conn)
}

/// Serialises transactions that work on the same `key` (within `namespace`) until they end: a
/// transaction-scoped PostgreSQL advisory lock on a 64-bit hash of both.
pub fn advisory_xact_lock(conn: &mut PgConnection, namespace: &str, key: &[u8]) -> diesel::QueryResult<()> {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new().chain_update(namespace.as_bytes()).chain_update([0]).chain_update(key).finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
        .bind::<diesel::sql_types::BigInt, _>(i64::from_be_bytes(first))
        .execute(conn)
        .map(|_| ())
}

/// One `SELECT 1`: whether the database answers on this connection.
pub fn ping(conn: &mut PgConnection) -> diesel::QueryResult<()> {
    diesel::sql_query("SELECT 1").execute(conn).map(|_| ())
}

/// Lets the current transaction commit without waiting for its WAL to reach the disk (`synchronous_commit`
/// off, for this transaction only): for writes that a later synchronous commit makes durable anyway.
pub fn commit_without_flush(conn: &mut PgConnection) -> diesel::QueryResult<()> {
    diesel::sql_query("SET LOCAL synchronous_commit TO OFF").execute(conn).map(|_| ())
}

/// The advisory lock that serialises migrations when several processes start at once.
const MIGRATION_LOCK: i64 = 0x6369_7669_6364_6b01;

/// Applies every pending migration, one process at a time.
pub fn run_migrations(conn: &mut PgConnection) -> anyhow::Result<()> {
    let lock = |conn: &mut PgConnection, function: &str| {
        diesel::sql_query(format!("SELECT {function}({MIGRATION_LOCK})"))
            .execute(conn)
            .with_context(|| format!("{function} for migrations failed"))
    };
    lock(conn, "pg_advisory_lock")?;
    let applied = conn.run_pending_migrations(MIGRATIONS).map(|_| ());
    lock(conn, "pg_advisory_unlock")?;
    applied.map_err(|error| anyhow::anyhow!("applying migrations failed: {error}"))
}

/// Creates the database named in `database_url` if it does not exist yet, connecting to the server's
/// `postgres` maintenance database to do so.
pub fn ensure_database_exists(database_url: &str) -> anyhow::Result<()> {
    if PgConnection::establish(database_url).is_ok() {
        return Ok(());
    }
    let (server_url, name) = split_database_url(database_url)?;
    let mut conn = PgConnection::establish(&format!("{server_url}/postgres{}", query_part(database_url)))
        .with_context(|| format!("could not connect to the PostgreSQL server to create database {name:?}"))?;
    let exists: bool = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
        "EXISTS (SELECT 1 FROM pg_database WHERE datname = {})",
        quote_literal(&name)
    )))
    .get_result(&mut conn)?;
    if !exists {
        let created = diesel::sql_query(format!("CREATE DATABASE {}", quote_identifier(&name))).execute(&mut conn);
        match created {
            Ok(_) => tracing::info!(database = %name, "created database"),
            // Another process starting at the same moment may have created it first.
            Err(_) if PgConnection::establish(database_url).is_ok() => {}
            Err(error) => return Err(error).with_context(|| format!("could not create database {name:?}")),
        }
    }
    Ok(())
}

/// Splits `postgres://user@host:port/name?options` into the server part and the database name (percent-decoded).
pub fn split_database_url(database_url: &str) -> anyhow::Result<(String, String)> {
    let url = url::Url::parse(database_url).context("DATABASE_URL is not a URL")?;
    anyhow::ensure!(url.has_authority(), "DATABASE_URL names no server (postgres://user@host:port/name)");
    let name = percent_encoding::percent_decode_str(url.path().trim_start_matches('/'))
        .decode_utf8()
        .context("DATABASE_URL names a database that is not UTF-8")?
        .into_owned();
    anyhow::ensure!(!name.is_empty(), "DATABASE_URL names no database");
    let mut server = url;
    server.set_path("");
    server.set_query(None);
    server.set_fragment(None);
    Ok((server.into(), name))
}

/// The query of `database_url` with its `?` (connection options such as `sslmode`), or nothing.
fn query_part(database_url: &str) -> String {
    url::Url::parse(database_url).ok().and_then(|url| url.query().map(|query| format!("?{query}"))).unwrap_or_default()
}

/// Quotes a PostgreSQL identifier.
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_url_into_server_and_name() {
        let (server, name) =
            split_database_url("postgres://postgres@127.0.0.1:5432/civicdesk?sslmode=disable").expect("valid url");
        assert_eq!(server, "postgres://postgres@127.0.0.1:5432");
        assert_eq!(name, "civicdesk");
        assert!(split_database_url("postgres://host/").is_err());
        assert!(split_database_url("postgres://host").is_err());
        assert!(split_database_url("host=localhost dbname=civicdesk").is_err());
        let (server, name) = split_database_url("postgresql://u:p%40ss@[::1]:5433/help%20desk%2Ftest").unwrap();
        assert_eq!((server.as_str(), name.as_str()), ("postgresql://u:p%40ss@[::1]:5433", "help desk/test"));
        let (server, name) = split_database_url("postgres:///civicdesk?host=/run/postgresql").unwrap();
        assert_eq!((server.as_str(), name.as_str()), ("postgres://", "civicdesk"));
        assert_eq!(query_part("postgres://h/d?sslmode=disable&x=%20"), "?sslmode=disable&x=%20");
        assert_eq!(query_part("postgres://h/d"), "");
    }

    #[test]
    fn quotes_identifiers() {
        assert_eq!(quote_identifier(r#"a"b"#), r#""a""b""#);
    }
}
