//! Inbound email, the parts that know about mail: reading a raw message (MIME, charsets, `format=flowed`, HTML),
//! recognising automatic and forwarded mail, the trusted MTA's verdict on the sender, and the new text of a reply.
//! [`ingest`] stores each message first, then hands the domain one parsed value ([`crate::domain::inbound`]
//! decides what it does to tickets).

pub mod authentication;
pub mod classify;
#[cfg(test)]
mod fixtures_test;
pub mod flowed;
pub mod html;
mod intake;
pub mod parse;
pub mod quote_rules;
pub mod read;
pub mod reply_text;

pub use intake::{ingest, retry};
