DROP TABLE rate_limit_hits;
DROP TRIGGER ticket_events_webhooks ON ticket_events;
DROP FUNCTION queue_webhook_deliveries();
DROP FUNCTION webhook_event_types(text, text, text);
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
DROP INDEX ticket_events_feed_idx;
ALTER TABLE ticket_events DROP COLUMN tx;
