//! Rate limits: the budgets (reads and writes per token a minute, per client address for requests no token
//! authenticated), the failed authentications an address may make, and the counting, in PostgreSQL so that every
//! server process draws on the same budget.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use diesel::PgConnection;
use sha2::{Digest, Sha256};

use crate::domain::error::DomainResult;
use crate::models::rate_limit;

/// The length of a budget's window, in seconds.
pub const WINDOW_SECONDS: i64 = 60;
/// Failed authentications from one address in a window before each further request is slowed down.
pub const FAILURES_BEFORE_DELAY: i32 = 5;

/// The rate limits (`RATE_LIMIT*` settings).
#[derive(Debug, Clone)]
pub struct RateLimitSettings {
    /// `RATE_LIMIT=on|off`.
    pub enabled: bool,
    /// `RATE_LIMIT_READS_PER_MINUTE`: GET and HEAD requests per token (or address) a minute.
    pub reads_per_minute: i32,
    /// `RATE_LIMIT_WRITES_PER_MINUTE`: other requests per token (or address) a minute.
    pub writes_per_minute: i32,
    /// `RATE_LIMIT_AUTH_FAILURES_PER_MINUTE`: failed authentications from one address a minute after which its
    /// requests wait the longest delay and further failures are answered 429 (past five, each waits a little).
    pub auth_failures_per_minute: i32,
    /// `RATE_LIMIT_TRUST_FORWARDED`: take the client's address from the last `X-Forwarded-For` entry, the one the
    /// reverse proxy in front added (only behind such a proxy).
    pub trust_forwarded: bool,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        RateLimitSettings {
            enabled: true,
            reads_per_minute: 600,
            writes_per_minute: 120,
            auth_failures_per_minute: 30,
            trust_forwarded: false,
        }
    }
}

impl RateLimitSettings {
    /// Limits turned off (tests and tools; `RATE_LIMIT=off`).
    pub fn off() -> Self {
        RateLimitSettings { enabled: false, ..Default::default() }
    }
}

/// Which budget a request draws on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// GET, HEAD and OPTIONS.
    Reads,
    /// Everything else.
    Writes,
}

impl Budget {
    /// Its name in the headers.
    pub fn name(self) -> &'static str {
        match self {
            Budget::Reads => "reads",
            Budget::Writes => "writes",
        }
    }

    /// Hits allowed a window.
    pub fn quota(self, settings: &RateLimitSettings) -> i32 {
        match self {
            Budget::Reads => settings.reads_per_minute,
            Budget::Writes => settings.writes_per_minute,
        }
    }
}

/// The counters one request touches.
#[derive(Debug, Clone)]
pub struct Keys {
    /// The budget it is counted against first: its token's, or its address's without a token.
    pub primary: String,
    /// Its address's budget: a request with a token that did not authenticate it is counted here afterwards
    /// (so that made-up tokens give no budget of their own), and must stay within it.
    pub address: String,
    /// Its address's failed authentications.
    pub failures: String,
    /// Whether it came with a token.
    pub has_token: bool,
}

impl Keys {
    /// The counters of a request with `token` (if any) from `address` drawing on `budget`. Tokens are counted by
    /// a digest, so that no token is ever stored.
    pub fn new(token: Option<&str>, address: &str, budget: Budget) -> Keys {
        let name = budget.name();
        let address_key = format!("address:{address}:{name}");
        let primary = match token {
            Some(token) => {
                let digest = Sha256::digest(token.as_bytes());
                let hex: String = digest.iter().take(16).map(|byte| format!("{byte:02x}")).collect();
                format!("token:{hex}:{name}")
            }
            None => address_key.clone(),
        };
        Keys { primary, address: address_key, failures: format!("auth-failures:{address}"), has_token: token.is_some() }
    }
}

/// The start of the window `now` falls in, and the whole seconds until it ends (rounded up, so that a client
/// waiting that long is in the next window).
pub fn window(now: DateTime<Utc>) -> (DateTime<Utc>, u64) {
    let start = now.duration_trunc(TimeDelta::seconds(WINDOW_SECONDS)).unwrap_or(now);
    let left_ms = (start + TimeDelta::seconds(WINDOW_SECONDS) - now).num_milliseconds();
    let left = (left_ms + 999) / 1000;
    (start, u64::try_from(left.clamp(1, WINDOW_SECONDS)).unwrap_or(1))
}

/// What the counters say of one request.
#[derive(Debug, Clone, Copy)]
pub struct Count {
    /// Hits on its primary budget, this one included.
    pub hits: i32,
    /// Hits on its address's budget.
    pub address_hits: i32,
    /// Failed authentications from its address.
    pub failures: i32,
}

/// Counts a request against its primary budget, and reads its address's budget and failures.
pub fn count(conn: &mut PgConnection, keys: &Keys, window: DateTime<Utc>) -> DomainResult<Count> {
    let counted = rate_limit::hit(conn, &keys.primary, &keys.address, &keys.failures, window)?;
    Ok(Count { hits: counted.hits, address_hits: counted.also, failures: counted.failures })
}

/// Counts what a request turned out to be: unauthenticated despite its token (against its address's budget),
/// a failed authentication (against its address's failures).
pub fn count_after(
    conn: &mut PgConnection,
    keys: &Keys,
    authenticated: bool,
    failed: bool,
    window: DateTime<Utc>,
) -> DomainResult<()> {
    let mut more = Vec::new();
    if keys.has_token && !authenticated {
        more.push(keys.address.clone());
    }
    if failed {
        more.push(keys.failures.clone());
    }
    if !more.is_empty() {
        rate_limit::count(conn, &more, window)?;
    }
    Ok(())
}

/// Forgets windows that ended before `before` (the escalation scheduler calls it).
pub fn forget_before(conn: &mut PgConnection, before: DateTime<Utc>) -> DomainResult<usize> {
    Ok(rate_limit::forget_before(conn, before)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_whole_minutes_and_waits_round_up() {
        let now = DateTime::parse_from_rfc3339("2026-12-01T10:00:42.5Z").unwrap().with_timezone(&Utc);
        let (start, left) = window(now);
        assert_eq!(start.to_rfc3339(), "2026-12-01T10:00:00+00:00");
        assert_eq!(left, 18, "waiting 17 s would land at :59.5, still in this window");
        let exact = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(window(exact).1, 60);
    }

    #[test]
    fn tokens_are_counted_by_digest_and_addresses_apart() {
        let keys = Keys::new(Some("cd_secret"), "203.0.113.7", Budget::Writes);
        assert!(keys.primary.starts_with("token:") && keys.primary.ends_with(":writes"));
        assert!(!keys.primary.contains("cd_secret"));
        assert_eq!(keys.address, "address:203.0.113.7:writes");
        let anonymous = Keys::new(None, "203.0.113.7", Budget::Reads);
        assert_eq!(anonymous.primary, anonymous.address);
    }
}
