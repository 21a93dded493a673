#!/usr/bin/env bash
# Workflow 3 of the user guide: a conversion script rerun during a migration.
#
# Runs the whole conversion of the fixture service desk (buildtenant,
# settenant, verify) twice, with new rows arriving in between
# (examples/new-rows.sql: a new organization with a contact and a ticket, and
# a new contact of an organization converted in the first run), and shows
# that the second run touches only the new rows: buildtenant creates only the
# new organization's tenant, settenant updates only the new contacts and
# ticket, and the only rows whose version (xmin) changed are the new ones.
#
# Usage: examples/rerun-conversion.sh
# Uses the database named by DATABASE_URL when set (it must be empty: the
# fixture tables are created in it), else creates the scratch database
# tenantkit_rerun on the server scripts/pg-ensure finds or starts.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${DATABASE_URL:-}" ]; then
  admin=$(scripts/pg-ensure)
  PGOPTIONS="-c client_min_messages=warning" psql -X "$admin" -qc 'DROP DATABASE IF EXISTS tenantkit_rerun WITH (FORCE)' -c 'CREATE DATABASE tenantkit_rerun' >/dev/null
  DATABASE_URL=$(printf '%s' "$admin" | sed -E 's#/[^/?]*(\?|$)#/tenantkit_rerun\1#')
fi
export DATABASE_URL TENANTKIT_SCHEMA=fixtures/schema.xml
# TENANTKIT_BIN names a tenantkit binary to use instead of building one.
tk=${TENANTKIT_BIN:-}
if [ -z "$tk" ]; then
  mkdir -p bin && go build -o bin/tenantkit ./cmd/tenantkit
  tk=bin/tenantkit
fi
sql() { psql -X "$DATABASE_URL" -v ON_ERROR_STOP=1 -qAt "$@"; }

# convert N: one run of the conversion, a line of counts per step.
convert() {
  echo "== conversion run $1"
  echo "buildtenant:  $($tk buildtenant)"
  # settenant prints one line per rule and a total; show the rules that
  # changed something, then the total.
  $tk settenant -f fixtures/settenant.xml | sed -n -e '/: updated 0 rows$/d' -e 's/^/settenant:    /p'
  if $tk verify >/dev/null; then echo "verify:       0 violations"; else echo "verify: violations found" >&2; exit 1; fi
}

$tk fixtures load >/dev/null
echo "fixtures:     $(sql -c "SELECT format('%s organizations, %s contacts, %s tickets', (SELECT count(*) FROM ca_organization), (SELECT count(*) FROM ca_contact), (SELECT count(*) FROM call_req))")"
echo "tenant:       $($tk tenant create --service-provider --subtenants-allowed 'Service Provider')"
convert 1

echo "== new rows arrive (examples/new-rows.sql)"
sql -f examples/new-rows.sql
# Every row the second run writes gets a newer transaction id than this mark.
mark=$(sql -c 'SELECT txid_current()')
echo "new rows:     $(sql -c "SELECT format('%s organization, %s contacts, %s ticket without a tenant', (SELECT count(*) FROM ca_organization WHERE tenant IS NULL AND inactive = 0), (SELECT count(*) FROM ca_contact WHERE tenant IS NULL), (SELECT count(*) FROM call_req WHERE tenant IS NULL))")"

convert 2
echo "== rows the second run wrote (xmin newer than before it)"
sql -F ': ' -v mark="$mark" <<'EOF'
SELECT tbl, count(*) || ' (' || string_agg(label, ', ' ORDER BY label) || ')'
FROM (
    SELECT 'ca_tenant' AS tbl, name AS label, xmin FROM ca_tenant
    UNION ALL SELECT 'ca_organization', name, xmin FROM ca_organization
    UNION ALL SELECT 'ca_contact', userid, xmin FROM ca_contact
    UNION ALL SELECT 'ca_location', name, xmin FROM ca_location
    UNION ALL SELECT 'call_req', ref_num, xmin FROM call_req
) AS r
WHERE xmin::text::bigint > (:'mark')::bigint % 4294967296
GROUP BY tbl ORDER BY tbl;
EOF

convert 3
