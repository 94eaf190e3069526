//! End-to-end tests of the HTTP API: each test starts the real application on its own PostgreSQL database.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod auth;
mod bad_input;
mod directory;
mod email;
mod email_layout;
mod feed;
mod first_run;
mod health;
mod helpers;
mod imap;
mod imap_server;
mod inbound;
mod inbound_failures;
mod inbound_fuzz;
mod inbound_senders;
mod inbound_text;
mod messages;
mod metrics;
mod notification_snapshots;
mod outage;
mod pagination;
mod rate_limits;
mod reports;
mod routing;
mod satisfaction;
mod scale_out;
mod service_levels;
mod smtp_sink;
mod status_machine;
mod submission;
mod tickets;
mod toolkit_bulk;
mod toolkit_edges;
mod toolkit_fields;
mod toolkit_merge;
mod toolkit_saved_replies;
mod toolkit_tags;
mod toolkit_time;
mod toolkit_visibility;
mod uploads;
mod users;
mod visibility;
mod webhook_receiver;
mod webhooks;
