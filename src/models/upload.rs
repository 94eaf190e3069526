//! Files uploaded through the API, waiting to be attached to a message (at most once) or to expire.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::schema::uploads;

/// An upload.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = uploads, check_for_backend(diesel::pg::Pg))]
pub struct Upload {
    /// Identifier.
    pub id: Uuid,
    /// Who uploaded it (the only one who may attach it).
    pub owner_id: Uuid,
    /// The cleaned file name.
    pub filename: String,
    /// The type its content shows.
    pub content_type: String,
    /// Size in bytes.
    pub size: i64,
    /// The SHA-256 of its content (a `StoredFile`).
    pub sha256: Vec<u8>,
    /// When it was uploaded.
    pub created_at: DateTime<Utc>,
    /// When it is removed if still unused.
    pub expires_at: DateTime<Utc>,
    /// The attachment it became, once attached.
    pub attachment_id: Option<Uuid>,
}

impl Upload {
    /// Stores an upload.
    pub fn insert(conn: &mut PgConnection, upload: &Upload) -> QueryResult<Upload> {
        diesel::insert_into(uploads::table).values(upload).returning(Upload::as_returning()).get_result(conn)
    }

    /// The uploads of `owner` among `ids`, locked for attaching (in id order, so that two messages attaching the
    /// same upload take their locks in one order).
    pub fn lock_owned(conn: &mut PgConnection, owner: Uuid, ids: &[Uuid]) -> QueryResult<Vec<Upload>> {
        uploads::table
            .filter(uploads::owner_id.eq(owner))
            .filter(uploads::id.eq_any(ids.to_vec()))
            .order(uploads::id.asc())
            .select(Upload::as_select())
            .for_update()
            .load(conn)
    }

    /// Records that an upload became an attachment.
    pub fn mark_attached(conn: &mut PgConnection, id: Uuid, attachment_id: Uuid) -> QueryResult<usize> {
        diesel::update(uploads::table.find(id)).set(uploads::attachment_id.eq(attachment_id)).execute(conn)
    }

    /// Removes up to `limit` uploads that expired unused; returns the SHA-256s of their contents.
    pub fn delete_expired(conn: &mut PgConnection, now: DateTime<Utc>, limit: i64) -> QueryResult<Vec<Vec<u8>>> {
        let expired: Vec<Uuid> = uploads::table
            .filter(uploads::attachment_id.is_null())
            .filter(uploads::expires_at.le(now))
            .select(uploads::id)
            .limit(limit)
            .for_update()
            .skip_locked()
            .load(conn)?;
        diesel::delete(uploads::table.filter(uploads::id.eq_any(expired))).returning(uploads::sha256).get_results(conn)
    }
}
