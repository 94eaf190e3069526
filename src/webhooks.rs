//! The webhook worker: takes due deliveries from `webhook_deliveries`, POSTs them signed (Standard Webhooks), and
//! records each attempt: delivered, retried later with backoff, or given up on.
//!
//! Addresses are checked when the request is made, by the resolver the HTTP client connects through, so a name
//! that resolves to a private address (or is made to, between the check and the connection) never reaches one.
//! Redirects are not followed.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::watch;

use crate::db::{self, DbPool};
use crate::domain::webhooks::{self, WebhookSettings, forbidden_address};
use crate::email::transport::{SendFailure, Transport};
use crate::models::User;
use crate::models::webhook::{Attempt, Webhook, WebhookDelivery};
use crate::vocabulary::Role;

/// How much of a receiver's answer is kept.
const RESPONSE_KEPT: usize = 1024;

/// How long the worker holds the deliveries it took; after that another worker may take them.
const LEASE_SECONDS: f64 = 120.0;

/// How a refused address is described.
const FORBIDDEN_WORDS: &str = "a private or special-purpose address";

/// What became of one attempt.
#[derive(Debug)]
enum Outcome {
    /// The receiver answered 2xx.
    Delivered(Attempt),
    /// Worth trying again (network error, timeout, 408, 429, 5xx), after at least this long if the receiver said.
    Retry(Attempt, Option<Duration>),
    /// Never worth trying again (another 4xx, a redirect, a forbidden address).
    Permanent(Attempt),
}

/// A refused address, found by the resolver; the attempt fails for good.
#[derive(Debug)]
struct ForbiddenAddress(String);

impl std::fmt::Display for ForbiddenAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ForbiddenAddress {}

/// Resolves names for the HTTP client, refusing any whose addresses include a forbidden one (unless
/// `WEBHOOK_ALLOW_PRIVATE`), and answering pinned names (`WEBHOOK_RESOLVE`) without DNS.
struct CheckedResolver {
    allow_private: bool,
    pinned: HashMap<String, IpAddr>,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_ascii_lowercase();
        let pinned = self.pinned.get(&host).copied();
        let allow_private = self.allow_private;
        Box::pin(async move {
            let addresses: Vec<SocketAddr> = match pinned {
                Some(address) => vec![SocketAddr::new(address, 0)],
                None => tokio::net::lookup_host((host.as_str(), 0)).await?.collect(),
            };
            if !allow_private && let Some(bad) = addresses.iter().find(|address| forbidden_address(address.ip())) {
                let refused = format!("{host} resolves to {}, {FORBIDDEN_WORDS}", bad.ip());
                return Err(Box::new(ForbiddenAddress(refused)) as Box<dyn std::error::Error + Send + Sync>);
            }
            let addresses: reqwest::dns::Addrs = Box::new(addresses.into_iter());
            Ok(addresses)
        })
    }
}

/// Sends webhook deliveries; clones share the HTTP client.
#[derive(Clone)]
pub struct WebhookWorker {
    pool: DbPool,
    client: reqwest::Client,
    settings: WebhookSettings,
    mail: Arc<Transport>,
    from: String,
    poll_interval: Duration,
    /// Whether a task telling the admins of disabled subscriptions is running (one at a time).
    telling: Arc<std::sync::atomic::AtomicBool>,
}

impl WebhookWorker {
    /// A worker with the process's settings.
    pub fn new(settings: &crate::config::Settings, pool: DbPool) -> anyhow::Result<WebhookWorker> {
        let webhook = settings.webhooks.clone();
        let resolver =
            CheckedResolver { allow_private: webhook.allow_private, pinned: webhook.resolve.iter().cloned().collect() };
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(webhook.timeout)
            .connect_timeout(webhook.timeout)
            .no_proxy()
            .user_agent(concat!("civicdesk-webhooks/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(resolver))
            .build()?;
        Ok(WebhookWorker {
            pool,
            client,
            settings: webhook,
            mail: Arc::new(Transport::from_settings(&settings.mail)?),
            from: settings.mail.from.clone(),
            poll_interval: settings.worker.poll_interval,
            telling: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        })
    }

    /// Delivers until `shutdown` says stop, finishing the batch under way.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                break;
            }
            let sent = match self.deliver_due().await {
                Ok(count) => count,
                Err(error) => {
                    tracing::error!(error = ?error, "webhook delivery failed");
                    0
                }
            };
            self.tell_admins_in_background();
            if sent as i64 >= self.settings.batch_size {
                continue;
            }
            tokio::select! {
                _ = shutdown.changed() => {}
                _ = tokio::time::sleep(self.poll_interval) => {}
            }
        }
        tracing::info!("webhook worker stopped");
    }

    /// Sends one batch of due deliveries, concurrently; returns how many were attempted.
    pub async fn deliver_due(&self) -> anyhow::Result<usize> {
        let limit = self.settings.batch_size;
        let (deliveries, hooks) = db::run(&self.pool, move |conn| -> anyhow::Result<_> {
            let deliveries = WebhookDelivery::claim(conn, limit, LEASE_SECONDS)?;
            let mut ids: Vec<_> = deliveries.iter().map(|d| d.webhook_id).collect();
            ids.sort_unstable();
            ids.dedup();
            let hooks: HashMap<_, _> = Webhook::find_all(conn, &ids)?.into_iter().map(|w| (w.id, w)).collect();
            Ok((deliveries, hooks))
        })
        .await?;
        if deliveries.is_empty() {
            return Ok(0);
        }
        let sends = deliveries.iter().map(|delivery| {
            let hook = hooks.get(&delivery.webhook_id);
            async move {
                match hook {
                    Some(hook) => self.attempt(hook, delivery).await,
                    None => Outcome::Permanent(failure(None, "the subscription is gone".to_owned(), 0)),
                }
            }
        });
        let outcomes = futures_util::future::join_all(sends).await;
        let count = deliveries.len();
        let settings = self.settings.clone();
        db::run(&self.pool, move |conn| -> anyhow::Result<()> {
            // The accepted ones in one statement (the common case), and their subscriptions' failure records once
            // each; should that statement fail, they are recorded one by one with the rest.
            let (delivered, others): (Vec<_>, Vec<_>) =
                deliveries.iter().zip(outcomes).partition(|(_, outcome)| matches!(outcome, Outcome::Delivered(_)));
            let accepted: Vec<(uuid::Uuid, &Attempt)> = delivered
                .iter()
                .filter_map(|(delivery, outcome)| match outcome {
                    Outcome::Delivered(attempt) => Some((delivery.id, attempt)),
                    _ => None,
                })
                .collect();
            let one_by_one = match WebhookDelivery::mark_all_delivered(conn, &accepted) {
                Ok(_) => {
                    let mut hooks: Vec<_> =
                        delivered.iter().filter(|(d, _)| d.ticket_id.is_some()).map(|(d, _)| d.webhook_id).collect();
                    hooks.sort_unstable();
                    hooks.dedup();
                    for hook in hooks {
                        if let Err(error) = Webhook::record_success(conn, hook) {
                            tracing::error!(webhook = %hook, error = ?error, "could not clear a webhook's failures");
                        }
                    }
                    others
                }
                Err(error) => {
                    tracing::warn!(error = ?error, "could not record accepted webhook deliveries at once");
                    delivered.into_iter().chain(others).collect()
                }
            };
            for (delivery, outcome) in one_by_one {
                // Each outcome on its own: one that cannot be stored must not leave the others unrecorded (they
                // would be sent again when their lease ends).
                if let Err(error) = record(conn, &settings, delivery, outcome) {
                    tracing::error!(delivery = %delivery.id, error = ?error, "could not record a webhook attempt");
                }
            }
            Ok(())
        })
        .await?;
        Ok(count)
    }

    /// One signed POST of `delivery` to `hook`.
    async fn attempt(&self, hook: &Webhook, delivery: &WebhookDelivery) -> Outcome {
        let started = Instant::now();
        let elapsed = || i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
        if let Some(refused) = self.literal_refused(&hook.url) {
            return Outcome::Permanent(failure(None, refused, 0));
        }
        let body = serde_json::json!({
            "id": delivery.id,
            "type": delivery.event_type,
            "occurred_at": delivery.occurred_at,
            "data": delivery.data,
        });
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let id = delivery.id.to_string();
        let now = Utc::now();
        let timestamp = now.timestamp();
        let signature = webhooks::signature_header(hook, &id, timestamp, &body, now);
        let sent = self
            .client
            .post(&hook.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        let mut response = match sent {
            Ok(response) => response,
            Err(error) => {
                // Without the URL: a receiver's URL may carry a token of its own, and this text is logged.
                let error = error.without_url();
                let text = error_chain(&error);
                return match find_forbidden(&error) {
                    Some(refused) => Outcome::Permanent(failure(None, refused, elapsed())),
                    None if error.is_timeout() => Outcome::Retry(
                        failure(None, format!("no answer within {:?}", self.settings.timeout), elapsed()),
                        None,
                    ),
                    None => Outcome::Retry(failure(None, text, elapsed()), None),
                };
            }
        };
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let mut kept = Vec::new();
        while kept.len() < RESPONSE_KEPT {
            match response.chunk().await {
                Ok(Some(chunk)) => kept.extend_from_slice(&chunk[..chunk.len().min(RESPONSE_KEPT - kept.len())]),
                Ok(None) | Err(_) => break,
            }
        }
        let text = storable(&String::from_utf8_lossy(&kept));
        let attempt = |error: Option<String>| Attempt {
            status_code: Some(i32::from(status.as_u16())),
            response: (!text.is_empty()).then(|| text.clone()),
            error: error.map(|error| storable(&error)),
            duration_ms: elapsed(),
        };
        let code = status.as_u16();
        match code {
            200..=299 => Outcome::Delivered(attempt(None)),
            408 | 429 | 500..=599 => {
                Outcome::Retry(attempt(Some(format!("the receiver answered {status}"))), retry_after)
            }
            300..=399 => {
                Outcome::Permanent(attempt(Some(format!("the receiver answered {status}: redirects are not followed"))))
            }
            _ => Outcome::Permanent(attempt(Some(format!("the receiver answered {status}")))),
        }
    }

    /// Why a URL whose host is a literal address may not be reached (the resolver never sees those).
    fn literal_refused(&self, url: &str) -> Option<String> {
        if self.settings.allow_private {
            return None;
        }
        let address = webhooks::literal_address(&url::Url::parse(url).ok()?)?;
        forbidden_address(address).then(|| format!("{address} is a private or special-purpose address"))
    }

    /// Starts telling the admins of disabled subscriptions, beside the deliveries (a slow mail server must not
    /// hold them up), unless that is under way already.
    fn tell_admins_in_background(&self) {
        use std::sync::atomic::Ordering;
        if self.telling.swap(true, Ordering::AcqRel) {
            return;
        }
        let worker = self.clone();
        tokio::spawn(async move {
            if let Err(error) = worker.tell_admins_of_disabled().await {
                tracing::warn!(error = ?error, "could not tell the admins of a disabled webhook yet");
            }
            worker.telling.store(false, Ordering::Release);
        });
    }

    /// Emails every active admin about each subscription the service disabled and nobody was told of yet. An
    /// address the mail server refuses for good is skipped (and logged); a temporary failure leaves the notice to
    /// the next round.
    async fn tell_admins_of_disabled(&self) -> anyhow::Result<()> {
        let (hooks, admins) = db::run(&self.pool, |conn| -> anyhow::Result<_> {
            let hooks = Webhook::disabled_untold(conn)?;
            let admins = match hooks.is_empty() {
                true => Vec::new(),
                false => User::active_with_role(conn, Role::Admin)?,
            };
            Ok((hooks, admins))
        })
        .await?;
        for hook in hooks {
            let text = format!(
                "The webhook {url} (id {id}) was disabled at {at}: every delivery attempt has failed since {since}.\n\n\
                 Last error: {reason}\n\n\
                 Its deliveries are kept. Fix the receiver, then re-enable it with\n\
                 PATCH /api/v1/webhooks/{id} {{\"active\": true}} and resend failed deliveries with\n\
                 POST /api/v1/webhook-deliveries/{{delivery}}/redeliver.\n",
                url = hook.url,
                id = hook.id,
                at = hook.disabled_at.map(|at| at.to_rfc3339()).unwrap_or_default(),
                since = hook.failing_since.map(|at| at.to_rfc3339()).unwrap_or_default(),
                reason = hook.disabled_reason.as_deref().unwrap_or("unknown"),
            );
            let from = self.from.parse()?;
            for admin in &admins {
                let Ok(to) = admin.email.parse() else {
                    tracing::warn!(admin = %admin.id, "an admin's address cannot be written to; skipped");
                    continue;
                };
                let message = lettre::Message::builder()
                    .from(Clone::clone(&from))
                    .to(to)
                    .subject(format!("civicdesk: webhook disabled ({})", hook.id))
                    .header(lettre::message::header::ContentType::TEXT_PLAIN)
                    .body(text.clone())?;
                match self.mail.send(message).await {
                    Ok(()) => {}
                    Err(SendFailure::Permanent(why)) => {
                        tracing::warn!(admin = %admin.id, %why, "the mail server refused an admin's address; skipped");
                    }
                    Err(SendFailure::Transient(why)) => anyhow::bail!("the mail server failed for now: {why}"),
                }
            }
            let id = hook.id;
            db::run(&self.pool, move |conn| -> anyhow::Result<_> { Ok(Webhook::mark_disabled_told(conn, id)?) })
                .await?;
            tracing::warn!(webhook = %hook.id, admins = admins.len(), "webhook disabled; admins told");
        }
        Ok(())
    }
}

/// Stores what became of one attempt: delivered, due again after a backoff, or given up on; and the
/// subscription's failure record (pings, sent on request, leave it alone).
fn record(
    conn: &mut diesel::PgConnection,
    settings: &WebhookSettings,
    delivery: &WebhookDelivery,
    outcome: Outcome,
) -> anyhow::Result<()> {
    let now = Utc::now();
    let disable_before = now - chrono::Duration::from_std(settings.disable_after).unwrap_or_default();
    let counts = delivery.ticket_id.is_some();
    match outcome {
        Outcome::Delivered(attempt) => {
            WebhookDelivery::mark_delivered(conn, delivery.id, &attempt)?;
            if counts {
                Webhook::record_success(conn, delivery.webhook_id)?;
            }
        }
        Outcome::Retry(attempt, asked) => {
            let delay = webhooks::retry_delay(settings, delivery.attempts, asked);
            let next = now + chrono::Duration::from_std(delay).unwrap_or_default();
            let first = delivery.first_attempt_at.unwrap_or(now);
            let give_up_at = first + chrono::Duration::from_std(settings.give_up_after).unwrap_or_default();
            let next = (next <= give_up_at).then_some(next);
            if next.is_none() {
                tracing::warn!(delivery = %delivery.id, "webhook delivery given up after retrying");
            }
            WebhookDelivery::mark_failed_attempt(conn, delivery.id, &attempt, next)?;
            if counts {
                disable_if_failing(conn, delivery.webhook_id, disable_before, &attempt.error.unwrap_or_default())?;
            }
        }
        Outcome::Permanent(attempt) => {
            tracing::warn!(delivery = %delivery.id, error = ?attempt.error, "webhook delivery refused");
            WebhookDelivery::mark_failed_attempt(conn, delivery.id, &attempt, None)?;
            if counts {
                disable_if_failing(conn, delivery.webhook_id, disable_before, &attempt.error.unwrap_or_default())?;
            }
        }
    }
    Ok(())
}

/// Text from outside (a receiver's answer, an error) as PostgreSQL stores it: without NUL characters.
fn storable(text: &str) -> String {
    text.replace('\0', "\u{fffd}")
}

/// Disables the subscription when it has failed since before `disable_before`.
fn disable_if_failing(
    conn: &mut diesel::PgConnection,
    webhook_id: uuid::Uuid,
    disable_before: chrono::DateTime<Utc>,
    reason: &str,
) -> diesel::QueryResult<()> {
    if let Some(hook) = Webhook::record_failure(conn, webhook_id, disable_before, reason)? {
        tracing::warn!(webhook = %hook.id, "webhook disabled after failing for days");
    }
    Ok(())
}

fn failure(status_code: Option<i32>, error: String, duration_ms: i32) -> Attempt {
    Attempt { status_code, response: None, error: Some(storable(&error)), duration_ms }
}

/// The whole chain of an error, outermost first.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

/// The resolver's refusal, if that is what stopped the request.
fn find_forbidden(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = current {
        if let Some(refused) = error.downcast_ref::<ForbiddenAddress>() {
            return Some(refused.0.clone());
        }
        // However the client wraps the resolver's error, its words stay.
        let text = error.to_string();
        if text.contains(FORBIDDEN_WORDS) && current.and_then(|e| e.source()).is_none() {
            return Some(text);
        }
        current = error.source();
    }
    None
}

/// A `Retry-After` header: seconds, or an HTTP date.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    (when.with_timezone(&Utc) - Utc::now()).to_std().ok()
}
