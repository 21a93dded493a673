package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tenantkit/tenantkit/internal/dbconn"
	"github.com/tenantkit/tenantkit/internal/fault"
	"github.com/tenantkit/tenantkit/schema"
	"github.com/tenantkit/tenantkit/tenant"
)

// completeCommandName is the hidden command the completion scripts call:
// `tenantkit __complete WORD… CURRENT` prints the candidates for CURRENT,
// one a line, or the line ":file" when the shell should complete a path.
const completeCommandName = "__complete"

// fileCandidates is the answer that asks the shell for path completion.
const fileCandidates = ":file"

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script for bash, zsh or fish",
		UsageText: "tenantkit completion bash|zsh|fish",
		Description: `Prints a script that makes the shell complete tenantkit's commands, flags,
flag values (--format, --on-conflict, --tenancy), file paths, and — when the
database is reachable (--db on the command line, else DATABASE_URL or the PG*
variables) — object and table names (--objects, --table, extract's TABLE…)
and tenant names (--tenant, --parent, tenant groups, tenant set-parent). The
script asks the tenantkit binary itself for the candidates, so they follow
the installed version and the database.

Examples:
   source <(tenantkit completion bash)                                   # this shell
   tenantkit completion bash > ~/.local/share/bash-completion/completions/tenantkit
   tenantkit completion zsh > "${fpath[1]}/_tenantkit"
   tenantkit completion fish > ~/.config/fish/completions/tenantkit.fish`,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fault.Usagef("completion takes the shell: bash, zsh or fish")
			}
			script, ok := completionScripts[c.Args().First()]
			if !ok {
				return fault.Usagef("completion: unknown shell %q (want bash, zsh or fish)", c.Args().First())
			}
			_, err := io.WriteString(c.App.Writer, script)
			return err
		},
	}
}

// completeCommand is the hidden command behind the completion scripts:
// `__complete -- WORD…` (zsh, fish) takes the words after "tenantkit" up to
// the cursor, `__complete --line LINE` (bash) the command line up to the
// cursor, and answers for the bash word readline replaces, the text after
// the last ':' or '=' (both break words in bash).
func completeCommand() *cli.Command {
	return &cli.Command{
		Name:            completeCommandName,
		Hidden:          true,
		SkipFlagParsing: true,
		Action: func(c *cli.Context) error {
			words := c.Args().Slice()
			bashLine := len(words) == 2 && words[0] == "--line"
			switch {
			case bashLine:
				words = shellWords(words[1])
				if len(words) > 0 {
					words = words[1:] // the program
				}
			case len(words) > 0 && words[0] == "--":
				words = words[1:]
			}
			var out strings.Builder
			complete(c.Context, c.App, words, &out)
			answer := out.String()
			if bashLine && answer != fileCandidates+"\n" && len(words) > 0 {
				cur := words[len(words)-1]
				if i := strings.LastIndexAny(cur, ":="); i >= 0 {
					var kept []string
					for _, l := range strings.Split(strings.TrimSuffix(answer, "\n"), "\n") {
						kept = append(kept, strings.TrimPrefix(l, cur[:i+1]))
					}
					answer = strings.Join(kept, "\n") + "\n"
				}
			}
			_, err := io.WriteString(c.App.Writer, answer)
			return err
		},
	}
}

// shellWords splits a command line as the shell would, roughly: blanks
// separate words, quotes and backslashes protect characters. A line ending
// in a blank ends with an empty word, the one being completed.
func shellWords(line string) []string {
	var words []string
	var w strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, r := range line {
		switch {
		case escaped:
			w.WriteRune(r)
			escaped = false
		case r == '\\' && quote != '\'':
			escaped, inWord = true, true
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			w.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	return append(words, w.String())
}

// completionScripts are the scripts of tenantkit completion, by shell. Each
// passes the words after "tenantkit" up to the cursor to __complete.
var completionScripts = map[string]string{
	"bash": `# bash completion for tenantkit (tenantkit completion bash)
_tenantkit() {
    local cur=${COMP_WORDS[COMP_CWORD]} out line
    out=$("${COMP_WORDS[0]}" __complete --line "${COMP_LINE:0:COMP_POINT}" 2>/dev/null) || return 0
    COMPREPLY=()
    if [[ $out == :file ]]; then
        [[ $cur == [=:] ]] && cur=
        compopt -o filenames 2>/dev/null
        local IFS=$'\n'
        COMPREPLY=($(compgen -f -- "$cur"))
        return 0
    fi
    while IFS= read -r line; do
        [[ -n $line ]] && COMPREPLY+=("$(printf '%q' "$line")")
    done <<<"$out"
    return 0
}
complete -o default -F _tenantkit tenantkit
`,
	"zsh": `#compdef tenantkit
# zsh completion for tenantkit (tenantkit completion zsh)
_tenantkit() {
    local out
    out=$("${words[1]}" __complete -- "${(@)words[2,CURRENT]}" 2>/dev/null) || return 1
    if [[ $out == :file ]]; then
        _files
        return
    fi
    local -a candidates
    candidates=("${(@f)out}")
    compadd -Q -- "${(@q)candidates}"
}
if [[ $funcstack[1] == _tenantkit ]]; then
    _tenantkit "$@"
else
    compdef _tenantkit tenantkit
fi
`,
	"fish": `# fish completion for tenantkit (tenantkit completion fish)
function __tenantkit_complete
    set -l words (commandline -opc)
    set -l out (command $words[1] __complete -- $words[2..-1] (commandline -ct) 2>/dev/null)
    if test "$out" = ":file"
        __fish_complete_path (commandline -ct)
    else
        printf '%s\n' $out
    end
end
complete -c tenantkit -f -a '(__tenantkit_complete)'
`,
}

// complete prints the candidates for the last of words, the words after
// "tenantkit" up to the cursor (bash splits --flag=value at the "=").
func complete(ctx context.Context, app *cli.App, words []string, w io.Writer) {
	if len(words) == 0 {
		words = []string{""}
	}
	cur := words[len(words)-1]
	flags, subs := app.Flags, app.Commands
	var path []string
	given := map[string]string{} // flag values that tell where the database is
	var pending cli.Flag         // a flag whose value is the current word
	positional := 0
	dashdash := false
	before := words[:len(words)-1]
	for i := 0; i < len(before); i++ {
		word := before[i]
		switch {
		case dashdash || word == "=":
			if !dashdash {
				continue
			}
			positional++
		case word == "--":
			dashdash = true
		case strings.HasPrefix(word, "-") && len(word) > 1:
			name, value, inline := strings.Cut(strings.TrimLeft(word, "-"), "=")
			f := findFlag(flags, name)
			if f == nil || !takesValue(f) {
				continue
			}
			if !inline {
				j := i + 1
				if j < len(before) && before[j] == "=" {
					j++
				}
				if j >= len(before) {
					pending = f
					i = len(before)
					continue
				}
				value, i = before[j], j
			}
			given[f.Names()[0]] = value
		case positional == 0 && findCommand(subs, word) != nil:
			cmd := findCommand(subs, word)
			path = append(path, cmd.Name)
			flags, subs = cmd.Flags, cmd.Subcommands
		default:
			positional++
		}
	}
	if cur == "=" {
		cur = ""
	}
	var candidates []string
	prefix := ""
	switch {
	case pending != nil:
		candidates = flagValues(ctx, pending, given)
	case strings.HasPrefix(cur, "-") && strings.Contains(cur, "=") && !dashdash:
		// zsh and fish keep --flag=value as one word.
		name, value, _ := strings.Cut(strings.TrimLeft(cur, "-"), "=")
		if f := findFlag(flags, name); f != nil && takesValue(f) {
			prefix = cur[:len(cur)-len(value)]
			cur = value
			candidates = flagValues(ctx, f, given)
		}
	case strings.HasPrefix(cur, "-") && !dashdash:
		candidates = flagNames(flags)
	case positional == 0 && len(subs) > 0:
		for _, s := range subs {
			if !s.Hidden {
				candidates = append(candidates, s.Name)
			}
		}
	default:
		candidates = argValues(ctx, strings.Join(path, " "), positional, given)
	}
	if len(candidates) == 1 && candidates[0] == fileCandidates {
		fmt.Fprintln(w, fileCandidates)
		return
	}
	for _, c := range candidates {
		if strings.HasPrefix(c, cur) {
			fmt.Fprintln(w, prefix+c)
		}
	}
}

// findFlag finds a flag by any of its names.
func findFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

// findCommand finds a visible command by name or alias.
func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) && !c.Hidden {
			return c
		}
	}
	return nil
}

func takesValue(f cli.Flag) bool {
	dg, ok := f.(cli.DocGenerationFlag)
	return ok && dg.TakesValue()
}

// flagNames are the spellings of flags: --long and -s.
func flagNames(flags []cli.Flag) []string {
	var out []string
	for _, f := range flags {
		for _, n := range f.Names() {
			if len(n) == 1 {
				out = append(out, "-"+n)
			} else {
				out = append(out, "--"+n)
			}
		}
	}
	return append(out, "--help")
}

// placeholder is the `WORD` a flag's usage names its value with.
var placeholder = regexp.MustCompile("`([^`]*)`")

// flagValues are the candidates for a flag's value.
func flagValues(ctx context.Context, f cli.Flag, given map[string]string) []string {
	name := f.Names()[0]
	switch name {
	case "format", "from":
		return []string{"userload", "csv", "xlsx"}
	case "on-conflict":
		return []string{"error", "adopt"}
	case "tenancy":
		return []string{"none", "orgs", "all"}
	case "objects", "table":
		return dbNames(ctx, given, false)
	case "tenant", "parent":
		return dbNames(ctx, given, true)
	}
	usage := ""
	if dg, ok := f.(cli.DocGenerationFlag); ok {
		usage = dg.GetUsage()
	}
	if m := placeholder.FindStringSubmatch(usage); m != nil && (m[1] == "FILE" || m[1] == "DIR") {
		return []string{fileCandidates}
	}
	return nil
}

// argValues are the candidates for the n-th argument of a command.
func argValues(ctx context.Context, path string, n int, given map[string]string) []string {
	switch path {
	case "extract":
		return append(dbNames(ctx, given, false), "ALL")
	case "tenant groups", "tenant set-parent", "tenant group create":
		if path == "tenant group create" && n == 0 {
			return nil // the new group's name
		}
		return dbNames(ctx, given, true)
	case "completion":
		return []string{"bash", "fish", "zsh"}
	case "convert":
		return []string{fileCandidates}
	}
	return nil
}

// dbNames reads candidates from the database the command line names (--db,
// else the environment): object and table names, or tenant names. A
// database that cannot be reached in two seconds gives none.
func dbNames(ctx context.Context, given map[string]string, tenants bool) []string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	pool, err := dbconn.Open(ctx, dbconn.Resolve(given["db"]), dbconn.Session{App: "tenantkit completion"})
	if err != nil {
		return nil
	}
	defer pool.Close()
	overlay := given["schema"]
	if overlay == "" {
		overlay = os.Getenv("TENANTKIT_SCHEMA")
	}
	s, err := schema.Load(ctx, pool, schema.Options{Overlay: overlay, TenantColumn: given["tenant-column"], DBSchema: given["db-schema"]})
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	if tenants {
		if s.Tenants == nil {
			return nil
		}
		all, err := tenant.List(ctx, pool, s.Tenants)
		if err != nil {
			return nil
		}
		for _, t := range all {
			seen[t.Name] = true
		}
	} else {
		for _, o := range s.Objects {
			seen[o.Name], seen[o.Table] = true, true
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
