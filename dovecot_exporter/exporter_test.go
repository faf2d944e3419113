// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/common/promslog"

	"github.com/downwatch/downwatch/dovecot_exporter/stats"
)

func TestParseGroupBy(t *testing.T) {
	got, err := parseGroupBy([]string{"imap_command=cmd_name,tagged_reply_state", "auth=duration:exponential:1:5:10 service"})
	if err != nil {
		t.Fatal(err)
	}
	want := stats.GroupBy{"imap_command": {"cmd_name", "tagged_reply_state"}, "auth": {"duration", "service"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestOptionErrors(t *testing.T) {
	ok := options{statsSocket: "/run/dovecot/stats-reader", scopes: "user", timeout: time.Second}
	tests := []struct {
		name   string
		change func(*options)
		want   string
	}{
		{"group-by syntax", func(o *options) { o.groupBy = []string{"imap_command"} }, "--dovecot.stats-group-by=imap_command: want METRIC=FIELD"},
		{"group-by label", func(o *options) { o.groupBy = []string{"m=bad-name"} }, `"bad-name" is not a valid label name`},
		{"group-by twice", func(o *options) { o.groupBy = []string{"m=a", "m=b"} }, "metric m given twice"},
		{"unknown scope", func(o *options) { o.oldStatsSocket = "/x"; o.scopes = "user,users" }, `--dovecot.scopes=user,users: unknown scope "users"`},
		{"bad probe", func(o *options) { o.probes = []string{"imap:143"} }, "--probe: \"imap:143\": want SERVICE=HOST:PORT"},
		{"probe twice", func(o *options) { o.probes = []string{"imap=a:1", "imap=b:1"} }, "service imap probed twice"},
		{"missing CA", func(o *options) { o.probes = []string{"imaps=a:993"}; o.probeCAFile = "/nonexistent/ca.pem" }, "--probe.tls-ca-file=/nonexistent/ca.pem"},
		{"nothing to do", func(o *options) { o.statsSocket = "" }, "nothing to export"},
		{"timeout", func(o *options) { o.timeout = 0 }, "--dovecot.timeout=0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := ok
			tt.change(&o)
			_, _, err := newExporter(o, promslog.NewNopLogger())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
	if _, _, err := newExporter(ok, promslog.NewNopLogger()); err != nil {
		t.Errorf("valid options: %v", err)
	}
}
