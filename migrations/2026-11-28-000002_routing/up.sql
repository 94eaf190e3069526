-- Routing: advisor profiles (expertise, languages, capacity, availability) and ordered routing rules.

CREATE TABLE advisor_profiles (
    user_id          uuid PRIMARY KEY REFERENCES users (id),
    -- The assistance areas the advisor covers.
    categories       text[] NOT NULL DEFAULT '{}' CONSTRAINT advisor_profiles_categories_values
                         CHECK (categories <@ ARRAY['legal_registration', 'funding', 'financial_management',
                                                    'capacity_building', 'partnership_networking', 'advocacy',
                                                    'visibility', 'other']::text[]),
    -- Primary language subtags the advisor works in, such as {sq,en}.
    languages        text[] NOT NULL DEFAULT '{}' CONSTRAINT advisor_profiles_languages_not_null
                         CHECK (array_position(languages, NULL) IS NULL),
    -- Most open (new, open, pending) tickets routing gives the advisor.
    capacity         integer NOT NULL DEFAULT 20 CONSTRAINT advisor_profiles_capacity_range
                         CHECK (capacity BETWEEN 1 AND 10000),
    available        boolean NOT NULL DEFAULT true,
    -- When an away advisor is back; past this instant they count as available again.
    away_until       timestamptz,
    -- For round-robin among equally loaded advisors.
    last_assigned_at timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE routing_rules (
    id                uuid PRIMARY KEY,
    name              text NOT NULL CONSTRAINT routing_rules_name_length CHECK (char_length(name) BETWEEN 1 AND 200),
    -- Rules are tried in ascending position (then creation order); the first that matches wins.
    position          integer NOT NULL,
    active            boolean NOT NULL DEFAULT true,
    -- Matchers: a rule matches when every non-empty list has a match (any value within a list).
    countries         text[] NOT NULL DEFAULT '{}' CONSTRAINT routing_rules_countries_not_null
                          CHECK (array_position(countries, NULL) IS NULL),
    categories        text[] NOT NULL DEFAULT '{}' CONSTRAINT routing_rules_categories_values
                          CHECK (categories <@ ARRAY['legal_registration', 'funding', 'financial_management',
                                                     'capacity_building', 'partnership_networking', 'advocacy',
                                                     'visibility', 'other']::text[]),
    priorities        text[] NOT NULL DEFAULT '{}' CONSTRAINT routing_rules_priorities_values
                          CHECK (priorities <@ ARRAY['low', 'normal', 'high', 'urgent']::text[]),
    organization_ids  uuid[] NOT NULL DEFAULT '{}' CONSTRAINT routing_rules_organization_ids_not_null
                          CHECK (array_position(organization_ids, NULL) IS NULL),
    keywords          text[] NOT NULL DEFAULT '{}' CONSTRAINT routing_rules_keywords_not_null
                          CHECK (array_position(keywords, NULL) IS NULL),
    -- Exactly one target: an office's pool, or one advisor.
    target_office_id  uuid REFERENCES offices (id),
    target_advisor_id uuid REFERENCES users (id),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT routing_rules_one_target CHECK ((target_office_id IS NULL) <> (target_advisor_id IS NULL)),
    CONSTRAINT routing_rules_some_matcher CHECK (
        cardinality(countries) + cardinality(categories) + cardinality(priorities)
        + cardinality(organization_ids) + cardinality(keywords) > 0
    )
);
CREATE INDEX routing_rules_order_idx ON routing_rules (position, created_at) WHERE active;

-- Routing explains itself in the audit trail, and records when an office's coordinators must step in.
ALTER TABLE ticket_events DROP CONSTRAINT ticket_events_kind_values;
ALTER TABLE ticket_events ADD CONSTRAINT ticket_events_kind_values
    CHECK (kind IN ('created', 'status_changed', 'priority_changed', 'category_changed', 'assignee_changed',
                    'office_changed', 'message_added', 'routed', 'coordinators_alerted'));

-- Every existing advisor gets a profile covering every category in their own language.
INSERT INTO advisor_profiles (user_id, categories, languages)
SELECT id,
       ARRAY['legal_registration', 'funding', 'financial_management', 'capacity_building',
             'partnership_networking', 'advocacy', 'visibility', 'other'],
       ARRAY[split_part(language, '-', 1)]
FROM users WHERE role = 'advisor';
