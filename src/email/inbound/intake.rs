//! Taking in one raw message, the same way for every way in (pipe, HTTP, IMAP): store it first, parse it (a panic
//! in parsing is caught and recorded like any unreadable message), look up the notification it answers, and
//! hand the parsed value to the domain.

use std::panic::{AssertUnwindSafe, catch_unwind};

use diesel::PgConnection;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::domain::caller::Caller;
use crate::domain::error::DomainError;
use crate::domain::inbound::{self, InboundSettings, IngestError, Ingested, RawMail, Stored};
use crate::email::inbound::read;
use crate::models::inbound_email::InboundSource;
use crate::models::stored_file::to_hex;

/// Takes in one raw message.
pub fn ingest(
    conn: &mut PgConnection,
    settings: &InboundSettings,
    raw: &[u8],
    source: InboundSource,
) -> Result<Ingested, IngestError> {
    if raw.len() > settings.max_message_bytes {
        return Err(IngestError::TooLarge(settings.max_message_bytes));
    }
    let sha256 = Sha256::digest(raw).to_vec();
    let headline = catch_unwind(|| read::headline(raw)).unwrap_or_default();
    let message_id = headline.message_id.unwrap_or_else(|| format!("<{}@civicdesk.invalid>", to_hex(&sha256)));
    let stored = inbound::store(
        conn,
        RawMail {
            message_id: message_id.clone(),
            sha256,
            raw: raw.to_vec(),
            from: headline.from,
            subject: headline.subject,
            source,
        },
    )?;
    match stored {
        Stored::Done(earlier) => Ok(earlier),
        Stored::New(id) => process(conn, settings, id, message_id, raw),
        Stored::Unfinished(id) => {
            let stored = inbound::stored_raw(conn, id)?;
            process(conn, settings, id, message_id, &stored)
        }
    }
}

/// Runs a failed message again after a fix (admins).
pub fn retry(
    conn: &mut PgConnection,
    caller: &Caller,
    settings: &InboundSettings,
    id: Uuid,
) -> Result<Result<Ingested, IngestError>, DomainError> {
    let (message_id, raw) = inbound::reopen(conn, caller, id)?;
    Ok(process(conn, settings, id, message_id, &raw))
}

/// Parses and applies a stored message.
fn process(
    conn: &mut PgConnection,
    settings: &InboundSettings,
    id: Uuid,
    message_id: String,
    raw: &[u8],
) -> Result<Ingested, IngestError> {
    let reading = match catch_unwind(|| read::read(raw, settings)) {
        Ok(Ok(reading)) => reading,
        Ok(Err(why)) => return Err(inbound::fail_unreadable(conn, id, &why)?),
        Err(panic) => {
            let why = format!("the parser failed on this message: {}", inbound::panic_text(panic.as_ref()));
            return Err(inbound::fail_unreadable(conn, id, &why)?);
        }
    };
    let (ids, token) = reading.quoted_notification();
    let sent = inbound::sent_notification(conn, &ids, token)?;
    let mail = match catch_unwind(AssertUnwindSafe(|| reading.into_mail(message_id, sent.as_deref(), settings))) {
        Ok(mail) => mail,
        Err(panic) => {
            let why = format!("extracting the text failed on this message: {}", inbound::panic_text(panic.as_ref()));
            return Err(inbound::fail_unreadable(conn, id, &why)?);
        }
    };
    inbound::apply(conn, settings, id, &mail)
}
