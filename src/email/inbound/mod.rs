//! Inbound email, the parts that know about mail: parsing, recognising automatic and forwarded mail, and
//! extracting the new text of a reply. What a message does to tickets is decided in [`crate::domain::inbound`].

pub mod classify;
#[cfg(test)]
mod fixtures_test;
pub mod flowed;
pub mod html;
pub mod parse;
pub mod quote_rules;
pub mod reply_text;
