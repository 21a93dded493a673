-- Standard data for the tenant Acme, used as the template of workflow 2
-- (seeding a new tenant). The fixture's categories, notification rules and
-- document repositories are public (no tenant), so after the conversion no
-- tenant owns any: this gives Acme two categories of its own, a notification
-- rule for each, and one document repository. Run after the conversion.
WITH acme AS (
    SELECT id FROM ca_tenant WHERE name = 'Acme'
), cats AS (
    INSERT INTO category (sym, description, tenant)
    SELECT v.sym, v.description, acme.id
    FROM acme, (VALUES ('Laptop', 'Laptops and docking stations'),
                       ('Badge',  'Badges and door access')) AS v (sym, description)
    RETURNING id, sym, tenant
)
INSERT INTO notification_rule (name, category, channel, tenant)
SELECT 'Mail the ' || sym || ' team', id, 'email', tenant FROM cats;

INSERT INTO doc_repository (server, path, max_size, tenant)
SELECT 'files01', '/docs/acme/standard', 200, id FROM ca_tenant WHERE name = 'Acme';
