-- The mail history of a desk the size of load.sql's, for measuring GET /metrics (docs/performance.md): two sent
-- notifications and one inbound email per ticket. Run after load.sql:  psql -f bench/sql/metrics_history.sql
\set ON_ERROR_STOP on
SET synchronous_commit = off;

INSERT INTO outbox (id, ticket_id, recipient_id, kind, status, attempts, created_at, updated_at, sent_at)
SELECT gen_random_uuid(), t.id, t.requester_id, k.kind, 'sent', 1, t.created_at, t.created_at, t.created_at
FROM tickets t CROSS JOIN (VALUES ('ticket_received'), ('staff_reply')) k (kind);

-- Replies by mail, mostly added to their tickets; some opened tickets, were rejected or failed.
INSERT INTO inbound_emails (id, message_id, raw_sha256, raw, from_address, subject, source, outcome, reason,
                            ticket_id, received_at, status, attempts, processed_at)
SELECT gen_random_uuid(), format('<bench-%s@mail.example.org>', t.id), sha256(t.id::text::bytea),
       convert_to(t.subject || repeat(md5(t.id::text), 80), 'UTF8'), 'someone@example.org', t.subject, 'imap',
       CASE WHEN t.reference % 50 = 0 THEN NULL WHEN t.reference % 20 = 0 THEN 'rejected'
            WHEN t.reference % 7 = 0 THEN 'created' ELSE 'added' END,
       'bench', t.id, t.created_at, CASE WHEN t.reference % 50 = 0 THEN 'failed' ELSE 'processed' END, 1,
       t.created_at
FROM tickets t;

VACUUM ANALYZE outbox, inbound_emails;
