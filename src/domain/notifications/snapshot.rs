//! What a notification says, captured when it is queued: the ticket, the people and the event as they were at
//! that moment, so that the email is true to it whenever it is sent (a moment later, or hours later after an SMTP
//! outage) and never mixes in a later change.
//!
//! A snapshot is stored with the outbox row as JSON with a version number ([`VERSION`]). It holds facts, not
//! wording: the templates and phrase catalogs may change from one release to the next and still render a row
//! queued by an earlier one. When the facts themselves change shape, the new shape gets the next version number
//! and [`decode`] keeps reading the older ones (upgrading them to the current type), so that no queued
//! notification is left unreadable by an upgrade. `tests/fixtures/notification-snapshots/` holds snapshots as
//! stored by each version; they are never edited, and a test renders each with the current templates.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::models::{Office, Ticket, User};
use crate::vocabulary::{Category, Priority, SlaClock, TicketStatus};

/// The version of the snapshots this release writes.
pub const VERSION: i32 = 1;

/// Everything one notification says, as it was when queued (version 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Who it is for.
    pub recipient: Recipient,
    /// The ticket it is about.
    pub ticket: TicketFacts,
    /// The message it quotes (a reply), if any.
    #[serde(default)]
    pub message: Option<MessageFacts>,
    /// The status the change set (a reply that resolves, a status change), if any.
    #[serde(default)]
    pub new_status: Option<TicketStatus>,
    /// Whether a requester's reply reopened the ticket.
    #[serde(default)]
    pub reopened: bool,
    /// For a service-level notice: the clock and when it was due.
    #[serde(default)]
    pub sla: Option<SlaFacts>,
    /// For the requester's "resolved" email: the rating links' token, issued at queueing (the links are signed
    /// when the email is composed, with the key and public address in force).
    #[serde(default)]
    pub rating: Option<RatingFacts>,
    /// When the notification was queued.
    pub queued_at: DateTime<Utc>,
    /// For a merge notice: the ticket merged into this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<MergedFacts>,
    /// For a bulk-update notice: the tickets the update changed for this recipient (`ticket` is the first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bulk: Vec<TicketLine>,
}

/// The ticket a merge closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergedFacts {
    /// Its reference number.
    pub reference: i64,
    /// Its subject.
    pub subject: String,
}

/// One ticket of a bulk-update notice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketLine {
    /// Its reference number.
    pub reference: i64,
    /// Its subject.
    pub subject: String,
    /// Its status after the update.
    pub status: TicketStatus,
}

/// The recipient, as they were.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recipient {
    /// Their id (the signed reply address names it).
    pub id: Uuid,
    /// Their name.
    pub name: String,
    /// Their address.
    pub email: String,
    /// Their preferred language (BCP 47).
    pub language: String,
    /// Whether they were staff (staff see more of the ticket: priority, topic, due times).
    pub staff: bool,
}

/// The ticket, as it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketFacts {
    /// Its id (it threads the notifications of one ticket).
    pub id: Uuid,
    /// Its reference number.
    pub reference: i64,
    /// Its subject.
    pub subject: String,
    /// Its status.
    pub status: TicketStatus,
    /// Its priority.
    pub priority: Priority,
    /// Its topic.
    pub category: Category,
    /// The requesting organisation's name.
    pub organization: String,
    /// The office whose queue it was in.
    pub office: OfficeFacts,
    /// The assigned advisor's name; `None` when nobody was.
    #[serde(default)]
    pub assignee: Option<String>,
    /// When the first response was due, while it was still awaited.
    #[serde(default)]
    pub first_response_due_at: Option<DateTime<Utc>>,
    /// When the resolution was due, while its clock was running.
    #[serde(default)]
    pub resolution_due_at: Option<DateTime<Utc>>,
}

/// The ticket's office, as it was: named in the footer, its time zone for the times the email gives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OfficeFacts {
    /// Its name.
    pub name: String,
    /// Its contact address.
    pub contact_email: String,
    /// Its time zone (IANA).
    pub time_zone: String,
}

/// A quoted message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageFacts {
    /// Its author's name.
    pub author: String,
    /// Its text.
    pub body: String,
    /// Its files (their contents never change: they are named by their SHA-256).
    #[serde(default)]
    pub attachments: Vec<FileFacts>,
}

/// A file of a quoted message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileFacts {
    /// The attachment's id (its download link).
    pub id: Uuid,
    /// Its name.
    pub filename: String,
    /// Its type.
    pub content_type: String,
    /// Its size in bytes.
    pub size: i64,
    /// The SHA-256 of its content, in hex.
    pub sha256: String,
}

/// A service-level notice's clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlaFacts {
    /// Which target.
    pub clock: SlaClock,
    /// When it was due.
    #[serde(default)]
    pub due_at: Option<DateTime<Utc>>,
}

/// The rating links' token.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RatingFacts {
    /// When it was issued (the links expire counting from it).
    pub issued_at: DateTime<Utc>,
}

/// A stored snapshot that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Written by a newer release than this one.
    #[error("snapshot version {0} is newer than this release reads (up to {VERSION})")]
    Newer(i32),
    /// A version no release ever wrote.
    #[error("snapshot version {0} does not exist")]
    Unsupported(i32),
    /// Not the shape its version says.
    #[error("snapshot version {version} does not parse: {source}")]
    Malformed {
        /// The version it claims.
        version: i32,
        /// Why it does not parse.
        source: serde_json::Error,
    },
}

/// Reads a stored snapshot of any version this release knows, as the current type.
pub fn decode(version: i32, stored: &serde_json::Value) -> Result<Snapshot, SnapshotError> {
    match version {
        // Version 1 is the current shape. A version 2 would add `2 => ...` and turn version 1 into it here.
        1 => Snapshot::deserialize(stored).map_err(|source| SnapshotError::Malformed { version, source }),
        newer if newer > VERSION => Err(SnapshotError::Newer(newer)),
        other => Err(SnapshotError::Unsupported(other)),
    }
}

/// The stored form of a snapshot: its version and its JSON.
pub fn encode(snapshot: &Snapshot) -> (i32, serde_json::Value) {
    // Serialising plain structs of strings, numbers and times cannot fail.
    (VERSION, serde_json::to_value(snapshot).unwrap_or_default())
}

impl OfficeFacts {
    /// The facts of an office row.
    pub fn of(office: &Office) -> OfficeFacts {
        OfficeFacts {
            name: office.name.clone(),
            contact_email: office.contact_email.clone(),
            time_zone: office.time_zone.clone(),
        }
    }
}

impl TicketFacts {
    /// The facts of `ticket` as it is now, with the names the caller looked up.
    pub fn of(ticket: &Ticket, organization: String, office: OfficeFacts, assignee: Option<String>) -> TicketFacts {
        TicketFacts {
            id: ticket.id,
            reference: ticket.reference,
            subject: ticket.subject.clone(),
            status: ticket.status,
            priority: ticket.priority,
            category: ticket.category,
            organization,
            office,
            assignee,
            first_response_due_at: ticket.sla.first_response_due_at.filter(|_| ticket.first_response_at.is_none()),
            // Not while the clock is stopped (pending): the due time moves when it starts again.
            resolution_due_at: ticket
                .sla
                .resolution_due_at
                .filter(|_| ticket.status.is_active() && ticket.sla.sla_paused_at.is_none()),
        }
    }
}

impl Recipient {
    /// The facts of a user row.
    pub fn of(user: &User) -> Recipient {
        Recipient {
            id: user.id,
            name: user.name.clone(),
            email: user.email.clone(),
            language: user.language.clone(),
            staff: user.role.is_staff(),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Snapshots as each version stored them: never edit these files; add one per new version.
    pub(crate) const STORED: &[(i32, &str)] =
        &[(1, include_str!("../../../tests/fixtures/notification-snapshots/v1-staff-reply-resolved.json"))];

    #[test]
    fn every_stored_version_still_decodes() {
        for (version, json) in STORED {
            let stored: serde_json::Value = serde_json::from_str(json).unwrap();
            let snapshot = decode(*version, &stored).unwrap();
            assert_eq!(snapshot.ticket.reference, 1042);
            assert_eq!(snapshot.ticket.status, TicketStatus::Resolved);
        }
    }

    #[test]
    fn a_newer_or_malformed_snapshot_is_refused_with_a_reason() {
        let stored: serde_json::Value = serde_json::from_str(STORED[0].1).unwrap();
        assert!(matches!(decode(VERSION + 1, &stored), Err(SnapshotError::Newer(_))));
        assert!(matches!(decode(0, &stored), Err(SnapshotError::Unsupported(0))));
        let error = decode(1, &serde_json::json!({"ticket": 7})).unwrap_err();
        assert!(error.to_string().starts_with("snapshot version 1 does not parse"), "{error}");
    }

    #[test]
    fn encoding_round_trips() {
        let stored: serde_json::Value = serde_json::from_str(STORED[0].1).unwrap();
        let snapshot = decode(1, &stored).unwrap();
        let (version, json) = encode(&snapshot);
        assert_eq!(version, VERSION);
        assert_eq!(decode(version, &json).unwrap(), snapshot);
    }
}
