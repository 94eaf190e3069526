DROP TRIGGER routing_rules_network_changed ON routing_rules;
DROP TRIGGER sla_policies_network_changed ON sla_policies;
DROP TRIGGER office_holidays_network_changed ON office_holidays;
DROP TRIGGER offices_network_changed ON offices;
DROP FUNCTION civicdesk_network_changed();
ALTER TABLE advisor_profiles DROP COLUMN routable;
ALTER TABLE advisor_profiles DROP COLUMN open_tickets;
