//! Tickets as the API shows them: the ticket with its service levels, its audit trail and its rating.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::models::satisfaction_rating::SatisfactionRating;
use crate::models::ticket::TicketSla;
use crate::models::ticket_event::EventKind;
use crate::models::{Ticket, TicketEvent};
use crate::vocabulary::{Category, Channel, Priority, Rating, SlaState, TicketStatus};

/// A request for help.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Ticket)]
pub struct TicketView {
    /// Identifier.
    pub id: Uuid,
    /// The short number people quote, such as 1042 (shown as `#1042`).
    pub reference: i64,
    /// One line on what the request is about.
    pub subject: String,
    /// Where the ticket stands.
    pub status: TicketStatus,
    /// How urgent it is.
    pub priority: Priority,
    /// The assistance area.
    pub category: Category,
    /// The country of the requesting organisation.
    pub country: String,
    /// The requesting organisation.
    pub organization_id: Uuid,
    /// The person who asked.
    pub requester_id: Uuid,
    /// The advisor working on it, if any.
    pub assignee_id: Option<Uuid>,
    /// The office whose queue holds it.
    pub office_id: Uuid,
    /// How it came in.
    pub channel: Channel,
    /// When it was submitted.
    pub created_at: DateTime<Utc>,
    /// When anything about it last changed.
    pub updated_at: DateTime<Utc>,
    /// When staff first replied publicly.
    pub first_response_at: Option<DateTime<Utc>>,
    /// When it was last resolved (cleared on reopen).
    pub resolved_at: Option<DateTime<Utc>>,
    /// When it was closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// The closed ticket this one follows up (a reply to it arrived by email).
    pub follow_up_of: Option<Uuid>,
    /// Service levels: due times and where each clock stands.
    #[serde(flatten)]
    pub sla: TicketSlaView,
    /// The requester's rating, once given (details at `/api/v1/tickets/{id}/satisfaction`).
    pub satisfaction: Option<Rating>,
    /// Its tags (staff only: absent for requesters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Its custom field values by key (requesters see those of fields shown to them).
    #[schema(value_type = Object)]
    pub custom_fields: serde_json::Value,
    /// The minutes staff spent on it in all (staff only: absent for requesters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_spent_minutes: Option<i32>,
    /// The ticket it was merged into (it is closed then, and its reference leads there).
    pub merged_into: Option<Uuid>,
    /// Set when the ticket asked for was merged into this one: which ticket that was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged_from: Option<MergedFrom>,
}

/// The merged ticket a request named, answered with the ticket it was merged into.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MergedFrom {
    /// Its id.
    pub id: Uuid,
    /// Its reference number.
    pub reference: i64,
}

impl TicketView {
    /// The ticket as `staff` or a requester sees it (requesters never see tags or time).
    pub fn of(ticket: Ticket, staff: bool) -> TicketView {
        let mut view = TicketView::from(ticket);
        if !staff {
            view.tags = None;
            view.time_spent_minutes = None;
        }
        view
    }
}

impl From<Ticket> for TicketView {
    /// The ticket as staff see it.
    fn from(ticket: Ticket) -> Self {
        TicketView {
            id: ticket.id,
            reference: ticket.reference,
            subject: ticket.subject,
            status: ticket.status,
            priority: ticket.priority,
            category: ticket.category,
            country: ticket.country,
            organization_id: ticket.organization_id,
            requester_id: ticket.requester_id,
            assignee_id: ticket.assignee_id,
            office_id: ticket.office_id,
            channel: ticket.channel,
            created_at: ticket.created_at,
            updated_at: ticket.updated_at,
            first_response_at: ticket.first_response_at,
            resolved_at: ticket.resolved_at,
            closed_at: ticket.closed_at,
            follow_up_of: ticket.follow_up_of,
            sla: ticket.sla.into(),
            satisfaction: ticket.satisfaction,
            tags: Some(ticket.tags),
            custom_fields: ticket.custom_fields,
            time_spent_minutes: Some(ticket.time_spent_minutes),
            merged_into: ticket.merged_into,
            merged_from: None,
        }
    }
}

/// The service-level columns of a ticket.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = TicketSla)]
pub struct TicketSlaView {
    /// The SLA policy whose targets apply, if any.
    pub sla_policy_id: Option<Uuid>,
    /// When the first public staff reply is due (business time of the ticket's office).
    pub first_response_due_at: Option<DateTime<Utc>>,
    /// Where the first-response clock stands.
    pub first_response_sla: SlaState,
    /// When resolution is due; it moves later by the business time spent waiting on the requester.
    pub resolution_due_at: Option<DateTime<Utc>>,
    /// Where the resolution clock stands.
    pub resolution_sla: SlaState,
    /// Business seconds from submission to the first public staff reply.
    pub first_response_seconds: Option<i64>,
    /// Business seconds from submission to resolution, without the time spent waiting on the requester.
    pub resolution_seconds: Option<i64>,
}

impl From<TicketSla> for TicketSlaView {
    // The escalation bookkeeping (warning times, when a warning went out, the paused clock) stays inside.
    fn from(sla: TicketSla) -> Self {
        TicketSlaView {
            sla_policy_id: sla.sla_policy_id,
            first_response_due_at: sla.first_response_due_at,
            first_response_sla: sla.first_response_sla,
            resolution_due_at: sla.resolution_due_at,
            resolution_sla: sla.resolution_sla,
            first_response_seconds: sla.first_response_seconds,
            resolution_seconds: sla.resolution_seconds,
        }
    }
}

/// One entry of the audit trail.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = TicketEvent)]
pub struct TicketEventView {
    /// Identifier; increases with time.
    pub id: i64,
    /// The ticket.
    pub ticket_id: Uuid,
    /// Who acted; null when the system did.
    pub actor_id: Option<Uuid>,
    /// What happened.
    pub kind: EventKind,
    /// The value before the change, if the event is a change.
    pub old_value: Option<String>,
    /// The value after the change, if the event is a change.
    pub new_value: Option<String>,
    /// Staff-only (internal notes, routing explanations): hidden from requesters.
    pub internal: bool,
    /// More about the event, such as the id of the message added.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    /// When it happened.
    pub created_at: DateTime<Utc>,
    /// Set in a ticket's trail on the events of a ticket merged into it: that ticket (also its `ticket_id`).
    pub merged_from: Option<Uuid>,
}

impl TicketEventView {
    /// An event as the trail of ticket `shown` lists it (marked when it happened on a ticket merged into it).
    pub fn in_trail_of(event: TicketEvent, shown: Uuid) -> TicketEventView {
        let mut view = TicketEventView::from(event);
        view.merged_from = Some(view.ticket_id).filter(|id| *id != shown);
        view
    }
}

impl From<TicketEvent> for TicketEventView {
    fn from(event: TicketEvent) -> Self {
        TicketEventView {
            id: event.id,
            ticket_id: event.ticket_id,
            actor_id: event.actor_id,
            kind: event.kind,
            old_value: event.old_value,
            new_value: event.new_value,
            internal: event.internal,
            details: event.details,
            created_at: event.created_at,
            merged_from: None,
        }
    }
}

/// A rating, as stored and shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = SatisfactionRating)]
pub struct SatisfactionRatingView {
    /// The ticket rated.
    pub ticket_id: Uuid,
    /// Who rated it.
    pub rated_by: Uuid,
    /// The verdict.
    pub rating: Rating,
    /// What they added, if anything.
    pub comment: Option<String>,
    /// When they rated it (a new rating replaces the earlier one).
    pub rated_at: DateTime<Utc>,
}

impl From<SatisfactionRating> for SatisfactionRatingView {
    fn from(rating: SatisfactionRating) -> Self {
        SatisfactionRatingView {
            ticket_id: rating.ticket_id,
            rated_by: rating.rated_by,
            rating: rating.rating,
            comment: rating.comment,
            rated_at: rating.rated_at,
        }
    }
}
