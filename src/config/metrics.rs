//! The settings of `GET /metrics`: who may read it (`METRICS_TOKEN`, `METRICS_ALLOW`) and how long the figures read
//! from the database are reused (`METRICS_CACHE_SECS`).

use std::net::IpAddr;
use std::time::Duration;

use anyhow::bail;
use ipnet::IpNet;

use super::{parsed, var};

/// How long the database figures of a scrape are reused by default: the usual Prometheus scrape interval.
pub const DEFAULT_METRICS_CACHE: Duration = Duration::from_secs(15);

/// Who may read `GET /metrics`, and how long its database figures are reused.
///
/// With neither a token nor networks, `/metrics` is open. Otherwise a scrape is let in when it carries the token as
/// `Authorization: Bearer <METRICS_TOKEN>` or comes from a TCP peer inside one of the networks.
#[derive(Clone)]
pub struct MetricsSettings {
    /// `METRICS_TOKEN`: the bearer secret that opens `/metrics` (24 characters or more).
    pub token: Option<String>,
    /// `METRICS_ALLOW`: the networks whose peers may read `/metrics` without the token.
    pub allow: Vec<IpNet>,
    /// `METRICS_CACHE_SECS`: how long the database figures are reused (zero: every scrape reads them afresh).
    pub cache: Duration,
}

impl Default for MetricsSettings {
    /// Open to all, figures reused for [`DEFAULT_METRICS_CACHE`].
    fn default() -> MetricsSettings {
        MetricsSettings { token: None, allow: Vec::new(), cache: DEFAULT_METRICS_CACHE }
    }
}

impl MetricsSettings {
    /// Reads `METRICS_TOKEN`, `METRICS_ALLOW` and `METRICS_CACHE_SECS`.
    pub(super) fn from_env() -> anyhow::Result<MetricsSettings> {
        Ok(MetricsSettings {
            token: var("METRICS_TOKEN"),
            allow: var("METRICS_ALLOW").map(|raw| parse_networks(&raw)).transpose()?.unwrap_or_default(),
            cache: Duration::from_secs(parsed("METRICS_CACHE_SECS", DEFAULT_METRICS_CACHE.as_secs())?),
        })
    }

    /// Checks values that parse but make no sense.
    pub(super) fn validate(&self) -> anyhow::Result<()> {
        if self.token.as_ref().is_some_and(|token| token.len() < 24) {
            bail!("METRICS_TOKEN must be at least 24 characters");
        }
        if self.cache > Duration::from_secs(3600) {
            bail!("METRICS_CACHE_SECS must be at most 3600 (an hour)");
        }
        Ok(())
    }
}

/// Reads `METRICS_ALLOW`: networks in CIDR notation (`10.0.0.0/8`, `::1/128`) separated by commas; a bare address
/// is that one host. Host bits are cleared (`10.1.2.3/8` is `10.0.0.0/8`).
pub fn parse_networks(raw: &str) -> anyhow::Result<Vec<IpNet>> {
    let mut networks = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|entry| !entry.is_empty()) {
        let network = match entry.parse::<IpNet>() {
            Ok(network) => network.trunc(),
            Err(_) => match entry.parse::<IpAddr>() {
                Ok(address) => IpNet::from(address),
                Err(_) => bail!(
                    "METRICS_ALLOW: {entry:?} is not an IP address or a network in CIDR notation \
                     (such as 10.0.0.0/8, 192.168.1.7 or ::1/128)"
                ),
            },
        };
        networks.push(network);
    }
    if networks.is_empty() {
        bail!("METRICS_ALLOW={raw:?} names no network: list some, such as 127.0.0.1/32,10.0.0.0/8, or unset it");
    }
    Ok(networks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(networks: &[IpNet]) -> Vec<String> {
        networks.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn reads_networks_and_single_hosts() {
        let networks = parse_networks(" 127.0.0.1/32, 10.0.0.0/8,::1/128 ,192.168.1.7, fd00::1,").unwrap();
        assert_eq!(shown(&networks), ["127.0.0.1/32", "10.0.0.0/8", "::1/128", "192.168.1.7/32", "fd00::1/128"]);
        assert_eq!(shown(&parse_networks("10.1.2.3/8").unwrap()), ["10.0.0.0/8"], "host bits are cleared");
        assert_eq!(shown(&parse_networks("0.0.0.0/0").unwrap()), ["0.0.0.0/0"]);
    }

    #[test]
    fn refuses_bad_entries_naming_the_variable() {
        for bad in ["10.0.0.0/33", "10.0.0/8", "localhost", "10.0.0.0/8;192.168.0.0/16", "::1/129", "10.0.0.0/"] {
            let error = parse_networks(&format!("127.0.0.1,{bad}")).unwrap_err().to_string();
            assert!(error.starts_with("METRICS_ALLOW:") && error.contains(bad), "{bad}: {error}");
        }
        let error = parse_networks(" , ").unwrap_err().to_string();
        assert!(error.starts_with("METRICS_ALLOW=") && error.contains("names no network"), "{error}");
    }

    #[test]
    fn a_short_token_or_a_long_cache_is_refused() {
        let short = MetricsSettings { token: Some("too-short".to_owned()), ..MetricsSettings::default() };
        assert!(short.validate().unwrap_err().to_string().contains("METRICS_TOKEN"));
        let long = MetricsSettings { cache: Duration::from_secs(7200), ..MetricsSettings::default() };
        assert!(long.validate().unwrap_err().to_string().contains("METRICS_CACHE_SECS"));
        let good = MetricsSettings { token: Some("x".repeat(24)), cache: Duration::ZERO, ..MetricsSettings::default() };
        assert!(good.validate().is_ok());
    }
}
