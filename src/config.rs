//! Settings, read from the environment (and a `.env` file, if present) and checked at start.
//!
//! Every variable is documented in `docs/configuration.md` and `.env.example`. Secrets are never logged:
//! [`Settings`] prints the database URL without its password.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};

/// The default database: a local PostgreSQL with trust authentication.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/civicdesk";

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Everything the service needs to know to run.
#[derive(Clone)]
pub struct Settings {
    /// PostgreSQL connection URL.
    pub database_url: String,
    /// Most connections the pool opens.
    pub database_pool_size: u32,
    /// How long a request waits for a free connection before it gets a 503.
    pub database_pool_timeout: Duration,
    /// Where the HTTP server listens; port 0 picks a free port.
    pub listen_address: SocketAddr,
    /// HTTP worker threads.
    pub http_workers: usize,
    /// Log format.
    pub log_format: LogFormat,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &redact_url(&self.database_url))
            .field("database_pool_size", &self.database_pool_size)
            .field("database_pool_timeout", &self.database_pool_timeout)
            .field("listen_address", &self.listen_address)
            .field("http_workers", &self.http_workers)
            .field("log_format", &self.log_format)
            .finish()
    }
}

/// Hides the password in a URL such as `postgres://user:secret@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let Some(at) = url[scheme_end..].find('@').map(|i| i + scheme_end) else {
        return url.to_owned();
    };
    match url[scheme_end..at].find(':') {
        Some(colon) => format!("{}:***{}", &url[..scheme_end + colon], &url[at..]),
        None => url.to_owned(),
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn parsed<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(raw) => raw.parse().map_err(|error| anyhow::anyhow!("{name}={raw:?} is not valid: {error}")),
    }
}

impl Settings {
    /// Reads the settings from the environment, loading `.env` first if there is one.
    pub fn from_env() -> anyhow::Result<Settings> {
        // A missing .env is normal; a malformed one is worth knowing about.
        if let Err(error) = dotenvy::dotenv()
            && !error.not_found()
        {
            return Err(error).context("could not read .env");
        }
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let settings = Settings {
            database_url: var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()),
            database_pool_size: parsed("DATABASE_POOL_SIZE", 10)?,
            database_pool_timeout: Duration::from_millis(parsed("DATABASE_POOL_TIMEOUT_MS", 5_000)?),
            listen_address: parsed("LISTEN_ADDRESS", SocketAddr::from(([127, 0, 0, 1], 8080)))?,
            http_workers: parsed("HTTP_WORKERS", cores)?,
            log_format: match var("LOG_FORMAT").as_deref() {
                None | Some("text") => LogFormat::Text,
                Some("json") => LogFormat::Json,
                Some(other) => bail!("LOG_FORMAT={other:?} is not valid: use text or json"),
            },
        };
        settings.validate()?;
        Ok(settings)
    }

    /// Settings for a database URL with every other value at its default (tests and tools).
    pub fn for_database(database_url: &str) -> Settings {
        Settings {
            database_url: database_url.to_owned(),
            database_pool_size: 10,
            database_pool_timeout: Duration::from_secs(5),
            listen_address: SocketAddr::from(([127, 0, 0, 1], 0)),
            http_workers: 2,
            log_format: LogFormat::Text,
        }
    }

    /// Checks values that parse but make no sense.
    pub fn validate(&self) -> anyhow::Result<()> {
        if !(self.database_url.starts_with("postgres://") || self.database_url.starts_with("postgresql://")) {
            bail!("DATABASE_URL must start with postgres:// or postgresql://");
        }
        if !(1..=500).contains(&self.database_pool_size) {
            bail!("DATABASE_POOL_SIZE must be between 1 and 500");
        }
        if !(1..=256).contains(&self.http_workers) {
            bail!("HTTP_WORKERS must be between 1 and 256");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(redact_url("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("postgres://h/db"), "postgres://h/db");
    }
}
