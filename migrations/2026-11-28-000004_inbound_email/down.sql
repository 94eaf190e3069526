DROP INDEX outbox_recipient_created_idx;
ALTER TABLE ticket_events DROP CONSTRAINT ticket_events_kind_values;
ALTER TABLE ticket_events DISABLE TRIGGER ticket_events_append_only;
DELETE FROM ticket_events WHERE kind IN ('follow_up_created', 'delivery_failed');
ALTER TABLE ticket_events ENABLE TRIGGER ticket_events_append_only;
ALTER TABLE ticket_events ADD CONSTRAINT ticket_events_kind_values
    CHECK (kind IN ('created', 'status_changed', 'priority_changed', 'category_changed', 'assignee_changed',
                    'office_changed', 'message_added', 'routed', 'coordinators_alerted'));
ALTER TABLE organizations DROP COLUMN email_domain;
ALTER TABLE tickets DROP COLUMN follow_up_of;
DROP TABLE attachments;
ALTER TABLE messages DROP COLUMN inbound_email_id;
DROP TABLE inbound_emails;
