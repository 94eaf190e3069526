//! Files uploaded through the API and attached to messages: the Zendesk style (upload first, then name the upload
//! in `attachment_ids`), with the limits and checks of [`crate::domain::files`].

use chrono::{DateTime, TimeDelta, Utc};
use diesel::{Connection, PgConnection};
use uuid::Uuid;

use crate::domain::caller::Caller;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::files::{self, FilePolicy};
use crate::models::Attachment;
use crate::models::attachment::NewAttachment;
use crate::models::stored_file::StoredFile;
use crate::models::upload::Upload;

/// The limits on files sent through the API.
#[derive(Debug, Clone)]
pub struct UploadLimits {
    /// The largest file, in bytes (`ATTACHMENT_MAX_FILE_BYTES`).
    pub max_file_bytes: u64,
    /// The most bytes of files on one message (`ATTACHMENT_MAX_MESSAGE_BYTES`).
    pub max_message_bytes: u64,
    /// The most files on one message (`ATTACHMENT_MAX_FILES`).
    pub max_files: usize,
    /// How long an upload waits to be attached before it is removed (`UPLOAD_EXPIRY_HOURS`).
    pub expiry: TimeDelta,
    /// Which files are accepted (`ATTACHMENT_ALLOWED_TYPES`).
    pub policy: FilePolicy,
}

impl Default for UploadLimits {
    fn default() -> Self {
        UploadLimits {
            max_file_bytes: 25 * 1024 * 1024,
            max_message_bytes: 50 * 1024 * 1024,
            max_files: 20,
            expiry: TimeDelta::hours(24),
            policy: FilePolicy::default(),
        }
    }
}

impl UploadLimits {
    /// The refusal of a file larger than the limit.
    pub fn file_too_large(&self) -> DomainError {
        DomainError::TooLarge(format!("a file may have at most {} bytes", self.max_file_bytes))
    }
}

/// Stores an uploaded file for `caller`: its name cleaned, its type decided from its content and checked against
/// the policy (nothing is stored when it is refused).
pub fn store(
    conn: &mut PgConnection,
    caller: &Caller,
    limits: &UploadLimits,
    name: &str,
    claimed_type: &str,
    data: &[u8],
) -> DomainResult<Upload> {
    if data.len() as u64 > limits.max_file_bytes {
        return Err(limits.file_too_large());
    }
    let filename = files::clean_name(name);
    let content_type = files::sniff(data, claimed_type);
    limits
        .policy
        .check(&filename, claimed_type, &content_type, data)
        .map_err(|refused| DomainError::UnsupportedType(refused.to_string()))?;
    let now = Utc::now();
    // One transaction: a file row is never left without all its chunks.
    conn.transaction(|conn| {
        let sha256 = StoredFile::put(conn, data)?;
        Ok(Upload::insert(
            conn,
            &Upload {
                id: Uuid::now_v7(),
                owner_id: caller.id(),
                filename,
                content_type,
                size: i64::try_from(data.len()).unwrap_or(i64::MAX),
                sha256,
                created_at: now,
                expires_at: now + limits.expiry,
                attachment_id: None,
            },
        )?)
    })
}

/// Attaches the caller's uploads `ids` to message `message_id`, in the caller's transaction: each must be theirs
/// (404 otherwise, as if it did not exist), unexpired (410) and not attached yet (409), and together within the
/// per-message limits (413).
pub fn attach(
    conn: &mut PgConnection,
    caller: &Caller,
    limits: &UploadLimits,
    message_id: Uuid,
    ids: &[Uuid],
    now: DateTime<Utc>,
) -> DomainResult<Vec<Attachment>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut wanted = ids.to_vec();
    wanted.sort_unstable();
    if wanted.windows(2).any(|pair| pair[0] == pair[1]) {
        return Err(DomainError::invalid("attachment_ids", "names an upload more than once"));
    }
    if wanted.len() > limits.max_files {
        return Err(DomainError::TooLarge(format!("a message may have at most {} files", limits.max_files)));
    }
    let uploads = Upload::lock_owned(conn, caller.id(), &wanted)?;
    if uploads.len() < wanted.len() {
        return Err(DomainError::NotFound("upload"));
    }
    if let Some(used) = uploads.iter().find(|upload| upload.attachment_id.is_some()) {
        return Err(DomainError::Conflict(format!("upload {} is attached already; upload it again", used.id)));
    }
    if let Some(expired) = uploads.iter().find(|upload| upload.expires_at <= now) {
        return Err(DomainError::Expired(format!(
            "upload {} expired at {}; upload it again",
            expired.id, expired.expires_at
        )));
    }
    let total: u64 = uploads.iter().map(|upload| u64::try_from(upload.size).unwrap_or(u64::MAX)).sum();
    if total > limits.max_message_bytes {
        return Err(DomainError::TooLarge(format!(
            "the files of a message may have at most {} bytes together ({total} sent)",
            limits.max_message_bytes
        )));
    }
    let new: Vec<NewAttachment> = uploads
        .iter()
        .map(|upload| NewAttachment {
            id: Uuid::now_v7(),
            message_id,
            filename: upload.filename.clone(),
            content_type: upload.content_type.clone(),
            size: i32::try_from(upload.size).unwrap_or(i32::MAX),
            sha256: upload.sha256.clone(),
        })
        .collect();
    Attachment::insert_all(conn, &new)?;
    for (upload, attachment) in uploads.iter().zip(&new) {
        Upload::mark_attached(conn, upload.id, attachment.id)?;
    }
    Ok(Attachment::for_messages(conn, &[message_id])?)
}

/// Removes up to `batch` uploads that expired unused, with their contents unless an attachment or another upload
/// holds the same file; returns how many uploads went.
pub fn remove_expired(conn: &mut PgConnection, now: DateTime<Utc>, batch: i64) -> DomainResult<usize> {
    conn.transaction(|conn| {
        let removed = Upload::delete_expired(conn, now, batch)?;
        StoredFile::delete_unreferenced(conn, &removed)?;
        Ok(removed.len())
    })
}
