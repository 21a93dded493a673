package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/tenantkit/tenantkit/internal/testkit"
)

// visibleCommands lists every visible command and subcommand with its path.
func visibleCommands(cmds []*cli.Command, prefix string) map[string]*cli.Command {
	out := map[string]*cli.Command{}
	for _, c := range cmds {
		if c.Hidden {
			continue
		}
		path := strings.TrimSpace(prefix + " " + c.Name)
		out[path] = c
		for p, sub := range visibleCommands(c.Subcommands, path) {
			out[p] = sub
		}
	}
	return out
}

// flagWord finds the flags a synopsis names: -x, --name.
var flagWord = regexp.MustCompile(`(?:^|[\s\[|(])(--?[a-z][a-z0-9-]*)`)

// TestHelpShowsShape runs --help of every command: the USAGE line is the
// command's synopsis (not urfave/cli's "[command options] [arguments...]"),
// every flag it names exists, and the examples come before the options.
func TestHelpShowsShape(t *testing.T) {
	cmds := visibleCommands(newApp(strings.NewReader(""), io.Discard, io.Discard).Commands, "")
	if len(cmds) < 25 {
		t.Fatalf("only %d commands found", len(cmds))
	}
	for path, c := range cmds {
		res := testkit.Run(t, nil, append(strings.Fields(path), "--help")...)
		if res.Code != 0 {
			t.Errorf("%s --help: exit %d\n%s", path, res.Code, res.Stderr)
			continue
		}
		help := res.Stdout
		_, after, _ := strings.Cut(help, "USAGE:\n")
		usage, _, _ := strings.Cut(after, "\n\n")
		if !strings.HasPrefix(strings.TrimSpace(usage), "tenantkit "+path+" ") && strings.TrimSpace(usage) != "tenantkit "+path {
			t.Errorf("%s --help: USAGE does not start with the command:\n%s", path, usage)
		}
		if strings.Contains(usage, "[command options]") || strings.Contains(usage, "[arguments...]") {
			t.Errorf("%s --help: USAGE is urfave/cli's default, not a synopsis:\n%s", path, usage)
		}
		for _, m := range flagWord.FindAllStringSubmatch(usage, -1) {
			if findFlag(c.Flags, strings.TrimLeft(m[1], "-")) == nil {
				t.Errorf("%s --help: the synopsis names %s, which the command does not take", path, m[1])
			}
		}
		ex := strings.Index(help, "\nEXAMPLES:\n")
		opts := strings.Index(help, "\nOPTIONS:\n")
		if ex < 0 || opts < 0 || ex > opts {
			t.Errorf("%s --help: want EXAMPLES before OPTIONS:\n%s", path, help)
			continue
		}
		if examples := help[ex:opts]; !strings.Contains(examples, "tenantkit "+path) {
			t.Errorf("%s --help: no command line among the examples:\n%s", path, examples)
		}
	}
	res := testkit.Run(t, nil, "userload", "--help")
	if !strings.Contains(res.Stdout, "USAGE:\n   tenantkit userload [-c] [-v] [-i | -u | -r [-a]] [-t TENANT [--new-keys]]") ||
		!strings.Contains(res.Stdout, "-f FILE…\n") {
		t.Errorf("userload --help:\n%s", res.Stdout)
	}
}

// TestManPages checks that tenantkit(1) names every command and every flag,
// and that man -o writes one page per command that man(1) can render.
func TestManPages(t *testing.T) {
	res := testkit.Run(t, nil, "man")
	if res.Code != 0 || !strings.HasPrefix(res.Stdout, ".nh\n.TH tenantkit 1") {
		t.Fatalf("man: exit %d\n%.300s%s", res.Code, res.Stdout, res.Stderr)
	}
	page := res.Stdout
	for path, c := range visibleCommands(newApp(strings.NewReader(""), io.Discard, io.Discard).Commands, "") {
		name := path[strings.LastIndex(path, " ")+1:]
		if !strings.Contains(page, ".SH "+name+"\n") && !strings.Contains(page, ".SS "+name+"\n") {
			t.Errorf("tenantkit.1 has no section for %s", path)
		}
		for _, f := range c.Flags {
			if !strings.Contains(page, `\fB--`+f.Names()[0]) {
				t.Errorf("tenantkit.1 does not name %s --%s", path, f.Names()[0])
			}
		}
	}
	dir := t.TempDir()
	if res := testkit.Run(t, nil, "man", "-o", dir); res.Code != 0 {
		t.Fatalf("man -o: exit %d: %s", res.Code, res.Stderr)
	}
	for _, c := range newApp(strings.NewReader(""), io.Discard, io.Discard).Commands {
		if c.Hidden {
			continue
		}
		file := filepath.Join(dir, "tenantkit-"+c.Name+".1")
		text, err := os.ReadFile(file)
		if err != nil {
			t.Errorf("man -o: %v", err)
			continue
		}
		for _, f := range c.Flags {
			if !strings.Contains(string(text), `\fB--`+f.Names()[0]) {
				t.Errorf("%s does not name --%s", filepath.Base(file), f.Names()[0])
			}
		}
	}
	if _, err := exec.LookPath("man"); err != nil {
		t.Log("man(1) not installed: pages not rendered")
		return
	}
	out, err := exec.Command("man", "-l", filepath.Join(dir, "tenantkit-userload.1")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "tenantkit userload [-c] [-v]") || !strings.Contains(string(out), "--rejects") {
		t.Errorf("man -l tenantkit-userload.1: %v\n%.2000s", err, out)
	}
}
