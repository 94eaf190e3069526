//! JSON merge-patch helpers: telling "absent" from "null" in request bodies.

use serde::{Deserialize, Deserializer};

/// Deserialises a field so that an absent field is `None` (with `#[serde(default)]`), `null` is `Some(None)`
/// and a value is `Some(Some(value))`.
pub fn nullable<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
