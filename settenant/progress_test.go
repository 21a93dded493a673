package settenant

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// phaseLine is a plain progress line of a rule.
var phaseLine = regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\S+ (settenant rule .*)$`)

// phaseLines lists the rules' progress lines, without their timestamps.
func phaseLines(out string) []string {
	var ps []string
	for _, m := range phaseLine.FindAllStringSubmatch(out, -1) {
		ps = append(ps, m[1])
	}
	return ps
}

// TestProgressPhases: a progress writer that is no terminal receives a
// timestamped line for each phase of each rule, numbered of the rules,
// batch by batch with a batch size.
func TestProgressPhases(t *testing.T) {
	db := fixtureDB(t)
	n := db.Value(t, toStamp)
	var out bytes.Buffer
	res := run(t, db, writeConfig(t, cntRule), Options{BatchSize: 2, Progress: &out})
	if fmt.Sprint(res.Rules[0].Updated) != n {
		t.Fatalf("updated %d, want %s", res.Rules[0].Updated, n)
	}
	phases := phaseLines(out.String())
	if len(phases) < 3 || phases[0] != "settenant rule 1/1 (cnt): analyzing" || phases[1] != "settenant rule 1/1 (cnt): batch 1" || phases[2] != "settenant rule 1/1 (cnt): batch 2" {
		t.Errorf("progress phases:\n%s", strings.Join(phases, "\n"))
	}

	out.Reset()
	run(t, db, writeConfig(t, cntRule), Options{Report: true, Progress: &out})
	phases = phaseLines(out.String())
	if got, want := strings.Join(phases, "\n"), "settenant rule 1/1 (cnt): updating\nsettenant rule 1/1 (cnt): finding the conflicts"; got != want {
		t.Errorf("progress phases without batches:\n%s\nwant:\n%s", got, want)
	}
}
