// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package runners

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

// documented is an answer in the shape of Gitea's ActionRunnersResponse.
const documented = `{
  "runners": [
    {"id": 1, "name": "git-runner-1", "status": "online", "busy": true, "ephemeral": false,
     "labels": [{"id": 1, "name": "ubuntu-latest", "type": "custom"}, {"id": 2, "name": "nixos", "type": "custom"}]},
    {"id": 2, "name": "git-runner-2", "status": "offline", "busy": false, "ephemeral": true, "labels": []}
  ],
  "total_count": 2
}`

func TestDecodePage(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Page
		wantErr string
	}{
		{name: "documented shape", in: documented, want: Page{TotalCount: 2, Runners: []Runner{
			{ID: 1, Name: "git-runner-1", Status: "online", Busy: true, Labels: []Label{{1, "ubuntu-latest", "custom"}, {2, "nixos", "custom"}}},
			{ID: 2, Name: "git-runner-2", Status: "offline", Ephemeral: true, Labels: []Label{}},
		}}},
		{name: "empty list", in: `{"runners": [], "total_count": 0}`, want: Page{Runners: []Runner{}}},
		{name: "null list is empty", in: `{"runners": null, "total_count": 0}`, want: Page{}},
		{name: "no count", in: `{"runners": []}`, want: Page{Runners: []Runner{}, TotalCount: -1}},
		{name: "unknown fields are ignored", in: `{"runners": [{"id": 5, "disabled": true, "uuid": "x"}], "total_count": 1, "x": 1}`,
			want: Page{Runners: []Runner{{ID: 5}}, TotalCount: 1}},
		{name: "no runners key", in: `{"total_count": 3}`, wantErr: `no "runners" list`},
		{name: "an array", in: `[]`, wantErr: "malformed JSON"},
		{name: "truncated", in: documented[:40], wantErr: "malformed JSON"},
		{name: "empty body", in: ``, wantErr: "malformed JSON"},
		{name: "runners not a list", in: `{"runners": {}}`, wantErr: `malformed JSON in "runners"`},
		{name: "negative count", in: `{"runners": [], "total_count": -1}`, wantErr: "negative total_count"},
		{name: "busy as string", in: `{"runners": [{"busy": "yes"}]}`, wantErr: "malformed JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodePage([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzDecodePage feeds arbitrary answers to the decoder: it must never
// panic, and whatever it accepts must survive a round trip.
func FuzzDecodePage(f *testing.F) {
	f.Add([]byte(documented))
	f.Add([]byte(`{"runners": [], "total_count": 0}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodePage(b)
		if err != nil {
			return
		}
		if p.TotalCount < -1 {
			t.Fatalf("TotalCount %d", p.TotalCount)
		}
		out, err := json.Marshal(map[string]any{"runners": p.Runners, "total_count": max(p.TotalCount, 0)})
		if err != nil {
			t.Fatal(err)
		}
		q, err := DecodePage(out)
		if err != nil {
			t.Fatalf("re-encoded page does not decode: %v\n%s", err, out)
		}
		if len(q.Runners) != len(p.Runners) {
			t.Fatalf("%d runners after a round trip, want %d", len(q.Runners), len(p.Runners))
		}
		// Whatever Gitea sends must turn into metrics without a panic
		// (label values must be valid UTF-8, which encoding/json ensures).
		c := NewCollector(context.Background(), fixed(p.Runners, nil), []string{"x"}, slog.New(slog.DiscardHandler))
		ch := make(chan prometheus.Metric, 16)
		go func() { c.Collect(ch); close(ch) }()
		for range ch {
		}
	})
}

func BenchmarkDecodePage(b *testing.B) {
	body, err := json.Marshal(map[string]any{"runners": makeRunners(50), "total_count": 50})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodePage(body); err != nil {
			b.Fatal(err)
		}
	}
}
