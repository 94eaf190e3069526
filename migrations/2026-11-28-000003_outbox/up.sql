-- Outbound email: the outbox (one row per notification, written in the transaction of the change that causes it)
-- and server-generated secrets (the key that signs Reply-To addresses).

CREATE TABLE outbox (
    id              uuid PRIMARY KEY,
    ticket_id       uuid REFERENCES tickets (id),
    recipient_id    uuid NOT NULL REFERENCES users (id),
    -- What the notification says; the worker renders it in the recipient's language when it sends.
    kind            text NOT NULL CONSTRAINT outbox_kind_values
                        CHECK (kind IN ('ticket_received', 'staff_reply', 'status_changed', 'ticket_assigned',
                                        'requester_reply', 'ticket_reopened', 'ticket_unassigned')),
    -- What the template needs besides the ticket and the recipient (a message id, the new status).
    details         jsonb NOT NULL DEFAULT '{}'::jsonb,
    status          text NOT NULL DEFAULT 'pending' CONSTRAINT outbox_status_values
                        CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    -- While a worker sends a row, no other worker takes it until this lease ends.
    locked_until    timestamptz,
    last_error      text,
    -- The Message-ID the notification was sent with (stable across retries).
    message_id      text,
    recipient_email text,
    subject         text,
    sent_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
-- The worker's claim query walks only what is due.
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbox_leased_idx ON outbox (locked_until) WHERE status = 'sending';
CREATE INDEX outbox_status_idx ON outbox (status, id);
CREATE INDEX outbox_ticket_idx ON outbox (ticket_id);
CREATE UNIQUE INDEX outbox_message_id_key ON outbox (message_id) WHERE message_id IS NOT NULL;

CREATE TABLE app_secrets (
    name       text PRIMARY KEY,
    value      bytea NOT NULL CONSTRAINT app_secrets_value_length CHECK (octet_length(value) >= 32),
    created_at timestamptz NOT NULL DEFAULT now()
);
