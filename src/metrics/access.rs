//! Who may scrape `GET /metrics`: anyone when nothing is configured; otherwise a request that carries
//! `METRICS_TOKEN` as a bearer token or comes from a TCP peer inside `METRICS_ALLOW`.

use std::net::IpAddr;

use ipnet::IpNet;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::MetricsSettings;

/// Why a scrape is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScrapeRefused {
    /// A token is configured, and the request carried none or another one (and its peer is not in
    /// `METRICS_ALLOW`).
    #[error("send the metrics token as Authorization: Bearer <METRICS_TOKEN>")]
    NoToken,
    /// Only networks are configured, and the peer is in none of them.
    #[error("{0} is not in METRICS_ALLOW")]
    Address(String),
}

/// The access rule of `/metrics`, from [`MetricsSettings`].
#[derive(Clone, Default)]
pub struct MetricsAccess {
    /// The SHA-256 of the token: compared in constant time, whatever the length of what is presented.
    token: Option<[u8; 32]>,
    allow: Vec<IpNet>,
}

impl std::fmt::Debug for MetricsAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsAccess").field("token", &self.token.is_some()).field("allow", &self.allow).finish()
    }
}

impl MetricsAccess {
    /// The rule `settings` describe.
    pub fn new(settings: &MetricsSettings) -> MetricsAccess {
        MetricsAccess { token: settings.token.as_deref().map(digest), allow: settings.allow.clone() }
    }

    /// Lets a scrape in, or says why not: `authorization` is its `Authorization` header, `peer` the address of
    /// the TCP peer (a proxy's `X-Forwarded-For` is never looked at: anyone can write it).
    pub fn check(&self, authorization: Option<&str>, peer: Option<IpAddr>) -> Result<(), ScrapeRefused> {
        if self.token.is_none() && self.allow.is_empty() {
            return Ok(());
        }
        // An IPv4 client of a dual-stack listener shows as ::ffff:a.b.c.d; the list names it a.b.c.d.
        let peer = peer.map(|address| address.to_canonical());
        if peer.is_some_and(|address| self.allow.iter().any(|network| network.contains(&address))) {
            return Ok(());
        }
        match &self.token {
            Some(expected) => match bearer(authorization) {
                Some(given) if bool::from(digest(given)[..].ct_eq(&expected[..])) => Ok(()),
                _ => Err(ScrapeRefused::NoToken),
            },
            None => Err(ScrapeRefused::Address(
                peer.map_or_else(|| "a peer of unknown address".to_owned(), |address| address.to_string()),
            )),
        }
    }
}

/// The token of `Bearer <token>` (the scheme in any case).
fn bearer(authorization: Option<&str>) -> Option<&str> {
    let (scheme, token) = authorization?.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "a-metrics-token-of-24-chars";

    fn access(token: Option<&str>, allow: &str) -> MetricsAccess {
        let allow = if allow.is_empty() { Vec::new() } else { crate::config::parse_networks(allow).unwrap() };
        MetricsAccess::new(&MetricsSettings { token: token.map(str::to_owned), allow, ..MetricsSettings::default() })
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn open_when_nothing_is_configured() {
        assert_eq!(access(None, "").check(None, None), Ok(()));
        assert_eq!(access(None, "").check(Some("Bearer whatever"), ip("203.0.113.9")), Ok(()));
    }

    #[test]
    fn a_token_opens_it_and_anything_else_is_unauthenticated() {
        let access = access(Some(TOKEN), "");
        assert_eq!(access.check(Some(&format!("Bearer {TOKEN}")), ip("203.0.113.9")), Ok(()));
        assert_eq!(access.check(Some(&format!("bearer  {TOKEN} ")), None), Ok(()));
        for wrong in [None, Some(""), Some("Bearer"), Some("Bearer nope"), Some(&*format!("Basic {TOKEN}"))] {
            assert_eq!(access.check(wrong, ip("127.0.0.1")), Err(ScrapeRefused::NoToken), "{wrong:?}");
        }
        let longer = format!("Bearer {TOKEN}x");
        assert_eq!(access.check(Some(&longer), None), Err(ScrapeRefused::NoToken));
    }

    #[test]
    fn networks_open_it_to_their_peers_only() {
        let access = access(None, "10.0.0.0/8,::1");
        assert_eq!(access.check(None, ip("10.20.30.40")), Ok(()));
        assert_eq!(access.check(None, ip("::1")), Ok(()));
        assert_eq!(access.check(None, ip("::ffff:10.0.0.1")), Ok(()), "an IPv4 peer of a dual-stack listener");
        assert_eq!(access.check(None, ip("127.0.0.1")), Err(ScrapeRefused::Address("127.0.0.1".to_owned())));
        assert!(matches!(access.check(None, None), Err(ScrapeRefused::Address(_))));
        assert!(
            matches!(access.check(Some("Bearer anything"), ip("11.0.0.1")), Err(ScrapeRefused::Address(_))),
            "a token means nothing when none is configured"
        );
    }

    #[test]
    fn with_both_either_one_will_do() {
        let access = access(Some(TOKEN), "127.0.0.1");
        assert_eq!(access.check(None, ip("127.0.0.1")), Ok(()));
        assert_eq!(access.check(Some(&format!("Bearer {TOKEN}")), ip("198.51.100.1")), Ok(()));
        assert_eq!(access.check(None, ip("198.51.100.1")), Err(ScrapeRefused::NoToken), "a token would open it");
    }
}
