//! The JSON API's response types, apart from the rows they are built from.
//!
//! A row (`src/models/`) is what a table stores; a view is what the API promises. Each view is built from its
//! row with `From` (or a constructor taking the row and what else it needs), so a column added to a table
//! changes the API only when a view is changed to show it. The OpenAPI document names the views as it always
//! named the resources (`Ticket`, `User`, ...), with `#[schema(as = ...)]`.
//!
//! Handlers convert at the edge: `HttpResponse::Ok().json(TicketView::from(ticket))`, and lists with
//! `into_iter().map(Into::into)`. Figures the domain computes rather than reads (reports, advisor loads, what
//! became of an inbound email) are already answers, not rows, and are serialised where they are defined.

pub mod admin;
pub mod messages;
pub mod offices;
pub mod organizations;
pub mod routing_rules;
pub mod sla_policies;
pub mod tickets;
pub mod toolkit;
pub mod uploads;
pub mod users;
pub mod webhooks;

pub use admin::{InboundEmailView, OutboxEntryView};
pub use messages::{AttachmentView, MessageView};
pub use offices::{CalendarView, HolidayView, OfficeView};
pub use organizations::OrganizationView;
pub use routing_rules::RoutingRuleView;
pub use sla_policies::SlaPolicyView;
pub use tickets::{MergedFrom, SatisfactionRatingView, TicketEventView, TicketSlaView, TicketView};
pub use toolkit::{CustomFieldView, SavedReplyView, TimeEntryView};
pub use users::{ApiTokenView, CreatedTokenView, UserView};
pub use webhooks::{WebhookDeliveryView, WebhookView, WebhookWithSecretView};
