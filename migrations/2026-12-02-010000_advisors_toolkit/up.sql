-- The advisors' toolkit (issue #15): tags, custom fields, saved replies, time spent, merge and bulk updates.

-- Custom fields defined by admins; their values live on the tickets (`tickets.custom_fields`).
CREATE TABLE custom_fields (
    key         text PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_]{0,49}$'),
    label       jsonb NOT NULL CHECK (jsonb_typeof(label) = 'object'),
    field_type  text NOT NULL CHECK (field_type IN ('text', 'number', 'date', 'boolean', 'select', 'multi_select')),
    options     text[] NOT NULL DEFAULT '{}' CHECK (array_position(options, NULL) IS NULL),
    required_on text CHECK (required_on IN ('submission', 'resolution')),
    visibility  text NOT NULL DEFAULT 'staff' CHECK (visibility IN ('staff', 'requesters')),
    position    integer NOT NULL DEFAULT 0,
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
-- Part of the network's configuration every process caches (see the migration open_ticket_counts).
CREATE TRIGGER custom_fields_network_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON custom_fields
    FOR EACH STATEMENT EXECUTE FUNCTION civicdesk_network_changed();

-- Saved replies: a template per language, and what using one also does (`actions`).
CREATE TABLE saved_replies (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    category    text CHECK (char_length(category) BETWEEN 1 AND 100),
    scope       text NOT NULL CHECK (scope IN ('network', 'office', 'personal')),
    office_id   uuid REFERENCES offices (id),
    owner_id    uuid NOT NULL REFERENCES users (id),
    bodies      jsonb NOT NULL CHECK (jsonb_typeof(bodies) = 'object'),
    actions     jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(actions) = 'object'),
    usage_count integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz,
    CHECK ((scope = 'office') = (office_id IS NOT NULL))
);
CREATE INDEX saved_replies_name_idx ON saved_replies (name, id) WHERE deleted_at IS NULL;

-- Tags (normalised by the service), custom field values, the time spent in total, and where a merged ticket went.
ALTER TABLE tickets
    ADD COLUMN tags text[] NOT NULL DEFAULT '{}' CHECK (array_position(tags, NULL) IS NULL),
    ADD COLUMN custom_fields jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(custom_fields) = 'object'),
    ADD COLUMN time_spent_minutes integer NOT NULL DEFAULT 0,
    ADD COLUMN merged_into uuid REFERENCES tickets (id);
CREATE INDEX tickets_tags_idx ON tickets USING gin (tags);
CREATE INDEX tickets_custom_fields_idx ON tickets USING gin (custom_fields jsonb_path_ops);

-- The saved reply a message was written from, and the ticket a merge moved it from. (A merged ticket's audit
-- trail stays where it is, append-only: the target's trail is read together with its merged tickets'.)
ALTER TABLE messages
    ADD COLUMN saved_reply_id uuid REFERENCES saved_replies (id),
    ADD COLUMN merged_from uuid REFERENCES tickets (id);
CREATE INDEX messages_saved_reply_idx ON messages (saved_reply_id, created_at) WHERE saved_reply_id IS NOT NULL;
CREATE INDEX tickets_merged_into_idx ON tickets (merged_into) WHERE merged_into IS NOT NULL;

-- The new kinds of audit events and notifications.
ALTER TABLE ticket_events DROP CONSTRAINT ticket_events_kind_values;
ALTER TABLE ticket_events ADD CONSTRAINT ticket_events_kind_values
    CHECK (kind IN ('created', 'status_changed', 'priority_changed', 'category_changed', 'assignee_changed',
                    'office_changed', 'message_added', 'routed', 'coordinators_alerted', 'follow_up_created',
                    'delivery_failed', 'sla_warning', 'sla_breached', 'satisfaction_rated', 'unverified_mail',
                    'tag_added', 'tag_removed', 'custom_field_changed', 'time_logged', 'time_changed',
                    'time_removed', 'merged', 'merged_in'));
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_values;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_values
    CHECK (kind IN ('ticket_received', 'staff_reply', 'status_changed', 'ticket_assigned', 'requester_reply',
                    'ticket_reopened', 'ticket_unassigned', 'sla_warning', 'sla_breached', 'ticket_merged',
                    'bulk_updated'));

-- Time spent on tickets by staff, for the donors' advisory-hours reports.
CREATE TABLE time_entries (
    id          uuid PRIMARY KEY,
    ticket_id   uuid NOT NULL REFERENCES tickets (id),
    author_id   uuid NOT NULL REFERENCES users (id),
    minutes     integer NOT NULL CHECK (minutes BETWEEN 1 AND 1440),
    spent_on    date NOT NULL,
    note        text CHECK (char_length(note) <= 1000),
    message_id  uuid REFERENCES messages (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX time_entries_ticket_idx ON time_entries (ticket_id, created_at);
CREATE INDEX time_entries_spent_on_idx ON time_entries (spent_on);

-- The answers of bulk updates sent with an Idempotency-Key, replayed for a retry.
CREATE TABLE bulk_requests (
    user_id      uuid NOT NULL REFERENCES users (id),
    key          text NOT NULL,
    request_hash bytea NOT NULL,
    response     jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);

-- Tag, custom field and merge events are changes of the ticket for webhooks (`ticket.updated`).
CREATE OR REPLACE FUNCTION webhook_event_types(kind text, old_value text, new_value text) RETURNS text[]
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
        WHEN 'tag_added' THEN ARRAY['ticket.updated']
        WHEN 'tag_removed' THEN ARRAY['ticket.updated']
        WHEN 'custom_field_changed' THEN ARRAY['ticket.updated']
        WHEN 'merged' THEN ARRAY['ticket.updated']
        WHEN 'merged_in' THEN ARRAY['ticket.updated']
        WHEN 'message_added' THEN ARRAY['message.created']
        WHEN 'sla_warning' THEN ARRAY['sla.warning']
        WHEN 'sla_breached' THEN ARRAY['sla.breached']
        WHEN 'satisfaction_rated' THEN ARRAY['satisfaction.rated']
        ELSE ARRAY[]::text[]
    END
$$;
