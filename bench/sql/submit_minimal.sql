-- The minimal ceiling of one ticket submission: the least SQL a routed submission needs on the current schema
-- (advisor_profiles.open_tickets kept by the writers, issue #13), run by pgbench straight against PostgreSQL
-- (-M prepared). What POST /api/v1/tickets could at best reach on this machine.
--
-- Outside the transaction, one look-up stands in for what the API holds in memory: the caller, as its token cache
-- keeps it (user, organisation and its country, language), and the service-level policy, from its cache of the
-- network's configuration. The request's category rotates over the eight, as in bench/wrk/submit.lua.
-- Then one transaction:
--   1. one statement picks and locks one advisor of the country's office (the national office, else the regional
--      one): active, available, covering the category, below capacity; ranked by the requester's language, then
--      load (open_tickets / capacity), then least recently assigned. The row is taken with FOR UPDATE SKIP LOCKED
--      and counted (open_tickets + 1, last_assigned_at) in the same statement. Only when every eligible advisor
--      was held by another transaction does the same statement run again, waiting for the rows instead (as the
--      API does); a ticket nobody can take waits unassigned;
--   2. the ticket (the columns of submit.sql, search_vector by civicdesk_search_vector), RETURNING its id;
--   3. the first message; 4. the `created` event; 5. two outbox rows in one statement (the requester's receipt
--      and, when assigned, the advisor's notice).
-- Needs the table bench_requesters (n, token_hash) that bench/run.py creates, and -D requesters=<its row count>.
\set r random(1, :requesters)
\set c random(1, 8)
SELECT u.id AS user_id, u.organization_id AS org_id, o.country AS country,
       split_part(lower(u.language), '-', 1) AS language, k.category AS category,
       (SELECT s.id FROM sla_policies s WHERE s.priority = 'normal' AND (s.category = k.category OR s.category IS NULL)
        ORDER BY s.category NULLS LAST LIMIT 1) AS policy_id
  FROM bench_requesters b JOIN api_tokens t ON t.token_hash = b.token_hash JOIN users u ON u.id = t.user_id
       JOIN organizations o ON o.id = u.organization_id
       CROSS JOIN LATERAL (SELECT (ARRAY['legal_registration', 'funding', 'financial_management', 'capacity_building',
                                        'partnership_networking', 'advocacy', 'visibility', 'other'])[:c]
                                  AS category) k
  WHERE b.n = :r AND t.revoked_at IS NULL AND u.active \gset
BEGIN;
WITH office AS (
       SELECT id FROM offices WHERE (country = :country AND NOT is_regional) OR is_regional
       ORDER BY is_regional LIMIT 1),
     pick AS (
       SELECT p.user_id FROM advisor_profiles p JOIN users u ON u.id = p.user_id
       WHERE u.office_id = (SELECT id FROM office) AND u.role = 'advisor' AND u.active
         AND (p.available OR p.away_until <= now()) AND :category = ANY(p.categories)
         AND p.open_tickets < p.capacity
       ORDER BY (:language = ANY(p.languages)) DESC, p.open_tickets::float8 / p.capacity,
                p.last_assigned_at NULLS FIRST, p.user_id
       LIMIT 1 FOR UPDATE OF p SKIP LOCKED),
     taken AS (
       UPDATE advisor_profiles p SET open_tickets = p.open_tickets + 1, last_assigned_at = clock_timestamp()
       FROM pick WHERE p.user_id = pick.user_id RETURNING p.user_id)
SELECT (SELECT id FROM office) AS office_id, (SELECT user_id FROM taken) AS advisor,
       ((SELECT user_id FROM taken) IS NULL)::int AS missed \gset
\if :missed
WITH office AS (
       SELECT id FROM offices WHERE (country = :country AND NOT is_regional) OR is_regional
       ORDER BY is_regional LIMIT 1),
     pick AS (
       SELECT p.user_id FROM advisor_profiles p JOIN users u ON u.id = p.user_id
       WHERE u.office_id = (SELECT id FROM office) AND u.role = 'advisor' AND u.active
         AND (p.available OR p.away_until <= now()) AND :category = ANY(p.categories)
         AND p.open_tickets < p.capacity
       ORDER BY (:language = ANY(p.languages)) DESC, p.open_tickets::float8 / p.capacity,
                p.last_assigned_at NULLS FIRST, p.user_id
       LIMIT 1 FOR UPDATE OF p),
     taken AS (
       UPDATE advisor_profiles p SET open_tickets = p.open_tickets + 1, last_assigned_at = clock_timestamp()
       FROM pick WHERE p.user_id = pick.user_id RETURNING p.user_id)
SELECT (SELECT id FROM office) AS office_id, (SELECT user_id FROM taken) AS advisor \gset
\endif
INSERT INTO tickets (id, subject, priority, category, country, organization_id, requester_id, assignee_id, office_id,
                     channel, created_at, sla_policy_id, first_response_due_at, first_response_warn_at,
                     resolution_due_at, resolution_warn_at, search_vector)
  VALUES (gen_random_uuid(), 'Bench request', 'normal', :category, :country, :org_id, :user_id,
          NULLIF(:advisor, '')::uuid, :office_id, 'api', now(), :policy_id, now() + interval '2 days',
          now() + interval '36 hours', now() + interval '10 days', now() + interval '8 days',
          civicdesk_search_vector('Bench request' || E'\n' || 'We need help with our grant budget annex.'))
  RETURNING id AS ticket_id \gset
INSERT INTO messages (id, ticket_id, author_id, body, internal, channel)
  VALUES (gen_random_uuid(), :ticket_id, :user_id, 'We need help with our grant budget annex.', false, 'api');
INSERT INTO ticket_events (ticket_id, actor_id, kind, new_value, internal, details)
  VALUES (:ticket_id, :user_id, 'created', 'new', false, '{"channel": "api"}');
-- Each row carries a snapshot of what it says (issue #19): here a jsonb of the size a receipt's takes, about 650
-- bytes (the API builds it in memory; what PostgreSQL must do is store it).
INSERT INTO outbox (id, ticket_id, recipient_id, kind, details, snapshot, snapshot_version)
  SELECT gen_random_uuid(), :ticket_id, n.recipient, n.kind, '{}', jsonb_build_object('padding', repeat('x', 640)), 1
  FROM (VALUES (:user_id::uuid, 'ticket_received'), (NULLIF(:advisor, '')::uuid, 'ticket_assigned')) n (recipient, kind)
  WHERE n.recipient IS NOT NULL;
COMMIT;
