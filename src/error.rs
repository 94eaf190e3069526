//! The one error type of the HTTP API and its mapping to `application/problem+json` (RFC 9457).
//!
//! Policy: the domain returns [`DomainError`]; routes and extractors return [`ApiError`], which adds what only
//! HTTP knows (an unreadable body, a wrong media type, a body too large). [`From<DomainError>`] below is the one
//! mapping from the domain's words to statuses. Anything unexpected becomes [`ApiError::Internal`]: it is logged
//! with its cause and answered with an opaque 500 that leaks nothing. A lost or exhausted database connection is
//! a 503 with `Retry-After`, never a 500.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::error::DomainError;
use crate::domain::inbound::IngestError;
use crate::metrics::ScrapeRefused;
use crate::vocabulary::TicketStatus;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

pub use crate::domain::error::FieldError;

/// Everything that can go wrong while serving a request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request could not be read: malformed JSON, a bad query string, a bad path parameter.
    #[error("{0}")]
    BadRequest(String),
    /// The request was read but some fields are invalid.
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    /// No credentials, or credentials that are not valid.
    #[error("{0}")]
    Unauthorized(String),
    /// No credentials, or wrong ones, for a resource with a secret of its own (`realm` of `WWW-Authenticate`).
    #[error("{detail}")]
    UnauthorizedFor {
        /// The protection space, such as `metrics`.
        realm: &'static str,
        /// What to send.
        detail: String,
    },
    /// The caller is known but may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The resource does not exist or the caller may not see it.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request conflicts with the current state (a duplicate, a closed ticket).
    #[error("{0}")]
    Conflict(String),
    /// The caller used up a rate-limit budget; it refills in `retry_after` seconds.
    #[error("{detail}")]
    TooManyRequests {
        /// Which budget, in words.
        detail: String,
        /// Seconds until the budget refills.
        retry_after: u64,
    },
    /// A ticket status change that the status machine does not allow from the current status.
    #[error("cannot change status from {from} to {to}")]
    InvalidTransition {
        /// The current status.
        from: String,
        /// The requested status.
        to: String,
        /// The statuses this caller may move the ticket to from `from`.
        allowed: Vec<String>,
    },
    /// A link that was valid once has expired for good.
    #[error("{0}")]
    Gone(String),
    /// The resource exists but does not take this HTTP method.
    #[error("this method is not allowed on this resource")]
    MethodNotAllowed,
    /// The request body is larger than the server accepts.
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// The request body is not of a media type this endpoint reads.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A file, or the files of one message, beyond a limit (the detail names it).
    #[error("{0}")]
    TooLarge(String),
    /// A `Range` that selects nothing of a file of this many bytes.
    #[error("the range selects nothing of the {0} bytes there are")]
    RangeNotSatisfiable(u64),
    /// A dependency (the database) is unavailable or saturated; the client may retry.
    #[error("{0}")]
    Unavailable(String),
    /// A bug or an unexpected failure; the cause is logged, never sent to the client.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// A single-field validation error.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    fn title(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "Bad request",
            Self::Validation(_) => "Invalid request",
            Self::Unauthorized(_) | Self::UnauthorizedFor { .. } => "Unauthorized",
            Self::Forbidden(_) => "Forbidden",
            Self::NotFound(_) => "Not found",
            Self::Conflict(_) => "Conflict",
            Self::InvalidTransition { .. } => "Status change not allowed",
            Self::Gone(_) => "Gone",
            Self::TooManyRequests { .. } => "Too many requests",
            Self::MethodNotAllowed => "Method not allowed",
            Self::PayloadTooLarge(_) => "Payload too large",
            Self::UnsupportedMediaType(_) => "Unsupported media type",
            Self::RangeNotSatisfiable(_) => "Range not satisfiable",
            Self::TooLarge(_) => "Payload too large",
            Self::Unavailable(_) => "Service unavailable",
            Self::Internal(_) => "Internal server error",
        }
    }

    /// What went wrong, for a person to read (never an internal cause).
    pub fn detail(&self) -> String {
        match self {
            Self::Validation(errors) => FieldError::summary(errors),
            Self::Internal(_) => "an unexpected error occurred; it has been logged".to_owned(),
            other => other.to_string(),
        }
    }
}

/// The RFC 9457 problem document every error response carries.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem; `about:blank` where the status says it all.
    #[serde(rename = "type")]
    pub type_: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong in this request, for a person to read.
    pub detail: String,
    /// For validation problems: each offending field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    /// For refused status changes: the statuses that are allowed from the current one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<String>>,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized(_) | Self::UnauthorizedFor { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) | Self::InvalidTransition { .. } => StatusCode::CONFLICT,
            Self::Gone(_) => StatusCode::GONE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RangeNotSatisfiable(_) => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        match self {
            Self::Internal(cause) => tracing::error!(error = ?cause, "request failed unexpectedly"),
            Self::Unavailable(detail) => tracing::warn!(%detail, "dependency unavailable"),
            _ => {}
        }
        let problem = Problem {
            type_: "about:blank".to_owned(),
            title: self.title().to_owned(),
            status: status.as_u16(),
            detail: self.detail(),
            errors: match self {
                Self::Validation(errors) => Some(errors.clone()),
                _ => None,
            },
            allowed: match self {
                Self::InvalidTransition { allowed, .. } => Some(allowed.clone()),
                _ => None,
            },
        };
        let mut response = HttpResponse::build(status);
        response.content_type(PROBLEM_JSON);
        match self {
            Self::Unauthorized(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"civicdesk\""));
            }
            Self::UnauthorizedFor { realm, .. } => {
                response.insert_header((header::WWW_AUTHENTICATE, format!("Bearer realm=\"{realm}\"")));
            }
            _ => {}
        }
        if matches!(self, Self::Unavailable(_)) {
            response.insert_header((header::RETRY_AFTER, "1"));
        }
        if let Self::TooManyRequests { retry_after, .. } = self {
            response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
        }
        if let Self::RangeNotSatisfiable(length) = self {
            response.insert_header((header::CONTENT_RANGE, format!("bytes */{length}")));
        }
        response.json(problem)
    }
}

/// A domain error as the HTTP status and detail it answers with (a bulk update reports each ticket's refusal as
/// a single request would have answered it).
pub fn status_and_detail(error: DomainError) -> (u16, String) {
    let error = ApiError::from(error);
    (error.status_code().as_u16(), error.detail())
}

/// The one mapping from the domain's errors to HTTP.
impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        let names = |statuses: &[TicketStatus]| statuses.iter().map(ToString::to_string).collect();
        match error {
            DomainError::NotFound(what) => Self::NotFound(what),
            DomainError::Unauthenticated(detail) => Self::Unauthorized(detail),
            DomainError::Forbidden(detail) => Self::Forbidden(detail),
            DomainError::Invalid(errors) => Self::Validation(errors),
            DomainError::Malformed(detail) => Self::BadRequest(detail),
            DomainError::Conflict(detail) => Self::Conflict(detail),
            DomainError::Expired(detail) => Self::Gone(detail),
            DomainError::TooLarge(detail) => Self::TooLarge(detail),
            DomainError::UnsupportedType(detail) => Self::UnsupportedMediaType(detail),
            DomainError::InvalidTransition { from, to, allowed } => {
                Self::InvalidTransition { from: from.to_string(), to: to.to_string(), allowed: names(&allowed) }
            }
            DomainError::Unavailable(detail) => Self::Unavailable(detail),
            DomainError::Internal(cause) => Self::Internal(cause),
        }
    }
}

/// How an ingestion failure is answered over HTTP: permanent ones are 4xx (a relay must not retry them), a
/// temporary one 503 with `Retry-After`.
impl From<IngestError> for ApiError {
    fn from(error: IngestError) -> Self {
        match error {
            IngestError::TooLarge(limit) => Self::PayloadTooLarge(limit),
            IngestError::Temporary(why) => Self::Unavailable(why),
            permanent => {
                let id = permanent.inbound_email_id().map(|id| format!(" (inbound email {id})")).unwrap_or_default();
                Self::invalid("body", format!("{permanent}{id}"))
            }
        }
    }
}

/// How a refused scrape of `/metrics` is answered: 401 with a challenge when a token would let it in, 403 when
/// only its address could.
impl From<ScrapeRefused> for ApiError {
    fn from(refused: ScrapeRefused) -> Self {
        match refused {
            ScrapeRefused::NoToken => Self::UnauthorizedFor { realm: "metrics", detail: refused.to_string() },
            ScrapeRefused::Address(_) => Self::Forbidden(refused.to_string()),
        }
    }
}

impl From<crate::db::RunError> for ApiError {
    fn from(error: crate::db::RunError) -> Self {
        DomainError::from(error).into()
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(error: diesel::result::Error) -> Self {
        DomainError::from(error).into()
    }
}

/// The result type of route code.
pub type ApiResult<T> = Result<T, ApiError>;
