//! Delivery failure reports: a bounce of one of our notifications marks that delivery failed, on the outbox and
//! (as an internal event) on the ticket.

use diesel::PgConnection;

use crate::domain::error::DomainResult;
use crate::domain::events::{self, EventDetails};
use crate::domain::inbound::{BounceReport, Decision};
use crate::domain::notifications;
use crate::models::inbound_email::InboundOutcome;
use crate::models::ticket_event::EventKind;
use crate::models::{OutboxEntry, Ticket};

/// Records a bounce against the notification it reports, if it is one of ours.
pub fn record(conn: &mut PgConnection, report: &BounceReport) -> DomainResult<Decision> {
    for id in &report.message_ids {
        let Some(entry) = OutboxEntry::find_by_message_id(conn, id)? else { continue };
        OutboxEntry::mark_bounced(conn, entry.id, &report.diagnostic)?;
        let Some(ticket_id) = entry.ticket_id else {
            return Ok(Decision::without_ticket(InboundOutcome::Bounce, format!("notification {id} bounced")));
        };
        let ticket = Ticket::find(conn, ticket_id)?;
        let event = events::staff_event(
            ticket.id,
            None,
            EventKind::DeliveryFailed,
            (None, entry.recipient_email.clone()),
            EventDetails::DeliveryFailed {
                outbox_id: entry.id,
                recipient_id: entry.recipient_id,
                message_id: id.clone(),
                diagnostic: report.diagnostic.clone(),
            },
        );
        notifications::record(conn, &ticket, None, &[event])?;
        return Ok(Decision {
            outcome: InboundOutcome::Bounce,
            reason: format!("notification {id} to {} bounced", entry.recipient_email.unwrap_or_default()),
            ticket: Some(ticket),
            message_id: None,
            held: false,
        });
    }
    Ok(Decision::without_ticket(InboundOutcome::Ignored, "a bounce about a message we did not send"))
}
