//! What an incoming email does: lands on the right ticket, opens a new one, follows up a closed one, is kept as an
//! unverified note, marks a bounced notification, or nothing at all. One core for every way mail comes in (pipe,
//! HTTP, IMAP); `crate::email::inbound` parses the message and hands over an [`InboundMail`].
//!
//! Every email is stored first, in its own transaction ([`store`]); then applied in a second one ([`apply`]),
//! which records what became of it. A permanent failure keeps it as `failed` with the reason, for an administrator
//! to retry after a fix; a temporary one (the database went away) leaves it `received` for the next delivery.
//!
//! - [`matching`]: which ticket an email answers (reply token, threading headers, subject reference);
//! - [`authority`]: whether its sender may act on that ticket by email, or is kept as unverified;
//! - [`landing`]: replies, follow-ups of closed tickets, unverified notes;
//! - [`new_ticket`]: new requests, new requesters, the "Unaffiliated" queue and the per-sender cap;
//! - [`bounce`]: delivery failure reports about our notifications.

mod authority;
mod bounce;
mod landing;
pub mod mail;
mod matching;
mod new_ticket;

use diesel::{Connection, PgConnection};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::caller::Caller;
use crate::domain::error::{DomainError, DomainResult};
use crate::models::inbound_email::{InboundOutcome, InboundResult, InboundStatus, NewInboundEmail};
use crate::models::{InboundEmail, Organization, OutboxEntry, Ticket, User};

pub use mail::{
    BounceReport, InboundMail, MailAttachment, MailKind, ReplyTokenClaim, Sender, SenderVerdict, ThreadKeys,
    ThreadReference,
};

/// What to do with mail from an address nobody knows whose domain is no organisation's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownSenders {
    /// Open a ticket in the "Unaffiliated" organisation's queue, for staff to sort out.
    Unaffiliated,
    /// Refuse the mail.
    Reject,
}

/// How ingestion is set up.
#[derive(Debug, Clone)]
pub struct InboundSettings {
    /// The key of reply tokens.
    pub secret: Vec<u8>,
    /// Our reply address (`support@example.org`), whose `+token` variants we recognise.
    pub reply_to: String,
    /// The domain of our Message-IDs (thread roots are `<ticket-<id>@domain>`).
    pub message_id_domain: String,
    /// The largest message taken in, in bytes.
    pub max_message_bytes: usize,
    /// The largest attachment kept, in bytes; larger ones are noted in the message and dropped.
    pub max_attachment_bytes: usize,
    /// Most attachments kept from one message.
    pub max_attachments: usize,
    /// Which files are kept; refused ones are noted in the message and dropped.
    pub file_policy: crate::domain::files::FilePolicy,
    /// Unknown senders outside every organisation's domain.
    pub unknown_senders: UnknownSenders,
    /// The country of the "Unaffiliated" organisation (routing sends its tickets to that country's office); the
    /// regional office's country when not set.
    pub unaffiliated_country: Option<String>,
    /// The authserv-id of our own MTA's `Authentication-Results` headers; none: no header is trusted.
    pub trusted_authserv_id: Option<String>,
    /// Most new tickets that mail from one address may open in an hour.
    pub new_tickets_per_sender_hour: u32,
}

/// Why an email could not be taken in. Every variant but [`IngestError::Temporary`] is permanent: the same message
/// will fail the same way, so mail servers must not retry it.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Not a readable message (exit 65, HTTP 422).
    #[error("malformed message: {reason}")]
    Malformed {
        /// Why.
        reason: String,
        /// The stored message, when it got that far.
        inbound_email_id: Option<Uuid>,
    },
    /// Larger than allowed (exit 65, HTTP 413); not stored.
    #[error("the message is larger than {0} bytes")]
    TooLarge(usize),
    /// Refused: a sender who may not write to the help desk, too many new tickets (exit 67, HTTP 422).
    #[error("refused: {reason}")]
    Refused {
        /// Why.
        reason: String,
        /// The stored message.
        inbound_email_id: Uuid,
    },
    /// Applying it failed for a reason that will not pass by itself, such as no office for its country (exit 65,
    /// HTTP 422); kept as failed for an administrator to retry after a fix.
    #[error("could not be applied: {reason}")]
    Failed {
        /// Why.
        reason: String,
        /// The stored message.
        inbound_email_id: Uuid,
    },
    /// A passing failure, such as the database being unreachable: try again later (exit 75, HTTP 503).
    #[error("temporary failure: {0}")]
    Temporary(String),
}

impl IngestError {
    /// Whether trying the same message again later may succeed (the database was unreachable, say); every other
    /// failure is permanent and the message must not be retried as it is.
    pub fn is_temporary(&self) -> bool {
        matches!(self, IngestError::Temporary(_))
    }

    /// The stored message the error is about, if it was stored.
    pub fn inbound_email_id(&self) -> Option<Uuid> {
        match self {
            IngestError::Malformed { inbound_email_id, .. } => *inbound_email_id,
            IngestError::Refused { inbound_email_id, .. } | IngestError::Failed { inbound_email_id, .. } => {
                Some(*inbound_email_id)
            }
            IngestError::TooLarge(_) | IngestError::Temporary(_) => None,
        }
    }
}

fn temporary(error: impl std::fmt::Display) -> IngestError {
    IngestError::Temporary(error.to_string())
}

/// A failure before anything was applied: temporary, or a message that cannot be stored as it is.
fn classify(error: DomainError, doing: &str) -> IngestError {
    if error.is_temporary() {
        return temporary(error);
    }
    let reason = match &error {
        DomainError::Internal(inner) => clean_reason(&format!("{doing}: {inner:#}")),
        other => clean_reason(&format!("{doing}: {}", other.detail())),
    };
    IngestError::Malformed { reason, inbound_email_id: None }
}

/// The raw bytes of a stored email (to process an unfinished one again).
pub fn stored_raw(conn: &mut PgConnection, id: Uuid) -> Result<Vec<u8>, IngestError> {
    InboundEmail::raw(conn, id).map_err(temporary)?.ok_or_else(|| temporary("the stored email disappeared"))
}

/// What became of an email.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Ingested {
    /// The outcome.
    pub outcome: InboundOutcome,
    /// Why, in words.
    pub reason: String,
    /// Whether this Message-ID was taken in before (nothing was done again).
    pub duplicate: bool,
    /// The stored email.
    pub inbound_email_id: Uuid,
    /// The ticket it went to, if any.
    pub ticket_id: Option<Uuid>,
    /// That ticket's reference.
    pub ticket_reference: Option<i64>,
    /// The ticket message it became, if any.
    pub message_id: Option<Uuid>,
}

/// The decision about one email, before it is recorded.
struct Decision {
    outcome: InboundOutcome,
    reason: String,
    ticket: Option<Ticket>,
    message_id: Option<Uuid>,
    /// Taken in but held back (kept as failed for an administrator to retry), without refusing it: refusing
    /// would bounce to a sender who may be forged.
    held: bool,
}

impl Decision {
    fn without_ticket(outcome: InboundOutcome, reason: impl Into<String>) -> Decision {
        Decision { outcome, reason: reason.into(), ticket: None, message_id: None, held: false }
    }
}

/// How many times a stored email is processed before it counts as failed: one that keeps stopping the process
/// (killed, out of memory) must not block the folder or queue behind it for ever.
const MAX_ATTEMPTS: i32 = 5;

/// The longest reason kept.
const REASON_MAX: usize = 2000;

/// A reason as stored: one line, no control characters (a NUL would make the record itself fail), bounded.
fn clean_reason(reason: &str) -> String {
    let line: String = reason.chars().map(|c| if c.is_control() { ' ' } else { c }).take(REASON_MAX).collect();
    line.trim().to_owned()
}

/// What a panic said, for the record.
pub fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_owned());
    clean_reason(&text)
}

/// A raw message as it is stored before anything else happens to it.
#[derive(Debug, Clone)]
pub struct RawMail {
    /// Its Message-ID (or one made from its hash), cleaned.
    pub message_id: String,
    /// SHA-256 of the bytes.
    pub sha256: Vec<u8>,
    /// The bytes.
    pub raw: Vec<u8>,
    /// The sender's address, if the headers could be read.
    pub from: Option<String>,
    /// The subject, if the headers could be read.
    pub subject: Option<String>,
    /// How it came in.
    pub source: crate::models::inbound_email::InboundSource,
}

/// Where a stored email stands.
#[derive(Debug)]
pub enum Stored {
    /// New: to be processed now.
    New(Uuid),
    /// Stored before without finishing (a temporary failure, a stopped process): to be processed again, from the
    /// bytes stored then (a second message with the same Message-ID is not another message).
    Unfinished(Uuid),
    /// Processed before: nothing is done again.
    Done(Ingested),
}

/// Stores a raw message first, in its own transaction, so that nothing is lost whatever happens next. The same
/// Message-ID again answers with what became of it the first time; a permanent failure stays a failure.
pub fn store(conn: &mut PgConnection, raw: RawMail) -> Result<Stored, IngestError> {
    let new = NewInboundEmail {
        id: Uuid::now_v7(),
        message_id: raw.message_id.clone(),
        raw_sha256: raw.sha256,
        raw: raw.raw,
        from_address: raw.from,
        subject: raw.subject,
        source: raw.source,
        status: InboundStatus::Received,
        reason: "received".to_owned(),
    };
    let earlier = conn
        .transaction(|conn| -> DomainResult<Option<InboundEmail>> {
            // This commit need not wait for the disk: nothing is acknowledged to the sender before the commit of
            // what the message does, which is synchronous and makes this one durable with it (the WAL is flushed
            // in order). Were the server to crash in between, the sender has no answer yet and delivers again.
            crate::db::commit_without_flush(conn)?;
            if InboundEmail::insert_new(conn, &new)?.is_some() {
                return Ok(None);
            }
            Ok(Some(InboundEmail::find_by_message_id(conn, &raw.message_id)?.ok_or(DomainError::NotFound("email"))?))
        })
        .map_err(|error| classify(error, "storing the message"))?;
    let Some(earlier) = earlier else { return Ok(Stored::New(new.id)) };
    match earlier.status {
        InboundStatus::Received => {
            let attempts = InboundEmail::count_attempt(conn, earlier.id).map_err(temporary)?;
            if attempts > MAX_ATTEMPTS {
                let reason = format!("gave up after {MAX_ATTEMPTS} attempts that did not finish");
                record_failure(conn, earlier.id, None, &reason)?;
                return Err(IngestError::Failed { reason, inbound_email_id: earlier.id });
            }
            Ok(Stored::Unfinished(earlier.id))
        }
        InboundStatus::Processed => Ok(Stored::Done(earlier_answer(conn, &earlier).map_err(temporary)?)),
        // A permanent failure stays one: the same message fails the same way until an administrator retries it.
        InboundStatus::Failed => {
            let reason = format!("failed before: {}", earlier.reason);
            match earlier.outcome {
                Some(InboundOutcome::Rejected) => Err(IngestError::Refused { reason, inbound_email_id: earlier.id }),
                // Held back (and answered as taken): answered the same way again, so that no bounce follows.
                Some(InboundOutcome::Ignored | InboundOutcome::Unverified) => {
                    Ok(Stored::Done(earlier_answer(conn, &earlier).map_err(temporary)?))
                }
                _ => Err(IngestError::Failed { reason, inbound_email_id: earlier.id }),
            }
        }
    }
}

/// The answer for an email taken in before.
fn earlier_answer(conn: &mut PgConnection, earlier: &InboundEmail) -> DomainResult<Ingested> {
    let reference = match earlier.ticket_id {
        Some(id) => Some(Ticket::find(conn, id)?.reference),
        None => None,
    };
    let reason = format!("already taken in: {}", earlier.reason);
    Ok(Ingested {
        outcome: earlier.outcome.unwrap_or(InboundOutcome::Rejected),
        reason,
        duplicate: true,
        inbound_email_id: earlier.id,
        ticket_id: earlier.ticket_id,
        ticket_reference: reference,
        message_id: earlier.ticket_message_id,
    })
}

/// Records that a stored email could not be read: it stays, as failed, with the reason.
pub fn fail_unreadable(conn: &mut PgConnection, id: Uuid, reason: &str) -> Result<IngestError, IngestError> {
    tracing::warn!(inbound_email = %id, %reason, "inbound email could not be read");
    record_failure(conn, id, None, reason)?;
    Ok(IngestError::Malformed { reason: reason.to_owned(), inbound_email_id: Some(id) })
}

fn record_failure(
    conn: &mut PgConnection,
    id: Uuid,
    outcome: Option<InboundOutcome>,
    reason: &str,
) -> Result<(), IngestError> {
    let reason = clean_reason(reason);
    let result = InboundResult {
        status: InboundStatus::Failed,
        outcome,
        reason: &reason,
        ticket_id: None,
        ticket_message_id: None,
    };
    InboundEmail::record(conn, id, &result).map(|_| ()).map_err(temporary)
}

/// Applies a stored, parsed email in one transaction with the record of what became of it.
pub fn apply(
    conn: &mut PgConnection,
    settings: &InboundSettings,
    id: Uuid,
    mail: &InboundMail,
) -> Result<Ingested, IngestError> {
    // A panic (a bug meeting hostile input) is caught around the whole transaction: unwinding skips diesel's
    // rollbacks, so they are done here before the failure is recorded on a clean connection.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        conn.transaction(|conn| apply_in_transaction(conn, settings, id, mail))
    }))
    .unwrap_or_else(|panic| {
        roll_back_everything(conn);
        let what = panic_text(panic.as_ref());
        Err(DomainError::Internal(anyhow::anyhow!("a bug stopped the processing of this email: {what}")))
    });
    match result {
        Ok(Ok(ingested)) if ingested.outcome == InboundOutcome::Rejected => {
            tracing::warn!(inbound_email = %id, reason = %ingested.reason, "inbound email refused");
            Err(IngestError::Refused { reason: ingested.reason, inbound_email_id: id })
        }
        Ok(Ok(ingested)) | Ok(Err(ingested)) => Ok(ingested),
        Err(error) if error.is_temporary() => Err(temporary(error)),
        Err(error) => {
            let reason = clean_reason(&match &error {
                DomainError::Internal(inner) => format!("{inner:#}"),
                other => other.detail(),
            });
            tracing::warn!(inbound_email = %id, %reason, "inbound email could not be applied");
            record_failure(conn, id, None, &reason)?;
            Err(IngestError::Failed { reason, inbound_email_id: id })
        }
    }
}

/// Rolls back every open transaction and savepoint of a connection whose transaction a panic interrupted.
fn roll_back_everything(conn: &mut PgConnection) {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    for _ in 0..32 {
        if AnsiTransactionManager::rollback_transaction(conn).is_err() {
            break;
        }
    }
}

/// The transaction of [`apply`]: `Err` in the inner result is the answer for an email processed meanwhile.
fn apply_in_transaction(
    conn: &mut PgConnection,
    settings: &InboundSettings,
    id: Uuid,
    mail: &InboundMail,
) -> DomainResult<Result<Ingested, Ingested>> {
    let stored = InboundEmail::lock(conn, id)?;
    if stored.status != InboundStatus::Received {
        // Another delivery of the same message got here first.
        return Ok(Err(earlier_answer(conn, &stored)?));
    }
    let decision = decide(conn, settings, mail, id)?;
    let status = match decision.outcome {
        InboundOutcome::Rejected => InboundStatus::Failed,
        _ if decision.held => InboundStatus::Failed,
        _ => InboundStatus::Processed,
    };
    let ticket_id = decision.ticket.as_ref().map(|t| t.id);
    let reason = clean_reason(&decision.reason);
    let result = InboundResult {
        status,
        outcome: Some(decision.outcome),
        reason: &reason,
        ticket_id,
        ticket_message_id: decision.message_id,
    };
    InboundEmail::record(conn, id, &result)?;
    tracing::info!(
        inbound_email = %id, message_id = %mail.message_id, outcome = %decision.outcome, %reason, "email taken in"
    );
    Ok(Ok(Ingested {
        outcome: decision.outcome,
        reason,
        duplicate: false,
        inbound_email_id: id,
        ticket_id,
        ticket_reference: decision.ticket.as_ref().map(|t| t.reference),
        message_id: decision.message_id,
    }))
}

/// Decides and does what the email asks for.
fn decide(
    conn: &mut PgConnection,
    settings: &InboundSettings,
    mail: &InboundMail,
    inbound_id: Uuid,
) -> DomainResult<Decision> {
    match &mail.kind {
        MailKind::Bounce(report) => return bounce::record(conn, report),
        MailKind::Automatic(why) => {
            return Ok(Decision::without_ticket(InboundOutcome::Ignored, format!("automatic mail ({why})")));
        }
        MailKind::Personal | MailKind::Forward => {}
    }
    let Some(sender) = &mail.sender else {
        return Ok(Decision::without_ticket(InboundOutcome::Rejected, "the message has no sender address"));
    };
    // One mail of a sender at a time: the per-sender cap counts them in turn, and two first mails of a new address
    // do not both try to create its user.
    crate::db::advisory_xact_lock(conn, "inbound-sender", sender.address.as_bytes())?;
    let user = User::find_by_email(conn, &sender.address)?;
    if user.as_ref().is_some_and(|user| !user.active) {
        let reason = format!("{} belongs to a deactivated user", sender.address);
        return Ok(Decision::without_ticket(InboundOutcome::Rejected, reason));
    }
    let mut notes = Vec::new();
    let found = if mail.kind == MailKind::Forward {
        notes.push("a forwarded message is not a reply".to_owned());
        None
    } else {
        matching::find(conn, mail, &mut notes)?
    };
    let Some(found) = found else {
        return new_ticket::open(conn, settings, mail, inbound_id, user, notes);
    };
    let shared_organization = Organization::find(conn, found.ticket.organization_id)?
        .is_none_or(|o| o.registration_number.as_deref() != Some(new_ticket::UNAFFILIATED_REGISTRATION));
    match authority::check(user, &found, mail.sender_verdict, shared_organization) {
        authority::Acting::AsUser(user) => landing::reply(conn, settings, mail, inbound_id, found, *user),
        authority::Acting::Unverified(why) => {
            notes.push(why);
            landing::unverified_note(conn, settings, mail, inbound_id, found.ticket, notes)
        }
    }
}

/// The sender as a caller of the domain.
fn as_caller(user: User) -> Caller {
    Caller { user, organization_name: None, organization_country: None, token_id: Uuid::nil() }
}

/// Cleans text for a ticket: no control characters but line breaks and tabs, at most `max` characters.
fn clean(text: &str, max: usize) -> String {
    let cleaned: String = text.chars().filter(|c| !c.is_control() || matches!(c, '\n' | '\t')).take(max).collect();
    cleaned.trim().to_owned()
}

/// Stored emails for administrators, newest first, optionally only those in one status.
pub fn list(
    conn: &mut PgConnection,
    caller: &Caller,
    status: Option<InboundStatus>,
    before: Option<Uuid>,
    limit: i64,
) -> DomainResult<Vec<InboundEmail>> {
    caller.require_admin()?;
    Ok(InboundEmail::list(conn, status, before, limit)?)
}

/// The raw message of a stored email (admins).
pub fn raw(conn: &mut PgConnection, caller: &Caller, id: Uuid) -> DomainResult<Vec<u8>> {
    caller.require_admin()?;
    InboundEmail::raw(conn, id)?.ok_or(DomainError::NotFound("inbound email"))
}

/// The plain text of the notification a reply answers: by the Message-IDs it names (newest first), else the
/// latest one about the ticket of its reply token sent to the token's recipient.
pub fn sent_notification(
    conn: &mut PgConnection,
    message_ids: &[&str],
    token: Option<(i64, Uuid)>,
) -> Result<Option<String>, IngestError> {
    let found = (|| -> diesel::QueryResult<Option<String>> {
        for id in message_ids {
            if let Some(text) = OutboxEntry::sent_text_by_message_id(conn, id)? {
                return Ok(Some(text));
            }
        }
        match token {
            Some((reference, recipient)) => OutboxEntry::latest_sent_text(conn, reference, recipient),
            None => Ok(None),
        }
    })();
    found.map_err(temporary)
}

/// Puts a failed email back to be processed again (admins); returns its Message-ID and raw bytes for the parser.
pub fn reopen(conn: &mut PgConnection, caller: &Caller, id: Uuid) -> DomainResult<(String, Vec<u8>)> {
    caller.require_admin()?;
    conn.transaction(|conn| {
        let stored = InboundEmail::find(conn, id)?.ok_or(DomainError::NotFound("inbound email"))?;
        if stored.status != InboundStatus::Failed {
            return Err(DomainError::Conflict(format!(
                "only failed emails can be retried; this one is {}",
                stored.status
            )));
        }
        InboundEmail::reopen(conn, id)?;
        let raw = InboundEmail::raw(conn, id)?.ok_or(DomainError::NotFound("inbound email"))?;
        Ok((stored.message_id, raw))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_connections_are_temporary_and_bad_data_is_not() {
        use diesel::result::{DatabaseErrorKind, Error};
        let closed = Error::DatabaseError(DatabaseErrorKind::ClosedConnection, Box::new("server closed".to_owned()));
        assert!(DomainError::from(closed).is_temporary());
        assert!(DomainError::Unavailable("pool".to_owned()).is_temporary());
        let nul = Error::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new("invalid byte sequence for encoding \"UTF8\": 0x00".to_owned()),
        );
        assert!(!DomainError::from(nul).is_temporary());
        assert!(!DomainError::invalid("country", "no office").is_temporary());
    }
}
