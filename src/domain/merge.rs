//! Merging a duplicate ticket into another: the source's messages (with their files), tags and time entries move
//! to the target in one transaction (its audit trail, append-only, stays and is listed with the target's); the
//! source is closed and from then on stands for the target (its reference and its notifications' reply addresses
//! lead there), and both requesters are told once.

use diesel::{Connection, PgConnection};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::domain::caller::Caller;
use crate::domain::edit::Edit;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::events::{self, EventDetails};
use crate::domain::notifications;
use crate::domain::tags::TAGS_PER_TICKET_MAX;
use crate::domain::tickets;
use crate::models::ticket::TicketKey;
use crate::models::ticket_event::EventKind;
use crate::models::time_entry::TimeEntry;
use crate::models::{Message, Ticket};
use crate::vocabulary::{Role, TicketStatus};

/// Where to merge a ticket.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeTicket {
    /// The ticket to merge into: its uuid or reference number.
    #[schema(example = "1042")]
    pub into: String,
    /// Coordinators and admins: allow merging tickets of two organisations.
    #[serde(default)]
    pub across_organizations: bool,
}

/// Merges the ticket named by `key` into `input.into` (staff who may see both); returns the target as it is now.
pub fn merge(conn: &mut PgConnection, caller: &Caller, key: TicketKey, input: MergeTicket) -> DomainResult<Ticket> {
    caller.require_staff()?;
    let into = tickets::parse_key(input.into.trim())
        .map_err(|_| DomainError::invalid("into", "must be a ticket's uuid or reference number"))?;
    conn.transaction(|conn| {
        let scope = caller.ticket_scope();
        // Both exactly as named (not what a merged one stands for), locked in id order so that two merges of the
        // same pair cannot deadlock.
        let source = Ticket::find_exact(conn, key, scope)?.ok_or(DomainError::NotFound("ticket"))?;
        let target = Ticket::find_exact(conn, into, scope)?.ok_or(DomainError::NotFound("ticket to merge into"))?;
        let (first, second) = if source.id < target.id { (source.id, target.id) } else { (target.id, source.id) };
        Ticket::lock_exact(conn, TicketKey::Id(first), scope)?.ok_or(DomainError::NotFound("ticket"))?;
        Ticket::lock_exact(conn, TicketKey::Id(second), scope)?.ok_or(DomainError::NotFound("ticket"))?;
        let source = Ticket::find(conn, source.id)?;
        let target = Ticket::find(conn, target.id)?;
        if source.id == target.id {
            return Err(DomainError::Conflict("a ticket cannot be merged into itself".to_owned()));
        }
        if let Some(merged) = source.merged_into {
            let note = if merged == target.id { "into this ticket" } else { "into another ticket" };
            return Err(DomainError::Conflict(format!("ticket #{} was merged {note} already", source.reference)));
        }
        if target.status == TicketStatus::Closed {
            return Err(DomainError::Conflict(format!(
                "ticket #{} is closed; a ticket cannot be merged into a closed one",
                target.reference
            )));
        }
        let may_cross = input.across_organizations && matches!(caller.role(), Role::Admin | Role::Coordinator);
        if source.organization_id != target.organization_id && !may_cross {
            return Err(DomainError::Conflict(
                "the tickets belong to different organisations; coordinators and admins may merge them with \
                 \"across_organizations\": true"
                    .to_owned(),
            ));
        }

        // Everything of the source moves, keeping its times (lists are in order of time) and marked as merged; its
        // audit trail, append-only, stays and is read with the target's.
        Message::move_all(conn, source.id, target.id)?;
        TimeEntry::move_all(conn, source.id, target.id)?;
        Ticket::merge_search(conn, source.id, target.id)?;

        let mut tags = target.tags.clone();
        tags.extend(source.tags.iter().cloned());
        tags.sort_unstable();
        tags.dedup();
        if tags.len() > TAGS_PER_TICKET_MAX {
            return Err(DomainError::Conflict(format!(
                "together the tickets carry {} tags, more than the {TAGS_PER_TICKET_MAX} a ticket may; remove some first",
                tags.len()
            )));
        }
        let mut into_target = Edit::new(&target, Some(caller.id()));
        crate::domain::tags::apply(&mut into_target, tags)?;
        into_target.set_time_spent(crate::domain::time_spent::total(conn, target.id)?);
        into_target.record(events::event(
            target.id,
            Some(caller.id()),
            EventKind::MergedIn,
            (None, Some(source.reference.to_string())),
            EventDetails::Merge { ticket_id: source.id, reference: source.reference },
        ));
        let (target_now, target_events) = into_target.save_quietly(conn)?;

        // The source, emptied, is closed as merged (its open-ticket count and clocks stop like any closing).
        let source = Ticket::find(conn, source.id)?;
        let mut closing = Edit::new(&source, Some(caller.id()));
        closing.set_status(None, TicketStatus::Closed)?;
        closing.set_merged_into(&target_now);
        closing.set_time_spent(0);
        closing.set_tags(Vec::new());
        let (source_now, source_events) = closing.save_quietly(conn)?;

        notifications::record_merge(conn, &source_now, &target_now, caller.id(), &source_events, &target_events)?;
        tickets::redact(conn, caller, target_now)
    })
}
