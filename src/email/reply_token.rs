//! Signed reply addresses: `support+<token>@example.org`, where the token names the ticket and the recipient and
//! carries an HMAC-SHA256 tag, so that it cannot be forged or altered.
//!
//! The token is a [`REPLY_ADDRESS`] token: lower-case base32 (mail systems may change the case of a local
//! part) of 32 bytes, the ticket reference (8), the recipient's id (16) and the first 8 bytes of the tag. With a
//! `support` local part the address stays within the 64 characters RFC 5321 allows.

use uuid::Uuid;

use crate::domain::signed_token::REPLY_ADDRESS;

/// What a reply token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyToken {
    /// The ticket's reference number.
    pub ticket_reference: i64,
    /// The user the notification was sent to.
    pub recipient_id: Uuid,
}

impl ReplyToken {
    /// The token text, signed with `secret`.
    pub fn encode(&self, secret: &[u8]) -> String {
        let mut payload = Vec::with_capacity(REPLY_ADDRESS.payload_len);
        payload.extend_from_slice(&self.ticket_reference.to_be_bytes());
        payload.extend_from_slice(self.recipient_id.as_bytes());
        REPLY_ADDRESS.sign(&payload, secret)
    }

    /// Reads a token; `None` when it is malformed or its tag does not verify with `secret`.
    pub fn decode(text: &str, secret: &[u8]) -> Option<ReplyToken> {
        let payload = REPLY_ADDRESS.verify(text, secret)?;
        let (reference, recipient) = payload.split_at(8);
        Some(ReplyToken {
            ticket_reference: i64::from_be_bytes(reference.try_into().ok()?),
            recipient_id: Uuid::from_slice(recipient).ok()?,
        })
    }

    /// The reply address for this token: `base` (`support@example.org`) with `+<token>` after its local part.
    pub fn address(&self, base: &str, secret: &[u8]) -> String {
        let token = self.encode(secret);
        match base.rsplit_once('@') {
            Some((local, domain)) => format!("{local}+{token}@{domain}"),
            None => format!("{base}+{token}"),
        }
    }

    /// The token part of an address made by [`ReplyToken::address`], if it has one.
    pub fn from_address(address: &str) -> Option<&str> {
        let local = address.rsplit_once('@')?.0;
        local.split_once('+').map(|(_, token)| token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn tokens_round_trip_and_fit_in_a_local_part() {
        let token = ReplyToken { ticket_reference: 1042, recipient_id: Uuid::now_v7() };
        let address = token.address("support@example.org", SECRET);
        let local = address.split('@').next().unwrap();
        assert!(local.len() <= 64, "{local}");
        let text = ReplyToken::from_address(&address).unwrap();
        assert_eq!(ReplyToken::decode(text, SECRET), Some(token));
        assert_eq!(ReplyToken::decode(&text.to_ascii_uppercase(), SECRET), Some(token), "case does not matter");
    }

    #[test]
    fn tampered_or_foreign_tokens_are_refused() {
        let token = ReplyToken { ticket_reference: 7, recipient_id: Uuid::now_v7() }.encode(SECRET);
        assert_eq!(ReplyToken::decode(&token, b"another secret of sufficient size!"), None);
        let mut tampered = token.clone().into_bytes();
        tampered[3] = if tampered[3] == b'a' { b'b' } else { b'a' };
        assert_eq!(ReplyToken::decode(std::str::from_utf8(&tampered).unwrap(), SECRET), None);
        assert_eq!(ReplyToken::decode("short", SECRET), None);
        assert_eq!(ReplyToken::decode("", SECRET), None);
    }
}
