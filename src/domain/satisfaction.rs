//! Satisfaction: the requester's verdict on a resolved ticket, given through the API or through a signed link in
//! the "resolved" email.
//!
//! A link token names the ticket and the requester it was sent to, and the time it was issued, and carries an
//! HMAC-SHA256 tag (the reply-address key, with its own domain-separation prefix: [`DATED_RATING_LINK`]), so a link
//! cannot be forged, pointed at another ticket or made younger. The rating itself is a query parameter: both links of
//! an email share one token.
//!
//! Opening a link records nothing: mail security products open every link of a message, so a `GET` only shows the
//! choice ([`open_link`]) and the button on that page records it ([`rate_by_link`]). A link works for a limited time
//! ([`DEFAULT_LINK_DAYS`] unless configured) after it was issued; links of the first release, which carry no issue
//! time ([`RATING_LINK`]), work for as long after the ticket was resolved.

use chrono::{DateTime, TimeDelta, Utc};
use diesel::{Connection, PgConnection};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::caller::Caller;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::events::{self, EventDetails};
use crate::domain::notifications;
use crate::domain::signed_token::{DATED_RATING_LINK, RATING_LINK};
use crate::domain::values;
use crate::models::Ticket;
use crate::models::satisfaction_rating::SatisfactionRating;
use crate::models::ticket::{TicketKey, TicketScope};
use crate::models::ticket_event::EventKind;
use crate::vocabulary::Rating;
use crate::vocabulary::TicketStatus;

/// Longest comment accepted with a rating.
pub const COMMENT_MAX: usize = 2000;

/// How many days a rating link works after it was issued, unless `SATISFACTION_LINK_DAYS` says otherwise.
pub const DEFAULT_LINK_DAYS: u16 = 30;

/// A rating given through the API.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateTicket {
    /// The verdict.
    pub rating: Rating,
    /// An optional comment.
    #[schema(max_length = 2000, example = "Quick and clear, thank you.")]
    pub comment: Option<String>,
}

/// What a rating link says: the ticket, the requester the email went to, and when the link was issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RatingToken {
    /// The ticket.
    pub ticket_id: Uuid,
    /// The requester the link was sent to.
    pub recipient_id: Uuid,
    /// When the link was issued, to the second; `None` for a link of the first release, which did not say.
    pub issued_at: Option<DateTime<Utc>>,
}

impl RatingToken {
    /// The token of a link to `ticket_id` for `recipient_id`, issued at `issued_at` (kept to the second).
    pub fn issued(ticket_id: Uuid, recipient_id: Uuid, issued_at: DateTime<Utc>) -> RatingToken {
        let issued_at = DateTime::from_timestamp(issued_at.timestamp(), 0).unwrap_or(issued_at);
        RatingToken { ticket_id, recipient_id, issued_at: Some(issued_at) }
    }

    /// The token text (lower-case base32), signed with `secret`: [`DATED_RATING_LINK`], or [`RATING_LINK`] for a
    /// token without an issue time.
    pub fn encode(&self, secret: &[u8]) -> String {
        let mut payload = Vec::with_capacity(DATED_RATING_LINK.payload_len);
        payload.extend_from_slice(self.ticket_id.as_bytes());
        payload.extend_from_slice(self.recipient_id.as_bytes());
        match self.issued_at {
            Some(issued_at) => {
                payload.extend_from_slice(&issued_at.timestamp().to_be_bytes());
                DATED_RATING_LINK.sign(&payload, secret)
            }
            None => RATING_LINK.sign(&payload, secret),
        }
    }

    /// Reads a token of either format; `None` when it is malformed or its tag does not verify.
    pub fn decode(text: &str, secret: &[u8]) -> Option<RatingToken> {
        let (payload, issued_at) = match DATED_RATING_LINK.verify(text, secret) {
            Some(payload) => {
                let (ids, issued) = payload.split_at(32);
                let seconds = i64::from_be_bytes(issued.try_into().ok()?);
                (ids.to_vec(), Some(DateTime::from_timestamp(seconds, 0)?))
            }
            None => (RATING_LINK.verify(text, secret)?, None),
        };
        let (ticket, recipient) = payload.split_at(16);
        Some(RatingToken {
            ticket_id: Uuid::from_slice(ticket).ok()?,
            recipient_id: Uuid::from_slice(recipient).ok()?,
            issued_at,
        })
    }

    /// The link that offers `rating`: `{base}/api/v1/satisfaction/{token}?rating=...`.
    pub fn link(&self, base: &str, secret: &[u8], rating: Rating) -> String {
        format!("{base}/api/v1/satisfaction/{}?rating={rating}", self.encode(secret))
    }

    /// When the link stops working: `valid_for` after it was issued or, for a link of the first release,
    /// `valid_for` after `resolved_at` (when the ticket was last resolved). `None` when neither is known.
    pub fn expires_at(&self, resolved_at: Option<DateTime<Utc>>, valid_for: TimeDelta) -> Option<DateTime<Utc>> {
        self.issued_at.or(resolved_at).and_then(|start| start.checked_add_signed(valid_for))
    }
}

/// What the page of a link shows before anything is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkView {
    /// The ticket's reference number.
    pub reference: i64,
    /// The rating the ticket already has, if any.
    pub current: Option<Rating>,
}

fn clean_comment(comment: Option<String>) -> DomainResult<Option<String>> {
    let Some(comment) = comment.filter(|c| !c.trim().is_empty()) else { return Ok(None) };
    values::bounded_text("comment", &comment, COMMENT_MAX, true).map(Some).map_err(|e| DomainError::Invalid(vec![e]))
}

/// Refuses a ticket that is not resolved or closed.
fn ensure_rateable(ticket: &Ticket) -> DomainResult<()> {
    if !matches!(ticket.status, TicketStatus::Resolved | TicketStatus::Closed) {
        return Err(DomainError::Conflict(format!(
            "ticket #{} is {}; it can be rated once it is resolved",
            ticket.reference, ticket.status
        )));
    }
    Ok(())
}

/// Stores a rating of a locked ticket by `user_id` and records the event.
fn record(
    conn: &mut PgConnection,
    ticket: &Ticket,
    user_id: Uuid,
    rating: Rating,
    comment: Option<String>,
) -> DomainResult<SatisfactionRating> {
    ensure_rateable(ticket)?;
    let stored = SatisfactionRating::upsert(conn, ticket.id, user_id, rating, comment.as_deref())?;
    let event = events::event(
        ticket.id,
        Some(user_id),
        EventKind::SatisfactionRated,
        (None, Some(rating.to_string())),
        EventDetails::SatisfactionRated { comment: stored.comment.clone() },
    );
    let touched = Ticket::touch(conn, ticket.id)?;
    notifications::record(conn, &touched, Some(user_id), &[event])?;
    Ok(stored)
}

/// Rates a ticket through the API: only its requester may, once it is resolved or closed.
pub fn rate(
    conn: &mut PgConnection,
    caller: &Caller,
    key: TicketKey,
    input: RateTicket,
) -> DomainResult<SatisfactionRating> {
    let comment = clean_comment(input.comment)?;
    conn.transaction(|conn| {
        let ticket = Ticket::lock_visible(conn, key, caller.ticket_scope())?.ok_or(DomainError::NotFound("ticket"))?;
        if ticket.requester_id != caller.id() {
            return Err(DomainError::Forbidden("only the requester who submitted a ticket may rate it".to_owned()));
        }
        record(conn, &ticket, caller.id(), input.rating, comment)
    })
}

/// The ticket a link names, once the link is known to still work for it: the ticket exists and was sent to the
/// link's requester, whose account is active, and the link has not expired. `lock` locks the row until the
/// transaction ends.
fn link_ticket(conn: &mut PgConnection, token: RatingToken, valid_for: TimeDelta, lock: bool) -> DomainResult<Ticket> {
    let key = TicketKey::Id(token.ticket_id);
    let found = if lock {
        Ticket::lock_visible(conn, key, TicketScope::All)?
    } else {
        Ticket::find_visible(conn, key, TicketScope::All)?
    };
    let ticket =
        found.filter(|ticket| ticket.requester_id == token.recipient_id).ok_or(DomainError::NotFound("ticket"))?;
    let requester_active = crate::models::User::find(conn, token.recipient_id)?.is_some_and(|user| user.active);
    if !requester_active {
        return Err(DomainError::Forbidden("this link belongs to a deactivated account".to_owned()));
    }
    // A closed ticket that was never resolved (closed from open) is judged by when it was closed.
    let resolved_at = ticket.resolved_at.or(ticket.closed_at);
    if token.expires_at(resolved_at, valid_for).is_some_and(|expires_at| Utc::now() >= expires_at) {
        return Err(DomainError::Expired(format!(
            "this rating link has expired (links work for {} days); to tell us how request #{} went, reply to \
             the email instead",
            valid_for.num_days(),
            ticket.reference
        )));
    }
    Ok(ticket)
}

/// What the page of a link shows: everything a rating by the link would check is checked, and nothing is
/// recorded (mail scanners open links nobody clicked).
pub fn open_link(conn: &mut PgConnection, token: RatingToken, valid_for: TimeDelta) -> DomainResult<LinkView> {
    let ticket = link_ticket(conn, token, valid_for, false)?;
    ensure_rateable(&ticket)?;
    Ok(LinkView { reference: ticket.reference, current: ticket.satisfaction })
}

/// Rates a ticket through a signed link that has not expired (`valid_for`); `None` comment keeps an earlier one.
pub fn rate_by_link(
    conn: &mut PgConnection,
    token: RatingToken,
    valid_for: TimeDelta,
    rating: Rating,
    comment: Option<String>,
) -> DomainResult<(SatisfactionRating, i64)> {
    let comment = clean_comment(comment)?;
    conn.transaction(|conn| {
        let ticket = link_ticket(conn, token, valid_for, true)?;
        let stored = record(conn, &ticket, token.recipient_id, rating, comment)?;
        Ok((stored, ticket.reference))
    })
}

/// The rating of a ticket the caller may see, if it has one.
pub fn get(conn: &mut PgConnection, caller: &Caller, key: TicketKey) -> DomainResult<SatisfactionRating> {
    let ticket = Ticket::find_visible(conn, key, caller.ticket_scope())?.ok_or(DomainError::NotFound("ticket"))?;
    SatisfactionRating::find(conn, ticket.id)?.ok_or(DomainError::NotFound("rating"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn tokens_round_trip_and_tampering_is_refused() {
        let issued_at = DateTime::parse_from_rfc3339("2026-03-01T12:30:45.678Z").unwrap().to_utc();
        let token = RatingToken::issued(Uuid::now_v7(), Uuid::now_v7(), issued_at);
        assert_eq!(token.issued_at.unwrap().timestamp_subsec_nanos(), 0, "kept to the second");
        let text = token.encode(SECRET);
        assert_eq!(RatingToken::decode(&text, SECRET), Some(token));
        assert_eq!(RatingToken::decode(&text.to_ascii_uppercase(), SECRET), Some(token), "case-insensitive");
        assert_eq!(RatingToken::decode(&text, b"another key, another deployment!"), None);
        let mut tampered = text.clone().into_bytes();
        tampered[3] = if tampered[3] == b'a' { b'b' } else { b'a' };
        assert_eq!(RatingToken::decode(std::str::from_utf8(&tampered).unwrap(), SECRET), None);
        assert_eq!(RatingToken::decode(&text[..text.len() - 2], SECRET), None, "truncated");
        assert_eq!(RatingToken::decode("not-base32!", SECRET), None);
        // A reply-address token signed with the same key is no rating token.
        let reply = [1042i64.to_be_bytes().as_slice(), token.recipient_id.as_bytes()].concat();
        assert_eq!(RatingToken::decode(&crate::domain::signed_token::REPLY_ADDRESS.sign(&reply, SECRET), SECRET), None);
    }

    #[test]
    fn links_of_the_first_release_are_still_read() {
        let legacy = RatingToken { ticket_id: Uuid::now_v7(), recipient_id: Uuid::now_v7(), issued_at: None };
        let text = legacy.encode(SECRET);
        assert_eq!(text.len(), 77, "the length of the links already sent");
        assert_eq!(RatingToken::decode(&text, SECRET), Some(legacy));
        // A dated token's ids with the date cut off do not pass for a legacy one.
        let dated = RatingToken { issued_at: Some(Utc::now()), ..legacy }.encode(SECRET);
        assert_eq!(RatingToken::decode(&dated[..77], SECRET), None);
    }

    #[test]
    fn links_expire_after_their_issue_time_or_for_old_links_the_resolution() {
        let at = |text: &str| DateTime::parse_from_rfc3339(text).unwrap().to_utc();
        let days = TimeDelta::days(30);
        let resolved = Some(at("2026-01-10T08:00:00Z"));
        let dated = RatingToken::issued(Uuid::now_v7(), Uuid::now_v7(), at("2026-01-01T00:00:00Z"));
        assert_eq!(dated.expires_at(resolved, days), Some(at("2026-01-31T00:00:00Z")), "the issue time wins");
        assert_eq!(dated.expires_at(None, TimeDelta::days(1)), Some(at("2026-01-02T00:00:00Z")));
        let legacy = RatingToken { issued_at: None, ..dated };
        assert_eq!(legacy.expires_at(resolved, days), Some(at("2026-02-09T08:00:00Z")));
        assert_eq!(legacy.expires_at(None, days), None, "a ticket not resolved is refused by the status rule");
    }
}
