-- Bulk data for the benchmarks: :tickets tickets over ~2 years, each with two messages and two events, spread over
-- 100 bench organisations per national office and the office's advisors (the demo ones and five bench advisors per
-- national office). Generated in SQL, not through the API. Run after `civicdesk seed --demo`:
--   psql -v tickets=1000000 -f bench/sql/load.sql
-- Statuses: 5% new, 10% open, 5% pending (20% active: 200,000 of 1,000,000), 30% resolved, 50% closed.
-- The advisors' open_tickets counters are not maintained here: run `civicdesk admin repair-open-counts` after.
-- Tags and custom fields (issue #15): every ticket carries one of 100 `grant:<n>` tags (1% each) and one in ten
-- `ipa-2026`; every ticket has a `grant_code` of 1,000 (`G-<n>`, 0.1% each).
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

-- Five bench advisors per national office, covering every category. A capacity is at most 10,000 open tickets, and
-- at 1,000,000 tickets each national office holds about 28,600 active ones: with its two or three demo advisors
-- alone every advisor would be over capacity, and routing would assign nobody. With seven or eight advisors an
-- office's advisors hold about 4,000 active tickets each, so submissions at scale are routed as on an empty desk.
INSERT INTO users (id, name, email, language, role, office_id)
SELECT gen_random_uuid(), format('Bench advisor %s %s', o.code, g),
       format('adv-%s-%s@bench.example.org', lower(o.code), g), 'en', 'advisor', o.id
FROM offices o CROSS JOIN generate_series(1, 5) g
WHERE NOT o.is_regional;

INSERT INTO advisor_profiles (user_id, categories, languages)
SELECT u.id, ARRAY['legal_registration', 'funding', 'financial_management', 'capacity_building',
                   'partnership_networking', 'advocacy', 'visibility', 'other'], ARRAY['en']
FROM users u WHERE u.email LIKE 'adv-%@bench.example.org';

-- Every advisor may hold as many tickets as a profile allows (routing would otherwise stop assigning at 20).
UPDATE advisor_profiles SET capacity = 10000;

CREATE TEMP TABLE bench_orgs AS
SELECT (row_number() OVER (ORDER BY org.id) - 1)::int AS n, (count(*) OVER ())::int AS orgs, org.id AS org_id,
       org.country, u.id AS user_id, off.id AS office_id
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

-- Ticket i goes to organisation (i * 7919) mod orgs, so all of one organisation's tickets have the same i mod orgs
-- (and the same status); its advisor follows i / orgs, which spreads each organisation's tickets evenly over the
-- office's advisors (at 1,000,000 tickets: 3,000 to 5,100 active tickets per advisor).
INSERT INTO tickets (id, subject, status, priority, category, country, organization_id, requester_id, assignee_id,
                     office_id, channel, created_at, updated_at, first_response_at, resolved_at, closed_at,
                     search_vector, first_response_seconds, resolution_seconds, first_response_due_at,
                     resolution_due_at, first_response_warn_at, resolution_warn_at, sla_paused_at, tags,
                     custom_fields)
SELECT gen_random_uuid(), t.subject, t.status, t.priority, t.category, o.country, o.org_id, o.user_id,
       a.ids[1 + (t.i / o.orgs) % cardinality(a.ids)], o.office_id, 'api', t.created_at,
       t.created_at + interval '2 hours',
       CASE WHEN t.status <> 'new' THEN t.created_at + interval '3 hours' END,
       CASE WHEN t.status IN ('resolved', 'closed') THEN t.created_at + interval '2 days' END,
       CASE WHEN t.status = 'closed' THEN t.created_at + interval '9 days' END,
       civicdesk_search_vector(t.subject || E'\n' || t.body),
       CASE WHEN t.status <> 'new' THEN 3 * 3600 + t.i % 7200 END,
       CASE WHEN t.status IN ('resolved', 'closed') THEN 12 * 3600 + t.i % 86400 END,
       t.created_at + interval '2 days', t.created_at + interval '14 days',
       t.created_at + interval '36 hours', t.created_at + interval '10 days',
       CASE WHEN t.status IN ('pending', 'resolved', 'closed') THEN t.created_at + interval '2 days' END,
       CASE WHEN t.i % 10 = 0 THEN ARRAY['grant:' || t.i % 100, 'ipa-2026'] ELSE ARRAY['grant:' || t.i % 100] END,
       jsonb_build_object('grant_code', 'G-' || t.i % 1000)
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

INSERT INTO custom_fields (key, label, field_type) VALUES ('grant_code', '{"en": "Grant code"}', 'text')
ON CONFLICT DO NOTHING;

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
