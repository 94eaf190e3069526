//! The one path for changing a ticket.
//!
//! Staff and requesters (`tickets`), routing and re-routing (`routing`) and service-level breach actions (`sla`)
//! all change tickets through an [`Edit`]: it collects the field changes with one audit event each, and
//! [`Edit::save`] writes them together with the service-level clocks they move and the notifications they cause,
//! in the caller's transaction. A field set to the value it already has records nothing. It also keeps the
//! advisors' open-ticket counts (on their profiles) right: whoever stops holding the ticket as open work loses one,
//! whoever starts holding it gains one.

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use uuid::Uuid;

use crate::domain::error::{DomainError, DomainResult};
use crate::domain::events::{self, Event, EventDetails};
use crate::domain::{notifications, sla};
use crate::models::ticket::TicketChanges;
use crate::models::ticket_event::EventKind;
use crate::models::{AdvisorProfile, Ticket};
use crate::vocabulary::{Category, Priority, Role, TicketStatus};

/// The changes and audit events of one change to a locked ticket.
#[derive(Debug)]
pub struct Edit {
    ticket: Ticket,
    actor: Option<Uuid>,
    now: DateTime<Utc>,
    changes: TicketChanges,
    events: Vec<Event>,
    /// The new assignee whose count routing has already taken (see [`Edit::assign_routed`]).
    counted: Option<Uuid>,
}

impl Edit {
    /// Starts a change to `ticket` (as read under its row lock) by `actor` (`None`: the service itself).
    pub fn new(ticket: &Ticket, actor: Option<Uuid>) -> Self {
        Self::at(ticket, actor, Utc::now())
    }

    /// Like [`Edit::new`], for a change made at `now` (the escalation scheduler passes the time of its pass).
    pub fn at(ticket: &Ticket, actor: Option<Uuid>, now: DateTime<Utc>) -> Self {
        Self {
            ticket: ticket.clone(),
            actor,
            now,
            changes: TicketChanges::default(),
            events: Vec::new(),
            counted: None,
        }
    }

    /// The ticket as it was before this change.
    pub fn ticket(&self) -> &Ticket {
        &self.ticket
    }

    /// The moment the change is made.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    fn change(&mut self, kind: EventKind, old: Option<String>, new: Option<String>, details: EventDetails) {
        self.events.push(events::event(self.ticket.id, self.actor, kind, (old, new), details));
    }

    /// Moves the ticket to `target` if `role` may (`None`: a move the service implies, always allowed), with the
    /// timestamps that go with it.
    pub fn set_status(&mut self, role: Option<Role>, target: TicketStatus) -> DomainResult<()> {
        let current = self.ticket.status;
        if target == current {
            return Ok(());
        }
        if let Some(role) = role {
            let allowed = current.transitions_for(role);
            if !allowed.contains(&target) {
                return Err(DomainError::InvalidTransition { from: current, to: target, allowed: allowed.to_vec() });
            }
        }
        self.changes.status = Some(target);
        match target {
            TicketStatus::Resolved => self.changes.resolved_at = Some(Some(self.now)),
            TicketStatus::Closed => self.changes.closed_at = Some(Some(self.now)),
            TicketStatus::Open if current == TicketStatus::Resolved => self.changes.resolved_at = Some(None),
            _ => {}
        }
        self.change(
            EventKind::StatusChanged,
            Some(current.to_string()),
            Some(target.to_string()),
            EventDetails::None {},
        );
        Ok(())
    }

    /// Sets the priority; `details` says why when a rule rather than a person does it.
    pub fn set_priority(&mut self, priority: Priority, details: EventDetails) {
        let current = self.ticket.priority;
        if priority != current {
            self.changes.priority = Some(priority);
            self.change(EventKind::PriorityChanged, Some(current.to_string()), Some(priority.to_string()), details);
        }
    }

    /// Sets the category.
    pub fn set_category(&mut self, category: Category) {
        let current = self.ticket.category;
        if category != current {
            self.changes.category = Some(category);
            self.change(
                EventKind::CategoryChanged,
                Some(current.to_string()),
                Some(category.to_string()),
                EventDetails::None {},
            );
        }
    }

    /// Assigns the ticket to `assignee`, or unassigns it; `details` says why when a rule does it.
    pub fn set_assignee(&mut self, assignee: Option<Uuid>, details: EventDetails) {
        let current = self.ticket.assignee_id;
        if assignee != current {
            self.changes.assignee_id = Some(assignee);
            let id = |id: Option<Uuid>| id.map(|id| id.to_string());
            self.change(EventKind::AssigneeChanged, id(current), id(assignee), details);
        }
    }

    /// Assigns the ticket to the advisor routing chose (or unassigns it), whose open-ticket count routing has
    /// already taken.
    pub fn assign_routed(&mut self, assignee: Option<Uuid>) {
        self.set_assignee(assignee, EventDetails::None {});
        self.counted = assignee;
    }

    /// Moves the ticket to another office's queue.
    pub fn set_office(&mut self, office_id: Uuid) {
        let current = self.ticket.office_id;
        if office_id != current {
            self.changes.office_id = Some(office_id);
            self.change(
                EventKind::OfficeChanged,
                Some(current.to_string()),
                Some(office_id.to_string()),
                EventDetails::None {},
            );
        }
    }

    /// Sets the tags (normalised already), recording each one added and removed (staff-only events).
    pub fn set_tags(&mut self, tags: Vec<String>) {
        let mut tags = tags;
        tags.sort_unstable();
        tags.dedup();
        let current = self.changes.tags.clone().unwrap_or_else(|| self.ticket.tags.clone());
        if tags == current {
            return;
        }
        for added in tags.iter().filter(|tag| !current.contains(tag)) {
            self.staff_change(EventKind::TagAdded, None, Some(added.clone()), EventDetails::None {});
        }
        for removed in current.iter().filter(|tag| !tags.contains(tag)) {
            self.staff_change(EventKind::TagRemoved, Some(removed.clone()), None, EventDetails::None {});
        }
        self.changes.tags = Some(tags);
    }

    /// The tags as this change leaves them.
    pub fn tags(&self) -> &[String] {
        self.changes.tags.as_deref().unwrap_or(&self.ticket.tags)
    }

    /// The custom field values as this change leaves them.
    pub fn custom_fields(&self) -> &serde_json::Value {
        self.changes.custom_fields.as_ref().unwrap_or(&self.ticket.custom_fields)
    }

    /// Sets one custom field's value (checked already; `None` removes it); `public` when requesters see the
    /// field, so that they see the change too.
    pub fn set_custom_field(&mut self, key: &str, value: Option<serde_json::Value>, public: bool) {
        let mut fields = match self.custom_fields() {
            serde_json::Value::Object(map) => map.clone(),
            _ => serde_json::Map::new(),
        };
        let old = fields.get(key).cloned();
        if old == value {
            return;
        }
        match &value {
            Some(value) => fields.insert(key.to_owned(), value.clone()),
            None => fields.remove(key),
        };
        let text = |value: Option<serde_json::Value>| value.map(|v| v.to_string());
        let details = EventDetails::CustomField { key: key.to_owned() };
        match public {
            true => self.change(EventKind::CustomFieldChanged, text(old), text(value), details),
            false => self.staff_change(EventKind::CustomFieldChanged, text(old), text(value), details),
        }
        self.changes.custom_fields = Some(serde_json::Value::Object(fields));
    }

    /// Sets the total of the time spent (recorded with the time entry's own event).
    pub fn set_time_spent(&mut self, minutes: i32) {
        if minutes != self.ticket.time_spent_minutes {
            self.changes.time_spent_minutes = Some(minutes);
        }
    }

    /// Marks the ticket as merged into `target` (closing it is a separate status change).
    pub fn set_merged_into(&mut self, target: &Ticket) {
        self.changes.merged_into = Some(Some(target.id));
        self.change(
            EventKind::Merged,
            None,
            Some(target.reference.to_string()),
            EventDetails::Merge { ticket_id: target.id, reference: target.reference },
        );
    }

    /// Whether this change moves the ticket to `resolved` or `closed`.
    pub fn resolves(&self) -> bool {
        self.changes.status.is_some_and(|status| matches!(status, TicketStatus::Resolved | TicketStatus::Closed))
    }

    fn staff_change(&mut self, kind: EventKind, old: Option<String>, new: Option<String>, details: EventDetails) {
        self.events.push(events::staff_event(self.ticket.id, self.actor, kind, (old, new), details));
    }

    /// Records the first public staff reply, at `at`, if the ticket had none.
    pub fn set_first_response(&mut self, at: DateTime<Utc>) {
        if self.ticket.first_response_at.is_none() {
            self.changes.first_response_at = Some(Some(at));
        }
    }

    /// The service-level columns no field change covers (warning and breach flags), for the escalation scheduler.
    pub fn sla_flags(&mut self) -> &mut TicketChanges {
        &mut self.changes
    }

    /// Adds an event that goes with this change but changes no field (a message, a routing explanation, a
    /// service-level notice).
    pub fn record(&mut self, event: Event) {
        self.events.push(event);
    }

    /// Whether nothing was changed or recorded.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Writes the changes with the service-level clocks they move, the events and their notifications, and
    /// returns the ticket as it is now.
    pub fn save(self, conn: &mut PgConnection) -> DomainResult<Ticket> {
        let actor = self.actor;
        let (ticket, events) = self.save_quietly(conn)?;
        notifications::record(conn, &ticket, actor, &events)?;
        Ok(ticket)
    }

    /// Like [`Edit::save`], without recording the events: the caller records them (with notifications of its
    /// own, such as a merge's or a bulk update's) and gets them back with the ticket as it is now.
    pub fn save_quietly(mut self, conn: &mut PgConnection) -> DomainResult<(Ticket, Vec<Event>)> {
        sla::apply(conn, &self.ticket, &mut self.changes, self.now)?;
        let ticket = Ticket::update(conn, self.ticket.id, &self.changes)?;
        let (advisors, deltas) = open_count_changes(&self.ticket, &ticket, self.counted);
        AdvisorProfile::adjust_open(conn, &advisors, &deltas)?;
        Ok((ticket, self.events))
    }
}

/// Who holds a ticket as open work: its assignee while it is new, open or pending.
fn holder(ticket: &Ticket) -> Option<Uuid> {
    ticket.assignee_id.filter(|_| ticket.status.is_active())
}

/// The open-ticket count changes of going from `before` to `after`: -1 for the advisor who stops holding it, +1
/// for the one who starts (unless routing `counted` them already).
fn open_count_changes(before: &Ticket, after: &Ticket, counted: Option<Uuid>) -> (Vec<Uuid>, Vec<i32>) {
    let (was, is) = (holder(before), holder(after));
    let mut changes = (Vec::new(), Vec::new());
    if was != is {
        if let Some(advisor) = was {
            changes.0.push(advisor);
            changes.1.push(-1);
        }
        if let Some(advisor) = is.filter(|advisor| Some(*advisor) != counted) {
            changes.0.push(advisor);
            changes.1.push(1);
        }
    }
    changes
}
