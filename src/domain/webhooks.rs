//! Webhook subscriptions: who may manage them, what a valid one is, how deliveries are signed and retried, and
//! which addresses a delivery may never reach.
//!
//! Deliveries are queued by the database itself, in the transaction of the change (a statement trigger on
//! `ticket_events`, see the migration `2026-12-01-220000_integrations`), so no code path can change a ticket and
//! forget its webhooks. The worker in `crate::webhooks` sends them.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, TimeDelta, Utc};
use diesel::PgConnection;
use hmac::{Hmac, Mac};
use rand::Rng;
use serde::Deserialize;
use sha2::Sha256;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::caller::Caller;
use crate::domain::error::{DomainError, DomainResult, FieldError};
use crate::domain::values::Checks;
use crate::models::webhook::{DeliveryStatus, NewWebhook, Webhook, WebhookChanges, WebhookDelivery};

/// The event types a subscription can ask for (`*`: all of them).
pub const EVENT_TYPES: [&str; 8] = [
    "ticket.created",
    "ticket.updated",
    "ticket.status_changed",
    "ticket.assigned",
    "message.created",
    "sla.warning",
    "sla.breached",
    "satisfaction.rated",
];

/// The type of the test event `POST /api/v1/webhooks/{id}/ping` sends.
pub const PING: &str = "webhook.ping";

/// How long the secret a rotation replaced keeps signing beside the new one.
pub const ROTATION_OVERLAP: TimeDelta = TimeDelta::hours(24);

/// Longest URL accepted.
const URL_MAX: usize = 2000;

/// How webhooks are delivered (`WEBHOOK_*` settings).
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// `WEBHOOK_ALLOW_HTTP`: plain `http://` URLs are accepted, to loopback hosts only (development).
    pub allow_http: bool,
    /// `WEBHOOK_ALLOW_PRIVATE`: deliveries may go to private, loopback and link-local addresses.
    pub allow_private: bool,
    /// `WEBHOOK_RESOLVE`: names pinned to addresses (`host=address,...`, like curl's `--resolve`), for split-horizon
    /// DNS; the addresses are held to the same rules as resolved ones.
    pub resolve: Vec<(String, IpAddr)>,
    /// How long one attempt may take (connect, send, answer).
    pub timeout: Duration,
    /// The delay after the first failed attempt; it doubles with each further one (with jitter).
    pub retry_base: Duration,
    /// The longest delay between attempts.
    pub retry_max: Duration,
    /// How long after it was queued a delivery is given up (dead letter).
    pub give_up_after: Duration,
    /// How long a subscription may fail without a success before it is disabled.
    pub disable_after: Duration,
    /// How many deliveries the worker takes at a time (sent concurrently).
    pub batch_size: i64,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            allow_http: false,
            allow_private: false,
            resolve: Vec::new(),
            timeout: Duration::from_secs(10),
            retry_base: Duration::from_secs(30),
            retry_max: Duration::from_secs(2 * 3600),
            give_up_after: Duration::from_secs(24 * 3600),
            disable_after: Duration::from_secs(3 * 24 * 3600),
            batch_size: 32,
        }
    }
}

/// Parses `WEBHOOK_RESOLVE` (`host=address,host=address`).
pub fn parse_resolve(raw: &str) -> Result<Vec<(String, IpAddr)>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            let (host, address) = item.split_once('=').ok_or_else(|| format!("{item:?} is not host=address"))?;
            let address = address.trim().parse::<IpAddr>().map_err(|_| format!("{address:?} is not an IP address"))?;
            Ok((host.trim().to_ascii_lowercase(), address))
        })
        .collect()
}

/// A subscription as written by a client (create: `url` and `events` required; update: absent fields stay).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    /// Where deliveries are POSTed: `https://`, or `http://` to a loopback host when `WEBHOOK_ALLOW_HTTP=true`.
    #[schema(example = "https://portal.example.org/hooks/civicdesk", max_length = 2000)]
    pub url: Option<String>,
    /// The event types wanted, or `["*"]` for all.
    #[schema(example = json!(["ticket.created", "ticket.status_changed"]))]
    pub events: Option<Vec<String>>,
    /// Only tickets of this office's queue (null: all).
    #[serde(default, deserialize_with = "crate::domain::patch::nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub office_id: Option<Option<Uuid>>,
    /// Only tickets of this organisation (null: all).
    #[serde(default, deserialize_with = "crate::domain::patch::nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub organization_id: Option<Option<Uuid>>,
    /// Whether `message.created` includes internal notes (default false: public messages only).
    pub include_internal: Option<bool>,
    /// Inactive subscriptions get nothing; setting `true` again re-enables one the service disabled.
    pub active: Option<bool>,
}

/// Whether a delivery to `address` would reach something it must not: private networks, loopback, link-local
/// (including the cloud metadata address 169.254.169.254), and other special-purpose ranges.
pub fn forbidden_address(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            let segments = v6.segments();
            let octets = v6.octets();
            // NAT64 (64:ff9b::/96) and the deprecated IPv4-compatible form (::/96) carry an IPv4 address in their
            // last 32 bits, 6to4 (2002::/16) in the 32 after the prefix.
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || segments[..6] == [0, 0, 0, 0, 0, 0] {
                return forbidden_v4(Ipv4Addr::new(octets[12], octets[13], octets[14], octets[15]));
            }
            if segments[0] == 0x2002 {
                return forbidden_v4(Ipv4Addr::new(octets[2], octets[3], octets[4], octets[5]));
            }
            // Local-use NAT64 (64:ff9b:1::/48) and Teredo (2001::/32) lead to addresses that cannot be checked.
            if (segments[0] == 0x64 && segments[1] == 0xff9b && segments[2] == 1)
                || (segments[0] == 0x2001 && segments[1] == 0)
            {
                return true;
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (segments[0] & 0xfe00) == 0xfc00 // unique local, fd00:ec2::254 among them
                || (segments[0] & 0xffc0) == 0xfe80 // link-local
                || (segments[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
        }
    }
}

fn forbidden_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    v4.is_private()
        || v4.is_loopback()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_documentation()
        || v4.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier-grade NAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240 // reserved
}

/// Whether `host` (a URL's host) is a loopback name or address.
fn loopback_host(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost") || name.ends_with(".localhost"),
        url::Host::Ipv4(v4) => v4.is_loopback(),
        url::Host::Ipv6(v6) => v6.is_loopback(),
    }
}

/// The address a URL names literally (`https://10.0.0.1/`), if it names one rather than a host name.
pub fn literal_address(url: &url::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    }
}

/// Checks a subscription URL: https (or http to loopback when allowed), no credentials, and no literal address
/// that a delivery could never be sent to.
pub fn check_url(raw: &str, settings: &WebhookSettings) -> Result<String, String> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > URL_MAX {
        return Err(format!("must be an https URL of at most {URL_MAX} characters"));
    }
    let url = url::Url::parse(raw).map_err(|error| format!("is not a valid URL: {error}"))?;
    let host = url.host().ok_or("must name a host")?;
    match url.scheme() {
        "https" => {}
        "http" if settings.allow_http && loopback_host(&host) => {}
        "http" if settings.allow_http => return Err("http:// is accepted for loopback hosts only".to_owned()),
        "http" => return Err("must be https:// (WEBHOOK_ALLOW_HTTP allows http:// to loopback)".to_owned()),
        _ => return Err("must be an https:// URL".to_owned()),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not hold credentials: verify the signature instead".to_owned());
    }
    // Percent-encoding and punycode lengthen what was sent: the stored form is held to the limit.
    if url.as_str().len() > URL_MAX {
        return Err(format!("must be at most {URL_MAX} characters once encoded"));
    }
    if let Some(address) = literal_address(&url)
        && forbidden_address(address)
        && !settings.allow_private
    {
        return Err(format!("{address} is a private, loopback or link-local address (WEBHOOK_ALLOW_PRIVATE)"));
    }
    Ok(url.to_string())
}

/// Checks the event types of a subscription; `*` stands alone.
fn check_events(events: &[String]) -> Result<Vec<String>, String> {
    let mut chosen: Vec<String> = Vec::new();
    for event in events {
        let event = event.trim();
        if event != "*" && !EVENT_TYPES.contains(&event) {
            return Err(format!("{event:?} is not an event type: use * or any of {}", EVENT_TYPES.join(", ")));
        }
        if !chosen.iter().any(|c| c == event) {
            chosen.push(event.to_owned());
        }
    }
    match chosen.as_slice() {
        [] => Err("name at least one event type, or *".to_owned()),
        many if many.len() > 1 && many.iter().any(|e| e == "*") => Err("* stands for all: name it alone".to_owned()),
        _ => Ok(chosen),
    }
}

/// A new signing secret: `whsec_` and 32 random bytes in base64 (the Standard Webhooks form).
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill(&mut bytes);
    format!("whsec_{}", STANDARD.encode(bytes))
}

/// The signature of one delivery with one secret: `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`,
/// keyed with the secret's decoded bytes.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = secret.strip_prefix("whsec_").and_then(|b64| STANDARD.decode(b64).ok()).unwrap_or_default();
    // HMAC takes keys of any length.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key) else { return String::new() };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The `Webhook-Signature` header: one signature per secret in force, separated by spaces (both during a
/// rotation's overlap).
pub fn signature_header(webhook: &Webhook, id: &str, timestamp: i64, body: &[u8], now: DateTime<Utc>) -> String {
    let mut signatures = vec![sign(&webhook.secret, id, timestamp, body)];
    if let (Some(previous), Some(until)) = (&webhook.previous_secret, webhook.previous_secret_expires_at)
        && until > now
    {
        signatures.push(sign(previous, id, timestamp, body));
    }
    signatures.join(" ")
}

/// The delay before attempt `attempts + 1`, after `attempts` failed ones: exponential with ±20 % jitter, at
/// least what the receiver's `Retry-After` asked for, at most `retry_max` (or the `Retry-After`, up to an hour).
pub fn retry_delay(settings: &WebhookSettings, attempts: i32, retry_after: Option<Duration>) -> Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let base = settings.retry_base.saturating_mul(2u32.saturating_pow(exponent)).min(settings.retry_max);
    let jittered = base.mul_f64(rand::rng().random_range(0.8..=1.2));
    match retry_after {
        Some(asked) => jittered.max(asked.min(Duration::from_secs(3600))),
        None => jittered,
    }
}

/// Checks the `url` and `events` given, naming each bad one; absent ones stay `None`.
fn check_given(
    checks: &mut Checks,
    settings: &WebhookSettings,
    input: &WebhookInput,
) -> (Option<String>, Option<Vec<String>>) {
    let url = input
        .url
        .as_deref()
        .map(|url| checks.check(check_url(url, settings).map_err(|message| FieldError::new("url", message))));
    let events = input
        .events
        .as_deref()
        .map(|events| checks.check(check_events(events).map_err(|message| FieldError::new("events", message))));
    (url, events)
}

/// Creates a subscription (admins); its secret is in the result, the only time it is shown.
pub fn create(
    conn: &mut PgConnection,
    caller: &Caller,
    settings: &WebhookSettings,
    input: WebhookInput,
) -> DomainResult<Webhook> {
    caller.require_admin()?;
    let mut checks = Checks::default();
    let (url, events) = check_given(&mut checks, settings, &input);
    if url.is_none() {
        checks.fail("url", "is required");
    }
    if events.is_none() {
        checks.fail("events", "is required");
    }
    let (office_id, organization_id) = (input.office_id.flatten(), input.organization_id.flatten());
    crate::domain::users::check_references(conn, office_id, organization_id, &mut checks)?;
    checks.finish()?;
    let webhook = NewWebhook {
        id: Uuid::now_v7(),
        url: url.unwrap_or_default(),
        events: events.unwrap_or_default(),
        office_id,
        organization_id,
        include_internal: input.include_internal.unwrap_or(false),
        active: input.active.unwrap_or(true),
        secret: new_secret(),
        created_by: caller.id(),
    };
    Ok(Webhook::insert(conn, &webhook)?)
}

/// Every subscription (admins).
pub fn list(conn: &mut PgConnection, caller: &Caller) -> DomainResult<Vec<Webhook>> {
    caller.require_admin()?;
    Ok(Webhook::list(conn)?)
}

/// One subscription (admins).
pub fn get(conn: &mut PgConnection, caller: &Caller, id: Uuid) -> DomainResult<Webhook> {
    caller.require_admin()?;
    Webhook::find(conn, id)?.ok_or(DomainError::NotFound("webhook"))
}

/// Changes a subscription (admins); re-activating one clears its failure record.
pub fn update(
    conn: &mut PgConnection,
    caller: &Caller,
    settings: &WebhookSettings,
    id: Uuid,
    input: WebhookInput,
) -> DomainResult<Webhook> {
    let current = get(conn, caller, id)?;
    let mut checks = Checks::default();
    let (url, events) = check_given(&mut checks, settings, &input);
    let office_id = input.office_id.unwrap_or(current.office_id);
    let organization_id = input.organization_id.unwrap_or(current.organization_id);
    crate::domain::users::check_references(conn, office_id, organization_id, &mut checks)?;
    checks.finish()?;
    let active = input.active.unwrap_or(current.active);
    let changes = WebhookChanges {
        url: url.unwrap_or_else(|| current.url.clone()),
        events: events.unwrap_or_else(|| current.events.clone()),
        office_id,
        organization_id,
        include_internal: input.include_internal.unwrap_or(current.include_internal),
        active,
        reactivated: active && !current.active,
    };
    Webhook::update(conn, id, &changes)?.ok_or(DomainError::NotFound("webhook"))
}

/// Deletes a subscription and its deliveries (admins).
pub fn delete(conn: &mut PgConnection, caller: &Caller, id: Uuid) -> DomainResult<()> {
    caller.require_admin()?;
    match Webhook::delete(conn, id)? {
        0 => Err(DomainError::NotFound("webhook")),
        _ => Ok(()),
    }
}

/// Gives a subscription a new secret (admins); the old one keeps signing beside it for [`ROTATION_OVERLAP`]. A
/// second rotation during that overlap is refused: it would end the old secret's promised day at once.
pub fn rotate_secret(conn: &mut PgConnection, caller: &Caller, id: Uuid) -> DomainResult<Webhook> {
    let current = get(conn, caller, id)?;
    if let Some(until) = current.previous_secret_expires_at.filter(|until| *until > Utc::now()) {
        return Err(DomainError::Conflict(format!(
            "the previous rotation's overlap lasts until {}: rotate again after that",
            until.to_rfc3339()
        )));
    }
    Webhook::rotate_secret(conn, id, &new_secret(), Utc::now() + ROTATION_OVERLAP)?
        .ok_or(DomainError::NotFound("webhook"))
}

/// The deliveries of a subscription, newest first, before `before` (a `seq`), at most `limit` (admins).
pub fn deliveries(
    conn: &mut PgConnection,
    caller: &Caller,
    id: Uuid,
    status: Option<DeliveryStatus>,
    before: Option<i64>,
    limit: i64,
) -> DomainResult<Vec<WebhookDelivery>> {
    get(conn, caller, id)?;
    Ok(WebhookDelivery::list(conn, id, status, before, limit)?)
}

/// Sends a delivery again, whatever became of it (admins): it is pending again, due now, with the same id.
pub fn redeliver(conn: &mut PgConnection, caller: &Caller, delivery_id: Uuid) -> DomainResult<WebhookDelivery> {
    caller.require_admin()?;
    let delivery = WebhookDelivery::find(conn, delivery_id)?.ok_or(DomainError::NotFound("webhook delivery"))?;
    let webhook = Webhook::find(conn, delivery.webhook_id)?.ok_or(DomainError::NotFound("webhook delivery"))?;
    if !webhook.active && delivery.ticket_id.is_some() {
        return Err(DomainError::Conflict(
            "the subscription is inactive: enable it (PATCH active=true) before redelivering".to_owned(),
        ));
    }
    WebhookDelivery::redeliver(conn, delivery_id)?.ok_or(DomainError::NotFound("webhook delivery"))
}

/// Queues a test event (`webhook.ping`) for a subscription, active or not (admins).
pub fn ping(conn: &mut PgConnection, caller: &Caller, id: Uuid) -> DomainResult<WebhookDelivery> {
    let webhook = get(conn, caller, id)?;
    let data = serde_json::json!({ "webhook_id": webhook.id, "url": webhook.url, "events": webhook.events });
    Ok(WebhookDelivery::insert_ping(conn, webhook.id, PING, &data)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_addresses() {
        for address in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "::7f00:1",
            "2002:a00:1::1",
            "64:ff9b:1::8.8.8.8",
            "2001:0:4136:e378::1",
        ] {
            assert!(forbidden_address(address.parse().unwrap()), "{address} should be forbidden");
        }
        for address in
            ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"]
        {
            assert!(!forbidden_address(address.parse().unwrap()), "{address} should be allowed");
        }
    }

    #[test]
    fn urls() {
        let strict = WebhookSettings::default();
        assert!(check_url("https://hooks.example.org/x", &strict).is_ok());
        assert!(check_url("http://127.0.0.1:9000/x", &strict).is_err());
        assert!(check_url("https://169.254.169.254/latest/meta-data", &strict).is_err());
        assert!(check_url("https://user:pw@hooks.example.org/", &strict).is_err());
        assert!(check_url("ftp://hooks.example.org/", &strict).is_err());
        let dev = WebhookSettings { allow_http: true, allow_private: true, ..Default::default() };
        assert!(check_url("http://127.0.0.1:9000/x", &dev).is_ok());
        assert!(check_url("http://localhost:9000/x", &dev).is_ok());
        assert!(check_url("http://hooks.example.org/x", &dev).is_err());
    }

    #[test]
    fn events() {
        assert_eq!(check_events(&["*".to_owned()]).unwrap(), ["*"]);
        assert!(check_events(&["*".to_owned(), "ticket.created".to_owned()]).is_err());
        assert!(check_events(&["ticket.deleted".to_owned()]).is_err());
        assert!(check_events(&[]).is_err());
    }

    #[test]
    fn signatures_follow_standard_webhooks() {
        // The example of the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn retry_delays_grow_and_honour_retry_after() {
        let settings = WebhookSettings::default();
        let first = retry_delay(&settings, 1, None);
        assert!(first >= Duration::from_secs(24) && first <= Duration::from_secs(36));
        assert!(retry_delay(&settings, 20, None) <= settings.retry_max.mul_f64(1.2));
        assert!(retry_delay(&settings, 1, Some(Duration::from_secs(600))) >= Duration::from_secs(600));
    }
}
