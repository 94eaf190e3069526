//! `POST /api/v1/uploads`: a file, streamed as the raw body, kept for a while to be attached to a message.

use actix_web::http::header::{self, ContentDisposition};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::db::{self, DbPool};
use crate::domain::caller::Caller;
use crate::domain::uploads::{self, UploadLimits};
use crate::error::{ApiError, ApiResult};
use crate::routes::attachments::Binary;
use crate::views::uploads::UploadView;

/// The query of an upload.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The file's name, when `Content-Disposition` does not give it.
    pub filename: Option<String>,
}

/// The file name of an upload: `Content-Disposition: attachment; filename*=UTF-8''...` (or `filename=`), else
/// `?filename=`.
fn file_name(request: &HttpRequest, query: &UploadQuery) -> Option<String> {
    let disposition = request.get_header::<ContentDisposition>();
    let from_header = disposition.as_ref().and_then(|d| {
        d.get_filename_ext()
            .map(|ext| String::from_utf8_lossy(&ext.value).into_owned())
            .or_else(|| d.get_filename().map(str::to_owned))
    });
    from_header.or_else(|| query.filename.clone()).filter(|name| !name.trim().is_empty())
}

/// Upload a file to attach to a ticket or a message (`attachment_ids`).
///
/// The body is the file itself; `Content-Type` is what the client thinks it is (the stored type is decided from
/// the content), `Content-Disposition: attachment; filename*=UTF-8''statut%202026.pdf` (or `?filename=`) its
/// name. The upload belongs to the caller, can be attached once, and is removed if unused after
/// `UPLOAD_EXPIRY_HOURS`. Over `ATTACHMENT_MAX_FILE_BYTES` is `413`; a program or script (by content, name or
/// type) is `415`; nothing is stored then.
#[utoipa::path(
    post, path = "/api/v1/uploads", tag = "uploads", operation_id = "createUpload",
    params(
        UploadQuery,
        ("Content-Disposition" = Option<String>, Header, description = "`attachment; filename*=UTF-8''<name>`"),
    ),
    request_body(content = Binary, content_type = "application/octet-stream", description = "The file"),
    responses(
        (status = 201, description = "Stored", body = UploadView),
        (status = 413, description = "Larger than ATTACHMENT_MAX_FILE_BYTES", body = crate::error::Problem,
            content_type = "application/problem+json"),
        (status = 415, description = "A program or script, or not an accepted type", body = crate::error::Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "No file name", body = crate::error::Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn create(
    request: HttpRequest,
    pool: web::Data<DbPool>,
    limits: web::Data<UploadLimits>,
    caller: Caller,
    query: web::Query<UploadQuery>,
    mut payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let name = file_name(&request, &query).ok_or_else(|| {
        ApiError::invalid(
            "filename",
            "name the file: Content-Disposition: attachment; filename*=UTF-8''... or ?filename=",
        )
    })?;
    let claimed = request.content_type().to_owned();
    let max = limits.max_file_bytes;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > max) {
        return Err(limits.file_too_large().into());
    }
    // Read once into memory, never past the limit: the body is refused as soon as it passes it.
    let mut data = Vec::with_capacity(usize::try_from(declared.unwrap_or(0).min(max)).unwrap_or(0));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|error| ApiError::BadRequest(format!("the upload broke off: {error}")))?;
        if (data.len() + chunk.len()) as u64 > max {
            return Err(limits.file_too_large().into());
        }
        data.extend_from_slice(&chunk);
    }
    let limits = limits.into_inner();
    let upload = db::run(&pool, move |conn| uploads::store(conn, &caller, &limits, &name, &claimed, &data)).await?;
    Ok(HttpResponse::Created().json(UploadView::from(upload)))
}
