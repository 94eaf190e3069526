//! Every email taken in, with its original, for idempotency and for staff.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::schema::inbound_emails;
use crate::text_enum;

text_enum! {
    /// How an email came in.
    pub enum InboundSource {
        /// Piped by the mail server into `civicdesk ingest-email`.
        Pipe => "pipe",
        /// Posted to `POST /api/v1/inbound/email`.
        Http => "http",
        /// Fetched from an IMAP folder.
        Imap => "imap",
    }
}

text_enum! {
    /// What became of an email.
    pub enum InboundOutcome {
        /// It was added to a ticket as a message.
        Added => "added",
        /// It opened a new ticket.
        Created => "created",
        /// It answered a closed ticket and opened a follow-up.
        FollowUp => "follow_up",
        /// It was kept but changed nothing (automatic mail, an empty reply).
        Ignored => "ignored",
        /// It reported that one of our notifications could not be delivered.
        Bounce => "bounce",
        /// It was refused (a sender who may not write to the help desk).
        Rejected => "rejected",
    }
}

/// An email taken in, without its raw bytes.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Serialize, ToSchema)]
#[diesel(table_name = inbound_emails, check_for_backend(diesel::pg::Pg))]
pub struct InboundEmail {
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
    /// What became of it.
    pub outcome: InboundOutcome,
    /// Why, in words.
    pub reason: String,
    /// The ticket it went to, if any.
    pub ticket_id: Option<Uuid>,
    /// The ticket message it became, if any.
    pub ticket_message_id: Option<Uuid>,
    /// When it was taken in.
    pub received_at: DateTime<Utc>,
}

/// A new inbound email.
#[derive(Debug, Insertable)]
#[diesel(table_name = inbound_emails)]
pub struct NewInboundEmail {
    /// See [`InboundEmail::id`].
    pub id: Uuid,
    /// See [`InboundEmail::message_id`].
    pub message_id: String,
    /// SHA-256 of the raw message.
    pub raw_sha256: Vec<u8>,
    /// The raw message.
    pub raw: Vec<u8>,
    /// See [`InboundEmail::from_address`].
    pub from_address: Option<String>,
    /// See [`InboundEmail::subject`].
    pub subject: Option<String>,
    /// See [`InboundEmail::source`].
    pub source: InboundSource,
    /// See [`InboundEmail::outcome`].
    pub outcome: InboundOutcome,
    /// See [`InboundEmail::reason`].
    pub reason: String,
    /// See [`InboundEmail::ticket_id`].
    pub ticket_id: Option<Uuid>,
    /// See [`InboundEmail::ticket_message_id`].
    pub ticket_message_id: Option<Uuid>,
}

impl InboundEmail {
    /// Stores an email.
    pub fn insert(conn: &mut PgConnection, new: &NewInboundEmail) -> QueryResult<InboundEmail> {
        diesel::insert_into(inbound_emails::table).values(new).returning(InboundEmail::as_returning()).get_result(conn)
    }

    /// The email with this Message-ID, if it was taken in before.
    pub fn find_by_message_id(conn: &mut PgConnection, message_id: &str) -> QueryResult<Option<InboundEmail>> {
        inbound_emails::table
            .filter(inbound_emails::message_id.eq(message_id))
            .select(InboundEmail::as_select())
            .first(conn)
            .optional()
    }

    /// Records what became of an email.
    pub fn record_outcome(
        conn: &mut PgConnection,
        id: Uuid,
        outcome: InboundOutcome,
        reason: &str,
        ticket_id: Option<Uuid>,
        ticket_message_id: Option<Uuid>,
    ) -> QueryResult<usize> {
        diesel::update(inbound_emails::table.find(id))
            .set((
                inbound_emails::outcome.eq(outcome),
                inbound_emails::reason.eq(reason),
                inbound_emails::ticket_id.eq(ticket_id),
                inbound_emails::ticket_message_id.eq(ticket_message_id),
            ))
            .execute(conn)
    }

    /// The raw message of an email.
    pub fn raw(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<Vec<u8>>> {
        inbound_emails::table.find(id).select(inbound_emails::raw).first(conn).optional()
    }
}
