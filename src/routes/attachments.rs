//! Attachments and original emails: downloads for those who may see the message.

use actix_web::http::StatusCode;
use actix_web::http::header::{
    self, Charset, ContentDisposition, DispositionParam, DispositionType, ETag, EntityTag, ExtendedValue, IfNoneMatch,
    IfRange,
};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, HttpResponseBuilder, web};
use uuid::Uuid;

use crate::db::{self, DbPool};
use crate::domain::caller::Caller;
use crate::domain::error::DomainError;
use crate::domain::tickets;
use crate::error::{ApiError, ApiResult};
use crate::models::stored_file::{CHUNK_BYTES, StoredFile, to_hex};

/// A file's bytes, as documented in the OpenAPI document.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct Binary(pub Vec<u8>);

/// Download an attachment.
///
/// Only if the caller may see its message. Always served as a download (`Content-Disposition: attachment`,
/// `X-Content-Type-Options: nosniff`), so that a hostile HTML or SVG file is never rendered by the browser. The
/// `ETag` is strong (the content's SHA-256): `If-None-Match` answers 304, and one byte range (`Range: bytes=...`,
/// with `If-Range`) answers 206, so that an interrupted download resumes. Several ranges, or an unreadable `Range`,
/// get the whole file.
#[utoipa::path(
    get, path = "/api/v1/attachments/{id}", tag = "tickets", operation_id = "downloadAttachment",
    params(
        ("id" = Uuid, Path, description = "Attachment id"),
        ("Range" = Option<String>, Header, description = "One byte range, e.g. `bytes=0-1023` or `bytes=-500`"),
        ("If-Range" = Option<String>, Header, description = "The ETag the range must still belong to"),
        ("If-None-Match" = Option<String>, Header, description = "ETags the client has: 304 when one matches"),
    ),
    responses(
        (status = 200, description = "The file", content_type = "application/octet-stream", body = Binary),
        (status = 206, description = "The range asked for", content_type = "application/octet-stream", body = Binary),
        (status = 304, description = "The client's copy is current"),
        (status = 404, description = "No such attachment, or not visible to the caller", body = crate::error::Problem,
            content_type = "application/problem+json"),
        (status = 416, description = "The range selects nothing of the file", body = crate::error::Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn download(
    request: HttpRequest,
    pool: web::Data<DbPool>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let attachment = db::run(&pool, move |conn| tickets::attachment(conn, &caller, id)).await?;
    let tag = EntityTag::new_strong(to_hex(&attachment.sha256));
    let length = u64::try_from(attachment.size).unwrap_or(0);
    let answer = |status: StatusCode| -> HttpResponseBuilder {
        let mut builder = HttpResponse::build(status);
        builder
            .insert_header(ETag(tag.clone()))
            .insert_header((header::ACCEPT_RANGES, "bytes"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
        builder
    };
    let range = match wanted(&request, &tag, length)? {
        Wanted::NotModified => return Ok(answer(StatusCode::NOT_MODIFIED).finish()),
        Wanted::Range(start, end) => Some((start, end)),
        Wanted::All => None,
    };
    let content_type = attachment
        .content_type
        .parse::<mime_type::Mime>()
        .map(|m| m.to_string())
        .unwrap_or_else(|_| "application/octet-stream".to_owned());
    let disposition = ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![DispositionParam::FilenameExt(ExtendedValue {
            charset: Charset::Ext("UTF-8".to_owned()),
            language_tag: None,
            value: attachment.filename.clone().into_bytes(),
        })],
    };
    // A whole file larger than a chunk goes out chunk by chunk, one read each: never whole in memory.
    if range.is_none() && length > CHUNK_BYTES as u64 {
        let chunks = length.div_ceil(CHUNK_BYTES as u64);
        let sha256 = attachment.sha256.clone();
        let pool = pool.into_inner();
        let body = futures_util::stream::unfold(0_u64, move |n| {
            let (pool, sha256) = (pool.clone(), sha256.clone());
            async move {
                if n >= chunks {
                    return None;
                }
                let chunk = db::run(&pool, move |conn| StoredFile::chunk(conn, &sha256, n).map_err(DomainError::from));
                Some((chunk.await.map(web::Bytes::from), n + 1))
            }
        });
        return Ok(answer(StatusCode::OK)
            .insert_header((header::CONTENT_TYPE, content_type))
            .insert_header(disposition)
            .no_chunking(length)
            .streaming(body));
    }
    let data = db::run(&pool, move |conn| attachment.content(conn, range).map_err(DomainError::from)).await?;
    let mut response = match range {
        Some((start, end)) => {
            let mut partial = answer(StatusCode::PARTIAL_CONTENT);
            partial.insert_header((header::CONTENT_RANGE, format!("bytes {start}-{end}/{length}")));
            partial
        }
        None => answer(StatusCode::OK),
    };
    Ok(response.insert_header((header::CONTENT_TYPE, content_type)).insert_header(disposition).body(data))
}

/// What a download request asks for.
enum Wanted {
    /// Nothing: its copy is current (`If-None-Match`).
    NotModified,
    /// The bytes `start..=end`.
    Range(u64, u64),
    /// The whole file.
    All,
}

/// What `request` asks of a file of `length` bytes whose strong validator is `tag`: 304 when the client has this
/// content, one range of it, or all of it (for several ranges, or a `Range` that cannot be read).
fn wanted(request: &HttpRequest, tag: &EntityTag, length: u64) -> ApiResult<Wanted> {
    let have = match request.get_header::<IfNoneMatch>() {
        Some(IfNoneMatch::Any) => true,
        Some(IfNoneMatch::Items(tags)) => tags.iter().any(|have| have.weak_eq(tag)),
        None => false,
    };
    if have {
        return Ok(Wanted::NotModified);
    }
    // A range applies only to the content the client's `If-Range` names (dates are not kept: never a match).
    let current = match request.get_header::<IfRange>() {
        Some(IfRange::EntityTag(their)) => their.strong_eq(tag),
        Some(IfRange::Date(_)) => false,
        None => true,
    };
    let range = request.headers().get(header::RANGE).and_then(|value| value.to_str().ok()).filter(|_| current);
    let Some(parsed) = range.and_then(|range| http_range_header::parse_range_header(range).ok()) else {
        return Ok(Wanted::All);
    };
    let ranges = parsed.validate(length).map_err(|_| ApiError::RangeNotSatisfiable(length))?;
    Ok(match ranges.as_slice() {
        // Nothing of an empty file can be selected; nor anything past the end (checked again, not trusted).
        [only] if *only.end() >= length => return Err(ApiError::RangeNotSatisfiable(length)),
        [only] => Wanted::Range(*only.start(), *only.end()),
        _ => Wanted::All,
    })
}

/// Download the original email of a message (staff).
///
/// The raw email (`message/rfc822`) the message came in as; 404 for a message written through the API.
#[utoipa::path(
    get, path = "/api/v1/tickets/{ticket}/messages/{message}/original", tag = "tickets",
    operation_id = "downloadOriginalEmail",
    params(
        ("ticket" = String, Path, description = "The ticket's uuid or its reference number"),
        ("message" = Uuid, Path, description = "Message id"),
    ),
    responses((status = 200, description = "The raw message", content_type = "message/rfc822", body = Binary))
)]
pub async fn original(
    pool: web::Data<DbPool>,
    caller: Caller,
    path: web::Path<(String, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (ticket, message) = path.into_inner();
    let key = tickets::parse_key(&ticket)?;
    let raw = db::run(&pool, move |conn| tickets::original_email(conn, &caller, key, message)).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "message/rfc822"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(raw))
}

/// Checking media types without another dependency: `type/subtype` of safe characters.
mod mime_type {
    /// A checked media type.
    pub struct Mime(String);

    impl std::str::FromStr for Mime {
        type Err = ();
        fn from_str(value: &str) -> Result<Self, ()> {
            let (kind, sub) = value.split_once('/').ok_or(())?;
            let token = |s: &str| {
                !s.is_empty()
                    && s.len() <= 127
                    && s.chars().all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c))
            };
            if token(kind) && token(sub) { Ok(Mime(value.to_ascii_lowercase())) } else { Err(()) }
        }
    }

    impl std::fmt::Display for Mime {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }
}
