//! HTML mail to text.

pub use crate::email::inbound::reply_text::html_to_text;
