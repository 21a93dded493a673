package buildtenant

import (
	"fmt"
	"io"
	"strings"
)

// WriteText prints the result for people: with Check, the tenants the run
// would create, then one summary line per object (and a total when there
// are several).
func (res *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, p := range res.Tenants {
		if p.Adopted {
			fmt.Fprintf(&b, "would link %s %s to existing tenant %q\n", p.Object, p.Row, p.Name)
			continue
		}
		fmt.Fprintf(&b, "would create tenant %q", p.Name)
		if p.Parent != nil {
			fmt.Fprintf(&b, " under %q", *p.Parent)
		}
		fmt.Fprintf(&b, " (depth %d) for %s %s\n", p.Depth, p.Object, p.Row)
	}
	created, adopted := "created", "adopted"
	if res.Check {
		created, adopted = "to create", "to adopt"
	}
	for _, o := range res.Objects {
		fmt.Fprintf(&b, "%s: %d %s, %d %s (%s selected)\n", o.Object, o.Created, created, o.Adopted, adopted, plural64(o.Rows, "row", "rows"))
	}
	if len(res.Objects) > 1 {
		fmt.Fprintf(&b, "total: %d %s, %d %s\n", res.Created, created, res.Adopted, adopted)
	}
	if res.Check {
		b.WriteString("check only: nothing was changed\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteProblems prints the problems, one line each, with the rows involved.
func (res *Result) WriteProblems(w io.Writer) error {
	var b strings.Builder
	for _, p := range res.Problems {
		fmt.Fprintf(&b, "%s: %s", p.Object, p.Message)
		if len(p.Rows) > 0 {
			fmt.Fprintf(&b, ": %s", strings.Join(p.Rows, ", "))
			if more := p.RowCount - int64(len(p.Rows)); more > 0 {
				fmt.Fprintf(&b, " (and %d more)", more)
			}
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
