// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package openldap

import (
	"context"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/promslog"

	"github.com/downwatch/downwatch/itest/daemon/slapd"
	"github.com/downwatch/downwatch/openldap_exporter/monitor"
)

// newInProcess builds the exporter's collector in this process, reading s
// over ldapi with SASL EXTERNAL, or over ldap:// with the exporter account.
func newInProcess(t testing.TB, s *slapd.Server, ldapi bool) (*monitor.Exporter, *monitor.Client) {
	t.Helper()
	uri, dn, pw := s.URI, s.MonitorDN, s.MonitorPasswordFile
	if ldapi {
		uri, dn, pw = s.LDAPIURI, "", ""
	}
	cfg, err := monitor.NewConfig("ldap.uri", uri, dn, pw, false, monitor.TLSOptions{}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := monitor.NewClient(cfg)
	t.Cleanup(c.Close)
	return monitor.NewExporter(c, nil, promslog.NewNopLogger()), c
}

func gather(t testing.TB, e *monitor.Exporter) float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	reg := prometheus.NewRegistry()
	reg.MustRegister(e.Collector(ctx))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "openldap_up" {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("no openldap_up")
	return 0
}

// TestRoundTripsAndConnectionReuse: after the first scrape (dial + bind),
// each scrape is one search for cn=Monitor and one per suffix for
// contextCSN, over the same connection.
func TestRoundTripsAndConnectionReuse(t *testing.T) {
	t.Parallel()
	s := slapd.Start(t, slapd.Options{})
	for _, ldapi := range []bool{true, false} {
		e, c := newInProcess(t, s, ldapi)
		if gather(t, e) != 1 {
			t.Fatal("up 0")
		}
		rt, dials := c.RoundTrips(), c.Dials()
		for range 5 {
			if gather(t, e) != 1 {
				t.Fatal("up 0")
			}
		}
		if got := c.RoundTrips() - rt; got != 10 {
			t.Errorf("ldapi=%v: %d round trips in 5 scrapes, want 10", ldapi, got)
		}
		if c.Dials() != dials {
			t.Errorf("ldapi=%v: %d dials, want the connection reused", ldapi, c.Dials()-dials)
		}
	}
}

// TestConcurrentScrapes share one connection safely (run with -race).
func TestConcurrentScrapes(t *testing.T) {
	t.Parallel()
	s := slapd.Start(t, slapd.Options{})
	e, c := newInProcess(t, s, true)
	var wg sync.WaitGroup
	var mu sync.Mutex
	downs := 0
	for range 8 {
		wg.Go(func() {
			for range 5 {
				if gather(t, e) != 1 {
					mu.Lock()
					downs++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if downs != 0 || c.Dials() != 1 {
		t.Errorf("%d scrapes down, %d dials; want 0 and 1", downs, c.Dials())
	}
	problems, err := testutil.CollectAndLint(e.Collector(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// TestFrozenSlapdInProcess: scrapes of a frozen slapd end with their
// context, and leave no goroutines behind once slapd is back.
//
// Not parallel: it counts the goroutines of the whole test binary.
func TestFrozenSlapdInProcess(t *testing.T) {
	s := slapd.Start(t, slapd.Options{})
	e, _ := newInProcess(t, s, false)
	if gather(t, e) != 1 {
		t.Fatal("up 0")
	}
	before := runtime.NumGoroutine()
	if err := s.Freeze(); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		reg := prometheus.NewRegistry()
		reg.MustRegister(e.Collector(ctx))
		t0 := time.Now()
		mfs, err := reg.Gather()
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if took := time.Since(t0); took > time.Second {
			t.Errorf("scrape of a frozen slapd took %v with a 300ms context", took)
		}
		for _, mf := range mfs {
			if mf.GetName() == "openldap_up" && mf.GetMetric()[0].GetGauge().GetValue() != 0 {
				t.Error("up 1 while frozen")
			}
		}
	}
	if err := s.Thaw(); err != nil {
		t.Fatal(err)
	}
	if gather(t, e) != 1 {
		t.Fatal("up 0 after thaw")
	}
	var after int
	for range 50 {
		if after = runtime.NumGoroutine(); after <= before+2 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if after > before+2 {
		t.Errorf("%d goroutines before freezing, %d after thawing", before, after)
	}
}

// BenchmarkScrape is a full scrape (cn=Monitor and contextCSN, gathered
// into a registry) by the in-process collector against a local slapd.
func BenchmarkScrape(b *testing.B) {
	s := slapd.Start(b, slapd.Options{})
	for _, mode := range []struct {
		name  string
		ldapi bool
	}{{"ldapi_external", true}, {"ldap_simple", false}} {
		b.Run(mode.name, func(b *testing.B) {
			e, c := newInProcess(b, s, mode.ldapi)
			gather(b, e) // dial and bind outside the measurement
			rt := c.RoundTrips()
			durs := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				if gather(b, e) != 1 {
					b.Fatal("up 0")
				}
				durs = append(durs, time.Since(t0))
			}
			b.StopTimer()
			sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
			b.ReportMetric(float64(durs[len(durs)/2].Nanoseconds()), "median-ns")
			b.ReportMetric(float64(c.RoundTrips()-rt)/float64(b.N), "ldap-requests/op")
		})
	}
}

// BenchmarkExporterProcess scrapes the exporter binary over HTTP and reports
// its resident memory afterwards.
func BenchmarkExporterProcess(b *testing.B) {
	s := slapd.Start(b, slapd.Options{})
	e := startExporter(b, "--ldap.uri="+s.LDAPIURI)
	e.scrape(b, "")
	durs := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		r := e.scrape(b, "")
		if r.up(b) != 1 {
			b.Fatal("up 0")
		}
		durs = append(durs, r.took)
	}
	b.StopTimer()
	sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
	b.ReportMetric(float64(durs[len(durs)/2].Nanoseconds()), "median-ns")
	b.ReportMetric(float64(vmRSS(b, e.p.PID())), "rss-KiB")
}

// vmRSS reads a process's resident set size in KiB from /proc.
func vmRSS(b testing.TB, pid int) int {
	st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(st), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
