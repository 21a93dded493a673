-- Rows that arrive during a migration, between two conversion runs
-- (workflow 3): a new organization with one contact who opens a ticket, and
-- a new contact of an organization converted in the first run.
INSERT INTO ca_organization (name, description) VALUES ('Hooli', 'Arrived after the first run');

INSERT INTO ca_contact (userid, last_name, first_name, organization)
SELECT 'gbelson', 'Belson', 'Gavin', id FROM ca_organization WHERE name = 'Hooli'
UNION ALL
SELECT 'hscorpio2', 'Scorpio', 'Junior', id FROM ca_organization WHERE name = 'Globex';

INSERT INTO call_req (ref_num, summary, customer, priority, open_date)
SELECT 'CR-2001', 'Signature box too big', id, 'P3', '2026-04-01 09:00:00'
FROM ca_contact WHERE userid = 'gbelson';
