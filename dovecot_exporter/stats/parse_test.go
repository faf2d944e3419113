// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package stats

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

func TestParse(t *testing.T) {
	groupBy := GroupBy{"imap_command": {"cmd_name", "tagged_reply_state"}}
	tests := []struct {
		name    string
		reply   string
		groupBy GroupBy
		want    Result
		wantErr error
	}{
		{
			name:  "plain metrics",
			reply: "auth_success\t2\t300\nauth_failures\t0\t0\n\n",
			want: Result{Samples: []Sample{
				{Metric: "auth_success", Count: 2, DurationMicroseconds: 300},
				{Metric: "auth_failures"},
			}},
		},
		{
			name:    "declared group_by levels",
			reply:   "imap_command\t2\t30\nimap_command_UID_FETCH\t1\t10\nimap_command_UID_FETCH_OK\t1\t10\nimap_command_NOOP\t1\t20\n\n",
			groupBy: groupBy,
			want: Result{Samples: []Sample{
				{Metric: "imap_command", Count: 2, DurationMicroseconds: 30, HasChildren: true},
				{Metric: "imap_command", Labels: []Label{{"cmd_name", "UID_FETCH"}}, Count: 1, DurationMicroseconds: 10, HasChildren: true},
				{Metric: "imap_command", Labels: []Label{{"cmd_name", "UID_FETCH"}, {"tagged_reply_state", "OK"}}, Count: 1, DurationMicroseconds: 10},
				{Metric: "imap_command", Labels: []Label{{"cmd_name", "NOOP"}}, Count: 1, DurationMicroseconds: 20},
			}},
		},
		{
			name:  "undeclared group_by gets generic labels",
			reply: "smtp_command\t1\t5\nsmtp_command_MAIL\t1\t5\nsmtp_command_MAIL_250\t1\t5\n\n",
			want: Result{Samples: []Sample{
				{Metric: "smtp_command", Count: 1, DurationMicroseconds: 5, HasChildren: true},
				{Metric: "smtp_command", Labels: []Label{{"group_1", "MAIL"}}, Count: 1, DurationMicroseconds: 5, HasChildren: true},
				{Metric: "smtp_command", Labels: []Label{{"group_1", "MAIL"}, {"group_2", "250"}}, Count: 1, DurationMicroseconds: 5},
			}},
		},
		{
			name:    "a declared metric is never a sub-metric",
			reply:   "imap_command\t0\t0\nimap_command_x\t1\t1\n\n",
			groupBy: GroupBy{"imap_command": {"cmd_name"}, "imap_command_x": nil},
			want: Result{Samples: []Sample{
				{Metric: "imap_command"},
				{Metric: "imap_command_x", Count: 1, DurationMicroseconds: 1},
			}},
		},
		{
			name:    "a name deeper than declared is a sibling's value",
			reply:   "a\t1\t1\na_x\t1\t1\na_x_y\t1\t1\n\n",
			groupBy: GroupBy{"a": {"f"}},
			want: Result{Samples: []Sample{
				{Metric: "a", Count: 1, DurationMicroseconds: 1, HasChildren: true},
				{Metric: "a", Labels: []Label{{"f", "x"}}, Count: 1, DurationMicroseconds: 1},
				{Metric: "a", Labels: []Label{{"f", "x_y"}}, Count: 1, DurationMicroseconds: 1},
			}},
		},
		{
			name:  "extra fields",
			reply: "mail_delivery\t4\t90\tbytes\t4\t1234\tsize\t4\t99\n\n",
			want: Result{Samples: []Sample{
				{Metric: "mail_delivery", Count: 4, DurationMicroseconds: 90,
					Fields: []Field{{"bytes", 4, 1234}, {"size", 4, 99}}},
			}},
		},
		{
			name:  "tab-escaped name",
			reply: "odd\x01tname\t1\t2\n\n",
			want:  Result{Samples: []Sample{{Metric: "odd\tname", Count: 1, DurationMicroseconds: 2}}},
		},
		{
			name:  "bad lines are counted and skipped",
			reply: "garbage\nx\t1\nx\tone\t2\ny\t1\t2\textra\nok\t1\t1\n\t1\t1\n\n",
			want:  Result{Samples: []Sample{{Metric: "ok", Count: 1, DurationMicroseconds: 1}}, BadLines: 5},
		},
		{
			name:    "cut in the middle",
			reply:   "auth_success\t2\t300\nauth_fail",
			want:    Result{Samples: []Sample{{Metric: "auth_success", Count: 2, DurationMicroseconds: 300}}, BadLines: 1},
			wantErr: ErrTruncated,
		},
		{
			name:    "no final empty line",
			reply:   "auth_success\t2\t300\n",
			want:    Result{Samples: []Sample{{Metric: "auth_success", Count: 2, DurationMicroseconds: 300}}},
			wantErr: ErrTruncated,
		},
		{
			name:  "no metrics defined",
			reply: "\n",
			want:  Result{Samples: []Sample{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.reply), tt.groupBy)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseDump(f *testing.F) {
	seed, err := os.ReadFile("testdata/dump.txt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(seed))
	f.Add("a\t1\t2\na_b\t1\t2\n\n")
	f.Fuzz(func(t *testing.T, reply string) {
		res, _ := Parse(strings.NewReader(reply), GroupBy{"imap_command": {"cmd_name", "tagged_reply_state"}})
		for _, s := range res.Samples {
			if s.Metric == "" {
				t.Fatalf("sample without a metric name from %q", reply)
			}
		}
		// Emitting must not panic either, whatever the names and labels.
		sc := New(Config{}, nil)
		ch := make(chan prometheus.Metric, 1024)
		go func() {
			sc.Emit(res, ch)
			close(ch)
		}()
		for range ch {
		}
	})
}

// dumpLines builds a DUMP reply of n metric lines in the shape a busy server
// gives: metrics with group_by command names and reply states.
func dumpLines(n int) string {
	var b strings.Builder
	cmds := []string{"SELECT", "FETCH", "UID_FETCH", "STORE", "NOOP", "IDLE", "LOGOUT", "LIST", "STATUS"}
	lines := 0
	for m := 0; lines < n; m++ {
		name := fmt.Sprintf("metric_%d", m)
		fmt.Fprintf(&b, "%s\t%d\t%d\n", name, 1000+m, 123456789+m)
		lines++
		for _, c := range cmds {
			if lines >= n {
				break
			}
			fmt.Fprintf(&b, "%s_%s\t%d\t%d\n", name, c, 100+m, 12345678)
			lines++
			for _, st := range []string{"OK", "NO"} {
				if lines >= n {
					break
				}
				fmt.Fprintf(&b, "%s_%s_%s\t%d\t%d\n", name, c, st, 50, 6172839)
				lines++
			}
		}
	}
	b.WriteString("\n")
	return b.String()
}

// BenchmarkParseDump parses a DUMP reply of 1,000 metric lines (goal: at
// most 2 ms per reply).
func BenchmarkParseDump(b *testing.B) {
	reply := dumpLines(1000)
	groupBy := GroupBy{}
	for m := range 100 {
		groupBy[fmt.Sprintf("metric_%d", m)] = []string{"cmd_name", "tagged_reply_state"}
	}
	b.SetBytes(int64(len(reply)))
	for b.Loop() {
		res, err := Parse(strings.NewReader(reply), groupBy)
		if err != nil || len(res.Samples) != 1000 {
			b.Fatalf("%d samples, %v", len(res.Samples), err)
		}
	}
}

// BenchmarkEmit turns a parsed 1,000-line reply into metrics, the other half
// of a scrape's work in this package.
func BenchmarkEmit(b *testing.B) {
	groupBy := GroupBy{}
	for m := range 100 {
		groupBy[fmt.Sprintf("metric_%d", m)] = []string{"cmd_name", "tagged_reply_state"}
	}
	res, err := Parse(strings.NewReader(dumpLines(1000)), groupBy)
	if err != nil {
		b.Fatal(err)
	}
	s := New(Config{}, nil)
	ch := make(chan prometheus.Metric, 4096)
	for b.Loop() {
		s.Emit(res, ch)
		for len(ch) > 0 {
			<-ch
		}
	}
}
