//! Stored file contents: one `files` row per content, named by its SHA-256, the bytes in `file_chunks` of
//! [`CHUNK_BYTES`] each, so that files are written and read piece by piece and the same content is kept once.

use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::schema::{file_chunks, files};

/// The size of a chunk (the last one of a file may be shorter; an empty file has one empty chunk).
pub const CHUNK_BYTES: usize = 256 * 1024;

/// Stored file contents.
pub struct StoredFile;

/// A SHA-256 (or any bytes) in lower-case hex, as the API, `ETag`s and snapshots show it.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The bytes of a hex string written by [`to_hex`]; a pair that is not hex gives 0.
pub fn from_hex(hex: &str) -> Vec<u8> {
    hex.as_bytes()
        .chunks(2)
        .map(|pair| std::str::from_utf8(pair).ok().and_then(|p| u8::from_str_radix(p, 16).ok()).unwrap_or(0))
        .collect()
}

impl StoredFile {
    /// Stores `data` unless the same content is stored already; returns its SHA-256. Two transactions storing the
    /// same content at once are safe: the second waits for the first and finds its row.
    pub fn put(conn: &mut PgConnection, data: &[u8]) -> QueryResult<Vec<u8>> {
        let sha256 = Sha256::digest(data).to_vec();
        let size = i64::try_from(data.len()).unwrap_or(i64::MAX);
        let new = diesel::insert_into(files::table)
            .values((files::sha256.eq(&sha256), files::size.eq(size)))
            .on_conflict_do_nothing()
            .execute(conn)?;
        if new == 1 {
            let mut chunks: Vec<&[u8]> = data.chunks(CHUNK_BYTES).collect();
            if chunks.is_empty() {
                chunks.push(&[]);
            }
            for (n, chunk) in chunks.into_iter().enumerate() {
                let n = i32::try_from(n).unwrap_or(i32::MAX);
                diesel::insert_into(file_chunks::table)
                    .values((file_chunks::sha256.eq(&sha256), file_chunks::n.eq(n), file_chunks::data.eq(chunk)))
                    .execute(conn)?;
            }
        }
        Ok(sha256)
    }

    /// Removes those of these contents that no attachment and no upload holds any more (their chunks go with
    /// them). A content stored again at the same moment waits for this and stores it anew.
    pub fn delete_unreferenced(conn: &mut PgConnection, hashes: &[Vec<u8>]) -> QueryResult<usize> {
        use crate::schema::{attachments, uploads};
        if hashes.is_empty() {
            return Ok(0);
        }
        let held_by_attachment =
            attachments::table.filter(attachments::sha256.eq(files::sha256)).select(attachments::id);
        let held_by_upload = uploads::table.filter(uploads::sha256.eq(files::sha256)).select(uploads::id);
        diesel::delete(
            files::table
                .filter(files::sha256.eq_any(hashes.to_vec()))
                .filter(diesel::dsl::not(diesel::dsl::exists(held_by_attachment)))
                .filter(diesel::dsl::not(diesel::dsl::exists(held_by_upload))),
        )
        .execute(conn)
    }

    /// Chunk `n` of the content `sha256` (empty past its end).
    pub fn chunk(conn: &mut PgConnection, sha256: &[u8], n: u64) -> QueryResult<Vec<u8>> {
        file_chunks::table
            .filter(file_chunks::sha256.eq(sha256))
            .filter(file_chunks::n.eq(i32::try_from(n).unwrap_or(i32::MAX)))
            .select(file_chunks::data)
            .first(conn)
            .optional()
            .map(Option::unwrap_or_default)
    }

    /// The bytes `start..=end` of the content `sha256` (reading only the chunks they lie in); all of it with
    /// `None`.
    pub fn read(conn: &mut PgConnection, sha256: &[u8], range: Option<(u64, u64)>) -> QueryResult<Vec<u8>> {
        let chunk = CHUNK_BYTES as u64;
        let (first, last) = match range {
            Some((start, end)) => (start / chunk, end / chunk),
            None => (0, u64::from(u32::MAX)),
        };
        let to_index = |n: u64| i32::try_from(n).unwrap_or(i32::MAX);
        let chunks: Vec<(i32, Vec<u8>)> = file_chunks::table
            .filter(file_chunks::sha256.eq(sha256))
            .filter(file_chunks::n.between(to_index(first), to_index(last)))
            .order(file_chunks::n.asc())
            .select((file_chunks::n, file_chunks::data))
            .load(conn)?;
        let mut data = Vec::new();
        for (_, bytes) in chunks {
            data.extend_from_slice(&bytes);
        }
        if let Some((start, end)) = range {
            // The range's offsets within the chunks read.
            let from = usize::try_from(start - first * chunk).unwrap_or(usize::MAX);
            let to = usize::try_from(end - first * chunk).unwrap_or(usize::MAX);
            return Ok(data.get(from..=to).map(<[u8]>::to_vec).unwrap_or_default());
        }
        Ok(data)
    }
}
