ALTER TABLE ticket_events DROP CONSTRAINT ticket_events_kind_values;
ALTER TABLE ticket_events DISABLE TRIGGER ticket_events_append_only;
DELETE FROM ticket_events WHERE kind IN ('routed', 'coordinators_alerted');
ALTER TABLE ticket_events ENABLE TRIGGER ticket_events_append_only;
ALTER TABLE ticket_events ADD CONSTRAINT ticket_events_kind_values
    CHECK (kind IN ('created', 'status_changed', 'priority_changed', 'category_changed', 'assignee_changed',
                    'office_changed', 'message_added'));
DROP TABLE routing_rules;
DROP TABLE advisor_profiles;
