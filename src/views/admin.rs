//! What administrators see of the mail: outbox notifications and inbound emails.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::models::inbound_email::{InboundOutcome, InboundSource, InboundStatus};
use crate::models::outbox::{NotificationKind, OutboxStatus};
use crate::models::{InboundEmail, OutboxEntry};

/// A notification in the outbox.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = OutboxEntry)]
pub struct OutboxEntryView {
    /// Identifier.
    pub id: Uuid,
    /// The ticket it is about.
    pub ticket_id: Option<Uuid>,
    /// Who gets it.
    pub recipient_id: Uuid,
    /// What it says.
    pub kind: NotificationKind,
    /// What the template needs besides the ticket and the recipient.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    /// Where it stands.
    pub status: OutboxStatus,
    /// How many times sending was tried.
    pub attempts: i32,
    /// When the next attempt is due.
    pub next_attempt_at: DateTime<Utc>,
    /// Until when the worker sending it holds it.
    pub locked_until: Option<DateTime<Utc>>,
    /// The last error, for failed and retried notifications.
    pub last_error: Option<String>,
    /// The Message-ID it was sent with.
    pub message_id: Option<String>,
    /// The address it was sent to.
    pub recipient_email: Option<String>,
    /// The subject it was sent with.
    pub subject: Option<String>,
    /// When it was handed to the mail server.
    pub sent_at: Option<DateTime<Utc>>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<OutboxEntry> for OutboxEntryView {
    fn from(entry: OutboxEntry) -> Self {
        OutboxEntryView {
            id: entry.id,
            ticket_id: entry.ticket_id,
            recipient_id: entry.recipient_id,
            kind: entry.kind,
            details: entry.details,
            status: entry.status,
            attempts: entry.attempts,
            next_attempt_at: entry.next_attempt_at,
            locked_until: entry.locked_until,
            last_error: entry.last_error,
            message_id: entry.message_id,
            recipient_email: entry.recipient_email,
            subject: entry.subject,
            sent_at: entry.sent_at,
            created_at: entry.created_at,
            updated_at: entry.updated_at,
        }
    }
}

/// An email taken in, without its raw bytes.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = InboundEmail)]
pub struct InboundEmailView {
    /// Identifier.
    pub id: Uuid,
    /// Its Message-ID.
    pub message_id: String,
    /// The sender's address.
    pub from_address: Option<String>,
    /// The subject.
    pub subject: Option<String>,
    /// How it came in.
    pub source: InboundSource,
    /// Where it stands.
    pub status: InboundStatus,
    /// What became of it, once processed (also on failed ones that were refused).
    pub outcome: Option<InboundOutcome>,
    /// Why, in words (for a failed one: the reason it failed).
    pub reason: String,
    /// How many times it was processed (retries included).
    pub attempts: i32,
    /// The ticket it went to, if any.
    pub ticket_id: Option<Uuid>,
    /// The ticket message it became, if any.
    pub ticket_message_id: Option<Uuid>,
    /// When it was taken in.
    pub received_at: DateTime<Utc>,
    /// When it was last processed.
    pub processed_at: Option<DateTime<Utc>>,
}

impl From<InboundEmail> for InboundEmailView {
    fn from(email: InboundEmail) -> Self {
        InboundEmailView {
            id: email.id,
            message_id: email.message_id,
            from_address: email.from_address,
            subject: email.subject,
            source: email.source,
            status: email.status,
            outcome: email.outcome,
            reason: email.reason,
            attempts: email.attempts,
            ticket_id: email.ticket_id,
            ticket_message_id: email.ticket_message_id,
            received_at: email.received_at,
            processed_at: email.processed_at,
        }
    }
}
