DELETE FROM outbox WHERE kind IN ('sla_warning', 'sla_breached');
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_values;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_values
    CHECK (kind IN ('ticket_received', 'staff_reply', 'status_changed', 'ticket_assigned', 'requester_reply',
                    'ticket_reopened', 'ticket_unassigned'));
ALTER TABLE ticket_events DROP CONSTRAINT ticket_events_kind_values;
ALTER TABLE ticket_events DISABLE TRIGGER ticket_events_append_only;
DELETE FROM ticket_events WHERE kind IN ('sla_warning', 'sla_breached', 'satisfaction_rated');
ALTER TABLE ticket_events ENABLE TRIGGER ticket_events_append_only;
ALTER TABLE ticket_events ADD CONSTRAINT ticket_events_kind_values
    CHECK (kind IN ('created', 'status_changed', 'priority_changed', 'category_changed', 'assignee_changed',
                    'office_changed', 'message_added', 'routed', 'coordinators_alerted', 'follow_up_created',
                    'delivery_failed'));
DROP TABLE satisfaction_ratings;
DROP INDEX tickets_first_response_idx;
DROP INDEX tickets_resolved_idx;
ALTER TABLE tickets
    DROP COLUMN sla_policy_id,
    DROP COLUMN first_response_due_at,
    DROP COLUMN first_response_warn_at,
    DROP COLUMN first_response_warned_at,
    DROP COLUMN first_response_breached_at,
    DROP COLUMN resolution_due_at,
    DROP COLUMN resolution_warn_at,
    DROP COLUMN resolution_warned_at,
    DROP COLUMN resolution_breached_at,
    DROP COLUMN sla_paused_at,
    DROP COLUMN sla_paused_seconds,
    DROP COLUMN first_response_seconds,
    DROP COLUMN resolution_seconds;
DROP TABLE sla_policies;
DROP TABLE office_holidays;
ALTER TABLE offices DROP COLUMN working_hours;
