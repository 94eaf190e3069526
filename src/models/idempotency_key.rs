//! Idempotency keys: a retried submission returns the ticket the first one created.

use diesel::prelude::*;
use uuid::Uuid;

use crate::schema::idempotency_keys;

/// A key a caller sent with a submission, and what it produced.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = idempotency_keys, check_for_backend(diesel::pg::Pg))]
pub struct IdempotencyKey {
    /// SHA-256 of the request as understood.
    pub request_hash: Vec<u8>,
    /// The ticket the first request created.
    pub ticket_id: Uuid,
}

impl IdempotencyKey {
    /// The earlier use of `key` by `user_id`, if any.
    pub fn find(conn: &mut PgConnection, user_id: Uuid, key: &str) -> QueryResult<Option<IdempotencyKey>> {
        idempotency_keys::table.find((user_id, key)).select(IdempotencyKey::as_select()).first(conn).optional()
    }

    /// Records the use of `key`.
    pub fn insert(
        conn: &mut PgConnection,
        user_id: Uuid,
        key: &str,
        request_hash: &[u8],
        ticket_id: Uuid,
    ) -> QueryResult<usize> {
        diesel::insert_into(idempotency_keys::table)
            .values((
                idempotency_keys::user_id.eq(user_id),
                idempotency_keys::key.eq(key),
                idempotency_keys::request_hash.eq(request_hash),
                idempotency_keys::ticket_id.eq(ticket_id),
            ))
            .execute(conn)
    }
}
