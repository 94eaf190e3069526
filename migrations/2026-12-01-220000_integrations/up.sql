-- Integrations (issue #18): the change feed's commit order, webhook subscriptions and their deliveries, and the
-- counters of the rate limiter.

-- The change feed: the transaction that wrote each event. An event whose transaction is older than every
-- transaction still running (pg_snapshot_xmin) is committed for good, so a feed that reads up to that horizon,
-- in (tx, id) order, never skips an event that commits later with a smaller id. Events written before this
-- migration all get transaction 0 and keep their id order.
ALTER TABLE ticket_events ADD COLUMN tx bigint NOT NULL DEFAULT 0;
ALTER TABLE ticket_events ALTER COLUMN tx SET DEFAULT (pg_current_xact_id()::text::bigint);
CREATE INDEX ticket_events_feed_idx ON ticket_events (tx, id);

-- Webhook subscriptions (admin). The secret signs deliveries (Standard Webhooks); after a rotation the previous
-- one keeps signing, beside the new one, until previous_secret_expires_at.
CREATE TABLE webhooks (
    id                         uuid PRIMARY KEY,
    url                        text NOT NULL CONSTRAINT webhooks_url_length CHECK (char_length(url) BETWEEN 1 AND 2000),
    events                     text[] NOT NULL CONSTRAINT webhooks_events_known CHECK (
        cardinality(events) > 0 AND events <@ ARRAY['*', 'ticket.created', 'ticket.updated', 'ticket.status_changed',
            'ticket.assigned', 'message.created', 'sla.warning', 'sla.breached', 'satisfaction.rated']),
    office_id                  uuid REFERENCES offices (id) ON DELETE CASCADE,
    organization_id            uuid REFERENCES organizations (id) ON DELETE CASCADE,
    include_internal           boolean NOT NULL DEFAULT false,
    active                     boolean NOT NULL DEFAULT true,
    secret                     text NOT NULL,
    previous_secret            text,
    previous_secret_expires_at timestamptz,
    -- Since when every attempt has failed (null: the last attempt succeeded); three days of it disable the hook.
    failing_since              timestamptz,
    disabled_at                timestamptz,
    disabled_reason            text,
    -- When the admins were emailed that it was disabled (null while that is still to do).
    disabled_notice_sent_at    timestamptz,
    created_by                 uuid NOT NULL REFERENCES users (id),
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    -- Deleted through the API: kept (inactive, unlisted) so that a change committing at that moment, whose
    -- trigger still saw the subscription active, can always insert its delivery; the row's foreign key never
    -- fails a user's change.
    deleted_at                 timestamptz,
    CONSTRAINT webhooks_deleted_inactive CHECK (deleted_at IS NULL OR NOT active)
);
CREATE INDEX webhooks_active_idx ON webhooks (id) WHERE active;

-- One event for one subscription. `seq` orders the deliveries of a ticket: the worker sends one only when no
-- earlier one of the same subscription and ticket is still pending.
CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq              bigserial NOT NULL UNIQUE,
    webhook_id       uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    ticket_id        uuid REFERENCES tickets (id) ON DELETE CASCADE,
    event_id         bigint REFERENCES ticket_events (id) ON DELETE CASCADE,
    event_type       text NOT NULL,
    occurred_at      timestamptz NOT NULL DEFAULT now(),
    data             jsonb NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
        CONSTRAINT webhook_deliveries_status_known CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    -- A worker holds it until then (it is being sent); another may take it after, if that worker died.
    leased_until     timestamptz,
    -- The first attempt (since the last redelivery): retries stop WEBHOOK_GIVE_UP_HOURS after it.
    first_attempt_at timestamptz,
    last_attempt_at  timestamptz,
    last_status_code integer,
    last_response    text,
    last_error       text,
    last_duration_ms integer,
    delivered_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_order_idx ON webhook_deliveries (webhook_id, ticket_id, seq) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_list_idx ON webhook_deliveries (webhook_id, seq);

-- Which webhook event types a ticket event is (none for most staff-only events).
CREATE FUNCTION webhook_event_types(kind text, old_value text, new_value text) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE kind
        WHEN 'created' THEN ARRAY['ticket.created']
        WHEN 'status_changed' THEN ARRAY['ticket.status_changed', 'ticket.updated']
        WHEN 'assignee_changed' THEN CASE WHEN new_value IS NOT NULL
            THEN ARRAY['ticket.assigned', 'ticket.updated'] ELSE ARRAY['ticket.updated'] END
        WHEN 'routed' THEN CASE WHEN new_value IS NOT NULL AND new_value IS DISTINCT FROM old_value
            THEN ARRAY['ticket.assigned'] ELSE ARRAY[]::text[] END
        WHEN 'priority_changed' THEN ARRAY['ticket.updated']
        WHEN 'category_changed' THEN ARRAY['ticket.updated']
        WHEN 'office_changed' THEN ARRAY['ticket.updated']
        WHEN 'message_added' THEN ARRAY['message.created']
        WHEN 'sla_warning' THEN ARRAY['sla.warning']
        WHEN 'sla_breached' THEN ARRAY['sla.breached']
        WHEN 'satisfaction_rated' THEN ARRAY['satisfaction.rated']
        ELSE ARRAY[]::text[]
    END
$$;

-- Queues the deliveries of the events one statement inserted, in that statement's transaction (so a change and
-- its webhooks commit together, like its notifications). The data is taken now: the ticket as the change left it,
-- the event, and for message.created the message. `ticket.updated` is one delivery per ticket and statement,
-- listing every field that changed.
CREATE FUNCTION queue_webhook_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM webhooks WHERE active) THEN
        RETURN NULL;
    END IF;
    INSERT INTO webhook_deliveries (webhook_id, ticket_id, event_id, event_type, occurred_at, data)
    SELECT w.id, t.id, e.event_id, e.event_type, e.created_at,
           jsonb_build_object(
               'ticket', jsonb_build_object(
                   'id', t.id, 'reference', t.reference, 'subject', t.subject, 'status', t.status,
                   'priority', t.priority, 'category', t.category, 'country', t.country, 'channel', t.channel,
                   'office_id', t.office_id, 'organization_id', t.organization_id, 'requester_id', t.requester_id,
                   'assignee_id', t.assignee_id, 'created_at', t.created_at, 'updated_at', t.updated_at,
                   'first_response_due_at', t.first_response_due_at, 'resolution_due_at', t.resolution_due_at,
                   'resolved_at', t.resolved_at, 'closed_at', t.closed_at),
               'event', e.event) || e.extra
    FROM (
        -- One row per event and type, but for ticket.updated...
        SELECT n.ticket_id, n.id AS event_id, types.event_type, n.created_at,
               coalesce((n.details ->> 'internal')::boolean, n.internal) AS internal, n.kind,
               jsonb_build_object('id', n.id, 'kind', n.kind, 'actor_id', n.actor_id, 'old_value', n.old_value,
                                  'new_value', n.new_value, 'details', n.details, 'created_at', n.created_at) AS event,
               CASE WHEN n.kind = 'message_added' THEN jsonb_build_object('message', (
                   SELECT jsonb_build_object('id', m.id, 'author_id', m.author_id, 'body', m.body,
                                             'internal', m.internal, 'channel', m.channel, 'created_at', m.created_at)
                   FROM messages m WHERE m.id = (n.details ->> 'message_id')::uuid))
               ELSE '{}'::jsonb END AS extra
        FROM new_events n, unnest(webhook_event_types(n.kind, n.old_value, n.new_value)) AS types (event_type)
        WHERE types.event_type <> 'ticket.updated'
        UNION ALL
        -- ...which is one per ticket, as of its last change, with every change.
        (SELECT DISTINCT ON (n.ticket_id) n.ticket_id, n.id, 'ticket.updated', n.created_at, false, n.kind,
               jsonb_build_object('id', n.id, 'kind', n.kind, 'actor_id', n.actor_id, 'old_value', n.old_value,
                                  'new_value', n.new_value, 'details', n.details, 'created_at', n.created_at),
               jsonb_build_object('changes', (
                   SELECT jsonb_agg(jsonb_build_object('field', c.kind, 'old_value', c.old_value,
                                                       'new_value', c.new_value) ORDER BY c.id)
                   FROM new_events c
                   WHERE c.ticket_id = n.ticket_id
                     AND 'ticket.updated' = ANY (webhook_event_types(c.kind, c.old_value, c.new_value))))
        FROM new_events n
        WHERE 'ticket.updated' = ANY (webhook_event_types(n.kind, n.old_value, n.new_value))
        ORDER BY n.ticket_id, n.id DESC)
    ) e
    JOIN tickets t ON t.id = e.ticket_id
    JOIN webhooks w ON w.active
        AND (w.events @> ARRAY['*'] OR w.events @> ARRAY[e.event_type])
        AND (w.office_id IS NULL OR w.office_id = t.office_id)
        AND (w.organization_id IS NULL OR w.organization_id = t.organization_id)
        AND (e.event_type <> 'message.created' OR NOT e.internal OR w.include_internal)
    ORDER BY e.event_id, e.event_type, w.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER ticket_events_webhooks AFTER INSERT ON ticket_events
    REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION queue_webhook_deliveries();

-- The rate limiter's counters: hits per key (a token's or an address's budget) and fixed one-minute window,
-- shared by every server process. Unlogged: a crash forgets at most a minute of counting.
CREATE UNLOGGED TABLE rate_limit_hits (
    key          text NOT NULL,
    window_start timestamptz NOT NULL,
    hits         integer NOT NULL,
    PRIMARY KEY (key, window_start)
);
