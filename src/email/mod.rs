//! Email: rendering and sending notifications from the outbox, and the signed reply addresses that let people
//! answer by email.

pub mod compose;
pub mod imap;
pub mod inbound;
pub mod render;
pub mod reply_token;
pub mod transport;
pub mod worker;
