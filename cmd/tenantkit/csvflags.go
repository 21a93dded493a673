package main

import (
	"fmt"
	"io"
	"sync/atomic"

	"github.com/urfave/cli/v2"

	"github.com/tenantkit/tenantkit/datafile"
)

// csvReadFlags are the CSV reading options for files of other writers,
// shared by every command that reads data files; prefix starts their usage.
func csvReadFlags(prefix string) []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "null-quoted", Usage: prefix + `CSV: a quoted field equal to the NULL marker is NULL too, so "" is NULL (COPY's FORCE_NULL; Python's QUOTE_ALL writes None as "")`},
		&cli.BoolFlag{Name: "lenient-quotes", Usage: prefix + `CSV: accept a " inside an unquoted field as a character (as Python's csv reader and COPY do) and report how many fields needed it`},
	}
}

// withCSVReadFlags inserts csvReadFlags after the flag called after.
func withCSVReadFlags(flags []cli.Flag, after, prefix string) []cli.Flag {
	for i, f := range flags {
		if f.Names()[0] == after {
			return append(append(flags[:i+1:i+1], csvReadFlags(prefix)...), flags[i+1:]...)
		}
	}
	panic("withCSVReadFlags: no flag " + after)
}

// lenientCount counts the fields read with --lenient-quotes.
type lenientCount struct{ n atomic.Int64 }

// applyCSVReadFlags sets the options of csvReadFlags in opts and returns
// the count of lenient fields the reader will keep.
func applyCSVReadFlags(c *cli.Context, opts *datafile.Options) *lenientCount {
	lc := &lenientCount{}
	opts.NullQuoted = c.Bool("null-quoted")
	opts.LenientQuotes = c.Bool("lenient-quotes")
	if opts.LenientQuotes {
		opts.OnLenientQuote = func(datafile.Pos) { lc.n.Add(1) }
	}
	return lc
}

// report tells how many fields --lenient-quotes accepted, if any.
func (lc *lenientCount) report(w io.Writer) {
	if n := lc.n.Load(); n > 0 {
		fmt.Fprintf(w, "%d %s a bare \" accepted (--lenient-quotes)\n", n, map[bool]string{true: "field with", false: "fields with"}[n == 1])
	}
}
