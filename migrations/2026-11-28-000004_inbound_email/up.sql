-- Inbound email: every message taken in (for idempotency and for staff to see the original), attachments of
-- ticket messages, follow-up tickets, and organisations matched by email domain.

CREATE TABLE inbound_emails (
    id               uuid PRIMARY KEY,
    -- The Message-ID header, or <sha256-of-the-message@civicdesk.invalid> when there is none.
    message_id       text NOT NULL,
    raw_sha256       bytea NOT NULL CONSTRAINT inbound_emails_sha256_length CHECK (octet_length(raw_sha256) = 32),
    -- The message as received, for staff.
    raw              bytea NOT NULL,
    from_address     text,
    subject          text,
    -- How it came in.
    source           text NOT NULL CONSTRAINT inbound_emails_source_values CHECK (source IN ('pipe', 'http', 'imap')),
    -- What became of it.
    outcome          text NOT NULL CONSTRAINT inbound_emails_outcome_values
                         CHECK (outcome IN ('added', 'created', 'follow_up', 'ignored', 'bounce', 'rejected')),
    reason           text NOT NULL,
    ticket_id        uuid REFERENCES tickets (id),
    ticket_message_id uuid REFERENCES messages (id),
    received_at      timestamptz NOT NULL DEFAULT now()
);
-- The same message delivered twice (two addresses, two channels) is taken once.
CREATE UNIQUE INDEX inbound_emails_message_id_key ON inbound_emails (message_id);
CREATE INDEX inbound_emails_ticket_idx ON inbound_emails (ticket_id) WHERE ticket_id IS NOT NULL;

ALTER TABLE messages ADD COLUMN inbound_email_id uuid REFERENCES inbound_emails (id);

CREATE TABLE attachments (
    id           uuid PRIMARY KEY,
    message_id   uuid NOT NULL REFERENCES messages (id),
    filename     text NOT NULL CONSTRAINT attachments_filename_length CHECK (char_length(filename) BETWEEN 1 AND 255),
    content_type text NOT NULL CONSTRAINT attachments_content_type_length CHECK (char_length(content_type) BETWEEN 1 AND 255),
    size         integer NOT NULL CONSTRAINT attachments_size_range CHECK (size >= 0),
    data         bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attachments_message_idx ON attachments (message_id);

-- A reply to a closed ticket opens a follow-up ticket that points back to it.
ALTER TABLE tickets ADD COLUMN follow_up_of uuid REFERENCES tickets (id);

-- New people writing from a CSO's domain join that CSO.
ALTER TABLE organizations ADD COLUMN email_domain text CONSTRAINT organizations_email_domain_format
    CHECK (email_domain ~ '^[a-z0-9.-]+\.[a-z0-9-]+$');
CREATE UNIQUE INDEX organizations_email_domain_key ON organizations (email_domain) WHERE email_domain IS NOT NULL;

ALTER TABLE ticket_events DROP CONSTRAINT ticket_events_kind_values;
ALTER TABLE ticket_events ADD CONSTRAINT ticket_events_kind_values
    CHECK (kind IN ('created', 'status_changed', 'priority_changed', 'category_changed', 'assignee_changed',
                    'office_changed', 'message_added', 'routed', 'coordinators_alerted', 'follow_up_created',
                    'delivery_failed'));

-- Lets the per-recipient cap on automatic mail count recent notifications quickly.
CREATE INDEX outbox_recipient_created_idx ON outbox (recipient_id, created_at);
