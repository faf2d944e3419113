// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Package dovecot tests dovecot_exporter against a real Dovecot (Debian's
// 2.3.19): statistics as doveadm and EXPORT give them, probes, and the
// faults an exporter meets in production.
package dovecot

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	dv "github.com/downwatch/downwatch/itest/daemon/dovecot"
	"github.com/downwatch/downwatch/itest/daemon/proc"
)

// logins runs IMAP and POP3 logins, some with wrong passwords, and returns
// how many succeeded and failed.
func logins(t *testing.T, d *dv.Dovecot) (ok, failed int) {
	t.Helper()
	cases := []struct {
		pop3       bool
		user, pass string
		want       bool
	}{
		{false, "alice", "secret", true},
		{false, "alice", "secret", true},
		{false, "alice", "wrong", false},
		{false, "mallory", "x", false},
		{true, "bob@example.org", "hunter2", true},
		{true, "bob@example.org", "nope", false},
	}
	for _, c := range cases {
		login := d.IMAPLogin
		if c.pop3 {
			login = d.POP3Login
		}
		got, err := login(c.user, c.pass)
		if err != nil {
			t.Fatalf("login %s (pop3 %v): %v", c.user, c.pop3, err)
		}
		if got != c.want {
			t.Fatalf("login %s/%s accepted = %v, want %v", c.user, c.pass, got, c.want)
		}
		if got {
			ok++
		} else {
			failed++
		}
	}
	return ok, failed
}

// seriesFor names the exporter series of a `doveadm stats dump` row of the
// default metrics (imap_command grouped by cmd_name and tagged_reply_state).
func seriesFor(dump map[string][2]uint64, row, suffix string) (string, bool) {
	rest, ok := strings.CutPrefix(row, "imap_command_")
	if !ok {
		if row == "imap_command" {
			return "", false // Dovecot's OpenMetrics leaves out a grouped metric's own value
		}
		return "dovecot_" + row + suffix, true
	}
	for _, st := range []string{"OK", "NO", "BAD"} {
		if cmd, ok := strings.CutSuffix(rest, "_"+st); ok {
			if _, parent := dump["imap_command_"+cmd]; parent {
				return fmt.Sprintf(`dovecot_imap_command%s{cmd_name=%q,tagged_reply_state=%q}`, suffix, cmd, st), true
			}
		}
	}
	return fmt.Sprintf(`dovecot_imap_command%s{cmd_name=%q}`, suffix, rest), true
}

func TestStatsFollowDoveadm(t *testing.T) {
	t.Parallel()
	d := dv.Start(t, dv.Options{})
	e := startExporter(t, "", "--dovecot.stats-socket="+d.StatsSocket,
		"--dovecot.stats-group-by="+dv.DefaultGroupBy)

	before := e.scrape(t)
	if before.get(t, "dovecot_up") != 1 {
		t.Fatalf("dovecot_up = 0 before any login")
	}
	ok, failed := logins(t, d)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var dump map[string][2]uint64
	var m metrics
	// Events reach the stats process a moment after the client's reply:
	// compare once doveadm shows the same numbers before and after a scrape
	// and every login is counted.
	err := proc.WaitFor(20*time.Second, func() error {
		d1, err := d.StatsDump(ctx)
		if err != nil {
			return err
		}
		m = e.scrape(t)
		d2, err := d.StatsDump(ctx)
		if err != nil {
			return err
		}
		if fmt.Sprint(d1) != fmt.Sprint(d2) {
			return fmt.Errorf("stats moved during the scrape")
		}
		if d2["auth_success"][0] < uint64(ok) || d2["auth_failures"][0] < uint64(failed) {
			return fmt.Errorf("not every login counted yet: %v", d2)
		}
		dump = d2
		return nil
	})
	must(t, err)

	if m.get(t, "dovecot_up") != 1 {
		t.Errorf("dovecot_up = 0")
	}
	for _, name := range []string{"dovecot_auth_success_total", "dovecot_auth_failures_total"} {
		if m.get(t, name) <= before[name] {
			t.Errorf("%s did not move: %v -> %v", name, before[name], m[name])
		}
	}
	compared := 0
	for row, v := range dump {
		count, ok := seriesFor(dump, row, "_total")
		if !ok {
			if _, has := m["dovecot_imap_command_total"]; has {
				t.Errorf("unlabelled dovecot_imap_command_total present; Dovecot's OpenMetrics leaves it out")
			}
			continue
		}
		dur, _ := seriesFor(dump, row, "_duration_seconds_total")
		if got := m.get(t, count); got != float64(v[0]) {
			t.Errorf("%s = %v, doveadm says %d", count, got, v[0])
		}
		if got, want := m.get(t, dur), float64(v[1])/1e6; math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v, doveadm says %v", dur, got, want)
		}
		compared++
	}
	if _, has := dump["imap_command_SELECT_OK"]; !has || compared < 6 {
		t.Errorf("compared %d rows; doveadm stats dump gave %v", compared, dump)
	}
}

// export runs EXPORT by hand and returns the rows as header -> value maps.
func export(t *testing.T, socket, scope string) []map[string]string {
	t.Helper()
	c, err := net.DialTimeout("unix", socket, 5*time.Second)
	must(t, err)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "EXPORT\t%s\n", scope)
	r := bufio.NewReader(c)
	var header []string
	var rows []map[string]string
	for {
		line, err := r.ReadString('\n')
		must(t, err)
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			return rows
		}
		cols := strings.Split(line, "\t")
		if header == nil {
			header = cols
			continue
		}
		row := map[string]string{}
		for i, h := range header {
			row[h] = cols[i]
		}
		rows = append(rows, row)
	}
}

func TestOldStatsScopesMatchExport(t *testing.T) {
	t.Parallel()
	d := dv.Start(t, dv.Options{OldStats: true})
	e := startExporter(t, "", "--dovecot.stats-socket="+d.StatsSocket,
		"--dovecot.old-stats-socket="+d.OldStatsSocket,
		"--dovecot.scopes=command,session,user,domain,ip,global")
	logins(t, d)

	scopes := []string{"command", "session", "user", "domain", "ip", "global"}
	var hand map[string][]map[string]string
	var m metrics
	err := proc.WaitFor(20*time.Second, func() error {
		h1 := map[string][]map[string]string{}
		for _, s := range scopes {
			h1[s] = export(t, d.OldStatsSocket, s)
		}
		m = e.scrape(t)
		h2 := map[string][]map[string]string{}
		for _, s := range scopes {
			h2[s] = export(t, d.OldStatsSocket, s)
		}
		if fmt.Sprint(h1) != fmt.Sprint(h2) {
			return fmt.Errorf("old-stats moved during the scrape")
		}
		if len(h2["user"]) < 2 || len(h2["command"]) == 0 {
			return fmt.Errorf("users or commands not there yet: %v", h2)
		}
		hand = h2
		return nil
	})
	must(t, err)
	if m.get(t, "dovecot_up") != 1 || m.get(t, `dovecot_exporter_collector_success{collector="old_stats"}`) != 1 {
		t.Fatalf("old-stats scrape failed")
	}

	// Which column becomes which metric, per the README.
	columns := map[string]string{
		"num_logins": "logins_total", "num_cmds": "commands_total",
		"user_cpu": "user_cpu_seconds_total", "sys_cpu": "system_cpu_seconds_total",
		"clock_time": "clock_time_seconds_total", "read_bytes": "read_bytes_total",
		"write_bytes": "write_bytes_total", "disk_output": "disk_output_bytes_total",
		"min_faults": "minor_faults_total", "mail_read_count": "mail_read_count_total",
		"last_update": "last_update_timestamp_seconds", "reset_timestamp": "reset_timestamp_seconds",
		"num_connected_sessions": "connected_sessions", "connected": "connected",
	}
	labels := map[string][]string{ // label name <- column, in label-name order
		"command": {"args:args", "command:cmd", "session:session", "user:user"},
		"session": {"ip:ip", "service:service", "session:session", "user:user"},
		"user":    {"user:user"},
		"domain":  {"domain:domain"},
		"ip":      {"ip:ip"},
		"global":  nil,
	}
	checked := 0
	for _, scope := range scopes {
		for _, row := range hand[scope] {
			var ls []string
			for _, l := range labels[scope] {
				name, col, _ := strings.Cut(l, ":")
				ls = append(ls, fmt.Sprintf("%s=%q", name, row[col]))
			}
			sel := ""
			if len(ls) > 0 {
				sel = "{" + strings.Join(ls, ",") + "}"
			}
			for col, metric := range columns {
				raw, has := row[col]
				if !has {
					continue
				}
				want, err := strconv.ParseFloat(raw, 64)
				must(t, err)
				series := "dovecot_" + scope + "_" + metric + sel
				if got := m.get(t, series); math.Abs(got-want) > 1e-6*math.Max(1, math.Abs(want)) {
					t.Errorf("%s = %v, EXPORT says %s", series, got, raw)
				}
				checked++
			}
		}
	}
	if checked < 40 {
		t.Errorf("checked only %d values", checked)
	}
	users := []string{}
	for _, r := range hand["user"] {
		users = append(users, r["user"])
	}
	slices.Sort(users)
	if !slices.Equal(users, []string{"alice", "bob@example.org"}) {
		t.Errorf("EXPORT user gave users %v", users)
	}
	if m.get(t, `dovecot_exporter_parse_errors_total{collector="old_stats"}`) != 0 {
		t.Errorf("parse errors on a real EXPORT reply")
	}

	// Prometheus' own linter on the real exposition, all families included.
	promtool := proc.RequireBinary(t, "promtool")
	resp, err := http.Get("http://" + e.addr + "/metrics")
	must(t, err)
	defer resp.Body.Close()
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = resp.Body
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

func TestProbesStopAndRestart(t *testing.T) {
	t.Parallel()
	d := dv.Start(t, dv.Options{})
	e := startExporter(t, "", "--dovecot.stats-socket="+d.StatsSocket, "--dovecot.timeout=2s",
		"--probe=imap="+d.IMAPAddr, "--probe=pop3="+d.POP3Addr, "--probe=lmtp="+d.LMTPAddr)
	services := []string{"imap", "pop3", "lmtp"}
	expect := func(up float64) metrics {
		t.Helper()
		m := e.scrape(t)
		if got := m.get(t, "dovecot_up"); got != up {
			t.Errorf("dovecot_up = %v, want %v", got, up)
		}
		for _, s := range services {
			if got := m.get(t, fmt.Sprintf(`dovecot_probe_success{service=%q}`, s)); got != up {
				t.Errorf("probe %s = %v, want %v", s, got, up)
			}
		}
		return m
	}
	expect(1)

	d.Stop()
	for range 3 {
		m := expect(0)
		if m.withPrefix("dovecot_auth_success") != 0 {
			t.Errorf("statistics served while Dovecot is stopped")
		}
	}
	if n := e.logLines("level=ERROR", "collector=stats"); n != 1 {
		t.Errorf("%d error lines for the stats socket over three failed scrapes, want 1\n%s", n, e.proc.LogTail(4000))
	}

	must(t, d.Restart())
	m := expect(1)
	if m.withPrefix("dovecot_auth_success_total") != 1 {
		t.Errorf("statistics not back after the restart")
	}
	if e.logLines("answers again", "collector=stats") != 1 {
		t.Errorf("recovery not logged")
	}
}

func TestFrozenDovecotTimesOut(t *testing.T) {
	t.Parallel()
	d := dv.Start(t, dv.Options{})
	e := startExporter(t, "", "--dovecot.stats-socket="+d.StatsSocket, "--dovecot.timeout=1s",
		"--probe=imap="+d.IMAPAddr)
	if m := e.scrape(t); m.get(t, "dovecot_up") != 1 {
		t.Fatalf("dovecot_up = 0 before freezing")
	}
	must(t, d.Freeze())
	t.Cleanup(func() { _ = d.Thaw() })
	start := time.Now()
	m := e.scrape(t)
	took := time.Since(start)
	if m.get(t, "dovecot_up") != 0 || m.get(t, `dovecot_probe_success{service="imap"}`) != 0 {
		t.Errorf("frozen Dovecot: up %v, probe %v, want 0 and 0", m["dovecot_up"], m[`dovecot_probe_success{service="imap"}`])
	}
	if took > 3*time.Second {
		t.Errorf("scrape took %v with --dovecot.timeout=1s", took)
	}
	must(t, d.Thaw())
	must(t, proc.WaitFor(10*time.Second, func() error {
		if e.scrape(t)["dovecot_up"] != 1 {
			return fmt.Errorf("not up again after thawing")
		}
		return nil
	}))
}

func TestProbeGivesUpOnSilentListener(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	t.Cleanup(func() { l.Close() })
	go func() {
		var held []net.Conn // accepted and never greeted
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	e := startExporter(t, "", "--dovecot.stats-socket=", "--dovecot.timeout=1s", "--probe=imap="+l.Addr().String())
	start := time.Now()
	m := e.scrape(t)
	took := time.Since(start)
	if m.get(t, `dovecot_probe_success{service="imap"}`) != 0 || m.get(t, "dovecot_up") != 0 {
		t.Errorf("silent listener counted as up")
	}
	if took < 900*time.Millisecond || took > 3*time.Second {
		t.Errorf("scrape took %v, want about the 1s timeout", took)
	}
	if d := m.get(t, `dovecot_probe_duration_seconds{service="imap"}`); d < 0.9 || d > 2 {
		t.Errorf("probe duration %v, want about 1s", d)
	}
	// The scraper's own timeout is honoured too.
	req, _ := http.NewRequest(http.MethodGet, "http://"+e.addr+"/metrics", nil)
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "0.6")
	start = time.Now()
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	if took := time.Since(start); resp.StatusCode != 200 || took > 900*time.Millisecond {
		t.Errorf("with a 0.6s scrape timeout: status %d after %v", resp.StatusCode, took)
	}
}

func TestSocketMissing(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "stats-reader")
	e := startExporter(t, "", "--dovecot.stats-socket="+missing)
	for range 3 {
		m := e.scrape(t)
		if m.get(t, "dovecot_up") != 0 || m.get(t, `dovecot_exporter_collector_success{collector="stats"}`) != 0 {
			t.Errorf("missing socket: up %v", m["dovecot_up"])
		}
	}
	if n := e.logLines("level=ERROR", "no such file"); n != 1 {
		t.Errorf("%d error lines, want 1:\n%s", n, e.proc.LogTail(4000))
	}
}

func TestSocketPermissionDenied(t *testing.T) {
	t.Parallel()
	d := dv.Start(t, dv.Options{}) // stats-reader mode 0600, owned by root
	e := startExporter(t, "nobody", "--dovecot.stats-socket="+d.StatsSocket)
	for range 3 {
		if m := e.scrape(t); m.get(t, "dovecot_up") != 0 {
			t.Errorf("dovecot_up = 1 without access to the socket")
		}
	}
	if n := e.logLines("level=ERROR", "permission denied"); n != 1 {
		t.Errorf("%d error lines, want 1:\n%s", n, e.proc.LogTail(4000))
	}
}

func TestReplyCutInTheMiddle(t *testing.T) {
	t.Parallel()
	socket := filepath.Join(t.TempDir(), "stats-reader")
	l, err := net.Listen("unix", socket)
	must(t, err)
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			// Read the request, answer a real reply's first lines, then end the connection.
			_, _ = bufio.NewReader(c).ReadString('D')
			_, _ = c.Write([]byte("VERSION\tstats-reader-server\t2\t0\nauth_success\t3\t1200\nimap_command\t2\t60"))
			c.Close()
		}
	}()
	e := startExporter(t, "", "--dovecot.stats-socket="+socket)
	m := e.scrape(t)
	if m.get(t, "dovecot_up") != 0 {
		t.Errorf("dovecot_up = 1 for a cut reply")
	}
	if m.withPrefix("dovecot_auth_success") != 0 {
		t.Errorf("half a reply was served")
	}
	if e.logLines("level=ERROR", "ended before") != 1 {
		t.Errorf("cut reply not logged:\n%s", e.proc.LogTail(4000))
	}
}

// BenchmarkScrapeLocalDovecot measures whole scrapes (HTTP GET of
// /metrics) against a local Dovecot and reports the median besides the
// mean: the statistics sources alone (stats-reader DUMP and old-stats EXPORT
// of the user scope), and the same with IMAP, POP3 and LMTP probes, whose
// time is mostly Dovecot starting a login process for each connection.
func BenchmarkScrapeLocalDovecot(b *testing.B) {
	d := dv.Start(b, dv.Options{OldStats: true})
	for range 3 {
		if _, err := d.IMAPLogin("alice", "secret"); err != nil {
			b.Fatal(err)
		}
		if _, err := d.IMAPLogin("alice", "wrong"); err != nil {
			b.Fatal(err)
		}
	}
	bin := proc.Exporter(b, "dovecot_exporter")
	sources := []string{"--dovecot.stats-socket=" + d.StatsSocket,
		"--dovecot.stats-group-by=" + dv.DefaultGroupBy, "--dovecot.old-stats-socket=" + d.OldStatsSocket}
	probes := []string{"--probe=imap=" + d.IMAPAddr, "--probe=pop3=" + d.POP3Addr, "--probe=lmtp=" + d.LMTPAddr}
	for _, bc := range []struct {
		name string
		args []string
	}{
		{"stats+old_stats", sources},
		{"stats+old_stats+probes", append(slices.Clone(sources), probes...)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			addr := fmt.Sprintf("127.0.0.1:%d", proc.FreePort(b))
			p := proc.Start(b, proc.Spec{Name: "dovecot_exporter", Path: bin, Dir: b.TempDir(),
				Args: append([]string{"--web.listen-address=" + addr}, bc.args...)})
			defer p.Stop()
			if err := proc.WaitTCP(addr, 10*time.Second); err != nil {
				b.Fatal(err)
			}
			client := &http.Client{Timeout: 10 * time.Second}
			url := "http://" + addr + "/metrics"
			buf := make([]byte, 32*1024)
			var took []time.Duration
			for b.Loop() {
				start := time.Now()
				resp, err := client.Get(url)
				if err != nil {
					b.Fatal(err)
				}
				var n int
				for {
					k, err := resp.Body.Read(buf)
					n += k
					if err != nil {
						break
					}
				}
				resp.Body.Close()
				took = append(took, time.Since(start))
				if resp.StatusCode != 200 || n == 0 {
					b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
				}
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Nanoseconds()), "median-ns/scrape")
			e := &exporter{addr: addr, proc: p}
			b.ReportMetric(e.scrape(b)["process_resident_memory_bytes"], "exporter-rss-bytes")
		})
	}
}
