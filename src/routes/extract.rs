//! Request extractors: the authenticated caller, JSON bodies with precise errors, and the error handlers for
//! actix's own path and query extractors. All of them fail with [`ApiError`], so every bad request gets a
//! problem document.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use crate::db::{self, DbPool};
use crate::domain::caller::{AuthCache, Caller};
use crate::error::{ApiError, FieldError};

/// Largest JSON body accepted (a ticket body is at most 50,000 characters, up to 4 bytes each).
pub const MAX_JSON_BODY: usize = 256 * 1024;

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let secret = bearer_token(request);
        let pool = request.app_data::<web::Data<DbPool>>().cloned();
        let cache = request.app_data::<web::Data<AuthCache>>().cloned();
        let request = request.clone();
        Box::pin(async move {
            let secret = secret?;
            let pool = pool.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no database pool configured")))?;
            let hash = crate::domain::tokens::hash(&secret);
            let caller = match cache.as_ref().and_then(|cache| cache.get(&hash)) {
                Some(caller) => caller,
                None => {
                    let caller = db::run(&pool, move |conn| Caller::authenticate(conn, &secret)).await?;
                    if let Some(cache) = cache {
                        cache.put(hash, &caller);
                    }
                    caller
                }
            };
            // The rate limiter counts a request against its token only if the token really authenticated it.
            request.extensions_mut().insert(Authenticated);
            Ok(caller)
        })
    }
}

/// Marks a request whose bearer token authenticated it (see `routes::rate_limit`).
#[derive(Debug, Clone, Copy)]
pub struct Authenticated;

/// The bearer token of a request, or why it has none (a 401).
pub(crate) fn bearer_token(request: &HttpRequest) -> Result<String, ApiError> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthorized("send an API token as Authorization: Bearer <token>".to_owned()))?;
    let value =
        value.to_str().map_err(|_| ApiError::Unauthorized("the Authorization header is not valid".to_owned()))?;
    let (scheme, token) =
        value.split_once(' ').ok_or_else(|| ApiError::Unauthorized("use Authorization: Bearer <token>".to_owned()))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::Unauthorized("use Authorization: Bearer <token>".to_owned()));
    }
    Ok(token.trim().to_owned())
}

/// A JSON request body, deserialised so that errors name the offending field.
///
/// Malformed JSON is a 400; well-formed JSON of the wrong shape (a wrong type, an unknown enum value or field,
/// a missing field) is a 422 naming the field; other media types are a 415; bodies over [`MAX_JSON_BODY`] a 413.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_body(request, payload);
        Box::pin(async move {
            let (body, media_type_ok) = body.await?;
            if !media_type_ok {
                return Err(unsupported_media_type());
            }
            parse_json(&body).map(ApiJson)
        })
    }
}

/// Like [`ApiJson`], for endpoints whose body may be left out: an empty body (or `null`) gives `T::default()`.
#[derive(Debug)]
pub struct OptionalApiJson<T>(pub T);

impl<T: DeserializeOwned + Default + 'static> FromRequest for OptionalApiJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_body(request, payload);
        Box::pin(async move {
            let (body, media_type_ok) = body.await?;
            if body.iter().all(u8::is_ascii_whitespace) || body.trim_ascii() == b"null" {
                return Ok(OptionalApiJson(T::default()));
            }
            if !media_type_ok {
                return Err(unsupported_media_type());
            }
            parse_json(&body).map(OptionalApiJson)
        })
    }
}

fn unsupported_media_type() -> ApiError {
    ApiError::UnsupportedMediaType("send the body as Content-Type: application/json".to_owned())
}

/// Reads the whole body, up to [`MAX_JSON_BODY`], and tells whether it was declared as JSON.
fn read_body(
    request: &HttpRequest,
    payload: &mut Payload,
) -> LocalBoxFuture<'static, Result<(web::BytesMut, bool), ApiError>> {
    let media_type_ok = is_json(request);
    let declared_length = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let mut payload = payload.take();
    Box::pin(async move {
        if declared_length.is_some_and(|length| length > MAX_JSON_BODY) {
            return Err(ApiError::PayloadTooLarge(MAX_JSON_BODY));
        }
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|error| ApiError::BadRequest(format!("could not read the body: {error}")))?;
            if body.len() + chunk.len() > MAX_JSON_BODY {
                return Err(ApiError::PayloadTooLarge(MAX_JSON_BODY));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, media_type_ok))
    })
}

/// Whether the request body is declared as JSON (`application/json` or `application/*+json`).
pub fn is_json(request: &HttpRequest) -> bool {
    let Some(content_type) = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses a JSON document into `T`, naming the field at fault.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let message = strip_position(&inner.to_string());
                // A missing field is named itself, under the object that lacks it.
                let missing = message.strip_prefix("missing field `").and_then(|rest| rest.strip_suffix('`'));
                let field = match (path.as_str(), missing) {
                    (".", Some(name)) => name.to_owned(),
                    (".", None) => "body".to_owned(),
                    (_, Some(name)) => format!("{path}.{name}"),
                    (_, None) => path,
                };
                ApiError::Validation(vec![FieldError::new(field, message)])
            }
            serde_json::error::Category::Eof if body.iter().all(u8::is_ascii_whitespace) => {
                ApiError::BadRequest("the request body is empty; send a JSON object".to_owned())
            }
            _ => ApiError::BadRequest(format!("the request body is not valid JSON: {inner}")),
        }
    })?;
    deserializer
        .end()
        .map_err(|error| ApiError::BadRequest(format!("the request body has data after the JSON value: {error}")))?;
    Ok(value)
}

/// serde_json ends data errors with " at line 1 column 42", which means nothing once the field is named.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

/// Turns actix's path extraction errors (a malformed uuid) into problem documents.
pub fn path_error(error: actix_web::error::PathError, _: &HttpRequest) -> actix_web::Error {
    ApiError::BadRequest(format!("invalid path parameter: {error}")).into()
}

/// Turns actix's query-string extraction errors into problem documents.
pub fn query_error(error: actix_web::error::QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    ApiError::BadRequest(format!("invalid query string: {error}")).into()
}

/// Turns actix's form extraction errors into problem documents.
pub fn form_error(error: actix_web::error::UrlencodedError, _: &HttpRequest) -> actix_web::Error {
    use actix_web::error::UrlencodedError;
    match error {
        UrlencodedError::ContentType => {
            ApiError::UnsupportedMediaType("send the form as application/x-www-form-urlencoded".to_owned()).into()
        }
        UrlencodedError::Overflow { limit, .. } => ApiError::PayloadTooLarge(limit).into(),
        other => ApiError::BadRequest(format!("invalid form: {other}")).into(),
    }
}

/// The `Idempotency-Key` header, if sent.
pub fn idempotency_key(request: &HttpRequest) -> Result<Option<String>, ApiError> {
    match request.headers().get("idempotency-key") {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .map(|v| Some(v.to_owned()))
            .map_err(|_| ApiError::invalid("Idempotency-Key", "must be 1 to 255 printable ASCII characters")),
    }
}

/// A file sent as a `files` part of a `multipart/form-data` body.
#[derive(Debug)]
pub struct FormFile {
    /// Its name, as sent.
    pub name: String,
    /// The type it was sent as.
    pub content_type: String,
    /// Its content.
    pub data: Vec<u8>,
}

/// A body that is either JSON (like [`ApiJson`]) or `multipart/form-data`, so that `curl -F subject=... -F
/// files=@statute.pdf` works: the fields as form fields (or one `application/json` part named `data`), the files
/// as parts named `files`, each within the upload limits (`413` as soon as one is passed, before anything is
/// stored).
#[derive(Debug)]
pub struct JsonOrForm<T> {
    /// The fields.
    pub body: T,
    /// The files, in the order sent.
    pub files: Vec<FormFile>,
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonOrForm<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let multipart = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("multipart/form-data"));
        if !multipart {
            let json = ApiJson::<T>::from_request(request, payload);
            return Box::pin(async move { Ok(JsonOrForm { body: json.await?.0, files: Vec::new() }) });
        }
        let limits = request
            .app_data::<web::Data<crate::domain::uploads::UploadLimits>>()
            .map(|limits| limits.get_ref().clone())
            .unwrap_or_default();
        let mut form = actix_multipart::Multipart::new(request.headers(), payload.take());
        Box::pin(async move {
            let broken =
                |error: actix_multipart::MultipartError| ApiError::BadRequest(format!("the form broke off: {error}"));
            let too_large = |detail: String| ApiError::TooLarge(detail);
            let (mut fields, mut data, mut files) = (Vec::<(String, String)>::new(), None, Vec::new());
            let mut total: u64 = 0;
            // All the form fields together are held to the JSON body's limit.
            let mut fields_bytes: usize = 0;
            while let Some(part) = form.next().await {
                let mut part = part.map_err(broken)?;
                let name = part.name().unwrap_or_default().to_owned();
                let file_name = part.content_disposition().and_then(|d| d.get_filename().map(str::to_owned));
                let content_type = part.content_type().map(|m| m.essence_str().to_owned()).unwrap_or_default();
                let is_file = name == "files" || file_name.is_some();
                if is_file && files.len() >= limits.max_files {
                    return Err(too_large(format!("a message may have at most {} files", limits.max_files)));
                }
                // Files are bounded by the per-file limit as they arrive, fields by what is left of the JSON limit.
                let cap = if is_file { limits.max_file_bytes } else { (MAX_JSON_BODY - fields_bytes) as u64 };
                let mut bytes = Vec::new();
                while let Some(chunk) = part.next().await {
                    let chunk = chunk.map_err(broken)?;
                    if (bytes.len() + chunk.len()) as u64 > cap {
                        return Err(match is_file {
                            true => too_large(format!("a file may have at most {} bytes", limits.max_file_bytes)),
                            false => ApiError::PayloadTooLarge(MAX_JSON_BODY),
                        });
                    }
                    bytes.extend_from_slice(&chunk);
                }
                if is_file {
                    total += bytes.len() as u64;
                    if total > limits.max_message_bytes {
                        return Err(too_large(format!(
                            "the files of a message may have at most {} bytes together",
                            limits.max_message_bytes
                        )));
                    }
                    let name = file_name.unwrap_or_else(|| "attachment".to_owned());
                    files.push(FormFile { name, content_type, data: bytes });
                } else if name == "data" && content_type == "application/json" {
                    fields_bytes += bytes.len();
                    if data.replace(bytes).is_some() {
                        return Err(ApiError::invalid("data", "send one data part"));
                    }
                } else {
                    fields_bytes += bytes.len();
                    let value = String::from_utf8(bytes)
                        .map_err(|_| ApiError::invalid(name.clone(), "a form field must be UTF-8 text"))?;
                    fields.push((name, value));
                }
            }
            let body = match data {
                Some(json) => parse_json(&json)?,
                None => parse_form(fields)?,
            };
            Ok(JsonOrForm { body, files })
        })
    }
}

/// Reads form fields as a JSON object of strings (`attachment_ids`, and any repeated field, as a list), then
/// gives a field that the target type wants as another JSON type (`internal=true`) that type.
fn parse_form<T: DeserializeOwned>(fields: Vec<(String, String)>) -> Result<T, ApiError> {
    let mut object = serde_json::Map::new();
    for (name, value) in fields {
        match object.get_mut(&name) {
            Some(serde_json::Value::Array(list)) => list.push(value.into()),
            Some(single) => *single = serde_json::Value::Array(vec![single.take(), value.into()]),
            None if name == "attachment_ids" => {
                object.insert(name, serde_json::Value::Array(vec![value.into()]));
            }
            None => {
                object.insert(name, value.into());
            }
        }
    }
    for _ in 0..=object.len() {
        let body = serde_json::to_vec(&object).unwrap_or_default();
        match parse_json::<T>(&body) {
            Err(ApiError::Validation(errors)) => {
                let field = errors.first().map(|error| error.field.clone()).unwrap_or_default();
                let typed = match object.get(&field) {
                    Some(serde_json::Value::String(text)) => serde_json::from_str::<serde_json::Value>(text).ok(),
                    _ => None,
                };
                match typed.filter(|value| !value.is_string()) {
                    Some(value) => {
                        object.insert(field, value);
                    }
                    None => return Err(ApiError::Validation(errors)),
                }
            }
            other => return other,
        }
    }
    parse_json(&serde_json::to_vec(&object).unwrap_or_default())
}
