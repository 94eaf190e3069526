//! Attachments and original emails: downloads for those who may see the message.

use actix_web::http::header::{self, Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue};
use actix_web::{HttpResponse, web};
use uuid::Uuid;

use crate::db::{self, DbPool};
use crate::domain::caller::Caller;
use crate::domain::tickets;
use crate::error::ApiResult;

/// A file's bytes, as documented in the OpenAPI document.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct Binary(pub Vec<u8>);

/// Download an attachment, if the caller may see its message.
///
/// Always served as a download (`Content-Disposition: attachment`, `X-Content-Type-Options: nosniff`), so that a
/// hostile HTML or SVG file is never rendered by the browser.
#[utoipa::path(
    get, path = "/api/v1/attachments/{id}", tag = "tickets", params(("id" = Uuid, Path, description = "Attachment id")),
    responses((status = 200, description = "The file", content_type = "application/octet-stream", body = Binary))
)]
pub async fn download(pool: web::Data<DbPool>, caller: Caller, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let (attachment, data) = db::run(&pool, move |conn| tickets::attachment(conn, &caller, id)).await?;
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
            value: attachment.filename.into_bytes(),
        })],
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header(disposition)
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(data))
}

/// The original email a message came in as (staff).
#[utoipa::path(
    get, path = "/api/v1/tickets/{ticket}/messages/{message}/original", tag = "tickets",
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
