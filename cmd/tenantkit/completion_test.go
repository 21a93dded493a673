package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

// bashComplete sources `tenantkit completion bash` in a real bash and calls
// its completion function for each command line (the cursor at its end), as
// bash does on TAB: COMP_LINE, COMP_POINT, COMP_WORDS and COMP_CWORD set.
// It runs in dir and returns `complete -p tenantkit` and the candidates
// per line.
func bashComplete(t *testing.T, dir string, env []string, lines ...string) (string, [][]string) {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	bin := t.TempDir()
	if err := os.Symlink(testkit.Binary(t), filepath.Join(bin, "tenantkit")); err != nil {
		t.Fatal(err)
	}
	res := testkit.Run(t, nil, "completion", "bash")
	if res.Code != 0 {
		t.Fatalf("completion bash: exit %d: %s", res.Code, res.Stderr)
	}
	script := testkit.WriteFile(t, "tenantkit.bash", res.Stdout)
	driver := `source "$1" || exit 1; shift
complete -p tenantkit
for line; do
    COMP_LINE=$line COMP_POINT=${#line}
    read -ra COMP_WORDS <<<"$line"
    [[ $line == *' ' ]] && COMP_WORDS+=('')
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMPREPLY=()
    _tenantkit tenantkit "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    echo "${#COMPREPLY[@]}:$(printf '%s|' "${COMPREPLY[@]}")"
done
`
	cmd := exec.Command(bash, append([]string{"--norc", "--noprofile", "-c", driver, "driver", script}, lines...)...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "TENANTKIT_SCHEMA=", "DATABASE_URL="), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	rows := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(rows) != len(lines)+1 {
		t.Fatalf("bash printed %d lines for %d command lines:\n%s", len(rows), len(lines), out)
	}
	var got [][]string
	for _, r := range rows[1:] {
		_, list, _ := strings.Cut(r, ":")
		got = append(got, strings.Split(strings.TrimSuffix(list, "|"), "|"))
	}
	return rows[0], got
}

// TestBashCompletion completes, in a real bash, a command, a flag, --format
// values, object and table names from the database that --db (or
// DATABASE_URL) names, tenant names, and a file path.
func TestBashCompletion(t *testing.T) {
	db := testkit.NewFixtureDB(t)
	db.Exec(t, "INSERT INTO ca_tenant (id, name) VALUES (41, 'Acme Europe')")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "contacts.dat"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// bash splits the URL at ':' (COMP_WORDBREAKS); the script reads the line.
	url := db.URL
	cases := []struct {
		line string
		want []string
	}{
		{"tenantkit use", []string{"userload"}},
		{"tenantkit tenant gr", []string{"groups", "group"}},
		{"tenantkit userload --rej", []string{"--rejects"}},
		{"tenantkit userload -c --format ", []string{"userload", "csv", "xlsx"}},
		{"tenantkit userload --format x", []string{"xlsx"}},
		{"tenantkit userload --format=c", []string{"csv"}},
		{"tenantkit --db " + url + " extract call", []string{"call_req"}},
		{"tenantkit extract --db=" + url + " -o x.dat ca_", []string{"ca_contact", "ca_location", "ca_organization", "ca_tenant"}},
		{"tenantkit verify --db " + url + " --schema fixtures/schema.xml --objects cn", []string{"cnt"}},
		{"tenantkit tenant-extract --db " + url + " --tenant Acme", []string{`Acme\ Europe`}},
		{"tenantkit userload -f " + dir + "/con", []string{dir + "/contacts.dat"}},
		{"tenantkit completion ", []string{"bash", "fish", "zsh"}},
	}
	var lines []string
	for _, c := range cases {
		lines = append(lines, c.line)
	}
	// fixtures/schema.xml is found from the repository root.
	reg, got := bashComplete(t, testkit.RepoRoot(), nil, lines...)
	if reg != "complete -o default -F _tenantkit tenantkit" {
		t.Errorf("complete -p tenantkit = %q", reg)
	}
	for i, c := range cases {
		if strings.Join(got[i], " ") != strings.Join(c.want, " ") {
			t.Errorf("%q completes to %q, want %q", c.line, got[i], c.want)
		}
	}
	// Without --db, DATABASE_URL names the database.
	_, got = bashComplete(t, dir, []string{"DATABASE_URL=" + url}, "tenantkit extract ca_org")
	if strings.Join(got[0], " ") != "ca_organization" {
		t.Errorf("with DATABASE_URL: %q", got[0])
	}
}

// TestCompletionScripts checks that each shell's script asks the binary
// for candidates, and parses where the shell is installed.
func TestCompletionScripts(t *testing.T) {
	for shell, check := range map[string][]string{
		"bash": {"bash", "-n"},
		"zsh":  {"zsh", "-n"},
		"fish": {"fish", "--no-execute"},
	} {
		res := testkit.Run(t, nil, "completion", shell)
		if res.Code != 0 || !strings.Contains(res.Stdout, "__complete") {
			t.Errorf("completion %s: exit %d\n%s%s", shell, res.Code, res.Stdout, res.Stderr)
			continue
		}
		if _, err := exec.LookPath(check[0]); err != nil {
			continue
		}
		file := testkit.WriteFile(t, "tenantkit."+shell, res.Stdout)
		if out, err := exec.Command(check[0], append(check[1:], file)...).CombinedOutput(); err != nil {
			t.Errorf("%s rejects its script: %v\n%s", shell, err, out)
		}
	}
	if res := testkit.Run(t, nil, "completion", "tcsh"); res.Code != 2 {
		t.Errorf("completion tcsh: exit %d, want 2", res.Code)
	}
}
