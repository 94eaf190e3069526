-- Inbound mail that cannot be forged, crashed or stalled.

-- Every message is stored first (status 'received'), then parsed and applied ('processed'); a permanent failure
-- keeps it with the reason ('failed') until an administrator retries it.
ALTER TABLE inbound_emails ADD COLUMN status text NOT NULL DEFAULT 'processed'
    CONSTRAINT inbound_emails_status_values CHECK (status IN ('received', 'processed', 'failed'));
ALTER TABLE inbound_emails ALTER COLUMN status SET DEFAULT 'received';
ALTER TABLE inbound_emails ALTER COLUMN outcome DROP NOT NULL;
ALTER TABLE inbound_emails DROP CONSTRAINT inbound_emails_outcome_values;
ALTER TABLE inbound_emails ADD CONSTRAINT inbound_emails_outcome_values
    CHECK (outcome IN ('added', 'created', 'follow_up', 'ignored', 'bounce', 'rejected', 'unverified'));
ALTER TABLE inbound_emails ADD COLUMN attempts integer NOT NULL DEFAULT 1;
ALTER TABLE inbound_emails ADD COLUMN processed_at timestamptz;
-- The administrators' list of failed messages, newest first.
CREATE INDEX inbound_emails_status_idx ON inbound_emails (status, id);
-- The cap on new tickets per sender and hour counts recent mail of one address.
CREATE INDEX inbound_emails_sender_idx ON inbound_emails (from_address, received_at);

-- A mail whose sender could not be verified is kept as an internal note that nobody wrote: the address it claimed
-- is kept beside it, and no one is notified.
ALTER TABLE messages ALTER COLUMN author_id DROP NOT NULL;
ALTER TABLE messages ADD COLUMN unverified_sender text;
ALTER TABLE messages ADD CONSTRAINT messages_author_or_unverified
    CHECK (author_id IS NOT NULL OR (unverified_sender IS NOT NULL AND internal));

-- New people join a CSO by their email domain only once an administrator verified the domain.
ALTER TABLE organizations ADD COLUMN email_domain_verified boolean NOT NULL DEFAULT false;

-- The plain text of each notification as sent, so that its quoted copy can be cut from replies in any language.
ALTER TABLE outbox ADD COLUMN sent_text text;

ALTER TABLE ticket_events DROP CONSTRAINT ticket_events_kind_values;
ALTER TABLE ticket_events ADD CONSTRAINT ticket_events_kind_values
    CHECK (kind IN ('created', 'status_changed', 'priority_changed', 'category_changed', 'assignee_changed',
                    'office_changed', 'message_added', 'routed', 'coordinators_alerted', 'follow_up_created',
                    'delivery_failed', 'sla_warning', 'sla_breached', 'satisfaction_rated', 'unverified_mail'));
