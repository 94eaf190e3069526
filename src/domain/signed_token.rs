//! Signed tokens: a fixed-length payload followed by a truncated HMAC-SHA256 tag over it, written as lower-case
//! base32 (mail systems and people may change the case of an address or a link), so that a token cannot be forged
//! or altered without the key.
//!
//! Two kinds of token are signed with the same key (see [`crate::domain::keys`]): the reply addresses of
//! notifications ([`REPLY_ADDRESS`]) and the rating links ([`DATED_RATING_LINK`], and [`RATING_LINK`] of the links
//! sent before they carried their issue time). Each kind has its own [`TokenFormat`]; their lengths differ and the
//! rating tags sign domain-separation prefixes of their own, so a token of one kind never passes for another. The formats are on the wire (in sent mail and links): changing one breaks every
//! token already sent.

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// How one kind of token is laid out and signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenFormat {
    /// What the tag signs before the payload; empty for none.
    pub domain: &'static [u8],
    /// The payload's length in bytes.
    pub payload_len: usize,
    /// How many bytes of the HMAC-SHA256 tag a token keeps.
    pub tag_len: usize,
}

/// Reply tokens: ticket reference (8 bytes, big-endian) and recipient id (16), with an 8-byte tag and no prefix
/// (they were signed first). 52 characters, so that `support+<token>@` stays within the 64 of a local part.
pub const REPLY_ADDRESS: TokenFormat = TokenFormat { domain: b"", payload_len: 8 + 16, tag_len: 8 };

/// Rating-link tokens of the first release: ticket id (16 bytes) and recipient id (16), with a 16-byte tag over a
/// prefix of their own. No longer issued; links of this format already in inboxes are still read.
pub const RATING_LINK: TokenFormat =
    TokenFormat { domain: b"civicdesk satisfaction link\0", payload_len: 16 + 16, tag_len: 16 };

/// Rating-link tokens: ticket id (16 bytes), recipient id (16) and the issue time (Unix seconds, 8 bytes,
/// big-endian), with a 16-byte tag over a prefix of their own, so that a link's age cannot be altered.
pub const DATED_RATING_LINK: TokenFormat =
    TokenFormat { domain: b"civicdesk satisfaction link v2\0", payload_len: 16 + 16 + 8, tag_len: 16 };

impl TokenFormat {
    /// The token text for `payload` (of [`TokenFormat::payload_len`] bytes), signed with `key`.
    pub fn sign(&self, payload: &[u8], key: &[u8]) -> String {
        debug_assert_eq!(payload.len(), self.payload_len, "a payload of another length is another format");
        let tag = self.mac(key).chain_update(payload).finalize().into_bytes();
        let mut bytes = Vec::with_capacity(self.payload_len + self.tag_len);
        bytes.extend_from_slice(payload);
        bytes.extend_from_slice(&tag[..self.tag_len]);
        BASE32_NOPAD.encode(&bytes).to_ascii_lowercase()
    }

    /// The payload of a token text (in either case); `None` when the text is malformed, of another format, or its
    /// tag does not verify with `key`. The tag is compared in constant time.
    pub fn verify(&self, text: &str, key: &[u8]) -> Option<Vec<u8>> {
        // Nothing longer than a token of this format can be one: refused before decoding anything.
        if text.len() > BASE32_NOPAD.encode_len(self.payload_len + self.tag_len) {
            return None;
        }
        let bytes = BASE32_NOPAD.decode(text.to_ascii_uppercase().as_bytes()).ok()?;
        if bytes.len() != self.payload_len + self.tag_len {
            return None;
        }
        let (payload, tag) = bytes.split_at(self.payload_len);
        self.mac(key).chain_update(payload).verify_truncated_left(tag).ok()?;
        Some(payload.to_vec())
    }

    fn mac(&self, key: &[u8]) -> HmacSha256 {
        HmacSha256::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
            .chain_update(self.domain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn reply_payload() -> Vec<u8> {
        let recipient = uuid::Uuid::parse_str("01890a5d-ac96-774b-bcce-b302099a8057").unwrap();
        [1042i64.to_be_bytes().as_slice(), recipient.as_bytes()].concat()
    }

    fn rating_payload() -> Vec<u8> {
        let ticket = uuid::Uuid::parse_str("01890a5d-ac96-7000-8000-000000000001").unwrap();
        let recipient = uuid::Uuid::parse_str("01890a5d-ac96-774b-bcce-b302099a8057").unwrap();
        [ticket.as_bytes().as_slice(), recipient.as_bytes()].concat()
    }

    fn dated_rating_payload() -> Vec<u8> {
        // Issued 2026-01-01T00:00:00Z.
        [rating_payload().as_slice(), 1_767_225_600i64.to_be_bytes().as_slice()].concat()
    }

    #[test]
    fn the_formats_on_the_wire_do_not_change() {
        // Computed independently (Python's hmac and base64): tokens in mail already sent must keep verifying.
        let reply = "aaaaaaaaaacbeamjbjo2zftxjo6m5mycbgniavyxbtdep2ba3goa";
        let rating = "agequxnmszyabaaaaaaaaaaaaeayscs5vslhos54z2zqecm2qbls2cl4pfwckyjyw6jrpdgfvswkm";
        let dated = "agequxnmszyabaaaaaaaaaaaaeayscs5vslhos54z2zqecm2qblqaaaaabuvloiangpelslrtretkmtdh2bis7jgve";
        assert_eq!(REPLY_ADDRESS.sign(&reply_payload(), KEY), reply);
        assert_eq!(RATING_LINK.sign(&rating_payload(), KEY), rating);
        assert_eq!(DATED_RATING_LINK.sign(&dated_rating_payload(), KEY), dated);
        assert_eq!(REPLY_ADDRESS.verify(reply, KEY), Some(reply_payload()));
        assert_eq!(RATING_LINK.verify(&rating.to_ascii_uppercase(), KEY), Some(rating_payload()));
        assert_eq!(DATED_RATING_LINK.verify(dated, KEY), Some(dated_rating_payload()));
    }

    #[test]
    fn one_kind_never_passes_for_the_other() {
        let reply = REPLY_ADDRESS.sign(&reply_payload(), KEY);
        let rating = RATING_LINK.sign(&rating_payload(), KEY);
        let dated = DATED_RATING_LINK.sign(&dated_rating_payload(), KEY);
        assert_eq!(RATING_LINK.verify(&reply, KEY), None);
        assert_eq!(REPLY_ADDRESS.verify(&rating, KEY), None);
        for other in [&reply, &rating] {
            assert_eq!(DATED_RATING_LINK.verify(other, KEY), None);
        }
        assert_eq!(RATING_LINK.verify(&dated, KEY), None);
        assert_eq!(REPLY_ADDRESS.verify(&dated, KEY), None);
        // Even a payload of the same length is refused under another prefix.
        let same_length = TokenFormat { domain: b"", ..RATING_LINK };
        assert_eq!(RATING_LINK.verify(&same_length.sign(&rating_payload(), KEY), KEY), None);
    }

    #[test]
    fn tampered_truncated_or_foreign_tokens_are_refused() {
        let text = RATING_LINK.sign(&rating_payload(), KEY);
        assert_eq!(RATING_LINK.verify(&text, b"another key, another deployment!"), None);
        let mut tampered = text.clone().into_bytes();
        tampered[3] = if tampered[3] == b'a' { b'b' } else { b'a' };
        assert_eq!(RATING_LINK.verify(std::str::from_utf8(&tampered).unwrap(), KEY), None);
        assert_eq!(RATING_LINK.verify(&text[..text.len() - 2], KEY), None);
        assert_eq!(RATING_LINK.verify(&format!("{text}aa"), KEY), None);
        assert_eq!(RATING_LINK.verify(&"a".repeat(10_000), KEY), None);
        assert_eq!(RATING_LINK.verify("not-base32!", KEY), None);
        assert_eq!(RATING_LINK.verify("", KEY), None);
    }
}
