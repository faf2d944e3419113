// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package stats

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/promslog"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fakeReader serves one canned reply per connection on a unix socket in a
// temporary directory, after checking the request.
func fakeReader(t *testing.T, reply string) (string, chan string) {
	t.Helper()
	socket := filepath.Join(t.TempDir(), "stats-reader")
	l, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	requests := make(chan string, 10)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("VERSION\tstats-reader-server\t2\t0\n"))
			r := bufio.NewReader(c)
			v, _ := r.ReadString('\n')
			d, _ := r.ReadString('\n')
			requests <- v + d
			_, _ = c.Write([]byte(reply))
			c.Close()
		}
	}()
	return socket, requests
}

// scraperCollector adapts a Scraper to prometheus.Collector for testutil.
type scraperCollector struct {
	s   *Scraper
	err error
}

func (c *scraperCollector) Describe(chan<- *prometheus.Desc) {}
func (c *scraperCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.err = c.s.Scrape(ctx, ch)
}

func TestScrapeGolden(t *testing.T) {
	reply, err := os.ReadFile("testdata/dump.txt")
	if err != nil {
		t.Fatal(err)
	}
	socket, requests := fakeReader(t, string(reply))
	parseErrors := prometheus.NewCounter(prometheus.CounterOpts{Name: "parse_errors_total"})
	s := New(Config{
		Socket:      socket,
		GroupBy:     GroupBy{"imap_command": {"cmd_name", "tagged_reply_state"}},
		ParseErrors: parseErrors,
	}, promslog.NewNopLogger())
	c := &scraperCollector{s: s}

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	got := exposition(t, reg)
	if c.err != nil {
		t.Fatalf("scrape: %v", c.err)
	}
	golden := "testdata/dump.golden"
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := testutil.CollectAndCompare(c, mustOpen(t, golden)); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
	if n := testutil.ToFloat64(parseErrors); n != 3*1 {
		t.Errorf("parse errors after three scrapes = %v, want 3 (one bad line each)", n)
	}
	if req := <-requests; req != "VERSION\tstats-reader-client\t2\t0\nDUMP\tcount\tsum\n" {
		t.Errorf("request %q", req)
	}
}

// exposition gathers reg in the text format. (testutil.CollectAndFormat
// keeps only the families it is given by name.)
func exposition(t *testing.T, reg prometheus.Gatherer) []byte {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func mustOpen(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestScrapeFailures(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		socket  func(t *testing.T) string
		wantErr string
	}{
		{"missing socket", func(*testing.T) string { return filepath.Join(dir, "none") }, "no such file"},
		{"cut reply", func(t *testing.T) string {
			s, _ := fakeReader(t, "auth_success\t1\t2\nimap_comm")
			return s
		}, "ended before"},
		{"wrong protocol", func(t *testing.T) string {
			socket := filepath.Join(t.TempDir(), "s")
			l, err := net.Listen("unix", socket)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			go func() {
				c, err := l.Accept()
				if err == nil {
					_, _ = c.Write([]byte("VERSION\tstats-reader-server\t3\t0\n"))
					time.Sleep(100 * time.Millisecond)
					c.Close()
				}
			}()
			return socket
		}, "unexpected handshake"},
		{"silent server", func(t *testing.T) string {
			socket := filepath.Join(t.TempDir(), "s")
			l, err := net.Listen("unix", socket)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			return socket // accepted by the kernel, never answered
		}, "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(Config{Socket: tt.socket(t)}, promslog.NewNopLogger())
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			ch := make(chan prometheus.Metric, 100)
			start := time.Now()
			err := s.Scrape(ctx, ch)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
			if len(ch) != 0 {
				t.Errorf("%d metrics sent by a failed scrape", len(ch))
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %v past a 300ms deadline", d)
			}
		})
	}
}
