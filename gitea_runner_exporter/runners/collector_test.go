// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package runners

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// listFunc turns a function into a Lister.
type listFunc func(context.Context) ([]Runner, error)

func (f listFunc) List(ctx context.Context) ([]Runner, error) { return f(ctx) }

func fixed(rs []Runner, err error) Lister {
	return listFunc(func(context.Context) ([]Runner, error) { return rs, err })
}

// The two runners of the plan's fw host, one of them re-registered under
// its old name (the old entry stays behind, offline), and a third runner
// that is expected but was deleted.
var planRunners = []Runner{
	{ID: 3, Name: "git-runner-1", Status: "online", Busy: true, Labels: []Label{
		{ID: 1, Name: "ubuntu-latest", Type: "custom"}, {ID: 2, Name: "nixos", Type: "custom"}, {ID: 3, Name: "nixos", Type: "custom"}}},
	{ID: 4, Name: "git-runner-2", Status: "offline", Labels: []Label{{ID: 4, Name: "nixos", Type: "custom"}}},
	{ID: 7, Name: "git-runner-2", Status: "online", Ephemeral: true},
	{ID: 9, Name: "builder", Status: "online"},
}

func TestCollectorGolden(t *testing.T) {
	tests := []struct {
		name     string
		list     Lister
		expected []string
		golden   string
	}{
		{name: "plan runners, one expected runner missing", list: fixed(planRunners, nil),
			expected: []string{"git-runner-1", "git-runner-2", "git-runner-3"}, golden: "plan.prom"},
		{name: "no runners registered", list: fixed(nil, nil), expected: []string{"git-runner-1"}, golden: "empty.prom"},
		{name: "Gitea down", list: fixed(nil, errors.New("connection refused")), expected: []string{"git-runner-1"}, golden: "down.prom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCollector(context.Background(), tt.list, tt.expected, slog.New(slog.DiscardHandler))
			got := exposition(t, c)
			path := filepath.Join("testdata", tt.golden)
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if err := testutil.CollectAndCompare(c, bytes.NewReader(want), metricNames(string(want))...); err != nil {
				t.Error(err)
			}
			problems, err := testutil.CollectAndLint(c)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				t.Errorf("lint: %s: %s", p.Metric, p.Text)
			}
		})
	}
}

// exposition renders c in the text format, without the duration gauge,
// whose value changes from run to run.
func exposition(t *testing.T, c prometheus.Collector) string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		if mf.GetName() == "gitea_runner_scrape_duration_seconds" {
			continue
		}
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", mf.GetName(), mf.GetHelp(), mf.GetName())
		for _, m := range mf.GetMetric() {
			b.WriteString(mf.GetName())
			if len(m.GetLabel()) > 0 {
				var ls []string
				for _, l := range m.GetLabel() {
					ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
				}
				b.WriteString("{" + strings.Join(ls, ",") + "}")
			}
			fmt.Fprintf(&b, " %g\n", m.GetGauge().GetValue())
		}
	}
	return b.String()
}

var typeLine = regexp.MustCompile(`(?m)^# TYPE (\S+) `)

func metricNames(exposition string) []string {
	var names []string
	for _, m := range typeLine.FindAllStringSubmatch(exposition, -1) {
		names = append(names, m[1])
	}
	return names
}

func TestCollectorLogsOneClearLine(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"401", &StatusError{URL: "http://g/api", Code: 401}, `msg="Gitea rejected the token (HTTP 401)"`},
		{"404", &StatusError{URL: "http://g/api", Code: 404}, "Gitea older than 1.24"},
		{"malformed", &DecodeError{URL: "http://g/api", Err: errors.New("malformed JSON: unexpected end of JSON input")}, "malformed JSON"},
		{"timeout", fmt.Errorf("no answer within the scrape timeout: %w", context.DeadlineExceeded), "did not answer the runner list request within the scrape timeout"},
		{"refused", errors.New("dial tcp 127.0.0.1:3000: connect: connection refused"), "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&buf, nil))
			c := NewCollector(context.Background(), fixed(nil, tt.err), nil, logger)
			if n := testutil.CollectAndCount(c, "gitea_runner_up"); n != 1 {
				t.Errorf("%d gitea_runner_up samples", n)
			}
			if got := testutil.ToFloat64(filterUp(c)); got != 0 {
				t.Errorf("gitea_runner_up = %v, want 0", got)
			}
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if !strings.Contains(lines[0], "level=ERROR") || !strings.Contains(lines[0], tt.want) {
				t.Errorf("log %q lacks %q", lines[0], tt.want)
			}
		})
	}
}

// filterUp passes on only gitea_runner_up, for testutil.ToFloat64.
type upOnly struct{ c prometheus.Collector }

func filterUp(c prometheus.Collector) prometheus.Collector { return upOnly{c} }

func (u upOnly) Describe(ch chan<- *prometheus.Desc) { ch <- upDesc }

func (u upOnly) Collect(ch chan<- prometheus.Metric) {
	all := make(chan prometheus.Metric)
	go func() { u.c.Collect(all); close(all) }()
	for m := range all {
		if m.Desc() == upDesc {
			ch <- m
		}
	}
}

func TestLabelList(t *testing.T) {
	got := labelList([]Label{{Name: "z"}, {Name: "a"}, {Name: "m"}, {Name: "a"}})
	if got != "a,m,z" {
		t.Errorf("labelList = %q", got)
	}
	if got := labelList(nil); got != "" {
		t.Errorf("labelList(nil) = %q", got)
	}
}

func BenchmarkCollect(b *testing.B) {
	rs := makeRunners(200)
	c := NewCollector(context.Background(), fixed(rs, nil), []string{"runner-001", "missing"}, slog.New(slog.DiscardHandler))
	ch := make(chan prometheus.Metric, 2048)
	b.ReportAllocs()
	for b.Loop() {
		c.Collect(ch)
		for len(ch) > 0 {
			<-ch
		}
	}
}
