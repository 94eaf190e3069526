//! Opaque pagination cursors: a position in a listing, encoded so that clients treat it as a token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::domain::error::{DomainError, DomainResult};

/// Encodes a listing position.
pub fn encode<T: Serialize>(position: &T) -> String {
    // Serialising plain structs of numbers, strings and uuids cannot fail.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(position).unwrap_or_default())
}

/// Decodes a cursor that [`encode`] made; anything else is a 400.
pub fn decode<T: DeserializeOwned>(cursor: &str) -> DomainResult<T> {
    let invalid =
        || DomainError::Malformed("the cursor is not valid: pass next_cursor from a previous page as it is".to_owned());
    if cursor.len() > 512 {
        return Err(invalid());
    }
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    serde_json::from_slice(&bytes).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_garbage() {
        let cursor = encode(&(42_i64, "x".to_owned()));
        assert_eq!(decode::<(i64, String)>(&cursor).unwrap(), (42, "x".to_owned()));
        assert!(decode::<(i64, String)>("not a cursor!").is_err());
        assert!(decode::<(i64, String)>(&encode(&"other shape")).is_err());
    }
}
