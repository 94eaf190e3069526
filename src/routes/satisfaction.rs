//! `/api/v1/satisfaction/{token}`: the one-click rating links of the "resolved" email. No API token is needed:
//! the signed link is the credential, and it only ever rates the one ticket it names.

use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::db::{self, DbPool};
use crate::domain::satisfaction::{self, RatingToken};
use crate::error::{ApiError, ApiResult};
use crate::vocabulary::Rating;

/// The key the links are signed with (the reply-address key).
#[derive(Clone)]
pub struct RatingLinks {
    /// The HMAC key.
    pub secret: Vec<u8>,
}

/// The rating a link records.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RatingChoice {
    /// `satisfied` or `not_satisfied`.
    #[param(value_type = String, pattern = "^(satisfied|not_satisfied)$")]
    pub rating: Option<String>,
}

/// The comment form posted from the thank-you page.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RatingForm {
    /// `satisfied` or `not_satisfied`.
    #[schema(pattern = "^(satisfied|not_satisfied)$")]
    pub rating: String,
    /// An optional comment.
    #[schema(max_length = 2000)]
    pub comment: Option<String>,
}

fn parse_rating(raw: Option<&str>) -> ApiResult<Rating> {
    raw.unwrap_or_default()
        .trim()
        .parse()
        .map_err(|_| ApiError::invalid("rating", "must be satisfied or not_satisfied"))
}

fn verify(links: &RatingLinks, token: &str) -> ApiResult<RatingToken> {
    RatingToken::decode(token, &links.secret)
        .ok_or_else(|| ApiError::Forbidden("this rating link is not valid; use the link from the email".to_owned()))
}

/// The thank-you page, with a form to add a comment.
fn page(token: &str, reference: i64, rating: Rating, commented: bool) -> HttpResponse {
    let verdict = match rating {
        Rating::Satisfied => "satisfied",
        Rating::NotSatisfied => "not satisfied",
    };
    let form = if commented {
        "<p>Your comment was saved.</p>".to_owned()
    } else {
        format!(
            "<form method=\"post\" action=\"/api/v1/satisfaction/{token}\">\
             <input type=\"hidden\" name=\"rating\" value=\"{rating}\">\
             <p><label for=\"comment\">Anything you would like to add? (optional)</label><br>\
             <textarea id=\"comment\" name=\"comment\" rows=\"5\" cols=\"60\" maxlength=\"2000\"></textarea></p>\
             <p><button type=\"submit\">Send comment</button></p></form>"
        )
    };
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>Thank you</title></head>\
         <body style=\"font-family: sans-serif; max-width: 40em; margin: 2em auto; line-height: 1.5;\">\
         <h1>Thank you</h1><p>We recorded that you are <strong>{verdict}</strong> with how request #{reference} \
         was handled. You can change your answer with the other link in the email.</p>{form}</body></html>"
    );
    HttpResponse::Ok()
        .content_type(ContentType::html())
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"))
        .body(body)
}

/// Record a rating with one click (the link in the "resolved" email).
///
/// The token in the path is signed: a changed or made-up link is refused with 403. Rating again replaces the
/// earlier rating. Answers with a small HTML page that offers to add a comment.
#[utoipa::path(
    get, path = "/api/v1/satisfaction/{token}", tag = "tickets", security(()),
    params(("token" = String, Path, description = "The signed token of the link"), RatingChoice),
    responses((status = 200, description = "Recorded; a thank-you page", content_type = "text/html", body = String))
)]
pub async fn rate_by_link(
    pool: web::Data<DbPool>,
    links: web::Data<RatingLinks>,
    token: web::Path<String>,
    choice: web::Query<RatingChoice>,
) -> ApiResult<HttpResponse> {
    let raw = token.into_inner();
    let token = verify(&links, &raw)?;
    let rating = parse_rating(choice.rating.as_deref())?;
    let (_, reference) = db::run(&pool, move |conn| satisfaction::rate_by_link(conn, token, rating, None)).await?;
    Ok(page(&raw, reference, rating, false))
}

/// Add a comment to a rating (the form of the thank-you page).
#[utoipa::path(
    post, path = "/api/v1/satisfaction/{token}", tag = "tickets", security(()),
    params(("token" = String, Path, description = "The signed token of the link")),
    request_body(content = RatingForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Recorded; a thank-you page", content_type = "text/html", body = String))
)]
pub async fn comment_by_link(
    pool: web::Data<DbPool>,
    links: web::Data<RatingLinks>,
    token: web::Path<String>,
    form: web::Form<RatingForm>,
) -> ApiResult<HttpResponse> {
    let raw = token.into_inner();
    let token = verify(&links, &raw)?;
    let form = form.into_inner();
    let rating = parse_rating(Some(&form.rating))?;
    let comment = form.comment;
    let (_, reference) = db::run(&pool, move |conn| satisfaction::rate_by_link(conn, token, rating, comment)).await?;
    Ok(page(&raw, reference, rating, true))
}
