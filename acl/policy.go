package acl

import (
	"fmt"
	"sort"
	"strings"
)

// Built-in principals.
const (
	// Everyone stands for every person the file declares.
	Everyone = "EVERYONE"
	// System has Read and Execute on every object (the tree holds no access
	// groups, so that is everything here); persons may be made its members.
	System = "SYSTEM"
	// SuperAdministrators have full rights on everything, always.
	SuperAdministrators = "Super Administrators"
)

// Entry is one permission: a principal's grant on an object.
type Entry struct {
	Object    Object
	Principal string // a person, an access group or a built-in principal
	Grant     Grant
	Propagate bool
	Line      int // where the entry stands in its file, 0 when built in
}

// Policy is the declared access control: who is in which group and which
// entries stand on which objects.
type Policy struct {
	// Persons by name.
	Persons map[string]bool
	// Groups maps an access group to its member persons.
	Groups map[string]map[string]bool
	// Entries as declared.
	Entries []Entry
	// Replaced containers: explicit entries strictly below them are void.
	Replaced []Object
	// Master is the role running tenantkit: full rights, like Super Administrators.
	Master string
}

// principals lists who speaks for person p: p itself, its groups and
// EVERYONE, in that order (groups by name).
func (p *Policy) principals(person string) []string {
	out := []string{person}
	var groups []string
	for g, members := range p.Groups {
		if members[person] {
			groups = append(groups, g)
		}
	}
	sort.Strings(groups)
	out = append(out, groups...)
	if p.Persons[person] {
		out = append(out, Everyone)
	}
	return out
}

// IsSuper reports whether person has full rights regardless of entries.
func (p *Policy) IsSuper(person string) bool {
	return person == p.Master || p.Groups[SuperAdministrators][person]
}

// replacedAbove reports whether an explicit entry on o is voided by a Replace
// on a strict ancestor of o.
func (p *Policy) replacedAbove(o Object) bool {
	for _, r := range p.Replaced {
		if r != o && r.Contains(o) {
			return true
		}
	}
	return false
}

// entryFor returns the entry of principal on exactly object o, if any.
func (p *Policy) entryFor(principal string, o Object) (Entry, bool) {
	for _, e := range p.Entries {
		if e.Principal == principal && e.Object == o && !p.replacedAbove(o) {
			return e, true
		}
	}
	return Entry{}, false
}

// Step explains one principal's contribution to a decision.
type Step struct {
	Principal string
	// Entry is the entry that applies, nil when none does.
	Entry *Entry
	// Inherited is true when the entry stands on a container of the object.
	Inherited bool
	// Note says why an entry does not apply, e.g. propagation is off.
	Note string
}

// Decision is a person's effective rights on an object, with the reasons.
type Decision struct {
	Person   string
	Object   Object
	Rights   Rights
	Super    bool // the master role or a Super Administrator
	NoAccess bool // a No Access entry won
	Steps    []Step
}

// applicable finds the entry that governs principal on o: the nearest entry
// for that principal on o or its containers. An entry on o itself always
// applies; an entry on a container applies only when it propagates.
func (p *Policy) applicable(principal string, o Object) Step {
	cur := o
	for {
		if e, ok := p.entryFor(principal, cur); ok {
			if cur == o {
				return Step{Principal: principal, Entry: &e}
			}
			if e.Propagate {
				return Step{Principal: principal, Entry: &e, Inherited: true}
			}
			return Step{Principal: principal, Note: fmt.Sprintf("entry on %s does not propagate", cur)}
		}
		parent, ok := cur.Parent()
		if !ok {
			break
		}
		cur = parent
	}
	if principal == System {
		e := Entry{Object: Database, Principal: System, Grant: Grant{Rights: RX}, Propagate: true}
		return Step{Principal: principal, Entry: &e, Inherited: o != Database, Note: "built in"}
	}
	return Step{Principal: principal}
}

// Effective decides person's rights on o: nothing unless granted; the union
// over the person's own entries, its groups' and EVERYONE's; any applicable
// No Access entry takes everything away. The master role and Super
// Administrators have full rights.
func (p *Policy) Effective(person string, o Object) Decision {
	d := Decision{Person: person, Object: o}
	if p.IsSuper(person) {
		d.Super, d.Rights = true, Full
		return d
	}
	for _, principal := range p.principals(person) {
		st := p.applicable(principal, o)
		d.Steps = append(d.Steps, st)
		if st.Entry == nil {
			continue
		}
		if st.Entry.Grant.NoAccess {
			d.NoAccess = true
		}
		d.Rights |= st.Entry.Grant.Rights
	}
	if d.NoAccess {
		d.Rights = 0
	}
	return d
}

// Explicit is the union of the rights that entries on exactly o give
// person (its own, its groups' and EVERYONE's), without what propagates from
// containers. Some privileges are granted only this way (the tenant table's
// writes, a shared sequence's SELECT and UPDATE); Effective's No Access still
// takes them away.
func (p *Policy) Explicit(person string, o Object) Rights {
	if p.IsSuper(person) {
		return Full
	}
	var r Rights
	for _, principal := range p.principals(person) {
		if e, ok := p.entryFor(principal, o); ok && !e.Grant.NoAccess {
			r |= e.Grant.Rights
		}
	}
	return r
}

// Explain renders a decision for people.
func (d Decision) Explain() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s on %s: %s\n", d.Person, d.Object, d.Rights)
	if d.Super {
		b.WriteString("  full rights: the master role or a member of Super Administrators\n")
		return b.String()
	}
	for _, st := range d.Steps {
		who := st.Principal
		if who != d.Person {
			who = "via " + who
		}
		switch {
		case st.Entry == nil && st.Note != "":
			fmt.Fprintf(&b, "  %s: nothing (%s)\n", who, st.Note)
		case st.Entry == nil:
			fmt.Fprintf(&b, "  %s: nothing\n", who)
		default:
			src := "explicit entry"
			if st.Inherited {
				src = "propagated from " + st.Entry.Object.String()
			}
			if st.Note != "" {
				src += ", " + st.Note
			}
			if st.Entry.Line > 0 {
				src += fmt.Sprintf(", line %d", st.Entry.Line)
			}
			fmt.Fprintf(&b, "  %s: %s (%s)\n", who, st.Entry.Grant, src)
		}
	}
	if d.NoAccess {
		b.WriteString("  No Access wins over every grant\n")
	}
	return b.String()
}
