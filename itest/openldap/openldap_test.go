// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package openldap

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/downwatch/downwatch/itest/daemon/proc"
	"github.com/downwatch/downwatch/itest/daemon/slapd"
)

// ldif reads `ldapsearch -LLL -o ldif-wrap=no` output into dn -> attr -> values.
func ldif(out string) map[string]map[string][]string {
	m := map[string]map[string][]string{}
	var cur map[string][]string
	for _, l := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(l, ": ")
		if !ok {
			continue
		}
		if k == "dn" {
			cur = map[string][]string{}
			m[v] = cur
			continue
		}
		if cur != nil {
			cur[k] = append(cur[k], v)
		}
	}
	return m
}

func readMonitor(t *testing.T, s *slapd.Server) map[string]map[string][]string {
	t.Helper()
	out, err := s.Ldapsearch(context.Background(), "-b", "cn=Monitor", "(!(objectClass=monitorConnection))",
		"monitorCounter", "monitoredInfo", "monitorOpInitiated", "monitorOpCompleted", "monitorTimestamp",
		"olmMDBPagesMax", "olmMDBReadersMax", "olmMDBEntries", "namingContexts", "labeledURI")
	if err != nil {
		t.Fatal(err)
	}
	return ldif(out)
}

func num(t *testing.T, m map[string]map[string][]string, dn, attr string) float64 {
	t.Helper()
	vs := m[dn][attr]
	if len(vs) == 0 {
		t.Fatalf("ldapsearch: no %s in %s", attr, dn)
	}
	f, err := strconv.ParseFloat(vs[0], 64)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestValuesMatchLdapsearch compares the exposition with what ldapsearch
// reads from the same cn=Monitor: values that do not move must be equal;
// counters must lie between a read before and a read after the scrape.
func TestValuesMatchLdapsearch(t *testing.T) {
	t.Parallel()
	s := slapd.Start(t, slapd.Options{})
	e := startExporter(t, "--ldap.uri="+s.LDAPIURI)
	before := readMonitor(t, s)
	r := e.scrape(t, "")
	after := readMonitor(t, s)
	if r.up(t) != 1 {
		t.Fatalf("up = 0:\n%s", r.body)
	}

	stable := []struct {
		metric string
		labels []string
		dn     string
		attr   string
	}{
		{"openldap_threads_max", nil, "cn=Max,cn=Threads,cn=Monitor", "monitoredInfo"},
		{"openldap_threads_max_pending", nil, "cn=Max Pending,cn=Threads,cn=Monitor", "monitoredInfo"},
		{"openldap_connections_max_file_descriptors", nil, "cn=Max File Descriptors,cn=Connections,cn=Monitor", "monitorCounter"},
		{"openldap_mdb_pages_max", []string{"suffix", s.Suffix}, "cn=Database 1,cn=Databases,cn=Monitor", "olmMDBPagesMax"},
		{"openldap_mdb_readers_max", []string{"suffix", s.Suffix}, "cn=Database 1,cn=Databases,cn=Monitor", "olmMDBReadersMax"},
		{"openldap_mdb_entries", []string{"suffix", s.Suffix}, "cn=Database 1,cn=Databases,cn=Monitor", "olmMDBEntries"},
	}
	for _, c := range stable {
		want := num(t, after, c.dn, c.attr)
		if got := r.mustValue(t, c.metric, c.labels...); got != want {
			t.Errorf("%s = %v, ldapsearch %s %s = %v", c.metric, got, c.dn, c.attr, want)
		}
	}

	moving := []struct {
		metric string
		labels []string
		dn     string
		attr   string
	}{
		{"openldap_connections_total", nil, "cn=Total,cn=Connections,cn=Monitor", "monitorCounter"},
		{"openldap_sent_bytes_total", nil, "cn=Bytes,cn=Statistics,cn=Monitor", "monitorCounter"},
		{"openldap_sent_pdus_total", nil, "cn=PDU,cn=Statistics,cn=Monitor", "monitorCounter"},
		{"openldap_sent_entries_total", nil, "cn=Entries,cn=Statistics,cn=Monitor", "monitorCounter"},
		{"openldap_sent_referrals_total", nil, "cn=Referrals,cn=Statistics,cn=Monitor", "monitorCounter"},
		{"openldap_uptime_seconds", nil, "cn=Uptime,cn=Time,cn=Monitor", "monitoredInfo"},
	}
	for _, op := range []string{"Bind", "Unbind", "Search", "Compare", "Modify", "Modrdn", "Add", "Delete", "Abandon", "Extended"} {
		dn := "cn=" + op + ",cn=Operations,cn=Monitor"
		l := []string{"operation", strings.ToLower(op)}
		moving = append(moving,
			struct {
				metric string
				labels []string
				dn     string
				attr   string
			}{"openldap_operations_initiated_total", l, dn, "monitorOpInitiated"},
			struct {
				metric string
				labels []string
				dn     string
				attr   string
			}{"openldap_operations_completed_total", l, dn, "monitorOpCompleted"})
	}
	for _, c := range moving {
		lo, hi := num(t, before, c.dn, c.attr), num(t, after, c.dn, c.attr)
		if got := r.mustValue(t, c.metric, c.labels...); got < lo || got > hi {
			t.Errorf("%s%v = %v, ldapsearch read %v before and %v after", c.metric, c.labels, got, lo, hi)
		}
	}
	for _, name := range []string{"openldap_connections_current", "openldap_threads_active", "openldap_threads_open",
		"openldap_threads_backload", "openldap_threads_pending", "openldap_threads_starting",
		"openldap_waiters_read", "openldap_waiters_write", "openldap_mdb_pages_used", "openldap_mdb_pages_free",
		"openldap_mdb_readers_used"} {
		r.mustValue(t, name)
	}

	start, _ := time.Parse("20060102150405Z", after["cn=Start,cn=Time,cn=Monitor"]["monitorTimestamp"][0])
	if got := r.mustValue(t, "openldap_start_time_seconds"); got != float64(start.Unix()) {
		t.Errorf("start time %v, ldapsearch %v", got, start.Unix())
	}
	r.mustValue(t, "openldap_server_info", "version", after["cn=Monitor"]["monitoredInfo"][0])
	r.mustValue(t, "openldap_database_info", "backend", "mdb", "suffix", s.Suffix, "shadow", "false")
	r.mustValue(t, "openldap_listener_info", "url", s.URI+"/")
	r.mustValue(t, "openldap_listener_info", "url", s.LDAPIURI)

	csns, err := s.ContextCSN(context.Background())
	if err != nil || len(csns) != 1 {
		t.Fatalf("contextCSN %v, %v", csns, err)
	}
	want, _ := time.Parse("20060102150405.000000Z", strings.Split(csns[0], "#")[0])
	got := r.mustValue(t, "openldap_replication_context_csn_timestamp_seconds", "suffix", s.Suffix, "server_id", "1")
	if d := got - float64(want.UnixNano())/1e9; d < -1e-6 || d > 1e-6 {
		t.Errorf("contextCSN time %v, ldapsearch %s", got, csns[0])
	}
	if _, ok := r.value("openldap_replication_lag_seconds"); ok {
		t.Errorf("lag without a provider")
	}
}

// TestAuthAndTLS reads cn=Monitor in every supported way: the ACL of the
// harness grants cn=Monitor and contextCSN only to root over ldapi, the
// exporter's account and the client certificate's subject.
func TestAuthAndTLS(t *testing.T) {
	t.Parallel()
	s := slapd.Start(t, slapd.Options{TLS: true})
	bind := []string{"--ldap.bind-dn=" + s.MonitorDN, "--ldap.password-file=" + s.MonitorPasswordFile}
	tests := []struct {
		name   string
		args   []string
		wantUp float64
	}{
		{"ldapi SASL EXTERNAL", []string{"--ldap.uri=" + s.LDAPIURI}, 1},
		{"ldapi ignores StartTLS", []string{"--ldap.uri=" + s.LDAPIURI, "--ldap.start-tls", "--ldap.ca-file=" + s.CAFile}, 1},
		{"ldap simple bind", append([]string{"--ldap.uri=" + s.URI}, bind...), 1},
		{"ldap StartTLS", append([]string{"--ldap.uri=" + s.URI, "--ldap.start-tls", "--ldap.ca-file=" + s.CAFile}, bind...), 1},
		{"ldaps", append([]string{"--ldap.uri=" + s.LDAPSURI, "--ldap.ca-file=" + s.CAFile}, bind...), 1},
		{"ldaps server name", append([]string{"--ldap.uri=" + strings.Replace(s.LDAPSURI, "127.0.0.1", "[::ffff:127.0.0.1]", 1),
			"--ldap.ca-file=" + s.CAFile, "--ldap.server-name=localhost"}, bind...), 1},
		{"ldaps client certificate SASL EXTERNAL", []string{"--ldap.uri=" + s.LDAPSURI, "--ldap.ca-file=" + s.CAFile,
			"--ldap.cert-file=" + s.ClientCertFile, "--ldap.key-file=" + s.ClientKeyFile}, 1},
		// Verification is on by default: the system pool lacks the test CA.
		{"ldaps unknown CA", append([]string{"--ldap.uri=" + s.LDAPSURI}, bind...), 0},
		{"StartTLS wrong server name", append([]string{"--ldap.uri=" + s.URI, "--ldap.start-tls", "--ldap.ca-file=" + s.CAFile,
			"--ldap.server-name=ldap.example.org"}, bind...), 0},
		// Anonymous may connect but not read cn=Monitor: the search finds
		// nothing it may see, which is a failure, not an empty success.
		{"anonymous", []string{"--ldap.uri=" + s.URI}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := startExporter(t, tt.args...)
			r := e.scrape(t, "")
			if got := r.up(t); got != tt.wantUp {
				t.Fatalf("up = %v, want %v\n%s\nlog:\n%s", got, tt.wantUp, r.body, e.p.LogTail(2000))
			}
			if tt.wantUp == 1 {
				r.mustValue(t, "openldap_replication_context_csn_timestamp_seconds", "suffix", s.Suffix, "server_id", "1")
				r.mustValue(t, "openldap_operations_initiated_total", "operation", "bind")
			}
		})
	}
}

// TestWrongPassword: every scrape says up 0 with HTTP 200, and the log says
// so once, not once per scrape.
func TestWrongPassword(t *testing.T) {
	t.Parallel()
	s := slapd.Start(t, slapd.Options{})
	pw := filepath.Join(t.TempDir(), "wrong")
	if err := os.WriteFile(pw, []byte("not-the-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := startExporter(t, "--ldap.uri="+s.URI, "--ldap.bind-dn="+s.MonitorDN, "--ldap.password-file="+pw)
	for range 5 {
		if r := e.scrape(t, ""); r.up(t) != 0 {
			t.Fatalf("up = 1 with a wrong password")
		}
	}
	log := e.p.LogTail(100000)
	errLines := 0
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "level=ERROR") {
			errLines++
			if !strings.Contains(l, "Invalid Credentials") || !strings.Contains(l, s.MonitorDN) {
				t.Errorf("error line does not say what is wrong: %s", l)
			}
		}
	}
	if errLines != 1 {
		t.Errorf("%d error lines for 5 failed scrapes, want 1:\n%s", errLines, log)
	}
}

// TestFaults: slapd stopped, restarted and frozen, with one exporter process
// throughout.
func TestFaults(t *testing.T) {
	t.Parallel()
	s := slapd.Start(t, slapd.Options{})
	for _, tc := range []struct{ name, uri string }{{"ldap", s.URI}, {"ldapi", s.LDAPIURI}} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"--ldap.uri=" + tc.uri, "--ldap.timeout=2s"}
			if tc.name == "ldap" {
				args = append(args, "--ldap.bind-dn="+s.MonitorDN, "--ldap.password-file="+s.MonitorPasswordFile)
			}
			e := startExporter(t, args...)
			if r := e.scrape(t, ""); r.up(t) != 1 {
				t.Fatalf("up = 0 at start:\n%s", e.p.LogTail(2000))
			}

			s.Stop()
			r := e.scrape(t, "")
			if r.up(t) != 0 || r.took > 2*time.Second {
				t.Errorf("slapd stopped: up %v after %v, want 0 at once", r.mustValue(t, "openldap_up"), r.took)
			}

			if err := s.Restart(); err != nil {
				t.Fatal(err)
			}
			if r := e.scrape(t, ""); r.up(t) != 1 {
				t.Errorf("slapd restarted: up 0 on the first scrape:\n%s", e.p.LogTail(2000))
			}

			if err := s.Freeze(); err != nil {
				t.Fatal(err)
			}
			r = e.scrape(t, "")
			if r.up(t) != 0 || r.took > 3*time.Second {
				t.Errorf("slapd frozen: up %v after %v, want 0 within the 2s timeout", r.mustValue(t, "openldap_up"), r.took)
			}
			// The scraper's header lowers the timeout further.
			r = e.scrape(t, "1")
			if r.up(t) != 0 || r.took > 1500*time.Millisecond {
				t.Errorf("slapd frozen, 1s scrape timeout: up %v after %v", r.mustValue(t, "openldap_up"), r.took)
			}
			if err := s.Thaw(); err != nil {
				t.Fatal(err)
			}
			if r := e.scrape(t, ""); r.up(t) != 1 {
				t.Errorf("slapd thawed: up 0:\n%s", e.p.LogTail(2000))
			}
			if r := e.scrape(t, ""); r.status != http.StatusOK {
				t.Errorf("status %d", r.status)
			}
		})
	}
}

// TestReplication runs a provider and a syncrepl consumer that reaches it
// through a proxy the test can cut. The exporter of the consumer compares
// its contextCSN with the provider's.
func TestReplication(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prov := slapd.Start(t, slapd.Options{Name: "provider", ServerID: 1})
	px := startProxy(t, fmt.Sprintf("127.0.0.1:%d", prov.Port))
	cons := slapd.Start(t, slapd.Options{Name: "consumer", Provider: prov, ProviderURI: px.URI()})

	// The exporter's account is replicated, so one password serves both.
	bind := []string{"--ldap.bind-dn=" + prov.MonitorDN, "--ldap.password-file=" + prov.MonitorPasswordFile, "--ldap.timeout=3s"}
	ec := startExporter(t, append([]string{"--ldap.uri=" + cons.URI, "--replication.provider-uri=" + prov.URI}, bind...)...)
	ep := startExporter(t, append([]string{"--ldap.uri=" + prov.URI}, bind...)...)

	lag := func() (float64, scrapeResult) {
		r := ec.scrape(t, "")
		v, ok := r.value("openldap_replication_lag_seconds", "suffix", prov.Suffix, "server_id", "1")
		if !ok {
			return -1, r
		}
		return v, r
	}
	waitLag0 := func(what string) scrapeResult {
		t.Helper()
		var last scrapeResult
		err := proc.WaitFor(20*time.Second, func() error {
			v, r := lag()
			last = r
			if v != 0 {
				return fmt.Errorf("lag %v", v)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v\n%s\nconsumer log:\n%s", what, err, last.body, proc.FileTail(cons.LogPath(), 2000))
		}
		return last
	}

	if err := prov.Touch(ctx); err != nil {
		t.Fatal(err)
	}
	r := waitLag0("initial sync")
	if r.up(t) != 1 || r.mustValue(t, "openldap_replication_provider_up") != 1 {
		t.Fatalf("consumer scrape:\n%s", r.body)
	}
	r.mustValue(t, "openldap_database_info", "suffix", cons.Suffix, "shadow", "true")
	consCSN := r.mustValue(t, "openldap_replication_context_csn_timestamp_seconds", "suffix", cons.Suffix, "server_id", "1")
	if pc := r.mustValue(t, "openldap_replication_provider_context_csn_timestamp_seconds", "suffix", cons.Suffix, "server_id", "1"); pc != consCSN {
		t.Errorf("in sync but provider CSN %v != consumer CSN %v", pc, consCSN)
	}
	rp := ep.scrape(t, "")
	if got := rp.mustValue(t, "openldap_replication_context_csn_timestamp_seconds", "suffix", prov.Suffix, "server_id", "1"); got != consCSN {
		t.Errorf("provider's own exporter says %v, consumer %v", got, consCSN)
	}
	rp.mustValue(t, "openldap_database_info", "suffix", prov.Suffix, "shadow", "false")

	// Cut the consumer off: the lag grows with every change on the provider.
	px.Cut()
	var lags []float64
	for range 3 {
		time.Sleep(1100 * time.Millisecond)
		if err := prov.Touch(ctx); err != nil {
			t.Fatal(err)
		}
		v, r := lag()
		if r.up(t) != 1 {
			t.Fatalf("consumer down while only cut off")
		}
		lags = append(lags, v)
	}
	if !(lags[0] >= 1 && lags[1] > lags[0] && lags[2] > lags[1]) {
		t.Errorf("lag while cut off: %v, want growing from >= 1s", lags)
	}
	px.Heal()
	waitLag0("after the cut")

	// Stop the consumer itself: its exporter says so, and once it is back
	// it catches up and the lag returns to 0.
	cons.Stop()
	if r := ec.scrape(t, ""); r.up(t) != 0 {
		t.Errorf("consumer stopped: up 1")
	}
	for range 2 {
		if err := prov.Touch(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := cons.Restart(); err != nil {
		t.Fatal(err)
	}
	waitLag0("after the consumer's restart")
}

// TestBadInputExits: each bad flag stops the exporter with one line that
// names it.
func TestBadInputExits(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad URI", []string{"--ldap.uri=ldap//127.0.0.1"}, "--ldap.uri=ldap//127.0.0.1: "},
		{"unknown scheme", []string{"--ldap.uri=http://127.0.0.1"}, "--ldap.uri=http://127.0.0.1: unknown scheme"},
		{"bad provider URI", []string{"--replication.provider-uri=ldap://:x"}, "--replication.provider-uri=ldap://:x: "},
		{"missing password file", []string{"--ldap.uri=ldap://127.0.0.1", "--ldap.bind-dn=cn=x", "--ldap.password-file=" + missing},
			"--ldap.password-file=" + missing + ": open " + missing + ": no such file or directory"},
		{"unreadable CA file", []string{"--ldap.uri=ldaps://127.0.0.1", "--ldap.ca-file=" + missing}, "--ldap.ca-file=" + missing},
		{"CA file without a certificate", []string{"--ldap.uri=ldaps://127.0.0.1", "--ldap.ca-file=" + notPEM},
			"--ldap.ca-file=" + notPEM + ": no PEM certificate in it"},
		{"StartTLS on ldaps", []string{"--ldap.uri=ldaps://127.0.0.1", "--ldap.start-tls"}, "--ldap.start-tls"},
		{"zero timeout", []string{"--ldap.timeout=0s"}, "--ldap.timeout=0s: must be positive"},
	}
	bin := proc.Exporter(t, "openldap_exporter")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{fmt.Sprintf("--web.listen-address=127.0.0.1:%d", proc.FreePort(t))}, tt.args...)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, args...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			if err == nil || ctx.Err() != nil {
				t.Fatalf("err = %v, want a non-zero exit", err)
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, "openldap_exporter: error: ") || !strings.Contains(last, tt.want) {
				t.Errorf("last line %q, want openldap_exporter: error: …%s…", last, tt.want)
			}
			for _, l := range lines[:len(lines)-1] {
				if strings.Contains(l, "level=ERROR") {
					t.Errorf("error reported twice: %q", l)
				}
			}
		})
	}
}
