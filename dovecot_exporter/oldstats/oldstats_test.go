// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package oldstats

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/promslog"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestReadTable(t *testing.T) {
	tests := []struct {
		name    string
		reply   string
		want    Table
		bad     int
		wantErr error
	}{
		{
			name:  "header and rows",
			reply: "user\tnum_logins\nalice\t1\nbob\t2\n\n",
			want:  Table{Header: []string{"user", "num_logins"}, Rows: [][]string{{"alice", "1"}, {"bob", "2"}}},
		},
		{
			name:  "text columns may be empty",
			reply: "cmd\targs\tnum\nLOGOUT\t\t1\n\n",
			want:  Table{Header: []string{"cmd", "args", "num"}, Rows: [][]string{{"LOGOUT", "", "1"}}},
		},
		{
			name:  "rows of the wrong width are counted",
			reply: "a\tb\n1\n1\t2\t3\n1\t2\n\n",
			want:  Table{Header: []string{"a", "b"}, Rows: [][]string{{"1", "2"}}},
			bad:   2,
		},
		{
			name:  "nothing matched",
			reply: "\n",
		},
		{
			name:    "cut in the middle",
			reply:   "user\tnum_logins\nalice\t1\nbo",
			want:    Table{Header: []string{"user", "num_logins"}, Rows: [][]string{{"alice", "1"}}},
			wantErr: ErrTruncated,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, bad, err := ReadTable(bufio.NewReader(strings.NewReader(tt.reply)))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" || bad != tt.bad {
				t.Errorf("ReadTable: bad %d, want %d; (-want +got):\n%s", bad, tt.bad, diff)
			}
		})
	}
}

func TestReadTableLeavesNextReply(t *testing.T) {
	br := bufio.NewReader(strings.NewReader("a\n1\n\nb\n2\n\n"))
	for _, want := range []string{"a", "b"} {
		tab, _, err := ReadTable(br)
		if err != nil || tab.Header[0] != want {
			t.Fatalf("got %v, %v; want header %s", tab, err, want)
		}
	}
}

// fakeOldStats answers EXPORT <scope> with testdata/<scope>.txt.
func fakeOldStats(t *testing.T) string {
	t.Helper()
	socket := filepath.Join(t.TempDir(), "old-stats")
	l, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					scope := strings.TrimSpace(strings.TrimPrefix(line, "EXPORT\t"))
					b, err := os.ReadFile(filepath.Join("testdata", scope+".txt"))
					if err != nil {
						b = []byte("\n")
					}
					_, _ = c.Write(b)
				}
			}()
		}
	}()
	return socket
}

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
	parseErrors := prometheus.NewCounter(prometheus.CounterOpts{Name: "parse_errors_total"})
	s := New(Config{
		Socket:      fakeOldStats(t),
		Scopes:      []string{"command", "session", "user", "domain", "global"},
		ParseErrors: parseErrors,
	}, promslog.NewNopLogger())
	c := &scraperCollector{s: s}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil || c.err != nil {
		t.Fatalf("gather: %v, scrape: %v", err, c.err)
	}
	var got bytes.Buffer
	enc := expfmt.NewEncoder(&got, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	golden := "testdata/scopes.golden"
	if *update {
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if err := testutil.CollectAndCompare(c, bytes.NewReader(want)); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
	// Per scrape: one short command row, one unparsable "x".
	if n := testutil.ToFloat64(parseErrors); n != 3*2 {
		t.Errorf("parse errors after three scrapes = %v, want 6", n)
	}
}

func TestScrapeCutReply(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "old-stats")
	l, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		_, _ = bufio.NewReader(c).ReadString('\n')
		_, _ = c.Write([]byte("user\tnum_logins\nalice\t1\nbo"))
		c.Close()
	}()
	s := New(Config{Socket: socket, Scopes: []string{"user"}}, promslog.NewNopLogger())
	ch := make(chan prometheus.Metric, 100)
	err = s.Scrape(context.Background(), ch)
	if !errors.Is(err, ErrTruncated) || len(ch) != 0 {
		t.Errorf("err %v, %d metrics; want ErrTruncated and none", err, len(ch))
	}
}

func TestValidateScopes(t *testing.T) {
	if err := ValidateScopes([]string{"user", "global"}); err != nil {
		t.Error(err)
	}
	if err := ValidateScopes([]string{"users"}); err == nil || !strings.Contains(err.Error(), `unknown scope "users"`) {
		t.Errorf("err = %v", err)
	}
	if err := ValidateScopes(nil); err == nil {
		t.Error("no error for no scopes")
	}
}

func FuzzReadTable(f *testing.F) {
	for _, s := range Scopes {
		if b, err := os.ReadFile(filepath.Join("testdata", s+".txt")); err == nil {
			f.Add(s, string(b))
		}
	}
	f.Add("user", "user\tnum_logins\nalice\t1\n\n")
	f.Fuzz(func(t *testing.T, scope, reply string) {
		br := bufio.NewReader(strings.NewReader(reply))
		tab, _, _ := ReadTable(br)
		for _, r := range tab.Rows {
			if len(r) != len(tab.Header) {
				t.Fatalf("row %q does not fit header %q", r, tab.Header)
			}
		}
		s := New(Config{}, promslog.NewNopLogger())
		ch := make(chan prometheus.Metric, 64)
		go func() {
			s.Emit(scope, tab, ch)
			close(ch)
		}()
		for range ch {
		}
	})
}
