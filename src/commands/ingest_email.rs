//! `civicdesk ingest-email`: one message from standard input (a Postfix or Exim pipe transport, a `.forward`),
//! answered with a sendmail exit code.

use std::io::Read;
use std::process::ExitCode;

use crate::config::Settings;
use crate::db;
use crate::domain::inbound::IngestError;
use crate::domain::keys;
use crate::models::inbound_email::InboundSource;

/// sendmail's exit code (sysexits.h) for a malformed or too large message: never retried.
pub const EX_DATAERR: u8 = 65;
/// sendmail's exit code for a refused sender: never retried.
pub const EX_NOUSER: u8 = 67;
/// sendmail's exit code for a temporary failure: the mail server keeps the message and tries again.
pub const EX_TEMPFAIL: u8 = 75;

/// Takes in the message on standard input; prints what became of it (JSON) when it was taken.
pub fn run(settings: &Settings) -> ExitCode {
    let mut raw = Vec::new();
    let limit = settings.inbound.max_message_bytes;
    if let Err(error) = std::io::stdin().take(limit as u64 + 1).read_to_end(&mut raw) {
        eprintln!("civicdesk: could not read the message: {error}");
        return ExitCode::from(EX_TEMPFAIL);
    }
    let taken = db::connect_and_migrate(&settings.database_url).and_then(|mut conn| {
        let key = keys::signing_key(&mut conn, settings.mail.secret.as_deref())?;
        let inbound = settings.inbound_settings(key);
        Ok(crate::email::inbound::ingest(&mut conn, &inbound, &raw, InboundSource::Pipe))
    });
    match taken {
        Err(error) => {
            eprintln!("civicdesk: temporary failure: {error:#}");
            ExitCode::from(EX_TEMPFAIL)
        }
        Ok(Err(error)) => {
            // The mail server may quote this line in a bounce to the (possibly forged) sender: it names no reason.
            // The reason is kept with the stored email (GET /api/v1/admin/inbound) and in the log.
            let stored = error.inbound_email_id().map(|id| format!(" (inbound email {id})")).unwrap_or_default();
            let (code, what) = match error {
                IngestError::Temporary(_) => (EX_TEMPFAIL, "temporary failure, try again later"),
                IngestError::Refused { .. } => (EX_NOUSER, "the message was not accepted"),
                IngestError::TooLarge(_) => (EX_DATAERR, "the message is too large"),
                IngestError::Malformed { .. } | IngestError::Failed { .. } => {
                    (EX_DATAERR, "the message was not accepted")
                }
            };
            eprintln!("civicdesk: {what}{stored}");
            ExitCode::from(code)
        }
        Ok(Ok(ingested)) => {
            println!("{}", serde_json::to_string(&ingested).unwrap_or_default());
            ExitCode::SUCCESS
        }
    }
}
