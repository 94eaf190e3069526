//! Settings, read from the environment (and a `.env` file, if present) and checked at start.
//!
//! Every variable is documented in `docs/configuration.md` and `.env.example`. Secrets are never logged:
//! [`Settings`] prints the database URL without its password.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::db::embedded::{self, ClusterConfig};

mod metrics;
pub use metrics::{DEFAULT_METRICS_CACHE, MetricsSettings, parse_networks};

/// The database civicdesk uses in its embedded cluster.
pub const EMBEDDED_DATABASE: &str = "civicdesk";

/// The default pause between IMAP polls (`IMAP_POLL_SECS`).
pub const DEFAULT_IMAP_POLL: Duration = Duration::from_secs(60);

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Outbound email.
#[derive(Clone)]
pub struct MailSettings {
    /// `smtp://host:port`, `smtp://user:pass@host:587?tls=required` (STARTTLS) or `smtps://user:pass@host:465`;
    /// `None` writes messages to [`MailSettings::outbox_dir`] instead.
    pub smtp_url: Option<String>,
    /// The From header, such as `civicdesk <support@example.org>`.
    pub from: String,
    /// The address replies go to; notifications use `local+<signed token>@domain` of it.
    pub reply_to: String,
    /// The domain of the Message-IDs the service creates.
    pub message_id_domain: String,
    /// Where messages are written when no SMTP server is configured.
    pub outbox_dir: PathBuf,
    /// The key that signs reply addresses; generated once and kept in the database when not set.
    pub secret: Option<String>,
    /// Most SMTP connections one process keeps open.
    pub smtp_pool_size: u32,
    /// How long one SMTP exchange may take.
    pub smtp_timeout: Duration,
    /// The address people reach the API at, without a trailing slash; the satisfaction links in emails
    /// point there.
    pub public_url: String,
    /// The most bytes of files a notification carries attached (`MAIL_ATTACHMENTS_MAX_BYTES`); above it the
    /// email links them instead.
    pub attachments_max_bytes: u64,
}

/// The outbox delivery worker.
#[derive(Clone, Debug)]
pub struct WorkerSettings {
    /// Whether `civicdesk serve` runs the worker too (`civicdesk worker` always does).
    pub in_serve: bool,
    /// How often an idle worker looks for due notifications.
    pub poll_interval: Duration,
    /// How many notifications one worker takes at a time.
    pub batch_size: i64,
    /// Attempts before a notification is given up (dead letter).
    pub max_attempts: i32,
    /// The delay after the first failed attempt; it doubles with each further one.
    pub retry_base: Duration,
    /// The longest delay between attempts.
    pub retry_max: Duration,
    /// How long a worker holds notifications it took; after that, another worker may take them.
    pub lease: Duration,
    /// How often the escalation scheduler looks for tickets whose service-level targets are near or past.
    pub sla_interval: Duration,
}

/// Inbound email.
#[derive(Clone)]
pub struct InboundMailSettings {
    /// The bearer secret of `POST /api/v1/inbound/email`; the endpoint is off without it.
    pub http_secret: Option<String>,
    /// The largest message taken in, in bytes.
    pub max_message_bytes: usize,
    /// The largest attachment kept, in bytes.
    pub max_attachment_bytes: usize,
    /// Most attachments kept from one message.
    pub max_attachments: usize,
    /// Which files are kept (`ATTACHMENT_ALLOWED_TYPES`; see [`crate::domain::files`]).
    pub file_policy: crate::domain::files::FilePolicy,
    /// Whether mail from unknown senders outside every organisation's domain opens tickets (in the
    /// "Unaffiliated" queue) or is refused.
    pub accept_unknown_senders: bool,
    /// The country of the "Unaffiliated" organisation; the regional office's when not set.
    pub unaffiliated_country: Option<String>,
    /// The authserv-id of our own MTA's `Authentication-Results` header (RFC 8601); only its DMARC/DKIM verdicts
    /// count, and only they let staff act by email without their own reply token.
    pub trusted_authserv_id: Option<String>,
    /// Most new tickets that mail from one address may open in an hour.
    pub new_tickets_per_sender_hour: u32,
}

/// The IMAP mailbox to poll for inbound mail.
#[derive(Clone)]
pub struct ImapSettings {
    /// The server's host name.
    pub host: String,
    /// The server's port (993 for `imaps://`, 143 for `imap://` unless the URL names one).
    pub port: u16,
    /// How the session is protected.
    pub tls: ImapTls,
    /// The login.
    pub user: String,
    /// The password.
    pub password: String,
    /// The folder to take messages from.
    pub folder: String,
    /// Where taken messages go; without it they are flagged \Seen.
    pub move_to: Option<String>,
    /// Where messages that can never be taken in (malformed, too large) go; without it they are flagged
    /// \Seen \Flagged and stay in the folder.
    pub failed_folder: Option<String>,
    /// Extra CA certificates (PEM) to trust, such as a private CA's.
    pub ca_file: Option<String>,
    /// The pause between polls when the server cannot IDLE, and the longest pause after a failure.
    pub poll_interval: Duration,
}

/// How the IMAP session is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImapTls {
    /// `imaps://`: TLS from the first byte.
    Implicit,
    /// `imap://`: the session is upgraded with STARTTLS before the login, and refused if it cannot be.
    StartTls,
    /// `imap://` with `IMAP_ALLOW_PLAINTEXT=true`: STARTTLS when the server offers it, plaintext otherwise (for
    /// a server on the same machine).
    StartTlsIfOffered,
}

/// What `IMAP_URL` says: `imaps://user:password@host:993/Folder` or `imap://user:password@host:143/Folder`.
#[derive(Clone, PartialEq, Eq)]
pub struct ImapUrl {
    /// How the session is protected (`imap://` means STARTTLS).
    pub tls: ImapTls,
    /// The server's host name or address.
    pub host: String,
    /// The port, 993 or 143 by default.
    pub port: u16,
    /// The login, percent-decoded.
    pub user: String,
    /// The password, percent-decoded.
    pub password: String,
    /// The folder, percent-decoded; INBOX when the URL names none.
    pub folder: String,
}

impl fmt::Debug for ImapUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImapUrl")
            .field("tls", &self.tls)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("folder", &self.folder)
            .finish_non_exhaustive()
    }
}

/// Why `IMAP_URL` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ImapUrlError {
    /// Not a URL at all.
    #[error("IMAP_URL is not a URL: {0}")]
    Syntax(#[from] url::ParseError),
    /// A scheme other than imaps:// and imap://.
    #[error("IMAP_URL must start with imaps:// (TLS) or imap:// (STARTTLS), not {0}://")]
    Scheme(String),
    /// No host.
    #[error("IMAP_URL names no host")]
    NoHost,
    /// No user or password.
    #[error("IMAP_URL needs user:password@ (percent-encode @, : and / in them)")]
    NoCredentials,
    /// A percent-encoded part that is not UTF-8.
    #[error("IMAP_URL: the {0} is not UTF-8 once percent-decoded")]
    Encoding(&'static str),
}

impl ImapUrl {
    /// Reads an IMAP URL; user, password and folder are percent-decoded.
    pub fn parse(text: &str) -> Result<ImapUrl, ImapUrlError> {
        let url = url::Url::parse(text)?;
        let (tls, default_port) = match url.scheme() {
            "imaps" => (ImapTls::Implicit, 993),
            "imap" => (ImapTls::StartTls, 143),
            other => return Err(ImapUrlError::Scheme(other.to_owned())),
        };
        let host = match url.host() {
            Some(url::Host::Domain(name)) if !name.is_empty() => name.to_owned(),
            Some(url::Host::Ipv4(address)) => address.to_string(),
            Some(url::Host::Ipv6(address)) => address.to_string(),
            _ => return Err(ImapUrlError::NoHost),
        };
        let password = url.password().ok_or(ImapUrlError::NoCredentials)?;
        if url.username().is_empty() {
            return Err(ImapUrlError::NoCredentials);
        }
        let folder = decode(url.path().trim_start_matches('/'), "folder")?;
        Ok(ImapUrl {
            tls,
            host,
            port: url.port().unwrap_or(default_port),
            user: decode(url.username(), "user")?,
            password: decode(password, "password")?,
            folder: if folder.is_empty() { "INBOX".to_owned() } else { folder },
        })
    }
}

fn decode(text: &str, what: &'static str) -> Result<String, ImapUrlError> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| ImapUrlError::Encoding(what))
}

impl ImapSettings {
    /// Settings for `imaps://user:password@host:port/Folder` or `imap://...` (STARTTLS), with the defaults for
    /// everything the URL does not say.
    pub fn from_url(url: &str) -> anyhow::Result<ImapSettings> {
        let url = ImapUrl::parse(url)?;
        Ok(ImapSettings {
            host: url.host,
            port: url.port,
            tls: url.tls,
            user: url.user,
            password: url.password,
            folder: url.folder,
            move_to: None,
            failed_folder: None,
            ca_file: None,
            poll_interval: DEFAULT_IMAP_POLL,
        })
    }
}

/// Everything the service needs to know to run.
#[derive(Clone)]
pub struct Settings {
    /// PostgreSQL connection URL: `DATABASE_URL`, or the embedded cluster's socket URL.
    pub database_url: String,
    /// The private cluster civicdesk runs itself when `DATABASE_URL` is not set (`None` when it is).
    pub embedded_database: Option<ClusterConfig>,
    /// Most connections the pool opens.
    pub database_pool_size: u32,
    /// How long a request waits for a free connection before it gets a 503.
    pub database_pool_timeout: Duration,
    /// How long a process remembers an authenticated token (zero: every request checks the database).
    pub auth_cache: Duration,
    /// Most notifications one person is sent in an hour (`NOTIFICATIONS_PER_HOUR`); more are dropped and logged.
    pub notifications_per_hour: i64,
    /// The network's default language (`DEFAULT_LANGUAGE`, a BCP 47 tag): a saved reply without a body in the
    /// requester's language uses this one's, then English.
    pub default_language: String,
    /// Where the HTTP server listens; port 0 picks a free port.
    pub listen_address: SocketAddr,
    /// HTTP worker threads.
    pub http_workers: usize,
    /// Log format.
    pub log_format: LogFormat,
    /// Outbound email.
    pub mail: MailSettings,
    /// The outbox worker.
    pub worker: WorkerSettings,
    /// Inbound email.
    pub inbound: InboundMailSettings,
    /// The IMAP mailbox polled by workers and `civicdesk fetch-mail`, if any.
    pub imap: Option<ImapSettings>,
    /// How many days a satisfaction link works after it was sent (`SATISFACTION_LINK_DAYS`, 1 to 3650).
    pub satisfaction_link_days: u16,
    /// Who may read `GET /metrics`, and how long its database figures are reused.
    pub metrics: MetricsSettings,
    /// Files sent through the API: sizes, counts, lifetime of uploads, accepted types.
    pub uploads: crate::domain::uploads::UploadLimits,
    /// How webhooks are delivered (`WEBHOOK_*`).
    pub webhooks: crate::domain::webhooks::WebhookSettings,
    /// The API's rate limits (`RATE_LIMIT*`).
    pub rate_limit: crate::domain::rate_limits::RateLimitSettings,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &redact_url(&self.database_url))
            .field("embedded_database", &self.embedded_database)
            .field("database_pool_size", &self.database_pool_size)
            .field("database_pool_timeout", &self.database_pool_timeout)
            .field("listen_address", &self.listen_address)
            .field("http_workers", &self.http_workers)
            .field("log_format", &self.log_format)
            .field("smtp_url", &self.mail.smtp_url.as_deref().map(redact_url))
            .field("mail_from", &self.mail.from)
            .field("mail_reply_to", &self.mail.reply_to)
            .field("worker", &self.worker)
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

/// The `WEBHOOK_*` settings.
fn webhook_settings() -> anyhow::Result<crate::domain::webhooks::WebhookSettings> {
    let defaults = crate::domain::webhooks::WebhookSettings::default();
    let hours = |name: &str, default: Duration| -> anyhow::Result<Duration> {
        let hours: u64 = parsed(name, default.as_secs() / 3600)?;
        if !(1..=24 * 365).contains(&hours) {
            bail!("{name} must be between 1 and 8760 (a year)");
        }
        Ok(Duration::from_secs(hours * 3600))
    };
    let settings = crate::domain::webhooks::WebhookSettings {
        allow_http: parsed("WEBHOOK_ALLOW_HTTP", false)?,
        allow_private: parsed("WEBHOOK_ALLOW_PRIVATE", false)?,
        resolve: crate::domain::webhooks::parse_resolve(&var("WEBHOOK_RESOLVE").unwrap_or_default())
            .map_err(|why| anyhow::anyhow!("WEBHOOK_RESOLVE: {why}"))?,
        timeout: Duration::from_secs(parsed("WEBHOOK_TIMEOUT_SECS", defaults.timeout.as_secs())?.clamp(1, 60)),
        retry_base: Duration::from_millis(parsed("WEBHOOK_RETRY_BASE_MS", 30_000)?),
        retry_max: Duration::from_millis(parsed("WEBHOOK_RETRY_MAX_MS", 7_200_000)?),
        give_up_after: hours("WEBHOOK_GIVE_UP_HOURS", defaults.give_up_after)?,
        disable_after: hours("WEBHOOK_DISABLE_AFTER_HOURS", defaults.disable_after)?,
        batch_size: parsed("WEBHOOK_BATCH_SIZE", defaults.batch_size)?,
    };
    if !(1..=1000).contains(&settings.batch_size) {
        bail!("WEBHOOK_BATCH_SIZE must be between 1 and 1000");
    }
    if settings.retry_base < Duration::from_millis(100) || settings.retry_max < settings.retry_base {
        bail!("WEBHOOK_RETRY_BASE_MS must be at least 100, and WEBHOOK_RETRY_MAX_MS at least WEBHOOK_RETRY_BASE_MS");
    }
    Ok(settings)
}

/// The `RATE_LIMIT*` settings.
fn rate_limit_settings() -> anyhow::Result<crate::domain::rate_limits::RateLimitSettings> {
    let defaults = crate::domain::rate_limits::RateLimitSettings::default();
    let enabled = match var("RATE_LIMIT").as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("on") | Some("true") => true,
        Some("off") | Some("false") => false,
        Some(other) => bail!("RATE_LIMIT={other:?} is not valid: use on or off"),
    };
    let per_minute = |name: &str, default: i32| -> anyhow::Result<i32> {
        let value: i32 = parsed(name, default)?;
        if value < 1 {
            bail!("{name} must be at least 1");
        }
        Ok(value)
    };
    Ok(crate::domain::rate_limits::RateLimitSettings {
        enabled,
        reads_per_minute: per_minute("RATE_LIMIT_READS_PER_MINUTE", defaults.reads_per_minute)?,
        writes_per_minute: per_minute("RATE_LIMIT_WRITES_PER_MINUTE", defaults.writes_per_minute)?,
        auth_failures_per_minute: per_minute("RATE_LIMIT_AUTH_FAILURES_PER_MINUTE", defaults.auth_failures_per_minute)?,
        trust_forwarded: parsed("RATE_LIMIT_TRUST_FORWARDED", false)?,
    })
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
        // Without DATABASE_URL, the private cluster of `civicdesk-data/` (see `db::embedded`).
        let (database_url, embedded_database) = match var("DATABASE_URL") {
            Some(url) => (url, None),
            None => {
                let chosen = var("CIVICDESK_DATA_DIR");
                let data_dir = chosen.clone().unwrap_or_else(|| embedded::DEFAULT_DATA_DIR.to_owned());
                let mut cluster = ClusterConfig::new(data_dir, var("POSTGRES_BIN_DIR").map(PathBuf::from));
                cluster.default_location = chosen.is_none();
                (cluster.database_url(EMBEDDED_DATABASE)?, Some(cluster))
            }
        };
        let mut settings = Settings {
            database_url,
            embedded_database,
            database_pool_size: parsed("DATABASE_POOL_SIZE", 10)?,
            database_pool_timeout: Duration::from_millis(parsed("DATABASE_POOL_TIMEOUT_MS", 5_000)?),
            auth_cache: Duration::from_millis(parsed("AUTH_CACHE_MS", 2_000)?),
            notifications_per_hour: parsed(
                "NOTIFICATIONS_PER_HOUR",
                crate::domain::notifications::MAX_NOTIFICATIONS_PER_HOUR,
            )?,
            default_language: match var("DEFAULT_LANGUAGE") {
                None => "en".to_owned(),
                Some(raw) => crate::domain::values::language("DEFAULT_LANGUAGE", &raw)
                    .map_err(|error| anyhow::anyhow!("DEFAULT_LANGUAGE={raw:?} is not valid: {}", error.message))?,
            },
            listen_address: parsed("LISTEN_ADDRESS", SocketAddr::from(([127, 0, 0, 1], 8080)))?,
            http_workers: parsed("HTTP_WORKERS", cores)?,
            log_format: match var("LOG_FORMAT").as_deref() {
                None | Some("text") => LogFormat::Text,
                Some("json") => LogFormat::Json,
                Some(other) => bail!("LOG_FORMAT={other:?} is not valid: use text or json"),
            },
            mail: MailSettings::from_env()?,
            worker: WorkerSettings {
                in_serve: parsed("OUTBOX_WORKER", true)?,
                poll_interval: Duration::from_millis(parsed("OUTBOX_POLL_MS", 1_000)?),
                batch_size: parsed("OUTBOX_BATCH_SIZE", 32)?,
                max_attempts: parsed("MAIL_MAX_ATTEMPTS", 8)?,
                retry_base: Duration::from_millis(parsed("MAIL_RETRY_BASE_MS", 30_000)?),
                retry_max: Duration::from_millis(parsed("MAIL_RETRY_MAX_MS", 3_600_000)?),
                lease: Duration::from_secs(parsed("OUTBOX_LEASE_SECS", 120)?),
                sla_interval: Duration::from_secs(parsed("SLA_CHECK_SECS", 30)?),
            },
            inbound: InboundMailSettings {
                http_secret: var("INBOUND_SECRET"),
                max_message_bytes: parsed("INBOUND_MAX_BYTES", 25 * 1024 * 1024)?,
                max_attachment_bytes: parsed("INBOUND_MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024)?,
                max_attachments: parsed("INBOUND_MAX_ATTACHMENTS", 20)?,
                file_policy: crate::domain::files::FilePolicy::parse(
                    &var("ATTACHMENT_ALLOWED_TYPES").unwrap_or_default(),
                )
                .map_err(|why| anyhow::anyhow!("ATTACHMENT_ALLOWED_TYPES: {why}"))?,
                accept_unknown_senders: match var("INBOUND_UNKNOWN_SENDERS").as_deref() {
                    None | Some("unaffiliated") => true,
                    Some("reject") => false,
                    Some(other) => bail!("INBOUND_UNKNOWN_SENDERS={other:?} is not valid: use unaffiliated or reject"),
                },
                unaffiliated_country: var("INBOUND_UNAFFILIATED_COUNTRY").map(|c| c.to_ascii_uppercase()),
                trusted_authserv_id: var("INBOUND_TRUSTED_AUTHSERV_ID").map(|id| id.trim().to_ascii_lowercase()),
                new_tickets_per_sender_hour: parsed("INBOUND_NEW_TICKETS_PER_SENDER_HOUR", 10)?,
            },
            imap: match var("IMAP_URL") {
                None => None,
                Some(url) => {
                    let mut imap = ImapSettings::from_url(&url)?;
                    imap.move_to = var("IMAP_MOVE_TO");
                    imap.failed_folder = var("IMAP_FAILED_FOLDER");
                    imap.ca_file = var("IMAP_CA_FILE");
                    if parsed("IMAP_ALLOW_PLAINTEXT", false)? && imap.tls == ImapTls::StartTls {
                        imap.tls = ImapTls::StartTlsIfOffered;
                    }
                    imap.poll_interval = Duration::from_secs(parsed("IMAP_POLL_SECS", DEFAULT_IMAP_POLL.as_secs())?);
                    Some(imap)
                }
            },
            satisfaction_link_days: parsed("SATISFACTION_LINK_DAYS", crate::domain::satisfaction::DEFAULT_LINK_DAYS)?,
            metrics: MetricsSettings::from_env()?,
            uploads: crate::domain::uploads::UploadLimits::default(),
            webhooks: webhook_settings()?,
            rate_limit: rate_limit_settings()?,
        };
        settings.uploads = crate::domain::uploads::UploadLimits {
            max_file_bytes: parsed("ATTACHMENT_MAX_FILE_BYTES", 25 * 1024 * 1024)?,
            max_message_bytes: parsed("ATTACHMENT_MAX_MESSAGE_BYTES", 50 * 1024 * 1024)?,
            max_files: parsed("ATTACHMENT_MAX_FILES", 20)?,
            expiry: chrono::TimeDelta::hours(parsed::<i64>("UPLOAD_EXPIRY_HOURS", 24)?.clamp(1, 24 * 365)),
            policy: settings.inbound.file_policy.clone(),
        };
        settings.validate()?;
        Ok(settings)
    }

    /// Settings for a database URL with every other value at its default (tests and tools).
    pub fn for_database(database_url: &str) -> Settings {
        Settings {
            database_url: database_url.to_owned(),
            embedded_database: None,
            database_pool_size: 10,
            database_pool_timeout: Duration::from_secs(5),
            auth_cache: Duration::from_secs(2),
            notifications_per_hour: crate::domain::notifications::MAX_NOTIFICATIONS_PER_HOUR,
            default_language: "en".to_owned(),
            listen_address: SocketAddr::from(([127, 0, 0, 1], 0)),
            http_workers: 2,
            log_format: LogFormat::Text,
            mail: MailSettings::defaults(None, "civicdesk <civicdesk@localhost>", None),
            worker: WorkerSettings {
                in_serve: false,
                poll_interval: Duration::from_millis(50),
                batch_size: 32,
                max_attempts: 8,
                retry_base: Duration::from_millis(100),
                retry_max: Duration::from_secs(2),
                lease: Duration::from_secs(30),
                sla_interval: Duration::from_secs(30),
            },
            inbound: InboundMailSettings {
                http_secret: None,
                max_message_bytes: 25 * 1024 * 1024,
                max_attachment_bytes: 10 * 1024 * 1024,
                max_attachments: 20,
                file_policy: crate::domain::files::FilePolicy::default(),
                accept_unknown_senders: true,
                unaffiliated_country: None,
                trusted_authserv_id: None,
                new_tickets_per_sender_hour: 10,
            },
            imap: None,
            satisfaction_link_days: crate::domain::satisfaction::DEFAULT_LINK_DAYS,
            metrics: MetricsSettings::default(),
            uploads: crate::domain::uploads::UploadLimits::default(),
            webhooks: crate::domain::webhooks::WebhookSettings::default(),
            rate_limit: crate::domain::rate_limits::RateLimitSettings::off(),
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
        if !(1..=1000).contains(&self.worker.batch_size) {
            bail!("OUTBOX_BATCH_SIZE must be between 1 and 1000");
        }
        if self.auth_cache > Duration::from_secs(60) {
            bail!("AUTH_CACHE_MS must be at most 60000 (a minute)");
        }
        if !(1..=1_000_000).contains(&self.notifications_per_hour) {
            bail!("NOTIFICATIONS_PER_HOUR must be between 1 and 1000000");
        }
        if self.worker.sla_interval.is_zero() {
            bail!("SLA_CHECK_SECS must be at least 1");
        }
        if !(1..=100).contains(&self.worker.max_attempts) {
            bail!("MAIL_MAX_ATTEMPTS must be between 1 and 100");
        }
        if self.inbound.http_secret.as_ref().is_some_and(|s| s.len() < 24) {
            bail!("INBOUND_SECRET must be at least 24 characters");
        }
        if self.inbound.new_tickets_per_sender_hour == 0 {
            bail!("INBOUND_NEW_TICKETS_PER_SENDER_HOUR must be at least 1");
        }
        if self.imap.as_ref().is_some_and(|imap| imap.poll_interval.is_zero()) {
            bail!("IMAP_POLL_SECS must be at least 1");
        }
        if let Some(country) = &self.inbound.unaffiliated_country
            && crate::domain::values::country("INBOUND_UNAFFILIATED_COUNTRY", country).is_err()
        {
            bail!("INBOUND_UNAFFILIATED_COUNTRY={country:?} is not an ISO 3166-1 alpha-2 code");
        }
        if !(1..=3650).contains(&self.satisfaction_link_days) {
            bail!("SATISFACTION_LINK_DAYS must be between 1 and 3650");
        }
        self.metrics.validate()?;
        self.mail.validate()
    }

    /// What ingestion needs, with the reply-token key.
    pub fn inbound_settings(&self, secret: Vec<u8>) -> crate::domain::inbound::InboundSettings {
        use crate::domain::inbound::{InboundSettings, UnknownSenders};
        InboundSettings {
            secret,
            reply_to: self.mail.reply_to.clone(),
            message_id_domain: self.mail.message_id_domain.clone(),
            max_message_bytes: self.inbound.max_message_bytes,
            max_attachment_bytes: self.inbound.max_attachment_bytes,
            max_attachments: self.inbound.max_attachments,
            file_policy: self.inbound.file_policy.clone(),
            unknown_senders: if self.inbound.accept_unknown_senders {
                UnknownSenders::Unaffiliated
            } else {
                UnknownSenders::Reject
            },
            unaffiliated_country: self.inbound.unaffiliated_country.clone(),
            trusted_authserv_id: self.inbound.trusted_authserv_id.clone(),
            new_tickets_per_sender_hour: self.inbound.new_tickets_per_sender_hour,
        }
    }
}

impl MailSettings {
    fn from_env() -> anyhow::Result<MailSettings> {
        let from = var("MAIL_FROM").unwrap_or_else(|| "civicdesk <civicdesk@localhost>".to_owned());
        let mut settings = MailSettings::defaults(var("SMTP_URL"), &from, var("MAIL_REPLY_TO"));
        if let Some(domain) = var("MAIL_MESSAGE_ID_DOMAIN") {
            settings.message_id_domain = domain;
        }
        if let Some(dir) = var("MAIL_OUTBOX_DIR") {
            settings.outbox_dir = PathBuf::from(dir);
        }
        settings.secret = var("MAIL_SECRET");
        settings.smtp_pool_size = parsed("SMTP_POOL_SIZE", 4)?;
        settings.smtp_timeout = Duration::from_millis(parsed("SMTP_TIMEOUT_MS", 30_000)?);
        settings.attachments_max_bytes = parsed("MAIL_ATTACHMENTS_MAX_BYTES", 10 * 1024 * 1024)?;
        if let Some(url) = var("PUBLIC_URL") {
            settings.public_url = url.trim_end_matches('/').to_owned();
        }
        Ok(settings)
    }

    /// Settings with the given server, sender and reply address, and defaults for the rest.
    pub fn defaults(smtp_url: Option<String>, from: &str, reply_to: Option<String>) -> MailSettings {
        // Read with lettre; what it cannot read is refused by `validate`, so the fallbacks only fill the gap.
        let from_address =
            from.parse::<lettre::message::Mailbox>().map_or_else(|_| from.trim().to_owned(), |m| m.email.to_string());
        let reply_to = reply_to.unwrap_or(from_address);
        let message_id_domain =
            reply_to.parse::<lettre::Address>().map_or_else(|_| "localhost".to_owned(), |a| a.domain().to_owned());
        MailSettings {
            smtp_url,
            from: from.to_owned(),
            reply_to,
            message_id_domain,
            outbox_dir: PathBuf::from("outbox"),
            secret: None,
            smtp_pool_size: 4,
            smtp_timeout: Duration::from_secs(30),
            public_url: "http://localhost:8080".to_owned(),
            attachments_max_bytes: 10 * 1024 * 1024,
        }
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.from.parse::<lettre::message::Mailbox>().is_err() {
            bail!("MAIL_FROM={:?} is not an address such as: civicdesk <support@example.org>", self.from);
        }
        if self.reply_to.parse::<lettre::Address>().is_err() {
            bail!("MAIL_REPLY_TO={:?} is not an address such as support@example.org", self.reply_to);
        }
        if let Some(url) = &self.smtp_url
            && !(url.starts_with("smtp://") || url.starts_with("smtps://"))
        {
            bail!("SMTP_URL must start with smtp:// or smtps://");
        }
        if !(self.public_url.starts_with("http://") || self.public_url.starts_with("https://")) {
            bail!("PUBLIC_URL={:?} must start with http:// or https://", self.public_url);
        }
        if self.secret.as_ref().is_some_and(|s| s.len() < 32) {
            bail!("MAIL_SECRET must be at least 32 characters");
        }
        if !(1..=100).contains(&self.smtp_pool_size) {
            bail!("SMTP_POOL_SIZE must be between 1 and 100");
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

    #[test]
    fn reads_imap_urls() {
        let url = ImapUrl::parse("imaps://desk%40example.org:p%40ss%3Aw@mail.example.org/Help%20Desk").unwrap();
        assert_eq!(
            (url.tls, url.user.as_str(), url.password.as_str(), url.host.as_str(), url.port, url.folder.as_str()),
            (ImapTls::Implicit, "desk@example.org", "p@ss:w", "mail.example.org", 993, "Help Desk")
        );
        let plain = ImapUrl::parse("imap://u:p@127.0.0.1:10143").unwrap();
        assert_eq!((plain.tls, plain.port, plain.folder.as_str()), (ImapTls::StartTls, 10143, "INBOX"));
        assert_eq!(ImapUrl::parse("imap://u:p@[::1]/").unwrap().host, "::1");
        assert_eq!(ImapUrl::parse("imap://u:p@mail.example.org").unwrap().port, 143);
        assert!(matches!(ImapUrl::parse("pop3://u:p@host"), Err(ImapUrlError::Scheme(_))));
        assert!(matches!(ImapUrl::parse("imaps://host"), Err(ImapUrlError::NoCredentials)));
        assert!(matches!(ImapUrl::parse("imaps://user@host"), Err(ImapUrlError::NoCredentials)));
        assert!(matches!(ImapUrl::parse("imaps://u:%ff@host"), Err(ImapUrlError::Encoding("password"))));
        assert!(!format!("{:?}", ImapUrl::parse("imaps://u:secret@host").unwrap()).contains("secret"));
    }
}
