//! The outbox as administrators see it: what is queued, sent and failed, and retrying dead letters.

use diesel::PgConnection;
use uuid::Uuid;

use crate::domain::caller::Caller;
use crate::domain::error::{DomainError, DomainResult};
use crate::models::OutboxEntry;
use crate::models::outbox::OutboxStatus;

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
pub fn retry(conn: &mut PgConnection, caller: &Caller, id: Uuid) -> DomainResult<OutboxEntry> {
    caller.require_admin()?;
    if let Some(entry) = OutboxEntry::retry(conn, id)? {
        return Ok(entry);
    }
    match OutboxEntry::find(conn, id)? {
        Some(entry) => {
            Err(DomainError::Conflict(format!("the notification is {}; only failed ones are retried", entry.status)))
        }
        None => Err(DomainError::NotFound("notification")),
    }
}
