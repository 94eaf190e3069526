-- Service levels: business calendars per office, SLA policies, due times and their notices on tickets, and
-- satisfaction ratings.

-- Working hours per weekday in the office's own time zone: {"monday": {"opens": "09:00", "closes": "17:00"}, ...};
-- a day that is missing or null is a day off. "24:00" closes at midnight.
ALTER TABLE offices ADD COLUMN working_hours jsonb NOT NULL DEFAULT
    '{"monday": {"opens": "09:00", "closes": "17:00"}, "tuesday": {"opens": "09:00", "closes": "17:00"},
      "wednesday": {"opens": "09:00", "closes": "17:00"}, "thursday": {"opens": "09:00", "closes": "17:00"},
      "friday": {"opens": "09:00", "closes": "17:00"}}'::jsonb
    CONSTRAINT offices_working_hours_object CHECK (jsonb_typeof(working_hours) = 'object');

-- Public holidays: no business time is counted on these local dates.
CREATE TABLE office_holidays (
    office_id  uuid NOT NULL REFERENCES offices (id) ON DELETE CASCADE,
    date       date NOT NULL,
    name       text NOT NULL CONSTRAINT office_holidays_name_length CHECK (char_length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (office_id, date)
);

-- Targets in business minutes per priority, optionally narrowed to one category (the narrower policy wins).
CREATE TABLE sla_policies (
    id                     uuid PRIMARY KEY,
    priority               text NOT NULL CONSTRAINT sla_policies_priority_values
                               CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    category               text CONSTRAINT sla_policies_category_values
                               CHECK (category IN ('legal_registration', 'funding', 'financial_management',
                                                   'capacity_building', 'partnership_networking', 'advocacy',
                                                   'visibility', 'other')),
    first_response_minutes integer NOT NULL CONSTRAINT sla_policies_first_response_range
                               CHECK (first_response_minutes BETWEEN 1 AND 525600),
    resolution_minutes     integer NOT NULL CONSTRAINT sla_policies_resolution_range
                               CHECK (resolution_minutes BETWEEN 1 AND 525600),
    -- When the assignee is warned, as a share of the target.
    warn_at_percent        integer NOT NULL DEFAULT 75 CONSTRAINT sla_policies_warn_range
                               CHECK (warn_at_percent BETWEEN 1 AND 99),
    -- What happens on a breach besides telling the office coordinators.
    breach_action          text NOT NULL DEFAULT 'notify' CONSTRAINT sla_policies_breach_action_values
                               CHECK (breach_action IN ('notify', 'raise_priority', 'return_to_queue')),
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX sla_policies_priority_category_key ON sla_policies (priority, category) NULLS NOT DISTINCT;

-- The programme's promise: an answer within two working days for a normal request.
INSERT INTO sla_policies (id, priority, first_response_minutes, resolution_minutes, breach_action) VALUES
    ('00000000-0000-7000-8000-00000000a001', 'urgent', 120, 960, 'notify'),
    ('00000000-0000-7000-8000-00000000a002', 'high', 480, 2400, 'notify'),
    ('00000000-0000-7000-8000-00000000a003', 'normal', 960, 4800, 'notify'),
    ('00000000-0000-7000-8000-00000000a004', 'low', 1920, 9600, 'notify');

ALTER TABLE tickets
    ADD COLUMN sla_policy_id              uuid REFERENCES sla_policies (id) ON DELETE SET NULL,
    ADD COLUMN first_response_due_at      timestamptz,
    ADD COLUMN first_response_warn_at     timestamptz,
    ADD COLUMN first_response_warned_at   timestamptz,
    ADD COLUMN first_response_breached_at timestamptz,
    ADD COLUMN resolution_due_at          timestamptz,
    ADD COLUMN resolution_warn_at         timestamptz,
    ADD COLUMN resolution_warned_at       timestamptz,
    ADD COLUMN resolution_breached_at     timestamptz,
    -- The resolution clock stops while the ticket waits on the requester (pending) or is resolved or closed.
    ADD COLUMN sla_paused_at              timestamptz,
    -- Business seconds spent paused so far (the resolution due time moves on by as much).
    ADD COLUMN sla_paused_seconds         bigint NOT NULL DEFAULT 0,
    -- Business seconds from submission to the first public staff reply, and to resolution without the pauses:
    -- what the reports take medians and percentiles of.
    ADD COLUMN first_response_seconds     bigint,
    ADD COLUMN resolution_seconds         bigint;

-- The requester's verdict once a ticket is resolved; a new rating replaces the earlier one.
CREATE TABLE satisfaction_ratings (
    ticket_id  uuid PRIMARY KEY REFERENCES tickets (id),
    rated_by   uuid NOT NULL REFERENCES users (id),
    rating     text NOT NULL CONSTRAINT satisfaction_ratings_rating_values
                   CHECK (rating IN ('satisfied', 'not_satisfied')),
    comment    text CONSTRAINT satisfaction_ratings_comment_length CHECK (char_length(comment) <= 2000),
    rated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX satisfaction_ratings_rated_idx ON satisfaction_ratings (rated_at);

-- What the escalation scheduler looks for: each index holds only the tickets a notice is still owed for.
CREATE INDEX tickets_first_response_warn_idx ON tickets (first_response_warn_at)
    WHERE first_response_at IS NULL AND first_response_warned_at IS NULL AND status IN ('new', 'open', 'pending');
CREATE INDEX tickets_first_response_due_idx ON tickets (first_response_due_at)
    WHERE first_response_at IS NULL AND first_response_breached_at IS NULL AND status IN ('new', 'open', 'pending');
CREATE INDEX tickets_resolution_warn_idx ON tickets (resolution_warn_at)
    WHERE resolution_warned_at IS NULL AND status IN ('new', 'open');
CREATE INDEX tickets_resolution_due_idx ON tickets (resolution_due_at)
    WHERE resolution_breached_at IS NULL AND status IN ('new', 'open');
-- Reports by resolution and satisfaction period.
CREATE INDEX tickets_resolved_idx ON tickets (resolved_at) WHERE resolved_at IS NOT NULL;
CREATE INDEX tickets_first_response_idx ON tickets (first_response_at) WHERE first_response_at IS NOT NULL;

ALTER TABLE ticket_events DROP CONSTRAINT ticket_events_kind_values;
ALTER TABLE ticket_events ADD CONSTRAINT ticket_events_kind_values
    CHECK (kind IN ('created', 'status_changed', 'priority_changed', 'category_changed', 'assignee_changed',
                    'office_changed', 'message_added', 'routed', 'coordinators_alerted', 'follow_up_created',
                    'delivery_failed', 'sla_warning', 'sla_breached', 'satisfaction_rated'));

ALTER TABLE outbox DROP CONSTRAINT outbox_kind_values;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_values
    CHECK (kind IN ('ticket_received', 'staff_reply', 'status_changed', 'ticket_assigned', 'requester_reply',
                    'ticket_reopened', 'ticket_unassigned', 'sla_warning', 'sla_breached'));
