package tenant

import (
	"fmt"

	"github.com/tenantkit/tenantkit/internal/sqlq"
)

// RefRule is the reference rule for one reference, as SQL: a row owned by
// tenant T may reference public rows, rows of T, rows of T's supertenants
// and — through a service-provider-eligible SREL — rows of the service
// provider. A public row (a NULL tenant in a tenant-optional object, or any
// row of an object without tenancy) is visible to every tenant, so it may
// reference only public rows (and the service provider's through an
// eligible SREL): a public row pointing at a tenant's row is a leak.
//
// Every command that checks the rule (userload, settenant's report,
// verify, verify -f) builds its condition here, so they cannot disagree.
type RefRule struct {
	// Owner is the SQL expression of the referencing row's tenant key as
	// text: NULL for a public row, "NULL::text" for an object without
	// tenancy.
	Owner string
	// Referenced is the SQL expression of the referenced row's tenant key
	// as text, NULL for a public row.
	Referenced string
	// KeyTyped: Owner and Referenced are of the tenant key's own type, not
	// text, so that they compare with the ancestors CTE without casts (and
	// ServiceProvider is text and compared as text).
	KeyTyped bool
	// ServiceProvider is the SQL expression of the service provider's key
	// as text when the SREL is service-provider eligible, "" when it is not
	// (or there is no service provider).
	ServiceProvider string
	// Ancestors names the CTE AncestorsCTE built.
	Ancestors string
	// OwnerRequired: the referencing object is tenant-required, so a row
	// of it without a tenant is not public but not converted yet (verify's
	// missing-tenant finding) and breaks no reference rule.
	OwnerRequired bool
}

// Violation is the condition under which the reference breaks the rule.
func (r RefRule) Violation() string {
	cast, ref := "::text", "("+r.Referenced+")"
	if r.KeyTyped {
		cast, ref = "", "("+r.Referenced+")::text"
	}
	cond := sqlq.Expand(violationSQL, sqlq.Names{"owner": r.Owner, "referenced": r.Referenced, "ancestors": r.Ancestors, "cast": cast})
	if r.ServiceProvider != "" {
		cond += fmt.Sprintf(" AND %s IS DISTINCT FROM (%s)", ref, r.ServiceProvider)
	}
	if r.OwnerRequired {
		cond = fmt.Sprintf("(%s) IS NOT NULL AND %s", r.Owner, cond)
	}
	return cond
}

const violationSQL = `({referenced}) IS NOT NULL AND (({owner}) IS NULL OR (({owner}) <> ({referenced})
		AND NOT EXISTS (SELECT FROM {ancestors} ra WHERE ra.tenant{cast} = ({owner}) AND ra.ancestor{cast} = ({referenced}))))`
