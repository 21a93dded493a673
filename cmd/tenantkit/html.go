package main

import (
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/urfave/cli/v2"

	"github.com/tenantkit/tenantkit/htmlreport"
	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/schema"
	"github.com/tenantkit/tenantkit/tenant"
)

// htmlFlag is --html of the commands whose report can be a web page.
func htmlFlag() cli.Flag {
	return &cli.StringFlag{Name: "html", Usage: "also write the report as one self-contained HTML `FILE` (no network; tenant tree with rows per tenant per object)"}
}

// startHTML starts the file of --html before the command does its work,
// so that an unwritable place is bad usage with nothing done; nil without
// --html.
func startHTML(c *cli.Context) (*htmlreport.File, error) {
	path := c.String("html")
	if path == "" {
		return nil, nil
	}
	f, err := htmlreport.Create(path)
	if err != nil {
		return nil, fault.Usage(err)
	}
	return f, nil
}

// writeHTML completes p with the database's name and, when the database
// has a tenant table, its census (one grouped query per tenanted object),
// and writes it to f.
func writeHTML(e *env, f *htmlreport.File, pool *pgxpool.Pool, s *schema.Schema, p *htmlreport.Page) error {
	if pool != nil {
		p.Database = pool.Config().ConnConfig.Database
	}
	if s != nil && s.Tenants != nil {
		c, err := tenant.Count(e.c.Context, pool, s.Tenants, s.Objects)
		if err != nil {
			f.Abort()
			return fmt.Errorf("html report %s: %w", f.Path(), err)
		}
		p.Census = c
	}
	return f.Write(p)
}
