//! The append-only audit trail of every change to a ticket.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::models::sql::{Boxed, WithFirst, batch_insert};
use crate::schema::ticket_events;
use crate::text_enum;

text_enum! {
    /// What happened to a ticket.
    pub enum EventKind {
        /// The ticket was submitted.
        Created => "created",
        /// The status changed.
        StatusChanged => "status_changed",
        /// The priority changed.
        PriorityChanged => "priority_changed",
        /// The category changed.
        CategoryChanged => "category_changed",
        /// The assignee changed.
        AssigneeChanged => "assignee_changed",
        /// The ticket moved to another office's queue.
        OfficeChanged => "office_changed",
        /// A message (reply or internal note) was added.
        MessageAdded => "message_added",
        /// Routing chose an office and an advisor (or the office queue); `details` explains why.
        Routed => "routed",
        /// Nobody in the office could take the ticket: its coordinators must step in.
        CoordinatorsAlerted => "coordinators_alerted",
        /// A reply to this closed ticket opened a follow-up ticket.
        FollowUpCreated => "follow_up_created",
        /// A notification about this ticket bounced.
        DeliveryFailed => "delivery_failed",
        /// A service-level target is near: the assignee (or the office coordinators) were warned (staff only).
        SlaWarning => "sla_warning",
        /// A service-level target passed (staff only).
        SlaBreached => "sla_breached",
        /// The requester rated how their request was handled.
        SatisfactionRated => "satisfaction_rated",
        /// Mail whose sender could not be verified was kept as an internal note (staff only).
        UnverifiedMail => "unverified_mail",
        /// A tag was added (staff only); `new_value` is the tag.
        TagAdded => "tag_added",
        /// A tag was removed (staff only); `old_value` is the tag.
        TagRemoved => "tag_removed",
        /// A custom field's value changed (staff only unless requesters see the field); the values are JSON.
        CustomFieldChanged => "custom_field_changed",
        /// Time spent was logged (staff only).
        TimeLogged => "time_logged",
        /// A time entry was changed (staff only).
        TimeChanged => "time_changed",
        /// A time entry was removed (staff only).
        TimeRemoved => "time_removed",
        /// The ticket was merged into another; `new_value` is that one's reference.
        Merged => "merged",
        /// Another ticket was merged into this one; `new_value` is that one's reference.
        MergedIn => "merged_in",
    }
}

/// One entry of the audit trail.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = ticket_events, check_for_backend(diesel::pg::Pg))]
pub struct TicketEvent {
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
    pub details: serde_json::Value,
    /// When it happened.
    pub created_at: DateTime<Utc>,
}

/// A new audit entry.
#[derive(Debug, Clone, Insertable)]
// `None` is NULL (not DEFAULT), so that the insert keeps one text and stays in diesel's statement cache.
#[diesel(table_name = ticket_events, treat_none_as_default_value = false)]
pub struct NewTicketEvent {
    /// See [`TicketEvent::ticket_id`].
    pub ticket_id: Uuid,
    /// See [`TicketEvent::actor_id`].
    pub actor_id: Option<Uuid>,
    /// See [`TicketEvent::kind`].
    pub kind: EventKind,
    /// See [`TicketEvent::old_value`].
    pub old_value: Option<String>,
    /// See [`TicketEvent::new_value`].
    pub new_value: Option<String>,
    /// See [`TicketEvent::internal`].
    pub internal: bool,
    /// See [`TicketEvent::details`].
    pub details: serde_json::Value,
}

impl NewTicketEvent {
    /// A public change of one field from `old` to `new`.
    pub fn change(
        ticket_id: Uuid,
        actor_id: Option<Uuid>,
        kind: EventKind,
        old: Option<String>,
        new: Option<String>,
    ) -> Self {
        Self {
            ticket_id,
            actor_id,
            kind,
            old_value: old,
            new_value: new,
            internal: false,
            details: serde_json::json!({}),
        }
    }
}

impl TicketEvent {
    /// Appends events to the trail.
    pub fn insert_all(conn: &mut PgConnection, events: &[NewTicketEvent]) -> QueryResult<usize> {
        match events {
            [] => Ok(0),
            _ => Self::insert_statement(events).execute(conn),
        }
    }

    /// The insert of `events` (not empty), alone or as a part of a larger statement.
    pub fn insert_statement<'a>(events: &'a [NewTicketEvent]) -> Boxed<'a> {
        batch_insert!(ticket_events::table, events)
    }

    /// Inserts `events` and `notifications` in one statement (one round trip).
    pub fn insert_with_notifications(
        conn: &mut PgConnection,
        events: &[NewTicketEvent],
        notifications: &[crate::models::outbox::NewOutboxEntry],
    ) -> QueryResult<usize> {
        match (events, notifications) {
            (_, []) => Self::insert_all(conn, events),
            ([], _) => crate::models::OutboxEntry::insert_all(conn, notifications),
            _ => WithFirst {
                first: Self::insert_statement(events),
                then: crate::models::OutboxEntry::insert_statement(notifications),
            }
            .execute(conn),
        }
    }

    /// The trail of the tickets `ticket_ids` (a ticket and those merged into it), oldest first, with staff-only
    /// events only if `include_internal`.
    pub fn list_for_tickets(
        conn: &mut PgConnection,
        ticket_ids: &[Uuid],
        include_internal: bool,
    ) -> QueryResult<Vec<TicketEvent>> {
        let mut query = ticket_events::table
            .filter(ticket_events::ticket_id.eq_any(ticket_ids.to_vec()))
            .select(TicketEvent::as_select())
            .into_boxed();
        if !include_internal {
            query = query.filter(ticket_events::internal.eq(false));
        }
        query.order(ticket_events::id.asc()).load(conn)
    }
}

/// A position in the change feed: the transaction that wrote an event, and the event's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, serde::Serialize, serde::Deserialize)]
pub struct FeedPosition {
    /// The writing transaction (`ticket_events.tx`).
    pub tx: i64,
    /// The event.
    pub id: i64,
}

/// Which events of the feed a reader may see.
#[derive(Debug, Clone)]
pub struct FeedFilter {
    /// The tickets the reader may see.
    pub scope: crate::models::ticket::TicketScope,
    /// Whether staff-only events are included.
    pub include_internal: bool,
    /// Only events of these kinds (empty: all).
    pub kinds: Vec<EventKind>,
}

/// One row of the feed: an event and its position.
#[derive(Debug, QueryableByName)]
struct FeedRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    tx: i64,
    #[diesel(embed)]
    event: TicketEvent,
}

/// One row of [`TicketEvent::feed_window_end`].
#[derive(Debug, QueryableByName)]
struct WindowEnd {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    tx: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

impl TicketEvent {
    /// The last of the (at most `scan`) committed events after `after`, in feed order: the end of what one read
    /// of the feed looks at. Only events whose transaction is older than every transaction still running are
    /// counted, so an event that commits later always lies after the returned position.
    pub fn feed_window_end(
        conn: &mut PgConnection,
        after: FeedPosition,
        scan: i64,
    ) -> QueryResult<Option<FeedPosition>> {
        use diesel::sql_types::BigInt;
        let end: Option<WindowEnd> = diesel::sql_query(
            "SELECT tx, id FROM (
                 SELECT tx, id FROM ticket_events
                 WHERE (tx, id) > ($1, $2) AND tx < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
                 ORDER BY tx, id LIMIT $3
             ) window_events ORDER BY tx DESC, id DESC LIMIT 1",
        )
        .bind::<BigInt, _>(after.tx)
        .bind::<BigInt, _>(after.id)
        .bind::<BigInt, _>(scan)
        .get_result(conn)
        .optional()?;
        Ok(end.map(|end| FeedPosition { tx: end.tx, id: end.id }))
    }

    /// The events after `after` up to and including `until` that `filter` lets through, in feed order, at most
    /// `limit`.
    pub fn feed(
        conn: &mut PgConnection,
        after: FeedPosition,
        until: FeedPosition,
        filter: &FeedFilter,
        limit: i64,
    ) -> QueryResult<Vec<(FeedPosition, TicketEvent)>> {
        use crate::models::ticket::TicketScope;
        use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text, Uuid as SqlUuid};
        let (organization, office, user) = match filter.scope {
            TicketScope::All => (None, None, None),
            TicketScope::Organization(organization) => (Some(organization), None, None),
            TicketScope::OfficeOrAssignee { office_id, user_id } => (None, office_id, Some(user_id)),
        };
        let all = matches!(filter.scope, TicketScope::All);
        let kinds: Vec<String> = filter.kinds.iter().map(|kind| kind.as_str().to_owned()).collect();
        let rows: Vec<FeedRow> = diesel::sql_query(
            "SELECT e.tx, e.id, e.ticket_id, e.actor_id, e.kind, e.old_value, e.new_value, e.internal, e.details,
                    e.created_at
             FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id
             WHERE (e.tx, e.id) > ($1, $2) AND (e.tx, e.id) <= ($3, $4)
               AND ($5 OR NOT e.internal)
               AND (cardinality($6::text[]) = 0 OR e.kind = ANY ($6))
               AND ($7 OR t.organization_id = $8 OR t.office_id = $9 OR t.assignee_id = $10)
             ORDER BY e.tx, e.id LIMIT $11",
        )
        .bind::<BigInt, _>(after.tx)
        .bind::<BigInt, _>(after.id)
        .bind::<BigInt, _>(until.tx)
        .bind::<BigInt, _>(until.id)
        .bind::<Bool, _>(filter.include_internal)
        .bind::<Array<Text>, _>(kinds)
        .bind::<Bool, _>(all)
        .bind::<Nullable<SqlUuid>, _>(organization)
        .bind::<Nullable<SqlUuid>, _>(office)
        .bind::<Nullable<SqlUuid>, _>(user)
        .bind::<BigInt, _>(limit)
        .load(conn)?;
        Ok(rows.into_iter().map(|row| (FeedPosition { tx: row.tx, id: row.event.id }, row.event)).collect())
    }
}
