//! One pass over the folder: each unseen message is fetched (one at a time), ingested, and only then marked as
//! done; a message that can never be taken in is set aside, one that failed for a passing reason is left unseen,
//! and neither stops the messages after it.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::StreamExt;
use tokio::sync::watch;

use super::connect::{Doing, ImapError, Session, within};
use crate::config::ImapSettings;
use crate::db::{self, DbPool, RunError};
use crate::domain::inbound::{InboundSettings, IngestError};
use crate::models::inbound_email::InboundSource;

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FetchSummary {
    /// Messages ingested (including ignored, refused and duplicates) and flagged or moved.
    pub taken: usize,
    /// Messages that can never be taken in (malformed, too large, or their ingestion failed), moved to the failed
    /// folder or flagged \Seen \Flagged, so that they are not fetched again.
    pub refused: usize,
    /// Messages left unseen for the next pass after a temporary failure (the database was unreachable, say).
    pub left: usize,
}

/// How many UIDs one `UID FETCH (RFC822.SIZE)` names, to keep command lines short.
const SIZES_PER_COMMAND: usize = 500;

/// What became of one message.
enum Verdict {
    /// Ingested and committed.
    Taken,
    /// Worth trying again later, as it is.
    Temporary(String),
    /// Never worth trying again.
    Permanent(String),
}

/// The state of one session that a pass keeps: whether the failed folder is known to exist.
#[derive(Debug, Default)]
pub(super) struct Folders {
    failed_ready: bool,
}

/// Takes in every unseen message of the selected folder; stops between two messages when `stop` turns true.
pub(super) async fn take_unseen(
    session: &mut Session,
    folders: &mut Folders,
    settings: &ImapSettings,
    pool: &DbPool,
    inbound: &Arc<InboundSettings>,
    stop: Option<&watch::Receiver<bool>>,
) -> Result<FetchSummary, ImapError> {
    let mut uids: Vec<u32> =
        within("searching for new messages", session.uid_search("UNSEEN")).await?.into_iter().collect();
    uids.sort_unstable();
    let sizes = sizes(session, &uids).await?;
    let mut summary = FetchSummary::default();
    for uid in uids {
        if stop.is_some_and(|stop| *stop.borrow()) {
            break;
        }
        let verdict = match sizes.get(&uid) {
            Some(&size) if usize::try_from(size).unwrap_or(usize::MAX) > inbound.max_message_bytes => {
                Verdict::Permanent(format!(
                    "{size} bytes, larger than the limit of {} (not fetched)",
                    inbound.max_message_bytes
                ))
            }
            _ => match body(session, uid).await? {
                Some(raw) => ingest(pool, inbound, raw).await,
                // Expunged by someone else since the search.
                None => continue,
            },
        };
        match verdict {
            Verdict::Taken => {
                summary.taken += 1;
                // Only now, with the ingestion committed, is the message marked as done.
                match &settings.move_to {
                    Some(folder) => {
                        match within("moving a taken message", session.uid_mv(uid.to_string(), folder)).await {
                            Ok(()) => {}
                            // A refused move (no such folder, quota, no MOVE) must not stop the folder: the message
                            // is taken, so it is marked seen where it is.
                            Err(error) if error.is_refusal() => {
                                tracing::warn!(%uid, %folder, %error, "could not move to IMAP_MOVE_TO: flagging seen instead");
                                flag(session, uid, "\\Seen").await?;
                            }
                            Err(error) => return Err(error),
                        }
                    }
                    None => flag(session, uid, "\\Seen").await?,
                }
            }
            Verdict::Temporary(why) => {
                tracing::warn!(%uid, %why, "IMAP message left unseen for the next pass");
                summary.left += 1;
            }
            Verdict::Permanent(why) => {
                tracing::warn!(%uid, %why, "IMAP message cannot be taken in: setting it aside");
                summary.refused += 1;
                set_aside(session, folders, settings, uid).await?;
            }
        }
    }
    Ok(summary)
}

/// The sizes the server gives for these messages, so that too large ones are never downloaded.
async fn sizes(session: &mut Session, uids: &[u32]) -> Result<HashMap<u32, u32>, ImapError> {
    let mut sizes = HashMap::with_capacity(uids.len());
    for chunk in uids.chunks(SIZES_PER_COMMAND) {
        let set = uid_set(chunk);
        let mut fetched = within("asking for message sizes", session.uid_fetch(set, "(UID RFC822.SIZE)")).await?;
        while let Some(item) = fetched.next().await {
            let item = item.doing("asking for message sizes")?;
            if let (Some(uid), Some(size)) = (item.uid, item.size) {
                sizes.insert(uid, size);
            }
        }
    }
    Ok(sizes)
}

/// One message's raw bytes, without setting \Seen; `None` when it is gone.
async fn body(session: &mut Session, uid: u32) -> Result<Option<Vec<u8>>, ImapError> {
    let mut raw = None;
    let mut fetched = within("fetching a message", session.uid_fetch(uid.to_string(), "BODY.PEEK[]")).await?;
    while let Some(item) = fetched.next().await {
        let item = item.doing("fetching a message")?;
        if item.uid.is_none_or(|fetched_uid| fetched_uid == uid)
            && let Some(body) = item.body()
        {
            raw = Some(body.to_vec());
        }
    }
    Ok(raw)
}

/// Why ingesting one message failed: in ingestion, or before it could run.
enum Failure {
    Ingest(IngestError),
    Run(RunError),
}

impl From<RunError> for Failure {
    fn from(error: RunError) -> Self {
        Failure::Run(error)
    }
}

async fn ingest(pool: &DbPool, inbound: &Arc<InboundSettings>, raw: Vec<u8>) -> Verdict {
    let inbound = inbound.clone();
    let ingested = db::run(pool, move |conn| {
        crate::email::inbound::ingest(conn, &inbound, &raw, InboundSource::Imap).map_err(Failure::Ingest)
    })
    .await;
    match ingested {
        Ok(_) => Verdict::Taken,
        Err(Failure::Ingest(error)) if error.is_temporary() => Verdict::Temporary(error.to_string()),
        Err(Failure::Ingest(error)) => Verdict::Permanent(error.to_string()),
        Err(Failure::Run(RunError::NoConnection(no_connection))) => {
            Verdict::Temporary(format!("no database connection: {no_connection}"))
        }
        // A panic is this message's doing: taking it again would panic again.
        Err(Failure::Run(RunError::Panicked(why))) => Verdict::Permanent(format!("its ingestion panicked: {why}")),
        // Cancelled, as the runtime shuts down: nothing is known about the message.
        Err(Failure::Run(RunError::Cancelled(why))) => Verdict::Temporary(why),
    }
}

/// Makes sure a message that can never be taken in is not fetched again: moved to the failed folder, or flagged
/// where there is none (or the server refuses the move).
async fn set_aside(
    session: &mut Session,
    folders: &mut Folders,
    settings: &ImapSettings,
    uid: u32,
) -> Result<(), ImapError> {
    let Some(folder) = &settings.failed_folder else { return flag(session, uid, "\\Seen \\Flagged").await };
    let moved = async {
        if !folders.failed_ready {
            create_folder(session, folder).await?;
            folders.failed_ready = true;
        }
        within("moving a message to the failed folder", session.uid_mv(uid.to_string(), folder)).await
    };
    match moved.await {
        Ok(()) => Ok(()),
        Err(error) if error.is_refusal() => {
            tracing::warn!(%uid, %folder, %error, "could not move to IMAP_FAILED_FOLDER: flagging instead");
            flag(session, uid, "\\Seen \\Flagged").await
        }
        Err(error) => Err(error),
    }
}

/// Creates a folder unless it exists.
async fn create_folder(session: &mut Session, folder: &str) -> Result<(), ImapError> {
    match within("creating the failed folder", session.create(folder)).await {
        Ok(()) => Ok(()),
        // Most likely "already exists" (its response code varies between servers): look before giving up.
        Err(error) if error.is_refusal() => {
            let mut names = within("listing folders", session.list(Some(""), Some(folder))).await?;
            let mut exists = false;
            while let Some(name) = names.next().await {
                exists |= name.doing("listing folders")?.name() == folder;
            }
            if exists { Ok(()) } else { Err(error) }
        }
        Err(error) => Err(error),
    }
}

async fn flag(session: &mut Session, uid: u32, flags: &str) -> Result<(), ImapError> {
    let mut stored =
        within("flagging a message", session.uid_store(uid.to_string(), format!("+FLAGS ({flags})"))).await?;
    while let Some(result) = stored.next().await {
        result.doing("flagging a message")?;
    }
    Ok(())
}

/// An IMAP sequence set for sorted UIDs: `1:3,7,9:10`.
fn uid_set(uids: &[u32]) -> String {
    let mut set = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        while i + 1 < uids.len() && uids[i].checked_add(1) == Some(uids[i + 1]) {
            i += 1;
        }
        if !set.is_empty() {
            set.push(',');
        }
        match uids[i] == start {
            true => set.push_str(&start.to_string()),
            false => set.push_str(&format!("{start}:{}", uids[i])),
        }
        i += 1;
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_short_uid_sets() {
        assert_eq!(uid_set(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
        assert_eq!(uid_set(&[4]), "4");
        assert_eq!(uid_set(&[]), "");
    }
}
