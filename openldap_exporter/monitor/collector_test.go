// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package monitor

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/promslog"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func fixtureSearcher(t testing.TB, csn ...string) *fakeSearcher {
	f := &fakeSearcher{results: map[string][]*ldap.Entry{
		MonitorBase: readLDIF(t, "testdata/monitor.ldif"),
	}}
	if len(csn) > 0 {
		kv := []string{}
		for _, c := range csn {
			kv = append(kv, "contextCSN", c)
		}
		f.results["dc=example,dc=org"] = []*ldap.Entry{entry("dc=example,dc=org", kv...)}
	}
	return f
}

// goldenNames are the metrics compared with testdata; durations change from
// run to run.
func goldenNames(t testing.TB, c prometheus.Collector) []string {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		if mf.GetName() != "openldap_exporter_collector_duration_seconds" {
			names = append(names, mf.GetName())
		}
	}
	return names
}

func compareGolden(t *testing.T, c prometheus.Collector, path string) {
	t.Helper()
	names := goldenNames(t, c)
	if *update {
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(c)
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		for _, mf := range mfs {
			if mf.GetName() == "openldap_exporter_collector_duration_seconds" {
				continue
			}
			if _, err := expfmt.MetricFamilyToText(&buf, mf); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := testutil.CollectAndCompare(c, f, names...); err != nil {
		t.Error(err)
	}
}

func TestCollectorGolden(t *testing.T) {
	tests := []struct {
		name     string
		local    *fakeSearcher
		provider Searcher
		golden   string
	}{
		{
			name:   "provider without replication peer",
			local:  fixtureSearcher(t, "20261124042300.104230Z#000000#001#000000", "20261124041000.000000Z#000000#002#000000"),
			golden: "testdata/provider.prom",
		},
		{
			name:  "consumer behind its provider",
			local: fixtureSearcher(t, "20261124042300.104230Z#000000#001#000000"),
			provider: fixtureSearcher(t, "20261124042310.104230Z#000000#001#000000",
				"20261124042400.000000Z#000000#002#000000"),
			golden: "testdata/consumer.prom",
		},
		{
			name:     "provider unreachable",
			local:    fixtureSearcher(t, "20261124042300.104230Z#000000#001#000000"),
			provider: &fakeSearcher{errs: map[string]error{"*": ldap.NewError(ldap.ErrorNetwork, errors.New("connection refused"))}},
			golden:   "testdata/provider_down.prom",
		},
		{
			name:   "slapd down",
			local:  &fakeSearcher{errs: map[string]error{"*": ldap.NewError(ldap.ErrorNetwork, errors.New("connection refused"))}},
			golden: "testdata/down.prom",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewExporter(tt.local, tt.provider, promslog.NewNopLogger())
			compareGolden(t, e.Collector(context.Background()), tt.golden)
		})
	}
}

func TestCollectAndLint(t *testing.T) {
	e := NewExporter(fixtureSearcher(t, "20261124042300.104230Z#000000#001#000000"),
		fixtureSearcher(t, "20261124042310.104230Z#000000#001#000000"), promslog.NewNopLogger())
	problems, err := testutil.CollectAndLint(e.Collector(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

func TestSearchesPerScrape(t *testing.T) {
	local := fixtureSearcher(t, "20261124042300.104230Z#000000#001#000000")
	e := NewExporter(local, nil, promslog.NewNopLogger())
	testutil.CollectAndCount(e.Collector(context.Background()))
	// One search for all of cn=Monitor, one per data suffix for contextCSN.
	if local.calls != 2 {
		t.Errorf("searches per scrape = %d, want 2", local.calls)
	}
}

func TestBadValueIsSkippedAndLoggedAtDebug(t *testing.T) {
	f := &fakeSearcher{results: map[string][]*ldap.Entry{MonitorBase: {
		entry("cn=Total,cn=Connections,cn=Monitor", "monitorCounter", "lots"),
		entry("cn=Current,cn=Connections,cn=Monitor", "monitorCounter", "2"),
	}}}
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := NewExporter(f, nil, logger)
	want := `
# HELP openldap_connections_current Client connections open now (cn=Current,cn=Connections).
# TYPE openldap_connections_current gauge
openldap_connections_current 2
# HELP openldap_exporter_parse_errors_total Monitor or contextCSN values that could not be read and were skipped.
# TYPE openldap_exporter_parse_errors_total counter
openldap_exporter_parse_errors_total 1
# HELP openldap_up Whether slapd answered the read of cn=Monitor in this scrape (1) or not (0).
# TYPE openldap_up gauge
openldap_up 1
`
	if err := testutil.CollectAndCompare(e.Collector(context.Background()), strings.NewReader(want),
		"openldap_up", "openldap_connections_current", "openldap_connections_total", "openldap_exporter_parse_errors_total"); err != nil {
		t.Error(err)
	}
	log := buf.String()
	if !strings.Contains(log, "level=DEBUG") || !strings.Contains(log, `value=lots`) || strings.Contains(log, "level=ERROR") {
		t.Errorf("want one debug line about the value, got:\n%s", log)
	}
}

func TestRepeatedErrorLoggedOnce(t *testing.T) {
	f := &fakeSearcher{errs: map[string]error{"*": ldap.NewError(ldap.LDAPResultInvalidCredentials, errors.New("invalid credentials"))}}
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	e := NewExporter(f, nil, logger)
	for range 5 {
		testutil.CollectAndCount(e.Collector(context.Background()))
	}
	if n := strings.Count(buf.String(), "level=ERROR"); n != 1 {
		t.Errorf("%d error lines, want 1:\n%s", n, buf.String())
	}
	// A different failure is news; recovery is news once.
	f.errs["*"] = ldap.NewError(ldap.ErrorNetwork, errors.New("dial tcp 127.0.0.1:389: connection refused"))
	testutil.CollectAndCount(e.Collector(context.Background()))
	f.errs = nil
	f.results = map[string][]*ldap.Entry{MonitorBase: readLDIF(t, "testdata/monitor.ldif")}
	testutil.CollectAndCount(e.Collector(context.Background()))
	testutil.CollectAndCount(e.Collector(context.Background()))
	log := buf.String()
	if n := strings.Count(log, "level=ERROR"); n != 2 {
		t.Errorf("%d error lines, want 2:\n%s", n, log)
	}
	if n := strings.Count(log, "reading works again"); n != 1 {
		t.Errorf("%d recovery lines, want 1:\n%s", n, log)
	}
}

func TestEmptyMonitorIsDown(t *testing.T) {
	f := &fakeSearcher{results: map[string][]*ldap.Entry{MonitorBase: nil}}
	e := NewExporter(f, nil, promslog.NewNopLogger())
	want := "# HELP openldap_up Whether slapd answered the read of cn=Monitor in this scrape (1) or not (0).\n# TYPE openldap_up gauge\nopenldap_up 0\n"
	if err := testutil.CollectAndCompare(e.Collector(context.Background()), strings.NewReader(want), "openldap_up"); err != nil {
		t.Error(err)
	}
}
