//! `/api/v1/satisfaction/{token}`: the rating links of the "resolved" email. No API token is needed: the signed
//! link is the credential, and it only ever rates the one ticket it names.
//!
//! Opening a link (`GET`, `HEAD`) records nothing, because the link scanners of mail security products open every
//! link of a message: it shows the choice with one button, and that button (`POST`) records it.

use actix_web::dev::Payload;
use actix_web::http::header::ContentType;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use chrono::TimeDelta;
use futures_util::future::LocalBoxFuture;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::db::{self, DbPool};
use crate::domain::satisfaction::{self, LinkView, RatingToken};
use crate::error::{ApiError, ApiResult};
use crate::routes::extract::{self, ApiJson};
use crate::vocabulary::Rating;

/// The key the links are signed with (the reply-address key) and how long they work.
#[derive(Clone)]
pub struct RatingLinks {
    /// The HMAC key.
    pub secret: Vec<u8>,
    /// How long a link works after it was issued (`SATISFACTION_LINK_DAYS`).
    pub valid_for: TimeDelta,
}

/// The rating a link offers.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RatingChoice {
    /// `satisfied` or `not_satisfied`.
    #[param(value_type = String, pattern = "^(satisfied|not_satisfied)$")]
    pub rating: Option<String>,
}

/// The form of a link's page, which records the rating (`application/x-www-form-urlencoded`, or the same fields
/// as JSON).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RatingForm {
    /// `satisfied` or `not_satisfied`.
    #[schema(pattern = "^(satisfied|not_satisfied)$")]
    pub rating: String,
    /// An optional comment; left out or empty, an earlier comment stays.
    #[schema(max_length = 2000)]
    pub comment: Option<String>,
}

/// A [`RatingForm`] read from a form body or, when the body is declared as JSON, from JSON.
#[derive(Debug)]
pub struct RatingBody(pub RatingForm);

impl FromRequest for RatingBody {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if extract::is_json(request) {
            let json = ApiJson::<RatingForm>::from_request(request, payload);
            Box::pin(async move { Ok(RatingBody(json.await?.0)) })
        } else {
            let form = web::Form::<RatingForm>::from_request(request, payload);
            Box::pin(async move { Ok(RatingBody(form.await?.into_inner())) })
        }
    }
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

fn words(rating: Rating) -> &'static str {
    match rating {
        Rating::Satisfied => "satisfied",
        Rating::NotSatisfied => "not satisfied",
    }
}

/// A small self-contained page (no external assets) that is never cached, indexed, framed or sent as a referrer.
fn html(title: &str, main: &str) -> HttpResponse {
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{title}</title>\
         <style>body{{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em;line-height:1.5;\
         color:#1a1a1a;background:#fff}}textarea{{width:100%;box-sizing:border-box;font:inherit}}\
         button{{font:inherit;padding:.5em 1.2em;border:2px solid #1a4b8c;border-radius:4px;background:#1a4b8c;\
         color:#fff;cursor:pointer}}button:focus{{outline:3px solid #f5a623;outline-offset:2px}}</style></head>\
         <body><main><h1>{title}</h1>{main}</main></body></html>"
    );
    HttpResponse::Ok()
        .content_type(ContentType::html())
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Robots-Tag", "noindex"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ))
        .body(body)
}

/// The page of a link: the choice, and one button (with an optional comment) that records it. The form posts to
/// the link's own path (relative, so that it works behind a proxy that adds a prefix).
fn choice_page(token: &str, view: LinkView, rating: Rating) -> HttpResponse {
    let reference = view.reference;
    let verdict = words(rating);
    let already = match view.current {
        None => String::new(),
        Some(current) if current == rating => format!(
            "<p>You already told us you are <strong>{}</strong>. You can send it again with a comment; an \
             earlier comment stays unless you write a new one.</p>",
            words(current)
        ),
        Some(current) => format!(
            "<p>You already rated this request: <strong>{}</strong>. The button below changes your answer to \
             <strong>{verdict}</strong>; an earlier comment stays unless you write a new one.</p>",
            words(current)
        ),
    };
    let main = format!(
        "<p>Request #{reference}: you chose <strong>{verdict}</strong> with how it was handled.</p>{already}\
         <form method=\"post\" action=\"{token}\">\
         <input type=\"hidden\" name=\"rating\" value=\"{rating}\">\
         <p><label for=\"comment\">Anything you would like to add? (optional)</label><br>\
         <textarea id=\"comment\" name=\"comment\" rows=\"5\" maxlength=\"2000\"></textarea></p>\
         <p><button type=\"submit\">Send: {verdict}</button></p></form>\
         <p>Nothing is recorded until you press the button.</p>"
    );
    html(&format!("Rate request #{reference}"), &main)
}

/// The thank-you page once a rating is recorded.
fn thanks_page(reference: i64, rating: Rating, commented: bool) -> HttpResponse {
    let comment = if commented { "<p>Your comment was saved.</p>" } else { "" };
    let main = format!(
        "<p>We recorded that you are <strong>{}</strong> with how request #{reference} was handled.</p>{comment}\
         <p>You can change your answer with the other link in the email.</p>",
        words(rating)
    );
    html("Thank you", &main)
}

/// Show a rating link's choice (the links in the "resolved" email); records nothing.
///
/// Mail security products open every link of a message, so opening a link only shows the chosen rating with one
/// button (a form that posts to the same path, with an optional comment); a `HEAD` records nothing either. If the
/// ticket is already rated, the page says so. The token in the path is signed: a changed or made-up link is
/// refused with 403. A link works for `SATISFACTION_LINK_DAYS` (30) days after it was sent (a link sent before
/// links carried their date: after the ticket was resolved); then it answers 410.
#[utoipa::path(
    get, path = "/api/v1/satisfaction/{token}", tag = "tickets", operation_id = "openRatingLink", security(()),
    params(("token" = String, Path, description = "The signed token of the link"), RatingChoice),
    responses(
        (status = 200, description = "The choice, with a button that records it; nothing is recorded",
            content_type = "text/html", body = String),
        (status = 410, description = "The link has expired; the requester can reply to the email instead",
            content_type = "application/problem+json", body = crate::error::Problem),
    )
)]
pub async fn show_choice(
    pool: web::Data<DbPool>,
    links: web::Data<RatingLinks>,
    token: web::Path<String>,
    choice: web::Query<RatingChoice>,
) -> ApiResult<HttpResponse> {
    let raw = token.into_inner();
    let token = verify(&links, &raw)?;
    let rating = parse_rating(choice.rating.as_deref())?;
    let valid_for = links.valid_for;
    let view = db::run(&pool, move |conn| satisfaction::open_link(conn, token, valid_for)).await?;
    Ok(choice_page(&raw, view, rating))
}

/// Record a rating through a link (the button of the link's page), with an optional comment.
///
/// Rating again replaces the earlier rating; a rating without a comment keeps the earlier comment. The same rules
/// as opening the link apply: 403 for a changed link, 410 once it has expired, 409 while the ticket is not
/// resolved or closed. Answers with a thank-you page.
#[utoipa::path(
    post, path = "/api/v1/satisfaction/{token}", tag = "tickets", operation_id = "rateTicketByLink", security(()),
    params(("token" = String, Path, description = "The signed token of the link")),
    request_body(content(
        (RatingForm = "application/x-www-form-urlencoded"),
        (RatingForm = "application/json"),
    )),
    responses(
        (status = 200, description = "Recorded; a thank-you page", content_type = "text/html", body = String),
        (status = 410, description = "The link has expired; the requester can reply to the email instead",
            content_type = "application/problem+json", body = crate::error::Problem),
    )
)]
pub async fn rate_by_link(
    pool: web::Data<DbPool>,
    links: web::Data<RatingLinks>,
    token: web::Path<String>,
    body: RatingBody,
) -> ApiResult<HttpResponse> {
    let token = verify(&links, &token)?;
    let RatingForm { rating, comment } = body.0;
    let rating = parse_rating(Some(&rating))?;
    let commented = comment.as_deref().is_some_and(|comment| !comment.trim().is_empty());
    let valid_for = links.valid_for;
    let (_, reference) =
        db::run(&pool, move |conn| satisfaction::rate_by_link(conn, token, valid_for, rating, comment)).await?;
    Ok(thanks_page(reference, rating, commented))
}
