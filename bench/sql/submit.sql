-- The ceiling of one ticket submission: the statements the API runs for POST /api/v1/tickets (token lookup,
-- organisation, routing rules, office, advisor locks and loads, SLA policy and calendar, ticket, message, two
-- events, recipients with their hourly counts, two outbox rows), run by pgbench straight against PostgreSQL (-M prepared).
-- The one extra statement is the lookup of a bench token by number (the API gets the token from the request).
\set r random(1, :requesters)
SELECT t.id AS token_id, u.id AS user_id, u.organization_id AS org_id, u.language AS language
  FROM bench_requesters b JOIN api_tokens t ON t.token_hash = b.token_hash JOIN users u ON u.id = t.user_id
  WHERE b.n = :r AND t.revoked_at IS NULL AND u.active \gset
BEGIN;
SELECT id, name, country AS country, registration_number, contact_email, email_domain, created_at, updated_at
  FROM organizations WHERE id = :org_id LIMIT 1 \gset
SELECT id AS policy_id, priority, category, first_response_minutes, resolution_minutes, warn_at_percent, breach_action
  FROM sla_policies WHERE priority = 'normal' AND (category = 'funding' OR category IS NULL)
  ORDER BY category NULLS LAST LIMIT 1 \gset
SELECT id, name, position, active, countries, categories, priorities, organization_ids, keywords, target_office_id,
       target_advisor_id, created_at, updated_at
  FROM routing_rules WHERE active = true ORDER BY position, created_at;
SELECT id AS office_id, code, name, time_zone, contact_email, is_regional
  FROM offices WHERE (country = :country AND is_regional = false) OR is_regional = true
  ORDER BY is_regional LIMIT 1 \gset
SELECT p.user_id FROM advisor_profiles p JOIN users u ON u.id = p.user_id
  WHERE u.office_id = :office_id AND u.role = 'advisor' ORDER BY p.user_id FOR UPDATE OF p;
SELECT p.user_id AS advisor, p.categories, p.languages, p.capacity, p.available, p.away_until, p.last_assigned_at
  FROM advisor_profiles p JOIN users u ON u.id = p.user_id
  WHERE u.office_id = :office_id AND u.role = 'advisor' AND u.active
  ORDER BY p.last_assigned_at NULLS FIRST LIMIT 1 \gset
SELECT assignee_id, count(*) FROM tickets
  WHERE assignee_id IN (SELECT p.user_id FROM advisor_profiles p JOIN users u ON u.id = p.user_id
                        WHERE u.office_id = :office_id AND u.role = 'advisor')
    AND status IN ('new', 'open', 'pending')
  GROUP BY assignee_id;
UPDATE advisor_profiles SET last_assigned_at = clock_timestamp() WHERE user_id = :advisor;
SELECT time_zone, working_hours, ARRAY(SELECT h.date FROM office_holidays h WHERE h.office_id = offices.id ORDER BY h.date)
  FROM offices WHERE id = :office_id LIMIT 1;
INSERT INTO tickets (id, subject, priority, category, country, organization_id, requester_id, assignee_id, office_id,
                     channel, created_at, sla_policy_id, first_response_due_at, first_response_warn_at,
                     resolution_due_at, resolution_warn_at, search_vector)
  VALUES (gen_random_uuid(), 'Bench request', 'normal', 'funding', :country, :org_id, :user_id, :advisor, :office_id,
          'api', now(), :policy_id, now() + interval '2 days', now() + interval '36 hours', now() + interval '10 days',
          now() + interval '8 days',
          civicdesk_search_vector('Bench request' || E'\n' || 'We need help with our grant budget annex.'))
  RETURNING id AS ticket_id, reference, subject, status, created_at, updated_at, first_response_due_at,
            resolution_due_at,
            (SELECT r.rating FROM satisfaction_ratings r WHERE r.ticket_id = tickets.id) AS satisfaction \gset
INSERT INTO messages (id, ticket_id, author_id, body, internal, channel)
  VALUES (gen_random_uuid(), :ticket_id, :user_id, 'We need help with our grant budget annex.', false, 'api')
  RETURNING id AS message_id, created_at \gset
INSERT INTO ticket_events (ticket_id, actor_id, kind, new_value, internal, details)
  VALUES (:ticket_id, :user_id, 'created', 'new', false, '{"channel": "api"}'),
         (:ticket_id, NULL, 'routed', :advisor, true, '{"explanation": "bench"}');
SELECT u.id, u.name, u.email, u.language, u.role, u.office_id, u.organization_id, u.active, u.created_at, u.updated_at,
       (SELECT count(*) FROM outbox o WHERE o.recipient_id = u.id AND o.created_at >= now() - interval '1 hour')
  FROM users u WHERE u.id IN (:user_id, :advisor);
INSERT INTO outbox (id, ticket_id, recipient_id, kind, details)
  VALUES (gen_random_uuid(), :ticket_id, :user_id, 'ticket_received', '{}'),
         (gen_random_uuid(), :ticket_id, :advisor, 'ticket_assigned', '{}');
COMMIT;
