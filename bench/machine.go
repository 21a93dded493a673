package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// Machine describes where the numbers come from.
type Machine struct {
	CPU      string `json:"cpu"`
	Cores    int    `json:"cores"`
	MemoryGB string `json:"memory"`
	OS       string `json:"os"`
	Kernel   string `json:"kernel"`
	Go       string `json:"go"`
	Server   string `json:"server"`
	Settings string `json:"server_settings"`
	Psql     string `json:"psql,omitempty"`
	Pgloader string `json:"pgloader,omitempty"`
	LoadAvg  string `json:"load_average_at_start"`
}

func (m Machine) String() string {
	s := fmt.Sprintf("%s, %d cores, %s RAM; %s (kernel %s); %s; %s (%s); %s",
		m.CPU, m.Cores, m.MemoryGB, m.OS, m.Kernel, m.Go, m.Server, m.Settings, m.Psql)
	if m.Pgloader != "" {
		s += "; " + m.Pgloader
	}
	return s + "; load average at start " + m.LoadAvg
}

func (h *harness) machine(ctx context.Context) Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version()}
	m.CPU = fieldOf(readFile("/proc/cpuinfo"), "model name", ":")
	if kb := fieldOf(readFile("/proc/meminfo"), "MemTotal", ":"); kb != "" {
		var n int64
		fmt.Sscan(kb, &n)
		m.MemoryGB = fmt.Sprintf("%.0f GiB", float64(n)/(1<<20))
	}
	m.OS = strings.Trim(fieldOf(readFile("/etc/os-release"), "PRETTY_NAME", "="), `"`)
	m.Kernel = strings.TrimSpace(readFile("/proc/sys/kernel/osrelease"))
	if f := strings.Fields(readFile("/proc/loadavg")); len(f) >= 3 {
		m.LoadAvg = strings.Join(f[:3], " ")
	}
	var v string
	if err := h.admin.QueryRow(ctx, "SELECT split_part(version(), ' on ', 1)").Scan(&v); err == nil {
		m.Server = v
	}
	var set string
	if err := h.admin.QueryRow(ctx, `SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ', ' ORDER BY name)
		FROM pg_settings WHERE name IN ('shared_buffers', 'ssl', 'fsync', 'synchronous_commit', 'max_wal_size', 'work_mem', 'maintenance_work_mem')`).Scan(&set); err == nil {
		m.Settings = set
	}
	if h.psql != "" {
		m.Psql, _, _ = strings.Cut(commandOutput(ctx, h.psql, "--version"), "\n")
	}
	if h.pgloader != "" {
		m.Pgloader, _, _ = strings.Cut(commandOutput(ctx, h.pgloader, "--version"), "\n")
	}
	return m
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// fieldOf finds "key<sep>value" among lines and returns value.
func fieldOf(text, key, sep string) string {
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(line, sep)
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func commandOutput(ctx context.Context, prog string, args ...string) string {
	out, _ := exec.CommandContext(ctx, prog, args...).Output()
	return strings.TrimSpace(string(out))
}
