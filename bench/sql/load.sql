-- Bulk data for the read benchmarks: :tickets tickets over ~2 years, each with two messages and two events,
-- spread over 100 bench organisations per national office and the demo advisors. Generated in SQL, not
-- through the API. Run after `civicdesk seed --demo`:  psql -v tickets=1000000 -f bench/sql/load.sql
\set ON_ERROR_STOP on
SET synchronous_commit = off;

INSERT INTO organizations (id, name, country, contact_email)
SELECT gen_random_uuid(), format('Bench CSO %s %s', o.country, g), o.country,
       format('cso%s@%s.bench.example.org', g, lower(o.country))
FROM offices o CROSS JOIN generate_series(1, 100) g
WHERE NOT o.is_regional;

INSERT INTO users (id, name, email, language, role, organization_id)
SELECT gen_random_uuid(), 'Bench requester ' || org.name, format('req-%s@bench.example.org', org.id), 'en', 'requester', org.id
FROM organizations org WHERE org.name LIKE 'Bench CSO %';

-- Every advisor may hold any number of tickets (routing would otherwise stop assigning at 20).
UPDATE advisor_profiles SET capacity = 10000;

CREATE TEMP TABLE bench_orgs AS
SELECT (row_number() OVER (ORDER BY org.id) - 1)::int AS n, org.id AS org_id, org.country, u.id AS user_id,
       off.id AS office_id
FROM organizations org
JOIN users u ON u.organization_id = org.id AND u.role = 'requester'
JOIN offices off ON off.country = org.country AND NOT off.is_regional
WHERE org.name LIKE 'Bench CSO %';

CREATE TEMP TABLE bench_advisors AS
SELECT office_id, array_agg(id ORDER BY id) AS ids FROM users WHERE role = 'advisor' AND active GROUP BY office_id;

CREATE TEMP TABLE bench_words AS
SELECT ARRAY['grant', 'budget', 'annex', 'statute', 'registration', 'audit', 'report', 'partnership', 'network',
             'advocacy', 'campaign', 'visibility', 'training', 'capacity', 'finance', 'accounting', 'tax', 'donor',
             'application', 'deadline', 'board', 'assembly', 'volunteer', 'youth', 'women', 'environment',
             'municipality', 'ministry', 'law', 'amendment', 'strategy', 'plan', 'evaluation', 'monitoring',
             'indicator', 'logframe', 'procurement', 'contract', 'payment', 'invoice', 'salary', 'insurance',
             'website', 'media', 'press', 'event', 'conference', 'workshop', 'mentoring', 'coalition'] AS w;

INSERT INTO tickets (id, subject, status, priority, category, country, organization_id, requester_id, assignee_id,
                     office_id, channel, created_at, updated_at, first_response_at, resolved_at, closed_at,
                     search_vector, first_response_seconds, resolution_seconds, first_response_due_at,
                     resolution_due_at, first_response_warn_at, resolution_warn_at, sla_paused_at)
SELECT gen_random_uuid(), t.subject, t.status, t.priority, t.category, o.country, o.org_id, o.user_id,
       a.ids[1 + t.i % cardinality(a.ids)], o.office_id, 'api', t.created_at, t.created_at + interval '2 hours',
       CASE WHEN t.status <> 'new' THEN t.created_at + interval '3 hours' END,
       CASE WHEN t.status IN ('resolved', 'closed') THEN t.created_at + interval '2 days' END,
       CASE WHEN t.status = 'closed' THEN t.created_at + interval '9 days' END,
       civicdesk_search_vector(t.subject || E'\n' || t.body),
       CASE WHEN t.status <> 'new' THEN 3 * 3600 + t.i % 7200 END,
       CASE WHEN t.status IN ('resolved', 'closed') THEN 12 * 3600 + t.i % 86400 END,
       t.created_at + interval '2 days', t.created_at + interval '14 days',
       t.created_at + interval '36 hours', t.created_at + interval '10 days',
       CASE WHEN t.status IN ('pending', 'resolved', 'closed') THEN t.created_at + interval '2 days' END
FROM (
    SELECT i,
           w[1 + i % 50] || ' ' || w[1 + (i / 50) % 50] || ' ' || w[1 + (i * 7 / 3) % 50] AS subject,
           'We would like advice on our ' || w[1 + (i / 3) % 50] || ' and the ' || w[1 + (i / 11) % 50]
               || ' for the coming year.' AS body,
           (ARRAY['new', 'open', 'open', 'pending', 'resolved', 'resolved', 'resolved', 'resolved', 'resolved',
                  'resolved', 'closed', 'closed', 'closed', 'closed', 'closed', 'closed', 'closed', 'closed',
                  'closed', 'closed'])[1 + i % 20] AS status,
           (ARRAY['low', 'normal', 'normal', 'normal', 'high', 'urgent'])[1 + i % 6] AS priority,
           (ARRAY['legal_registration', 'funding', 'financial_management', 'capacity_building',
                  'partnership_networking', 'advocacy', 'visibility', 'other'])[1 + (i / 3) % 8] AS category,
           now() - (:tickets - i) * interval '1 minute' AS created_at
    FROM generate_series(1, :tickets) i, bench_words
) t
JOIN bench_orgs o ON o.n = (t.i::bigint * 7919) % (SELECT count(*) FROM bench_orgs)
JOIN bench_advisors a ON a.office_id = o.office_id;

-- Two messages each: the request and an advisor's answer (or a note while the ticket is new).
INSERT INTO messages (id, ticket_id, author_id, body, internal, channel, created_at)
SELECT gen_random_uuid(), t.id, t.requester_id, 'We would like advice on this request, with details.', false, 'api',
       t.created_at
FROM tickets t;
INSERT INTO messages (id, ticket_id, author_id, body, internal, channel, created_at)
SELECT gen_random_uuid(), t.id, coalesce(t.assignee_id, t.requester_id), 'Thank you, here is what we suggest.',
       t.status = 'new', 'api', t.created_at + interval '3 hours'
FROM tickets t;

INSERT INTO ticket_events (ticket_id, actor_id, kind, new_value, internal, details, created_at)
SELECT t.id, t.requester_id, 'created', 'new', false, '{"channel": "api"}', t.created_at FROM tickets t;
INSERT INTO ticket_events (ticket_id, actor_id, kind, old_value, new_value, internal, details, created_at)
SELECT t.id, NULL, 'routed', NULL, t.assignee_id::text, true, '{"reason": "bench"}', t.created_at FROM tickets t;

VACUUM ANALYZE;
