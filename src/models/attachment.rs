//! Files attached to ticket messages (from inbound email); their content is a [`StoredFile`].

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::models::stored_file::StoredFile;
use crate::schema::attachments;

/// An attachment's description (its content is fetched separately).
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = attachments, check_for_backend(diesel::pg::Pg))]
pub struct Attachment {
    /// Identifier.
    pub id: Uuid,
    /// The message it belongs to.
    pub message_id: Uuid,
    /// The file name, as sent.
    pub filename: String,
    /// The media type, as sent.
    pub content_type: String,
    /// Size in bytes.
    pub size: i32,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
    /// The SHA-256 of its content (see [`StoredFile`]).
    pub sha256: Vec<u8>,
}

/// A new attachment.
#[derive(Debug, Insertable)]
#[diesel(table_name = attachments)]
pub struct NewAttachment {
    /// See [`Attachment::id`].
    pub id: Uuid,
    /// See [`Attachment::message_id`].
    pub message_id: Uuid,
    /// See [`Attachment::filename`].
    pub filename: String,
    /// See [`Attachment::content_type`].
    pub content_type: String,
    /// See [`Attachment::size`].
    pub size: i32,
    /// The SHA-256 of its content, stored with [`StoredFile::put`].
    pub sha256: Vec<u8>,
}

impl Attachment {
    /// Stores attachments.
    pub fn insert_all(conn: &mut PgConnection, new: &[NewAttachment]) -> QueryResult<usize> {
        if new.is_empty() {
            return Ok(0);
        }
        diesel::insert_into(attachments::table).values(new).execute(conn)
    }

    /// The attachments of these messages.
    pub fn for_messages(conn: &mut PgConnection, messages: &[Uuid]) -> QueryResult<Vec<Attachment>> {
        attachments::table
            .filter(attachments::message_id.eq_any(messages.to_vec()))
            .order(attachments::id.asc())
            .select(Attachment::as_select())
            .load(conn)
    }

    /// An attachment.
    pub fn find(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<Attachment>> {
        attachments::table.find(id).select(Attachment::as_select()).first(conn).optional()
    }

    /// Its content, or the bytes `start..=end` of it.
    pub fn content(&self, conn: &mut PgConnection, range: Option<(u64, u64)>) -> QueryResult<Vec<u8>> {
        StoredFile::read(conn, &self.sha256, range)
    }
}
