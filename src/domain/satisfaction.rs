//! Satisfaction: the requester's verdict on a resolved ticket, given through the API or with one click on a
//! signed link in the "resolved" email.
//!
//! A link token names the ticket and the requester it was sent to and carries an HMAC-SHA256 tag (the reply-address
//! key, with its own domain-separation prefix: [`RATING_LINK`]), so a link cannot be forged or pointed at another
//! ticket. The rating itself is a query parameter: both links of an email share one token.

use diesel::{Connection, PgConnection};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::caller::Caller;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::events::{self, EventDetails};
use crate::domain::notifications;
use crate::domain::signed_token::RATING_LINK;
use crate::domain::values;
use crate::models::Ticket;
use crate::models::satisfaction_rating::SatisfactionRating;
use crate::models::ticket::TicketKey;
use crate::models::ticket_event::EventKind;
use crate::vocabulary::Rating;
use crate::vocabulary::TicketStatus;

/// Longest comment accepted with a rating.
pub const COMMENT_MAX: usize = 2000;

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

/// What a one-click link says: the ticket and the requester the email went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RatingToken {
    /// The ticket.
    pub ticket_id: Uuid,
    /// The requester the link was sent to.
    pub recipient_id: Uuid,
}

impl RatingToken {
    /// The token text (lower-case base32), signed with `secret`.
    pub fn encode(&self, secret: &[u8]) -> String {
        let mut payload = Vec::with_capacity(RATING_LINK.payload_len);
        payload.extend_from_slice(self.ticket_id.as_bytes());
        payload.extend_from_slice(self.recipient_id.as_bytes());
        RATING_LINK.sign(&payload, secret)
    }

    /// Reads a token; `None` when it is malformed or its tag does not verify.
    pub fn decode(text: &str, secret: &[u8]) -> Option<RatingToken> {
        let payload = RATING_LINK.verify(text, secret)?;
        let (ticket, recipient) = payload.split_at(16);
        Some(RatingToken { ticket_id: Uuid::from_slice(ticket).ok()?, recipient_id: Uuid::from_slice(recipient).ok()? })
    }

    /// The link that records `rating`: `{base}/api/v1/satisfaction/{token}?rating=...`.
    pub fn link(&self, base: &str, secret: &[u8], rating: Rating) -> String {
        format!("{base}/api/v1/satisfaction/{}?rating={rating}", self.encode(secret))
    }
}

fn clean_comment(comment: Option<String>) -> DomainResult<Option<String>> {
    let Some(comment) = comment.filter(|c| !c.trim().is_empty()) else { return Ok(None) };
    values::bounded_text("comment", &comment, COMMENT_MAX, true).map(Some).map_err(|e| DomainError::Invalid(vec![e]))
}

/// Stores a rating of a locked ticket by `user_id` and records the event.
fn record(
    conn: &mut PgConnection,
    ticket: &Ticket,
    user_id: Uuid,
    rating: Rating,
    comment: Option<String>,
) -> DomainResult<SatisfactionRating> {
    if !matches!(ticket.status, TicketStatus::Resolved | TicketStatus::Closed) {
        return Err(DomainError::Conflict(format!(
            "ticket #{} is {}; it can be rated once it is resolved",
            ticket.reference, ticket.status
        )));
    }
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

/// Rates a ticket through a signed link; `None` comment keeps an earlier one.
pub fn rate_by_link(
    conn: &mut PgConnection,
    token: RatingToken,
    rating: Rating,
    comment: Option<String>,
) -> DomainResult<(SatisfactionRating, i64)> {
    let comment = clean_comment(comment)?;
    conn.transaction(|conn| {
        let ticket =
            Ticket::lock_visible(conn, TicketKey::Id(token.ticket_id), crate::models::ticket::TicketScope::All)?
                .filter(|ticket| ticket.requester_id == token.recipient_id)
                .ok_or(DomainError::NotFound("ticket"))?;
        let requester_active = crate::models::User::find(conn, token.recipient_id)?.is_some_and(|user| user.active);
        if !requester_active {
            return Err(DomainError::Forbidden("this link belongs to a deactivated account".to_owned()));
        }
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
        let token = RatingToken { ticket_id: Uuid::now_v7(), recipient_id: Uuid::now_v7() };
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
}
