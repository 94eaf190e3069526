//! What admins see of webhook subscriptions and their deliveries.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::models::webhook::{DeliveryStatus, Webhook, WebhookDelivery};

/// A webhook subscription (its secret is shown once, at creation and rotation).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Webhook)]
pub struct WebhookView {
    /// Identifier.
    pub id: Uuid,
    /// Where deliveries are POSTed.
    pub url: String,
    /// The event types wanted (`*`: all).
    pub events: Vec<String>,
    /// Only tickets of this office.
    pub office_id: Option<Uuid>,
    /// Only tickets of this organisation.
    pub organization_id: Option<Uuid>,
    /// Whether `message.created` includes internal notes.
    pub include_internal: bool,
    /// Whether deliveries are queued and sent.
    pub active: bool,
    /// Since when every attempt has failed (null: the last one succeeded).
    pub failing_since: Option<DateTime<Utc>>,
    /// When the service disabled it after failing for days (null: it did not).
    pub disabled_at: Option<DateTime<Utc>>,
    /// Why the service disabled it.
    pub disabled_reason: Option<String>,
    /// Until when the secret before the last rotation still signs too.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// The admin who created it.
    pub created_by: Uuid,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<Webhook> for WebhookView {
    fn from(webhook: Webhook) -> Self {
        WebhookView {
            id: webhook.id,
            url: webhook.url,
            events: webhook.events,
            office_id: webhook.office_id,
            organization_id: webhook.organization_id,
            include_internal: webhook.include_internal,
            active: webhook.active,
            failing_since: webhook.failing_since,
            disabled_at: webhook.disabled_at,
            disabled_reason: webhook.disabled_reason,
            previous_secret_expires_at: webhook.previous_secret_expires_at.filter(|until| *until > Utc::now()),
            created_by: webhook.created_by,
            created_at: webhook.created_at,
            updated_at: webhook.updated_at,
        }
    }
}

/// A subscription with its signing secret: the answer to creating one or rotating its secret, the only times the
/// secret is shown.
// No Debug: it holds the secret.
#[derive(Clone, Serialize, ToSchema)]
#[schema(as = WebhookWithSecret)]
pub struct WebhookWithSecretView {
    /// The subscription.
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// The signing secret (`whsec_` and base64): verify `Webhook-Signature` with it. It cannot be shown again.
    pub secret: String,
}

impl From<Webhook> for WebhookWithSecretView {
    fn from(webhook: Webhook) -> Self {
        let secret = webhook.secret.clone();
        WebhookWithSecretView { webhook: webhook.into(), secret }
    }
}

/// One event for one subscription, and what became of it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = WebhookDelivery)]
pub struct WebhookDeliveryView {
    /// Identifier: the `Webhook-Id` header and the body's `id`, the same on every attempt.
    pub id: Uuid,
    /// The subscription.
    pub webhook_id: Uuid,
    /// The ticket (null for a ping).
    pub ticket_id: Option<Uuid>,
    /// The audit event (null for a ping).
    pub event_id: Option<i64>,
    /// The event type.
    #[schema(example = "ticket.status_changed")]
    pub event_type: String,
    /// When the event happened.
    pub occurred_at: DateTime<Utc>,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: i32,
    /// When it is (next) due, while pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When it was last tried.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The last answer's status code.
    pub last_status_code: Option<i32>,
    /// The start of the last answer's body (at most 1 KiB).
    pub last_response: Option<String>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// How long the last attempt took, in milliseconds.
    pub last_duration_ms: Option<i32>,
    /// When the receiver accepted it.
    pub delivered_at: Option<DateTime<Utc>>,
    /// When it was queued (or last redelivered).
    pub created_at: DateTime<Utc>,
}

impl From<WebhookDelivery> for WebhookDeliveryView {
    fn from(delivery: WebhookDelivery) -> Self {
        WebhookDeliveryView {
            id: delivery.id,
            webhook_id: delivery.webhook_id,
            ticket_id: delivery.ticket_id,
            event_id: delivery.event_id,
            event_type: delivery.event_type,
            occurred_at: delivery.occurred_at,
            next_attempt_at: (delivery.status == DeliveryStatus::Pending).then_some(delivery.next_attempt_at),
            status: delivery.status,
            attempts: delivery.attempts,
            last_attempt_at: delivery.last_attempt_at,
            last_status_code: delivery.last_status_code,
            last_response: delivery.last_response,
            last_error: delivery.last_error,
            last_duration_ms: delivery.last_duration_ms,
            delivered_at: delivery.delivered_at,
            created_at: delivery.created_at,
        }
    }
}
