package main

import (
	"cmp"
	"io"
	"slices"
	"strings"

	"github.com/tenantkit/tenantkit/internal/fault"
)

// The exit codes:
//
//	0 done
//	1 ran, but found violations or rejects
//	2 bad usage, bad input or bad configuration (nothing changed)
//	3 database or internal failure (nothing changed)
//	130, 143 stopped by SIGINT, SIGTERM
const (
	exitOK         = 0
	exitViolation  = 1
	exitBadInput   = 2
	exitFailed     = 3
	exitInterrupt  = 130
	exitTerminated = 143
)

// exitCodes is the one table from the kind of an error (internal/fault) to
// the exit code.
var exitCodes = map[fault.Kind]int{
	fault.ErrFailure:   exitFailed,
	fault.ErrUsage:     exitBadInput,
	fault.ErrNotFound:  exitBadInput,
	fault.ErrRejected:  exitViolation,
	fault.ErrViolation: exitViolation,
}

// exitCodeOf returns the exit code for err: 0 for nil, else the code of its
// kind.
func exitCodeOf(err error) int {
	if err == nil {
		return exitOK
	}
	return exitCodes[fault.KindOf(err)]
}

// flagWords is the one table from the wording by which the libraries name
// a setting in their messages (a fault.Option, or a phrase around one where
// the flag takes a value) to the command line's wording of it. Messages
// written to standard error and reports printed by the commands go through
// it.
var flagWords = map[fault.Option]string{
	"Options.Adopt":          "--on-conflict adopt",
	"Options.All":            "-a",
	"Options.BatchSize":      "--batch-size",
	"Options.Check":          "-c",
	"Options.Columns":        "--columns",
	"Options.CommitEachRule": "--commit-each-rule",
	"Options.Control":        "--control",
	"Options.Files":          "-f FILE",
	"Options.Key":            "--key",
	"Options.KeysOnly":       "--keys-only",
	"Options.LenientQuotes":  "--lenient-quotes",
	"Options.LockDown":       "--lock-down",
	"Options.LockDownDBs":    "--lock-down-db",
	"Options.LockDownDBs naming each other database": "--lock-down-db NAME for each other database",
	"Options.Name":                    "--name",
	"Options.NewKeys":                 "--new-keys",
	"Options.Objects":                 "--objects",
	"Options.Prefix":                  "--prefix",
	"Options.ReferenceForShared":      "--reference-for-shared",
	"Options.RejectsFile":             "--rejects",
	"use Options.RejectsFile":         "use --rejects FILE",
	"Options.Repin":                   "--repin",
	"Options.SQL":                     "--sql",
	"Options.Sample":                  "--sample",
	"Options.Schema.DBSchema":         "--db-schema",
	"Options.Tenant":                  "-t",
	"or Options.Tenant)":              "or -t TENANT)",
	"Options.Verbose":                 "-v",
	"Options.Where":                   "--where",
	"mode InsertOnly":                 "-i",
	"give a directory as Output.Path": "give -o DIRECTORY",
	"TenantOptions.StripTenant":       "--strip-tenant",
	"TenantOptions.WithPublic":        "--with-public",
	"TenantOptions.WithPublic with TenantOptions.StripTenant": "--with-public --strip-tenant",
	"TenantOptions.WithReferences":                            "--with-references",
	"extract.TenantOptions.WithReferences":                    "tenant-extract --with-references",
	"TenantOptions.Subtenants":                                "--subtenants",
	"Output.Format":                                           "--format",
	"Output.Path":                                             "-o",
	"the schema.Options.Overlay file":                         "the --schema overlay",
	"load.Options.Check":                                      "userload -c",
	"load.Options.Tenant":                                     "userload -t",
	"prepare.Options.Finish":                                  "--finish",
	"prepare.Options.ServiceProvider":                         "--service-provider",
	"gen.Options.Contacts":                                    "--contacts",
	"gen.Options.Orgs":                                        "--orgs",
	"gen.Options.Tenants":                                     "--tenants N",
	"with the wait option":                                    "with --wait",
	"(use replace)":                                           "(use --replace)",
	"create it with CreateOptions.ServiceProvider":            "tenant create --service-provider NAME",
	"CreateOptions.ID":                                        "--id",
	"distribute apply writes it to its overlay output file":   "apply --overlay-out FILE writes it",
}

// flagWording rewrites the libraries' wording of settings into flags; at
// one place in a text the longest wording wins.
var flagWording = func() *strings.Replacer {
	keys := make([]fault.Option, 0, len(flagWords))
	for k := range flagWords {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b fault.Option) int {
		return cmp.Or(len(b)-len(a), strings.Compare(string(a), string(b)))
	})
	var pairs []string
	for _, k := range keys {
		pairs = append(pairs, string(k), flagWords[k])
	}
	return strings.NewReplacer(pairs...)
}()

// flagWriter passes what is written to w with the settings worded as
// flags. Each Write is rewritten whole: the writers it wraps get lines or
// messages, not streams cut at arbitrary bytes.
type flagWriter struct{ w io.Writer }

func (f flagWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(f.w, flagWording.Replace(string(p))); err != nil { // one write, as the caller's
		return 0, err
	}
	return len(p), nil
}

// Fd is the file descriptor of the wrapped writer if it has one (a
// terminal check sees through the wrapper), else ^uintptr(0).
func (f flagWriter) Fd() uintptr {
	if fd, ok := f.w.(interface{ Fd() uintptr }); ok {
		return fd.Fd()
	}
	return ^uintptr(0)
}

// wordFlags wraps w in a flagWriter, once.
func wordFlags(w io.Writer) io.Writer {
	if _, ok := w.(flagWriter); ok || w == nil {
		return w
	}
	return flagWriter{w}
}
