//! The outbox: one row per email notification, written in the transaction of the change that causes it, sent
//! later by the delivery worker.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Double, Integer};
use uuid::Uuid;

use crate::models::User;
use crate::models::sql::{Boxed, batch_insert};
use crate::schema::{outbox, users};
use crate::text_enum;

text_enum! {
    /// What a notification tells its recipient.
    pub enum NotificationKind {
        /// To the requester: we received your request (with its reference number).
        TicketReceived => "ticket_received",
        /// To the requester: staff replied.
        StaffReply => "staff_reply",
        /// To the requester: the ticket is now pending, resolved or closed.
        StatusChanged => "status_changed",
        /// To an advisor: a ticket was assigned to you.
        TicketAssigned => "ticket_assigned",
        /// To the assigned advisor: the requester replied.
        RequesterReply => "requester_reply",
        /// To the assigned advisor: the ticket was reopened.
        TicketReopened => "ticket_reopened",
        /// To an office's coordinators: nobody could take a ticket.
        TicketUnassigned => "ticket_unassigned",
        /// A service-level target of a ticket is near (to its assignee, or the coordinators when unassigned).
        SlaWarning => "sla_warning",
        /// A service-level target of a ticket passed (to the office coordinators and the assignee).
        SlaBreached => "sla_breached",
        /// To a requester: their request was merged into another (or another into theirs).
        TicketMerged => "ticket_merged",
        /// To anyone a bulk update told about several tickets: one email listing them.
        BulkUpdated => "bulk_updated",
    }
}

text_enum! {
    /// Where a notification stands.
    pub enum OutboxStatus {
        /// Waiting to be sent (again, after a failed attempt).
        Pending => "pending",
        /// A worker holds it and is sending it.
        Sending => "sending",
        /// Delivered to the mail server.
        Sent => "sent",
        /// Given up on (dead letter): a permanent error, or too many attempts.
        Failed => "failed",
    }
}

/// A notification in the outbox.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = outbox, check_for_backend(diesel::pg::Pg))]
pub struct OutboxEntry {
    /// Identifier.
    pub id: Uuid,
    /// The ticket it is about.
    pub ticket_id: Option<Uuid>,
    /// Who gets it.
    pub recipient_id: Uuid,
    /// What it says.
    pub kind: NotificationKind,
    /// What the template needs besides the ticket and the recipient.
    pub details: serde_json::Value,
    /// Where it stands.
    pub status: OutboxStatus,
    /// How many times sending was tried.
    pub attempts: i32,
    /// When the next attempt is due.
    pub next_attempt_at: DateTime<Utc>,
    /// Until when the worker sending it holds it.
    pub locked_until: Option<DateTime<Utc>>,
    /// The last error, for failed and retried notifications.
    pub last_error: Option<String>,
    /// The Message-ID it was sent with.
    pub message_id: Option<String>,
    /// The address it was sent to.
    pub recipient_email: Option<String>,
    /// The subject it was sent with.
    pub subject: Option<String>,
    /// When it was handed to the mail server.
    pub sent_at: Option<DateTime<Utc>>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// What it says, captured when it was queued (`crate::domain::notifications::snapshot`); `None` for a row
    /// queued before snapshots, until the worker captures it.
    pub snapshot: Option<serde_json::Value>,
    /// The version of [`OutboxEntry::snapshot`].
    pub snapshot_version: Option<i32>,
}

/// A new notification.
#[derive(Debug, Clone, Insertable)]
// `None` is NULL (not DEFAULT), so that the insert keeps one text and stays in diesel's statement cache.
#[diesel(table_name = outbox, treat_none_as_default_value = false)]
pub struct NewOutboxEntry {
    /// See [`OutboxEntry::id`].
    pub id: Uuid,
    /// See [`OutboxEntry::ticket_id`].
    pub ticket_id: Option<Uuid>,
    /// See [`OutboxEntry::recipient_id`].
    pub recipient_id: Uuid,
    /// See [`OutboxEntry::kind`].
    pub kind: NotificationKind,
    /// See [`OutboxEntry::details`].
    pub details: serde_json::Value,
    /// See [`OutboxEntry::snapshot`].
    pub snapshot: serde_json::Value,
    /// See [`OutboxEntry::snapshot_version`].
    pub snapshot_version: i32,
}

impl OutboxEntry {
    /// Queues notifications.
    pub fn insert_all(conn: &mut PgConnection, entries: &[NewOutboxEntry]) -> QueryResult<usize> {
        match entries {
            [] => Ok(0),
            _ => Self::insert_statement(entries).execute(conn),
        }
    }

    /// The insert of `entries` (not empty), alone or as a part of a larger statement.
    pub fn insert_statement<'a>(entries: &'a [NewOutboxEntry]) -> Boxed<'a> {
        batch_insert!(outbox::table, entries)
    }

    /// Takes up to `limit` due notifications for this worker, holding them for `lease_seconds`.
    ///
    /// `FOR UPDATE SKIP LOCKED` lets several workers (threads or processes) claim at once without ever taking the
    /// same row; a row whose lease ran out (its worker died mid-send) is due again. Rows whose snapshot is of a
    /// version above `snapshot_version` (queued by a newer release, during a rolling upgrade or after a rollback)
    /// are left alone, untouched, for a worker that reads them.
    pub fn claim(
        conn: &mut PgConnection,
        limit: i64,
        lease_seconds: f64,
        snapshot_version: i32,
    ) -> QueryResult<Vec<OutboxEntry>> {
        diesel::sql_query(
            "UPDATE outbox SET status = 'sending', attempts = attempts + 1, updated_at = now(), \
                 locked_until = now() + make_interval(secs => $2) \
             WHERE id IN (SELECT id FROM outbox \
                 WHERE ((status = 'pending' AND next_attempt_at <= now()) \
                    OR (status = 'sending' AND locked_until < now())) \
                   AND (snapshot_version IS NULL OR snapshot_version <= $3) \
                 ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) \
             RETURNING *",
        )
        .bind::<BigInt, _>(limit)
        .bind::<Double, _>(lease_seconds)
        .bind::<Integer, _>(snapshot_version)
        .load(conn)
    }

    /// Stores a row's snapshot: one captured late for a row queued without one (see [`OutboxEntry::snapshot`]), or
    /// a dead letter's, retried to its recipient's address as it is now.
    pub fn set_snapshot(
        conn: &mut PgConnection,
        id: Uuid,
        version: i32,
        snapshot: &serde_json::Value,
    ) -> QueryResult<usize> {
        diesel::update(outbox::table.find(id))
            .set((outbox::snapshot.eq(snapshot), outbox::snapshot_version.eq(version)))
            .execute(conn)
    }

    /// Records a delivery.
    pub fn mark_sent(
        conn: &mut PgConnection,
        id: Uuid,
        message_id: &str,
        recipient_email: &str,
        subject: &str,
        text: &str,
    ) -> QueryResult<usize> {
        diesel::update(outbox::table.find(id).filter(outbox::status.eq(OutboxStatus::Sending)))
            .set((
                outbox::status.eq(OutboxStatus::Sent),
                outbox::message_id.eq(message_id),
                outbox::recipient_email.eq(recipient_email),
                outbox::subject.eq(subject),
                outbox::sent_text.eq(text),
                outbox::sent_at.eq(diesel::dsl::now),
                outbox::locked_until.eq(None::<DateTime<Utc>>),
                outbox::last_error.eq(None::<String>),
                outbox::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
    }

    /// Records a failed attempt to be tried again at `next_attempt_at`.
    pub fn mark_retry(
        conn: &mut PgConnection,
        id: Uuid,
        error: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> QueryResult<usize> {
        diesel::update(outbox::table.find(id).filter(outbox::status.eq(OutboxStatus::Sending)))
            .set((
                outbox::status.eq(OutboxStatus::Pending),
                outbox::last_error.eq(error),
                outbox::next_attempt_at.eq(next_attempt_at),
                outbox::locked_until.eq(None::<DateTime<Utc>>),
                outbox::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
    }

    /// Gives up on a notification (dead letter), keeping the error.
    pub fn mark_failed(conn: &mut PgConnection, id: Uuid, error: &str) -> QueryResult<usize> {
        diesel::update(outbox::table.find(id).filter(outbox::status.eq(OutboxStatus::Sending)))
            .set((
                outbox::status.eq(OutboxStatus::Failed),
                outbox::last_error.eq(error),
                outbox::locked_until.eq(None::<DateTime<Utc>>),
                outbox::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
    }

    /// The notification sent with this Message-ID.
    pub fn find_by_message_id(conn: &mut PgConnection, message_id: &str) -> QueryResult<Option<OutboxEntry>> {
        outbox::table.filter(outbox::message_id.eq(message_id)).select(OutboxEntry::as_select()).first(conn).optional()
    }

    /// The plain text of the notification sent with this Message-ID.
    pub fn sent_text_by_message_id(conn: &mut PgConnection, message_id: &str) -> QueryResult<Option<String>> {
        outbox::table
            .filter(outbox::message_id.eq(message_id))
            .select(outbox::sent_text)
            .first::<Option<String>>(conn)
            .optional()
            .map(Option::flatten)
    }

    /// The plain text of the latest notification about ticket `reference` sent to `recipient_id`.
    pub fn latest_sent_text(
        conn: &mut PgConnection,
        reference: i64,
        recipient_id: Uuid,
    ) -> QueryResult<Option<String>> {
        outbox::table
            .inner_join(crate::schema::tickets::table)
            .filter(crate::schema::tickets::reference.eq(reference))
            .filter(outbox::recipient_id.eq(recipient_id))
            .filter(outbox::sent_text.is_not_null())
            // Newest first along outbox_recipient_created_idx: the walk stops at the first one of the ticket.
            .order(outbox::created_at.desc())
            .select(outbox::sent_text)
            .first::<Option<String>>(conn)
            .optional()
            .map(Option::flatten)
    }

    /// Records that a sent notification bounced: it becomes a failed delivery with the report's diagnostic.
    pub fn mark_bounced(conn: &mut PgConnection, id: Uuid, diagnostic: &str) -> QueryResult<usize> {
        diesel::update(outbox::table.find(id))
            .set((
                outbox::status.eq(OutboxStatus::Failed),
                outbox::last_error.eq(format!("bounced: {diagnostic}")),
                outbox::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
    }

    /// The users among `recipients`, each with how many notifications they were sent (or will be) in the last hour
    /// (of the transaction's clock), counted up to `cap`: all the per-recipient cap needs, in one round trip.
    pub fn recipients_with_counts_last_hour(
        conn: &mut PgConnection,
        recipients: &[Uuid],
        cap: i64,
    ) -> QueryResult<Vec<(User, i64)>> {
        users::table
            .filter(UserIdAmong(recipients.to_vec()))
            .select((User::as_select(), SentLastHour { cap }))
            .load(conn)
    }

    /// Notifications in one status (or all), in creation order after `after`.
    pub fn list(
        conn: &mut PgConnection,
        status: Option<OutboxStatus>,
        after: Option<Uuid>,
        limit: i64,
    ) -> QueryResult<Vec<OutboxEntry>> {
        let mut query = outbox::table.select(OutboxEntry::as_select()).into_boxed();
        if let Some(status) = status {
            query = query.filter(outbox::status.eq(status));
        }
        if let Some(after) = after {
            query = query.filter(outbox::id.gt(after));
        }
        query.order(outbox::id.asc()).limit(limit).load(conn)
    }

    /// The notification with this id.
    pub fn find(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<OutboxEntry>> {
        outbox::table.find(id).select(OutboxEntry::as_select()).first(conn).optional()
    }

    /// Puts a failed notification back in the queue with a fresh set of attempts; `None` unless it had failed.
    pub fn retry(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<OutboxEntry>> {
        diesel::update(outbox::table.find(id).filter(outbox::status.eq(OutboxStatus::Failed)))
            .set((
                outbox::status.eq(OutboxStatus::Pending),
                outbox::attempts.eq(0),
                outbox::next_attempt_at.eq(diesel::dsl::now),
                outbox::updated_at.eq(diesel::dsl::now),
            ))
            .returning(OutboxEntry::as_returning())
            .get_result(conn)
            .optional()
    }

    /// How many notifications there are in each status (statuses without any are left out), in status order: an
    /// index-only scan of the small `outbox_status_only_idx`.
    pub fn count_by_status(conn: &mut PgConnection) -> QueryResult<Vec<(OutboxStatus, i64)>> {
        outbox::table
            .group_by(outbox::status)
            .select((outbox::status, diesel::dsl::count_star()))
            .order(outbox::status.asc())
            .load(conn)
    }

    /// The age in seconds of the oldest notification not sent yet (pending or being sent); 0 when there is none.
    pub fn oldest_unsent_age_seconds(conn: &mut PgConnection) -> QueryResult<f64> {
        outbox::table
            .filter(outbox::status.eq_any([OutboxStatus::Pending, OutboxStatus::Sending]))
            .select(diesel::dsl::sql::<Double>("coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8"))
            .get_result(conn)
    }
}

/// `users.id IN ($1, ...)`, one parameter per id, written by hand so that the statement stays in diesel's cache
/// (one text per number of ids; diesel's `eq_any` is never cached). Not `= ANY($1)`: with an array of unknown
/// length PostgreSQL estimates a generic plan as costlier and plans every execution.
#[derive(Debug, Clone)]
struct UserIdAmong(Vec<Uuid>);

impl diesel::expression::Expression for UserIdAmong {
    type SqlType = diesel::sql_types::Bool;
}

impl QueryFragment<Pg> for UserIdAmong {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        if self.0.is_empty() {
            out.push_sql("FALSE");
            return Ok(());
        }
        out.push_sql("users.id IN (");
        for (n, id) in self.0.iter().enumerate() {
            if n > 0 {
                out.push_sql(", ");
            }
            out.push_bind_param::<diesel::sql_types::Uuid, _>(id)?;
        }
        out.push_sql(")");
        Ok(())
    }
}

/// How many notifications `users.id` was sent in the last hour, counted up to `cap`: the subquery stops there,
/// so its cost is bounded, and without parameters PostgreSQL keeps one generic plan for it.
#[derive(Debug, Clone)]
struct SentLastHour {
    cap: i64,
}

impl diesel::expression::Expression for SentLastHour {
    type SqlType = BigInt;
}

impl QueryFragment<Pg> for SentLastHour {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        // A literal limit: one cached statement per cap (a process has one).
        out.push_sql(
            "(SELECT count(*) FROM (SELECT 1 FROM outbox o WHERE o.recipient_id = users.id \
             AND o.created_at >= now() - interval '1 hour' LIMIT ",
        );
        out.push_sql(&self.cap.max(0).to_string());
        out.push_sql(") recent)");
        Ok(())
    }
}

macro_rules! cacheable_expression {
    ($($name:ty),*) => {$(
        impl QueryId for $name {
            type QueryId = ();
            const HAS_STATIC_QUERY_ID: bool = false;
        }
        impl<QS> diesel::expression::AppearsOnTable<QS> for $name {}
        impl<QS> diesel::expression::SelectableExpression<QS> for $name {}
        impl<GB> diesel::expression::ValidGrouping<GB> for $name {
            type IsAggregate = diesel::expression::is_aggregate::Never;
        }
    )*};
}
cacheable_expression!(UserIdAmong, SentLastHour);
