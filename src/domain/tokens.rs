//! API tokens: long random secrets, shown once, stored only as their SHA-256.
//!
//! A token carries 256 bits of randomness, so a fast hash is enough to protect it at rest (a slow password hash
//! would cost every request hundreds of milliseconds for no gain).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Every token starts with this, so that secret scanners and people recognise one.
pub const TOKEN_PREFIX: &str = "cd_";

/// How many leading characters of a token are kept in clear to tell tokens apart.
const DISPLAY_PREFIX_LEN: usize = 10;

/// A freshly generated token: the secret to hand out once, and what is stored.
#[derive(Debug)]
pub struct NewToken {
    /// The secret, for the owner's eyes only.
    pub secret: String,
    /// SHA-256 of the secret.
    pub hash: Vec<u8>,
    /// The first characters of the secret.
    pub display_prefix: String,
}

/// Generates a new random token.
pub fn generate() -> NewToken {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    NewToken { hash: hash(&secret), display_prefix: secret[..DISPLAY_PREFIX_LEN].to_owned(), secret }
}

/// The stored form of a token.
pub fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Whether `candidate` has the shape of one of our tokens (cheap check before touching the database).
pub fn looks_valid(candidate: &str) -> bool {
    candidate.len() == TOKEN_PREFIX.len() + 43
        && candidate.starts_with(TOKEN_PREFIX)
        && candidate[TOKEN_PREFIX.len()..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_hash_stably() {
        let a = generate();
        let b = generate();
        assert_ne!(a.secret, b.secret);
        assert!(looks_valid(&a.secret));
        assert_eq!(a.hash, hash(&a.secret));
        assert_eq!(a.hash.len(), 32);
        assert!(a.secret.starts_with(&a.display_prefix));
        assert!(!looks_valid("cd_short"));
    }
}
