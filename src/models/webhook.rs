//! Webhook subscriptions and their deliveries (queued by a trigger on `ticket_events`, sent by the webhook
//! worker).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double};
use uuid::Uuid;

use crate::schema::{webhook_deliveries, webhooks};
use crate::text_enum;

text_enum! {
    /// Where a delivery stands.
    pub enum DeliveryStatus {
        /// Waiting for its (next) attempt.
        Pending => "pending",
        /// The receiver answered 2xx.
        Delivered => "delivered",
        /// Given up on (dead letter): a permanent refusal, or retried for too long.
        Failed => "failed",
    }
}

/// A webhook subscription.
#[derive(Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = webhooks, check_for_backend(diesel::pg::Pg))]
pub struct Webhook {
    /// Identifier.
    pub id: Uuid,
    /// Where deliveries are POSTed.
    pub url: String,
    /// The event types wanted (`*`: all).
    pub events: Vec<String>,
    /// Only tickets of this office.
    pub office_id: Option<Uuid>,
    /// Only tickets of this organisation.
    pub organization_id: Option<Uuid>,
    /// Whether `message.created` includes internal notes.
    pub include_internal: bool,
    /// Whether deliveries are queued and sent.
    pub active: bool,
    /// The signing secret.
    pub secret: String,
    /// The secret before the last rotation, still signing until `previous_secret_expires_at`.
    pub previous_secret: Option<String>,
    /// When the previous secret stops signing.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// Since when every attempt has failed (null: the last one succeeded).
    pub failing_since: Option<DateTime<Utc>>,
    /// When the service disabled it.
    pub disabled_at: Option<DateTime<Utc>>,
    /// Why the service disabled it.
    pub disabled_reason: Option<String>,
    /// When the admins were told it was disabled.
    pub disabled_notice_sent_at: Option<DateTime<Utc>>,
    /// The admin who created it.
    pub created_by: Uuid,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When it was deleted through the API (deleted subscriptions are kept, inactive and unlisted).
    pub deleted_at: Option<DateTime<Utc>>,
}

/// Without the secrets: a subscription may be logged.
impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("id", &self.id)
            .field("events", &self.events)
            .field("active", &self.active)
            .field("secret", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// A new subscription.
#[derive(Clone, Insertable)]
#[diesel(table_name = webhooks)]
pub struct NewWebhook {
    /// See [`Webhook::id`].
    pub id: Uuid,
    /// See [`Webhook::url`].
    pub url: String,
    /// See [`Webhook::events`].
    pub events: Vec<String>,
    /// See [`Webhook::office_id`].
    pub office_id: Option<Uuid>,
    /// See [`Webhook::organization_id`].
    pub organization_id: Option<Uuid>,
    /// See [`Webhook::include_internal`].
    pub include_internal: bool,
    /// See [`Webhook::active`].
    pub active: bool,
    /// See [`Webhook::secret`].
    pub secret: String,
    /// See [`Webhook::created_by`].
    pub created_by: Uuid,
}

/// Without the secret.
impl std::fmt::Debug for NewWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewWebhook").field("id", &self.id).field("events", &self.events).finish_non_exhaustive()
    }
}

/// A subscription's changeable fields, as they will be.
#[derive(Debug, Clone)]
pub struct WebhookChanges {
    /// See [`Webhook::url`].
    pub url: String,
    /// See [`Webhook::events`].
    pub events: Vec<String>,
    /// See [`Webhook::office_id`].
    pub office_id: Option<Uuid>,
    /// See [`Webhook::organization_id`].
    pub organization_id: Option<Uuid>,
    /// See [`Webhook::include_internal`].
    pub include_internal: bool,
    /// See [`Webhook::active`].
    pub active: bool,
    /// Whether an inactive subscription becomes active (its failure record is cleared).
    pub reactivated: bool,
}

impl Webhook {
    /// Stores a new subscription.
    pub fn insert(conn: &mut PgConnection, webhook: &NewWebhook) -> QueryResult<Webhook> {
        diesel::insert_into(webhooks::table).values(webhook).returning(Webhook::as_returning()).get_result(conn)
    }

    /// Every subscription not deleted, oldest first.
    pub fn list(conn: &mut PgConnection) -> QueryResult<Vec<Webhook>> {
        webhooks::table
            .filter(webhooks::deleted_at.is_null())
            .order(webhooks::id.asc())
            .select(Webhook::as_select())
            .load(conn)
    }

    /// One subscription, unless deleted.
    pub fn find(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<Webhook>> {
        webhooks::table
            .find(id)
            .filter(webhooks::deleted_at.is_null())
            .select(Webhook::as_select())
            .first(conn)
            .optional()
    }

    /// The subscriptions with these ids.
    pub fn find_all(conn: &mut PgConnection, ids: &[Uuid]) -> QueryResult<Vec<Webhook>> {
        webhooks::table.filter(webhooks::id.eq_any(ids)).select(Webhook::as_select()).load(conn)
    }

    /// Applies `changes`.
    pub fn update(conn: &mut PgConnection, id: Uuid, changes: &WebhookChanges) -> QueryResult<Option<Webhook>> {
        let query = diesel::update(webhooks::table.find(id).filter(webhooks::deleted_at.is_null())).set((
            webhooks::url.eq(&changes.url),
            webhooks::events.eq(&changes.events),
            webhooks::office_id.eq(changes.office_id),
            webhooks::organization_id.eq(changes.organization_id),
            webhooks::include_internal.eq(changes.include_internal),
            webhooks::active.eq(changes.active),
            webhooks::updated_at.eq(diesel::dsl::now),
        ));
        let updated = query.returning(Webhook::as_returning()).get_result(conn).optional()?;
        if changes.reactivated {
            return diesel::update(webhooks::table.find(id))
                .set((
                    webhooks::failing_since.eq(None::<DateTime<Utc>>),
                    webhooks::disabled_at.eq(None::<DateTime<Utc>>),
                    webhooks::disabled_reason.eq(None::<String>),
                    webhooks::disabled_notice_sent_at.eq(None::<DateTime<Utc>>),
                ))
                .returning(Webhook::as_returning())
                .get_result(conn)
                .optional();
        }
        Ok(updated)
    }

    /// Deletes a subscription: it becomes inactive and unlisted, and its pending deliveries fail. The row stays
    /// (see the migration) with its past deliveries.
    pub fn delete(conn: &mut PgConnection, id: Uuid) -> QueryResult<usize> {
        let deleted = diesel::update(webhooks::table.find(id).filter(webhooks::deleted_at.is_null()))
            .set((
                webhooks::deleted_at.eq(diesel::dsl::now),
                webhooks::active.eq(false),
                webhooks::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        diesel::update(
            webhook_deliveries::table
                .filter(webhook_deliveries::webhook_id.eq(id))
                .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending)),
        )
        .set((
            webhook_deliveries::status.eq(DeliveryStatus::Failed),
            webhook_deliveries::last_error.eq("the subscription was deleted"),
        ))
        .execute(conn)?;
        Ok(deleted)
    }

    /// Replaces the secret, keeping the current one as the previous until `previous_until`.
    pub fn rotate_secret(
        conn: &mut PgConnection,
        id: Uuid,
        secret: &str,
        previous_until: DateTime<Utc>,
    ) -> QueryResult<Option<Webhook>> {
        diesel::update(webhooks::table.find(id))
            .set((
                webhooks::previous_secret.eq(webhooks::secret.nullable()),
                webhooks::previous_secret_expires_at.eq(previous_until),
                webhooks::secret.eq(secret),
                webhooks::updated_at.eq(diesel::dsl::now),
            ))
            .returning(Webhook::as_returning())
            .get_result(conn)
            .optional()
    }

    /// Disabled subscriptions whose admins have not been told yet.
    pub fn disabled_untold(conn: &mut PgConnection) -> QueryResult<Vec<Webhook>> {
        webhooks::table
            .filter(webhooks::disabled_at.is_not_null())
            .filter(webhooks::disabled_notice_sent_at.is_null())
            .select(Webhook::as_select())
            .load(conn)
    }

    /// Records that the admins were told a subscription was disabled.
    pub fn mark_disabled_told(conn: &mut PgConnection, id: Uuid) -> QueryResult<usize> {
        diesel::update(webhooks::table.find(id))
            .set(webhooks::disabled_notice_sent_at.eq(diesel::dsl::now))
            .execute(conn)
    }

    /// Records a successful attempt: the subscription is no longer failing.
    pub fn record_success(conn: &mut PgConnection, id: Uuid) -> QueryResult<usize> {
        diesel::update(webhooks::table.find(id).filter(webhooks::failing_since.is_not_null()))
            .set(webhooks::failing_since.eq(None::<DateTime<Utc>>))
            .execute(conn)
    }

    /// Records a failed attempt; a subscription failing since before `disable_before` is disabled, and returned
    /// (once: when it is disabled by this call).
    pub fn record_failure(
        conn: &mut PgConnection,
        id: Uuid,
        disable_before: DateTime<Utc>,
        reason: &str,
    ) -> QueryResult<Option<Webhook>> {
        diesel::update(webhooks::table.find(id).filter(webhooks::failing_since.is_null()))
            .set(webhooks::failing_since.eq(diesel::dsl::now))
            .execute(conn)?;
        diesel::update(
            webhooks::table
                .find(id)
                .filter(webhooks::active.eq(true))
                .filter(webhooks::failing_since.lt(disable_before)),
        )
        .set((
            webhooks::active.eq(false),
            webhooks::disabled_at.eq(diesel::dsl::now),
            webhooks::disabled_reason.eq(reason),
            webhooks::updated_at.eq(diesel::dsl::now),
        ))
        .returning(Webhook::as_returning())
        .get_result(conn)
        .optional()
    }
}

/// One event for one subscription.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = webhook_deliveries, check_for_backend(diesel::pg::Pg))]
pub struct WebhookDelivery {
    /// Identifier, sent as `Webhook-Id` and the body's `id` (the same on every attempt).
    pub id: Uuid,
    /// Queue order.
    pub seq: i64,
    /// The subscription.
    pub webhook_id: Uuid,
    /// The ticket (none for a ping).
    pub ticket_id: Option<Uuid>,
    /// The audit event (none for a ping).
    pub event_id: Option<i64>,
    /// The event type.
    pub event_type: String,
    /// When the event happened.
    pub occurred_at: DateTime<Utc>,
    /// The body's `data`, taken when the event happened.
    pub data: serde_json::Value,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: i32,
    /// When it is (next) due.
    pub next_attempt_at: DateTime<Utc>,
    /// Until when a worker holds it (it is being sent).
    pub leased_until: Option<DateTime<Utc>>,
    /// Its first attempt since it was queued or last redelivered.
    pub first_attempt_at: Option<DateTime<Utc>>,
    /// When it was last tried.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The last answer's status code.
    pub last_status_code: Option<i32>,
    /// The start of the last answer's body.
    pub last_response: Option<String>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// How long the last attempt took.
    pub last_duration_ms: Option<i32>,
    /// When the receiver accepted it.
    pub delivered_at: Option<DateTime<Utc>>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
}

/// The outcome of one attempt, as stored.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The answer's status code, if one came.
    pub status_code: Option<i32>,
    /// The start of the answer's body.
    pub response: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: i32,
}

impl WebhookDelivery {
    /// Takes up to `limit` due deliveries, holding them for `lease_seconds` (a worker that dies mid-send leaves
    /// them due again when the lease ends). A delivery is only taken when no earlier delivery of the same
    /// subscription and ticket is still pending, so each ticket's events arrive in order.
    pub fn claim(conn: &mut PgConnection, limit: i64, lease_seconds: f64) -> QueryResult<Vec<WebhookDelivery>> {
        diesel::sql_query(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, last_attempt_at = now(), \
                 first_attempt_at = coalesce(first_attempt_at, now()), \
                 leased_until = now() + make_interval(secs => $2) \
             WHERE id IN (SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
                 WHERE d.status = 'pending' AND d.next_attempt_at <= now() \
                   AND (d.leased_until IS NULL OR d.leased_until < now()) \
                   AND (w.active OR d.ticket_id IS NULL) \
                   AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e \
                       WHERE e.webhook_id = d.webhook_id AND e.ticket_id = d.ticket_id \
                         AND e.status = 'pending' AND e.seq < d.seq) \
                 ORDER BY d.seq LIMIT $1 FOR UPDATE OF d SKIP LOCKED) \
             RETURNING *",
        )
        .bind::<BigInt, _>(limit)
        .bind::<Double, _>(lease_seconds)
        .load(conn)
    }

    /// Records an accepted delivery.
    pub fn mark_delivered(conn: &mut PgConnection, id: Uuid, attempt: &Attempt) -> QueryResult<usize> {
        diesel::update(webhook_deliveries::table.find(id))
            .set((
                webhook_deliveries::status.eq(DeliveryStatus::Delivered),
                webhook_deliveries::delivered_at.eq(diesel::dsl::now),
                webhook_deliveries::leased_until.eq(None::<DateTime<Utc>>),
                webhook_deliveries::last_status_code.eq(attempt.status_code),
                webhook_deliveries::last_response.eq(&attempt.response),
                webhook_deliveries::last_error.eq(None::<String>),
                webhook_deliveries::last_duration_ms.eq(attempt.duration_ms),
            ))
            .execute(conn)
    }

    /// Records accepted deliveries, all in one statement.
    pub fn mark_all_delivered(conn: &mut PgConnection, delivered: &[(Uuid, &Attempt)]) -> QueryResult<usize> {
        use diesel::sql_types::{Array, Integer, Nullable, Text, Uuid as SqlUuid};
        if delivered.is_empty() {
            return Ok(0);
        }
        let ids: Vec<Uuid> = delivered.iter().map(|(id, _)| *id).collect();
        let codes: Vec<Option<i32>> = delivered.iter().map(|(_, attempt)| attempt.status_code).collect();
        let responses: Vec<Option<String>> = delivered.iter().map(|(_, attempt)| attempt.response.clone()).collect();
        let durations: Vec<i32> = delivered.iter().map(|(_, attempt)| attempt.duration_ms).collect();
        diesel::sql_query(
            "UPDATE webhook_deliveries d SET status = 'delivered', delivered_at = now(), leased_until = NULL, \
                 last_status_code = a.code, last_response = a.response, last_error = NULL, \
                 last_duration_ms = a.duration \
             FROM unnest($1::uuid[], $2::int[], $3::text[], $4::int[]) AS a (id, code, response, duration) \
             WHERE d.id = a.id",
        )
        .bind::<Array<SqlUuid>, _>(ids)
        .bind::<Array<Nullable<Integer>>, _>(codes)
        .bind::<Array<Nullable<Text>>, _>(responses)
        .bind::<Array<Integer>, _>(durations)
        .execute(conn)
    }

    /// Records a failed attempt, to be tried again at `next_attempt_at`, or (`None`) given up on.
    pub fn mark_failed_attempt(
        conn: &mut PgConnection,
        id: Uuid,
        attempt: &Attempt,
        next_attempt_at: Option<DateTime<Utc>>,
    ) -> QueryResult<usize> {
        let status = if next_attempt_at.is_some() { DeliveryStatus::Pending } else { DeliveryStatus::Failed };
        diesel::update(webhook_deliveries::table.find(id))
            .set((
                webhook_deliveries::status.eq(status),
                webhook_deliveries::next_attempt_at.eq(next_attempt_at.unwrap_or_else(Utc::now)),
                webhook_deliveries::leased_until.eq(None::<DateTime<Utc>>),
                webhook_deliveries::last_status_code.eq(attempt.status_code),
                webhook_deliveries::last_response.eq(&attempt.response),
                webhook_deliveries::last_error.eq(&attempt.error),
                webhook_deliveries::last_duration_ms.eq(attempt.duration_ms),
            ))
            .execute(conn)
    }

    /// A subscription's deliveries, newest first, before `before` (a `seq`).
    pub fn list(
        conn: &mut PgConnection,
        webhook_id: Uuid,
        status: Option<DeliveryStatus>,
        before: Option<i64>,
        limit: i64,
    ) -> QueryResult<Vec<WebhookDelivery>> {
        let mut query = webhook_deliveries::table
            .filter(webhook_deliveries::webhook_id.eq(webhook_id))
            .select(WebhookDelivery::as_select())
            .into_boxed();
        if let Some(status) = status {
            query = query.filter(webhook_deliveries::status.eq(status));
        }
        if let Some(before) = before {
            query = query.filter(webhook_deliveries::seq.lt(before));
        }
        query.order(webhook_deliveries::seq.desc()).limit(limit).load(conn)
    }

    /// One delivery.
    pub fn find(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<WebhookDelivery>> {
        webhook_deliveries::table.find(id).select(WebhookDelivery::as_select()).first(conn).optional()
    }

    /// Makes a delivery pending again and due now, keeping its id and attempt count, with a new retry period. A
    /// delivery a worker holds stays held: it is not sent twice at once.
    pub fn redeliver(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<WebhookDelivery>> {
        diesel::update(webhook_deliveries::table.find(id))
            .set((
                webhook_deliveries::status.eq(DeliveryStatus::Pending),
                webhook_deliveries::next_attempt_at.eq(diesel::dsl::now),
                webhook_deliveries::first_attempt_at.eq(None::<DateTime<Utc>>),
            ))
            .returning(WebhookDelivery::as_returning())
            .get_result(conn)
            .optional()
    }

    /// Queues a test event for a subscription.
    pub fn insert_ping(
        conn: &mut PgConnection,
        webhook_id: Uuid,
        event_type: &str,
        data: &serde_json::Value,
    ) -> QueryResult<WebhookDelivery> {
        diesel::insert_into(webhook_deliveries::table)
            .values((
                webhook_deliveries::webhook_id.eq(webhook_id),
                webhook_deliveries::event_type.eq(event_type),
                webhook_deliveries::data.eq(data),
            ))
            .returning(WebhookDelivery::as_returning())
            .get_result(conn)
    }

    /// How many deliveries are in each status.
    pub fn count_by_status(conn: &mut PgConnection) -> QueryResult<Vec<(DeliveryStatus, i64)>> {
        webhook_deliveries::table
            .group_by(webhook_deliveries::status)
            .select((webhook_deliveries::status, diesel::dsl::count_star()))
            .load(conn)
    }

    /// The age in seconds of the oldest delivery still pending (0 when none is).
    pub fn oldest_pending_age_seconds(conn: &mut PgConnection) -> QueryResult<f64> {
        webhook_deliveries::table
            .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending))
            .select(diesel::dsl::sql::<diesel::sql_types::Double>(
                "coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8",
            ))
            .get_result(conn)
    }
}
