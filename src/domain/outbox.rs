//! The outbox as administrators see it: what is queued, sent and failed, and retrying dead letters.

use diesel::{Connection, PgConnection};
use uuid::Uuid;

use crate::domain::caller::Caller;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::notifications::snapshot;
use crate::models::outbox::OutboxStatus;
use crate::models::{OutboxEntry, User};

/// Notifications in one status, or all (admins).
pub fn list(
    conn: &mut PgConnection,
    caller: &Caller,
    status: Option<OutboxStatus>,
    after: Option<Uuid>,
    limit: i64,
) -> DomainResult<Vec<OutboxEntry>> {
    caller.require_admin()?;
    Ok(OutboxEntry::list(conn, status, after, limit)?)
}

/// Puts a failed notification back in the queue for a fresh round of attempts (admins).
///
/// It is sent to the recipient's address as it is now: a wrong address is what an admin most often fixes before
/// retrying. Everything else it says stays as it was when it was queued.
pub fn retry(conn: &mut PgConnection, caller: &Caller, id: Uuid) -> DomainResult<OutboxEntry> {
    caller.require_admin()?;
    conn.transaction(|conn| {
        let Some(entry) = OutboxEntry::retry(conn, id)? else {
            return match OutboxEntry::find(conn, id)? {
                Some(entry) => Err(DomainError::Conflict(format!(
                    "the notification is {}; only failed ones are retried",
                    entry.status
                ))),
                None => Err(DomainError::NotFound("notification")),
            };
        };
        let stored = entry.snapshot_version.zip(entry.snapshot.as_ref());
        let readable = stored.and_then(|(version, stored)| snapshot::decode(version, stored).ok());
        if let (Some(mut snapshot), Some(user)) = (readable, User::find(conn, entry.recipient_id)?)
            && snapshot.recipient.email != user.email
        {
            snapshot.recipient.email = user.email;
            let (version, stored) = snapshot::encode(&snapshot);
            OutboxEntry::set_snapshot(conn, entry.id, version, &stored)?;
            return Ok(OutboxEntry::find(conn, entry.id)?.unwrap_or(entry));
        }
        Ok(entry)
    })
}
