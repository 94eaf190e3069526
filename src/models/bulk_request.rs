//! Bulk updates sent with an `Idempotency-Key`: a retry gets the answer the first request got.

use diesel::prelude::*;
use uuid::Uuid;

use crate::schema::bulk_requests;

/// An earlier bulk update under a key.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = bulk_requests, check_for_backend(diesel::pg::Pg))]
pub struct BulkRequest {
    /// SHA-256 of the request as understood.
    pub request_hash: Vec<u8>,
    /// The answer it got.
    pub response: serde_json::Value,
}

impl BulkRequest {
    /// The earlier use of `key` by `user_id`, if any.
    pub fn find(conn: &mut PgConnection, user_id: Uuid, key: &str) -> QueryResult<Option<BulkRequest>> {
        bulk_requests::table.find((user_id, key)).select(BulkRequest::as_select()).first(conn).optional()
    }

    /// Records the answer given under `key`.
    pub fn insert(
        conn: &mut PgConnection,
        user_id: Uuid,
        key: &str,
        request_hash: &[u8],
        response: &serde_json::Value,
    ) -> QueryResult<usize> {
        diesel::insert_into(bulk_requests::table)
            .values((
                bulk_requests::user_id.eq(user_id),
                bulk_requests::key.eq(key),
                bulk_requests::request_hash.eq(request_hash),
                bulk_requests::response.eq(response),
            ))
            .execute(conn)
    }
}
