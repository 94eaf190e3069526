DROP INDEX inbound_emails_outcome_status_idx;
DROP INDEX outbox_status_only_idx;
DROP INDEX tickets_active_sla_idx;
DROP INDEX tickets_status_only_idx;
