//! Rows, insert forms and change sets for each table, with the queries that read and write them.
//!
//! Models only store and fetch; the rules (who may do what, which transitions are allowed) live in
//! [`crate::domain`].

pub mod advisor_profile;
pub mod api_token;
pub mod app_secret;
pub mod attachment;
pub mod bulk_request;
pub mod custom_field;
pub mod holiday;
pub mod idempotency_key;
pub mod inbound_email;
pub mod message;
pub mod office;
pub mod organization;
pub mod outbox;
pub mod rate_limit;
pub mod report;
pub mod routing_rule;
pub mod satisfaction_rating;
pub mod saved_reply;
pub mod sla_policy;
pub mod sql;
pub mod stored_file;
pub mod ticket;
pub mod ticket_event;
pub mod time_entry;
pub mod upload;
pub mod user;
pub mod webhook;

pub use advisor_profile::AdvisorProfile;
pub use api_token::ApiToken;
pub use attachment::Attachment;
pub use holiday::Holiday;
pub use inbound_email::InboundEmail;
pub use message::Message;
pub use office::Office;
pub use organization::Organization;
pub use outbox::OutboxEntry;
pub use routing_rule::RoutingRule;
pub use sla_policy::SlaPolicy;
pub use ticket::Ticket;
pub use ticket_event::TicketEvent;
pub use user::User;
