ALTER TABLE ticket_events DISABLE TRIGGER ticket_events_append_only;
DELETE FROM ticket_events WHERE kind = 'unverified_mail';
ALTER TABLE ticket_events ENABLE TRIGGER ticket_events_append_only;
ALTER TABLE ticket_events DROP CONSTRAINT ticket_events_kind_values;
ALTER TABLE ticket_events ADD CONSTRAINT ticket_events_kind_values
    CHECK (kind IN ('created', 'status_changed', 'priority_changed', 'category_changed', 'assignee_changed',
                    'office_changed', 'message_added', 'routed', 'coordinators_alerted', 'follow_up_created',
                    'delivery_failed', 'sla_warning', 'sla_breached', 'satisfaction_rated'));

ALTER TABLE outbox DROP COLUMN sent_text;
ALTER TABLE organizations DROP COLUMN email_domain_verified;

DELETE FROM attachments WHERE message_id IN (SELECT id FROM messages WHERE author_id IS NULL);
UPDATE inbound_emails SET ticket_message_id = NULL
    WHERE ticket_message_id IN (SELECT id FROM messages WHERE author_id IS NULL);
DELETE FROM messages WHERE author_id IS NULL;
ALTER TABLE messages DROP CONSTRAINT messages_author_or_unverified;
ALTER TABLE messages DROP COLUMN unverified_sender;
ALTER TABLE messages ALTER COLUMN author_id SET NOT NULL;

DROP INDEX inbound_emails_sender_idx;
DROP INDEX inbound_emails_status_idx;
ALTER TABLE inbound_emails DROP COLUMN processed_at;
ALTER TABLE inbound_emails DROP COLUMN attempts;
UPDATE inbound_emails SET outcome = 'rejected' WHERE outcome = 'unverified' OR outcome IS NULL;
ALTER TABLE inbound_emails DROP CONSTRAINT inbound_emails_outcome_values;
ALTER TABLE inbound_emails ADD CONSTRAINT inbound_emails_outcome_values
    CHECK (outcome IN ('added', 'created', 'follow_up', 'ignored', 'bounce', 'rejected'));
ALTER TABLE inbound_emails ALTER COLUMN outcome SET NOT NULL;
ALTER TABLE inbound_emails DROP COLUMN status;
