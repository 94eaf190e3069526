//! The rules of the help desk: validated values, the ticket status machine, who may see and do what.
//! Nothing here knows about HTTP.

pub mod advisors;
pub mod business_time;
pub mod calendars;
pub mod caller;
pub mod cursor;
pub mod demo;
pub mod edit;
pub mod error;
pub mod events;
pub mod feed;
pub mod files;
pub mod inbound;
pub mod keys;
pub mod network;
pub mod notifications;
pub mod offices;
pub mod organizations;
pub mod outbox;
pub mod patch;
pub mod rate_limits;
pub mod reports;
pub mod routing;
pub mod routing_rules;
pub mod satisfaction;
pub mod signed_token;
pub mod sla;
pub mod sla_policies;
pub mod tickets;
pub mod tokens;
pub mod uploads;
pub mod users;
pub mod values;
pub mod webhooks;
