//! What an audit event records besides its kind and old and new values: one typed variant per kind of event,
//! stored as the event's `details` JSON (the shapes the API has always shown).

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::domain::routing::Explanation;
use crate::models::ticket_event::{EventKind, NewTicketEvent};
use crate::vocabulary::{Channel, SlaClock};

/// Why a change was made by the service rather than by a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeReason {
    /// A service-level target passed and its policy's breach action made the change.
    SlaBreached,
}

/// The `details` of an audit event.
///
/// Untagged: the event's `kind` already says which variant it is, so the JSON holds only the fields.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum EventDetails {
    /// Nothing beyond the kind and the old and new values.
    None {},
    /// The ticket was submitted.
    Created {
        /// Its first message.
        message_id: Uuid,
        /// How it came in.
        channel: Channel,
        /// The closed ticket it follows up, if any.
        follow_up_of: Option<Uuid>,
    },
    /// A reply or internal note was added.
    MessageAdded {
        /// The message.
        message_id: Uuid,
        /// Whether it is an internal note.
        internal: bool,
    },
    /// Routing decided; why.
    Routed(Explanation),
    /// Nobody in the office could take the ticket and its coordinators were told.
    CoordinatorsAlerted {
        /// The office.
        office_id: Uuid,
        /// Who was told.
        coordinator_ids: Vec<Uuid>,
        /// Routing's outcome in words.
        reason: String,
    },
    /// A service-level target is near or has passed.
    SlaNotice {
        /// Which clock.
        clock: SlaClock,
        /// When the target is or was.
        due_at: Option<DateTime<Utc>>,
        /// Who is told.
        recipient_ids: Vec<Uuid>,
    },
    /// A field changed because of a rule, not a person.
    Automatic {
        /// The rule.
        reason: ChangeReason,
        /// The clock whose breach caused it.
        clock: SlaClock,
    },
    /// A notification bounced.
    DeliveryFailed {
        /// The outbox row of the notification.
        outbox_id: Uuid,
        /// Its recipient.
        recipient_id: Uuid,
        /// Its Message-ID.
        message_id: String,
        /// What the bounce said.
        diagnostic: String,
    },
    /// A reply to a closed ticket opened a new one.
    FollowUpCreated {
        /// The new ticket.
        follow_up_id: Uuid,
        /// Its reference.
        follow_up_reference: i64,
    },
    /// Mail from a sender who may not act on the ticket was kept as an internal note.
    UnverifiedMail {
        /// The note.
        message_id: Uuid,
        /// The stored email.
        inbound_email_id: Uuid,
        /// The sender the email claimed.
        claimed_sender: String,
        /// Why it was not trusted.
        reason: String,
    },
    /// The requester rated the handling.
    SatisfactionRated {
        /// Their comment, if any.
        comment: Option<String>,
    },
    /// A custom field's value changed.
    CustomField {
        /// The field's key.
        key: String,
    },
    /// Time spent was logged, changed or removed.
    TimeSpent {
        /// The time entry.
        entry_id: Uuid,
        /// Its minutes (after the change; before it, for a removal).
        minutes: i32,
    },
    /// A merge: the other ticket.
    Merge {
        /// The other ticket's id.
        ticket_id: Uuid,
        /// Its reference.
        reference: i64,
    },
}

impl EventDetails {
    fn to_json(&self) -> serde_json::Value {
        // Plain structs of uuids, strings and timestamps always serialise.
        serde_json::to_value(self).unwrap_or_else(|_| serde_json::json!({}))
    }
}

/// An audit event about to be recorded, with its details still typed (the notifications are planned from them).
#[derive(Debug, Clone)]
pub struct Event {
    /// The ticket.
    pub ticket_id: Uuid,
    /// Who caused it (`None`: the service itself).
    pub actor_id: Option<Uuid>,
    /// What happened.
    pub kind: EventKind,
    /// The value before, as text.
    pub old_value: Option<String>,
    /// The value after, as text.
    pub new_value: Option<String>,
    /// Whether only staff may see it.
    pub internal: bool,
    /// What else it records.
    pub details: EventDetails,
}

impl Event {
    /// The row that stores it.
    pub fn to_row(&self) -> NewTicketEvent {
        let mut row = NewTicketEvent::change(
            self.ticket_id,
            self.actor_id,
            self.kind,
            self.old_value.clone(),
            self.new_value.clone(),
        );
        row.internal = self.internal;
        row.details = self.details.to_json();
        row
    }
}

/// A public event on `ticket_id`: `kind`, from `old` to `new`, with `details`.
pub fn event(
    ticket_id: Uuid,
    actor_id: Option<Uuid>,
    kind: EventKind,
    (old_value, new_value): (Option<String>, Option<String>),
    details: EventDetails,
) -> Event {
    Event { ticket_id, actor_id, kind, old_value, new_value, internal: false, details }
}

/// A staff-only event on `ticket_id` (routing explanations, service-level notices, mail problems).
pub fn staff_event(
    ticket_id: Uuid,
    actor_id: Option<Uuid>,
    kind: EventKind,
    values: (Option<String>, Option<String>),
    details: EventDetails,
) -> Event {
    Event { internal: true, ..event(ticket_id, actor_id, kind, values, details) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_serialise_as_their_fields_only() {
        assert_eq!(EventDetails::None {}.to_json(), serde_json::json!({}));
        let id = Uuid::nil();
        assert_eq!(
            EventDetails::MessageAdded { message_id: id, internal: true }.to_json(),
            serde_json::json!({ "message_id": id, "internal": true })
        );
        assert_eq!(
            EventDetails::Automatic { reason: ChangeReason::SlaBreached, clock: SlaClock::Resolution }.to_json(),
            serde_json::json!({ "reason": "sla_breached", "clock": "resolution" })
        );
    }
}
