package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/tenantkit/tenantkit/datafile"
	"github.com/tenantkit/tenantkit/internal/fault"
)

func convertCommand() *cli.Command {
	return &cli.Command{
		Name:      "convert",
		UsageText: "tenantkit convert [--from FORMAT] [--format FORMAT] [--table NAME] [--encoding ENCODING] [--out-encoding ENCODING] [options] IN OUT",
		Usage:     "convert a data file between the userload, CSV and XLSX formats",
		ArgsUsage: "IN OUT",
		Description: `Streams IN into OUT; formats come from the extensions (.dat/.txt userload,
.csv, .xlsx; a directory or a path ending in / holds one TABLE.csv per table)
unless --from/--format say otherwise. "-" is standard input or output.

Examples:
   tenantkit convert contacts.xlsx contacts.dat
   tenantkit convert --table ca_contact contacts.csv contacts.dat
   tenantkit convert export.dat csv-out/`,
		Flags: withCSVReadFlags([]cli.Flag{
			&cli.StringFlag{Name: "from", Usage: "input `FORMAT` (userload, csv, xlsx)"},
			&cli.StringFlag{Name: "format", Usage: "output `FORMAT` (userload, csv, xlsx)"},
			&cli.StringFlag{Name: "table", Usage: "table `NAME` of a CSV input (default: the file name)"},
			&cli.StringFlag{Name: "encoding", Usage: "input `ENCODING`, e.g. latin1 (default UTF-8)"},
			&cli.StringFlag{Name: "out-encoding", Usage: "output `ENCODING` (default UTF-8)"},
			&cli.StringFlag{Name: "null", Usage: "CSV: the unquoted `TEXT` meaning NULL (default: an empty unquoted field)"},
			&cli.BoolFlag{Name: "literal-backslash", Aliases: []string{"e"}, Usage: "userload: backslashes are literal inside quotes"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print no summary"},
			&cli.BoolFlag{Name: "json", Usage: "print the summary as JSON"},
		}, "null", ""),
		Action: func(c *cli.Context) error {
			e := newEnv(c)
			if c.NArg() != 2 {
				return fault.Usagef("convert takes IN and OUT")
			}
			in, out := c.Args().Get(0), c.Args().Get(1)
			var null *string
			if c.IsSet("null") {
				v := c.String("null")
				null = &v
			}
			inOpts := datafile.Options{Format: datafile.Format(c.String("from")), Encoding: c.String("encoding"),
				LiteralBackslash: c.Bool("literal-backslash"), Null: null, Table: c.String("table"), Stdin: e.Stdin}
			outOpts := datafile.Options{Format: datafile.Format(c.String("format")), Encoding: c.String("out-encoding"),
				LiteralBackslash: c.Bool("literal-backslash"), Null: null, Stdout: e.Stdout}
			lenient := applyCSVReadFlags(c, &inOpts)
			if _, err := datafile.DetectFormat(in, inOpts.Format); err != nil {
				return fault.Usage(err)
			}
			outFormat, err := datafile.DetectFormat(out, outOpts.Format)
			if err != nil {
				return fault.Usage(err)
			}
			outOpts.Format = outFormat
			r, err := datafile.Open(in, inOpts)
			if err != nil {
				return fault.Usage(err)
			}
			defer r.Close()
			// A file is written under a temporary name and renamed when
			// complete, so a failed conversion leaves nothing behind.
			target := out
			var atomic *datafile.Atomic
			if st, err := os.Stat(out); out != "-" && !strings.HasSuffix(out, "/") && (err != nil || !st.IsDir()) {
				if atomic, err = datafile.CreateAtomic(out); err != nil {
					return fault.Usage(err)
				}
				defer atomic.Abort()
				target = atomic.Temp
			}
			w, err := datafile.Create(target, outOpts)
			if err != nil {
				return fault.Usage(err)
			}
			rows, err := datafile.Copy(w, r)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fault.Usage(err)
			}
			if atomic != nil {
				if err := atomic.Commit(); err != nil {
					return fault.Usage(err)
				}
			}
			switch {
			case e.JSON():
				sum := map[string]any{"rows": rows}
				if n := lenient.n.Load(); n > 0 {
					sum["lenient_quotes"] = n
				}
				return e.PrintJSON(sum, nil)
			case !e.Quiet():
				fmt.Fprintf(e.Stderr, "converted %d rows\n", rows)
				lenient.report(e.Stderr)
			}
			return nil
		},
	}
}
