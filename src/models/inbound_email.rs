//! Every email taken in, with its original, for idempotency and for staff.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
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
        /// It was refused (a sender who may not write to the help desk, no office for it, too many new tickets).
        Rejected => "rejected",
        /// Its sender could not be verified: kept as an internal note (or held) for staff, sent to nobody.
        Unverified => "unverified",
    }
}

text_enum! {
    /// Where an email stands: stored first, then processed, or kept as failed.
    pub enum InboundStatus {
        /// Stored, not processed yet (or being processed).
        Received => "received",
        /// Processed: see its outcome.
        Processed => "processed",
        /// Not applied for a permanent reason (malformed, refused, an error); an administrator can retry it.
        Failed => "failed",
    }
}

/// An email taken in, without its raw bytes.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
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

/// A new inbound email, stored before it is parsed.
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
    /// See [`InboundEmail::status`].
    pub status: InboundStatus,
    /// See [`InboundEmail::reason`].
    pub reason: String,
}

/// What became of an email, as recorded.
#[derive(Debug, Clone)]
pub struct InboundResult<'a> {
    /// Processed, or failed.
    pub status: InboundStatus,
    /// The outcome, if it got that far.
    pub outcome: Option<InboundOutcome>,
    /// Why, in words.
    pub reason: &'a str,
    /// The ticket it went to.
    pub ticket_id: Option<Uuid>,
    /// The ticket message it became.
    pub ticket_message_id: Option<Uuid>,
}

impl InboundEmail {
    /// Stores an email unless its Message-ID is there already; `None` when it was.
    pub fn insert_new(conn: &mut PgConnection, new: &NewInboundEmail) -> QueryResult<Option<InboundEmail>> {
        diesel::insert_into(inbound_emails::table)
            .values(new)
            .on_conflict(inbound_emails::message_id)
            .do_nothing()
            .returning(InboundEmail::as_returning())
            .get_result(conn)
            .optional()
    }

    /// The email with this Message-ID, if it was taken in before.
    pub fn find_by_message_id(conn: &mut PgConnection, message_id: &str) -> QueryResult<Option<InboundEmail>> {
        inbound_emails::table
            .filter(inbound_emails::message_id.eq(message_id))
            .select(InboundEmail::as_select())
            .first(conn)
            .optional()
    }

    /// The email with this id.
    pub fn find(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<InboundEmail>> {
        inbound_emails::table.find(id).select(InboundEmail::as_select()).first(conn).optional()
    }

    /// The email with this id, locked until the end of the transaction (one processor at a time).
    pub fn lock(conn: &mut PgConnection, id: Uuid) -> QueryResult<InboundEmail> {
        inbound_emails::table.find(id).select(InboundEmail::as_select()).for_update().first(conn)
    }

    /// Records what became of an email.
    pub fn record(conn: &mut PgConnection, id: Uuid, result: &InboundResult<'_>) -> QueryResult<usize> {
        diesel::update(inbound_emails::table.find(id))
            .set((
                inbound_emails::status.eq(result.status),
                inbound_emails::outcome.eq(result.outcome),
                inbound_emails::reason.eq(result.reason),
                inbound_emails::ticket_id.eq(result.ticket_id),
                inbound_emails::ticket_message_id.eq(result.ticket_message_id),
                inbound_emails::processed_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
    }

    /// Counts one more attempt at processing a stored email; returns how many there were.
    pub fn count_attempt(conn: &mut PgConnection, id: Uuid) -> QueryResult<i32> {
        diesel::update(inbound_emails::table.find(id))
            .set(inbound_emails::attempts.eq(inbound_emails::attempts + 1))
            .returning(inbound_emails::attempts)
            .get_result(conn)
    }

    /// Puts a failed email back to be processed again, counting the attempt.
    pub fn reopen(conn: &mut PgConnection, id: Uuid) -> QueryResult<usize> {
        diesel::update(inbound_emails::table.find(id).filter(inbound_emails::status.eq(InboundStatus::Failed)))
            .set((
                inbound_emails::status.eq(InboundStatus::Received),
                inbound_emails::attempts.eq(inbound_emails::attempts + 1),
                inbound_emails::reason.eq("retried by an administrator"),
            ))
            .execute(conn)
    }

    /// Emails, newest first, optionally only in one status; keyset pagination by id (time-ordered UUIDv7).
    pub fn list(
        conn: &mut PgConnection,
        status: Option<InboundStatus>,
        before: Option<Uuid>,
        limit: i64,
    ) -> QueryResult<Vec<InboundEmail>> {
        let mut query = inbound_emails::table.select(InboundEmail::as_select()).into_boxed();
        if let Some(status) = status {
            query = query.filter(inbound_emails::status.eq(status));
        }
        if let Some(before) = before {
            query = query.filter(inbound_emails::id.lt(before));
        }
        query.order(inbound_emails::id.desc()).limit(limit).load(conn)
    }

    /// How many tickets (new ones and follow-ups) mail from `address` opened since `since`.
    pub fn tickets_opened_since(conn: &mut PgConnection, address: &str, since: DateTime<Utc>) -> QueryResult<i64> {
        inbound_emails::table
            .filter(inbound_emails::from_address.eq(address))
            .filter(inbound_emails::received_at.gt(since))
            .filter(inbound_emails::outcome.eq_any([InboundOutcome::Created, InboundOutcome::FollowUp]))
            .count()
            .get_result(conn)
    }

    /// The raw message of an email.
    pub fn raw(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<Vec<u8>>> {
        inbound_emails::table.find(id).select(inbound_emails::raw).first(conn).optional()
    }

    /// How many emails came to each outcome, with the status standing in for emails without one yet; in order.
    /// Grouped by the two columns first, so that the count is an index-only scan of
    /// `inbound_emails_outcome_status_idx`.
    pub fn count_by_outcome(conn: &mut PgConnection) -> QueryResult<Vec<OutcomeCount>> {
        diesel::sql_query(
            "SELECT COALESCE(outcome, status) AS outcome, sum(emails)::int8 AS count \
             FROM (SELECT outcome, status, count(*) AS emails FROM inbound_emails GROUP BY 1, 2) pairs \
             GROUP BY 1 ORDER BY 1",
        )
        .load(conn)
    }
}

/// One row of [`InboundEmail::count_by_outcome`].
#[derive(Debug, Clone, QueryableByName)]
pub struct OutcomeCount {
    /// The outcome of processed emails, or the status of the others (`received`, `failed`).
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub outcome: String,
    /// How many emails.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub count: i64,
}
