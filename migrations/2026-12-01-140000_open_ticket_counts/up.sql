-- Submission at the speed of the database (issue #13).
--
-- 1. Each advisor's open tickets (new, open, pending assigned to them) are kept on their profile, maintained in the
--    transactions that open, reassign, resolve, close or reopen tickets, so routing reads one number instead of
--    counting the office's tickets under an office-wide lock. `civicdesk admin repair-open-counts` checks it against
--    the tickets and corrects it.
ALTER TABLE advisor_profiles ADD COLUMN open_tickets integer NOT NULL DEFAULT 0;
-- Whether the user may be given tickets (an active advisor), kept with the user's role and active flag in the same
-- transaction: routing locks only the profile row, and PostgreSQL re-checks only the rows it locks.
ALTER TABLE advisor_profiles ADD COLUMN routable boolean NOT NULL DEFAULT true;
UPDATE advisor_profiles p SET routable = (u.active AND u.role = 'advisor') FROM users u WHERE u.id = p.user_id;

UPDATE advisor_profiles p
SET open_tickets = c.open
FROM (SELECT assignee_id, count(*)::int AS open
      FROM tickets WHERE status IN ('new', 'open', 'pending') AND assignee_id IS NOT NULL
      GROUP BY assignee_id) c
WHERE c.assignee_id = p.user_id;

-- 2. The network's read-mostly configuration (offices with their calendars and holidays, service-level policies,
--    routing rules) is cached in every process; any change to it, however made, tells every process at commit.
CREATE FUNCTION civicdesk_network_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('civicdesk_network', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

CREATE TRIGGER offices_network_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON offices
    FOR EACH STATEMENT EXECUTE FUNCTION civicdesk_network_changed();
CREATE TRIGGER office_holidays_network_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON office_holidays
    FOR EACH STATEMENT EXECUTE FUNCTION civicdesk_network_changed();
CREATE TRIGGER sla_policies_network_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON sla_policies
    FOR EACH STATEMENT EXECUTE FUNCTION civicdesk_network_changed();
CREATE TRIGGER routing_rules_network_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON routing_rules
    FOR EACH STATEMENT EXECUTE FUNCTION civicdesk_network_changed();
