// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package dovecot

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/downwatch/downwatch/itest/daemon/proc"
)

// exporter is a running dovecot_exporter binary.
type exporter struct {
	addr string
	proc *proc.Process
}

// startExporter runs the exporter with args; with asUser it runs as that
// system user through setpriv (to meet a socket it may not open).
func startExporter(t *testing.T, asUser string, args ...string) *exporter {
	t.Helper()
	bin := proc.Exporter(t, "dovecot_exporter")
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", proc.FreePort(t))
	args = append([]string{"--web.listen-address=" + addr, "--log.level=info"}, args...)
	spec := proc.Spec{Name: "dovecot_exporter", Path: bin, Args: args, Dir: dir}
	if asUser != "" {
		// The built binary sits in a private directory; the user needs its own copy.
		pub, err := os.MkdirTemp("", "dvexp")
		must(t, err)
		t.Cleanup(func() { os.RemoveAll(pub) })
		must(t, os.Chmod(pub, 0o755))
		b, err := os.ReadFile(bin)
		must(t, err)
		must(t, os.WriteFile(filepath.Join(pub, "dovecot_exporter"), b, 0o755))
		must(t, os.Chmod(dir, 0o777))
		setpriv := proc.RequireBinary(t, "setpriv")
		u, err := user.Lookup(asUser)
		must(t, err)
		spec.Path = setpriv
		spec.Args = append([]string{"--reuid=" + u.Uid, "--regid=" + u.Gid, "--clear-groups",
			filepath.Join(pub, "dovecot_exporter")}, args...)
	}
	p := proc.Start(t, spec)
	if err := proc.WaitTCP(addr, 10*time.Second); err != nil {
		t.Fatalf("exporter: %v\n%s", err, p.LogTail(2000))
	}
	return &exporter{addr: addr, proc: p}
}

// scrape fetches /metrics; the status must be 200 whatever Dovecot does.
func (e *exporter) scrape(t testing.TB) metrics {
	t.Helper()
	resp, err := http.Get("http://" + e.addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: status %d\n%s", resp.StatusCode, b)
	}
	return parseExposition(string(b))
}

// metrics maps a series as the text format writes it (name{labels}) to
// its value.
type metrics map[string]float64

func parseExposition(s string) metrics {
	m := metrics{}
	for line := range strings.SplitSeq(s, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		m[line[:i]] = v
	}
	return m
}

func (m metrics) get(t testing.TB, series string) float64 {
	t.Helper()
	v, ok := m[series]
	if !ok {
		t.Fatalf("no series %s", series)
	}
	return v
}

// withPrefix counts the series of a family.
func (m metrics) withPrefix(prefix string) int {
	n := 0
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			n++
		}
	}
	return n
}

// logLines counts the exporter's log lines that contain all of words.
func (e *exporter) logLines(words ...string) int {
	n := 0
	for line := range strings.SplitSeq(e.proc.LogTail(1<<20), "\n") {
		all := true
		for _, w := range words {
			all = all && strings.Contains(line, w)
		}
		if all && line != "" {
			n++
		}
	}
	return n
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
