// Package htmlreport renders what verify and settenant found as one
// self-contained HTML page: the CSS, the script and the drawings (inline
// SVG) are in the file, and its Content-Security-Policy forbids every
// fetch, so the page works the same from a mail attachment.
//
// The page shows the verdict; for verify the count per check and per object
// and SREL the offenders with their sample keys and tenant names; for
// settenant the funnel of each rule (matched → updated → unchanged, kept,
// left without a tenant by reason); and, with a tenant.Census, the tenant
// hierarchy as a collapsible tree with a bar per tenant (largest first)
// beside a sortable, filterable table of the rows per tenant per object.
// The tree builds a node's children only when it is expanded, a hundred at
// a time, and the table shows one page of rows, so that a database with
// 10,000 tenants opens as fast as one with ten.
//
// Every name (tenants, keys, objects, samples) goes through html/template's
// escaping, or into the page's JSON data and from there into text nodes:
// none is ever markup.
//
// A command gets its section of the page through a field of Page and a
// template block of its own (verify.tmpl, settenant.tmpl); a distribute plan
// is meant to be the next one.
package htmlreport

import (
	"bufio"
	"embed"
	"fmt"
	"html/template"
	"io"
	"os"
	"time"

	"github.com/tenantkit/tenantkit/datafile"
	"github.com/tenantkit/tenantkit/settenant"
	"github.com/tenantkit/tenantkit/tenant"
	"github.com/tenantkit/tenantkit/verify"
)

//go:embed page.tmpl verify.tmpl settenant.tmpl report.css report.js
var files embed.FS

var page = template.Must(template.New("page.tmpl").Funcs(template.FuncMap{
	"num": formatCount,
}).ParseFS(files, "*.tmpl"))

// Page is what one report shows. Command and one of the command sections
// are set; Census is optional.
type Page struct {
	// Command is the command that made the report ("verify", "settenant").
	Command string
	// Database names the database reported on.
	Database string
	// Generated is when the report was made (the zero time: now).
	Generated time.Time
	// Verify is verify's report.
	Verify *verify.Report
	// Settenant is settenant's result, with its per-rule counts (-r).
	Settenant *settenant.Result
	// Census is the tenant hierarchy with the rows per tenant per object.
	Census *tenant.Census
	// CensusNote says what state of the database the census shows, such as
	// "after the run".
	CensusNote string
}

// Write renders p as HTML to w.
func Write(w io.Writer, p *Page) error {
	v, err := newView(p)
	if err != nil {
		return err
	}
	return page.Execute(w, v)
}

// File is a report file on its way: Create makes its temporary file beside
// the target, so that a place where it cannot be written is found before a
// command does its work, and Write puts the finished page in place at once
// (datafile.Atomic): a failed write leaves the target as it was.
type File struct {
	a *datafile.Atomic
}

// Create starts the report file path.
func Create(path string) (*File, error) {
	a, err := datafile.CreateAtomic(path)
	if err != nil {
		return nil, fmt.Errorf("html report %s: %w", path, err)
	}
	return &File{a: a}, nil
}

// Write renders p into the file and renames it onto its target.
func (f *File) Write(p *Page) error {
	out, err := os.OpenFile(f.a.Temp, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		f.a.Abort()
		return fmt.Errorf("html report %s: %w", f.a.Target, err)
	}
	w := bufio.NewWriter(out)
	err = Write(w, p)
	if err == nil {
		err = w.Flush()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		f.a.Abort()
		return fmt.Errorf("html report %s: %w", f.a.Target, err)
	}
	return f.a.Commit()
}

// Abort removes the temporary file of a report that will not be written.
func (f *File) Abort() { f.a.Abort() }

// Path is where the report goes.
func (f *File) Path() string { return f.a.Target }
