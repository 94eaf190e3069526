//! An upload as the API shows it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::models::stored_file::to_hex;
use crate::models::upload::Upload;

/// A file uploaded to be attached (`attachment_ids`) within its lifetime.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Upload)]
pub struct UploadView {
    /// Identifier, to name in `attachment_ids`.
    pub id: Uuid,
    /// The file name, cleaned (no path, control characters or bidirectional overrides).
    pub filename: String,
    /// The media type its content shows (not the one it was sent as).
    pub content_type: String,
    /// Size in bytes.
    pub size: i64,
    /// The SHA-256 of the content, in hex.
    pub sha256: String,
    /// When it was uploaded.
    pub created_at: DateTime<Utc>,
    /// When it is removed unless attached before.
    pub expires_at: DateTime<Utc>,
}

impl From<Upload> for UploadView {
    fn from(upload: Upload) -> Self {
        UploadView {
            id: upload.id,
            filename: upload.filename,
            content_type: upload.content_type,
            size: upload.size,
            sha256: to_hex(&upload.sha256),
            created_at: upload.created_at,
            expires_at: upload.expires_at,
        }
    }
}
