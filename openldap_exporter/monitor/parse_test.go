// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package monitor

import (
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/google/go-cmp/cmp"
)

func TestParseMonitorFixture(t *testing.T) {
	s, skips := ParseMonitor(readLDIF(t, "testdata/monitor.ldif"))
	if len(skips) != 0 {
		t.Errorf("skips: %v", skips)
	}
	wantValues := map[string]float64{
		"connections_current": 1, "connections_total": 1, "connections_max_file_descriptors": 20000,
		"sent_bytes_total": 2942, "sent_pdus_total": 29, "sent_entries_total": 29, "sent_referrals_total": 0,
		"threads_max": 16, "threads_max_pending": 0, "threads_backload": 1, "threads_active": 1,
		"threads_open": 2, "threads_starting": 0, "threads_pending": 0,
		"waiters_read": 1, "waiters_write": 0,
	}
	got := map[string]float64{}
	for k, v := range s.Values {
		if _, ok := wantValues[k]; ok {
			got[k] = v
		}
	}
	if diff := cmp.Diff(wantValues, got); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
	for _, k := range []string{"start_time_seconds", "uptime_seconds"} {
		if _, ok := s.Values[k]; !ok {
			t.Errorf("%s missing", k)
		}
	}
	if len(s.Operations) != 10 {
		t.Errorf("operations: %v", s.Operations)
	}
	if s.Operations["bind"] != (OpCount{1, 1, true, true}) {
		t.Errorf("bind: %+v", s.Operations["bind"])
	}
	wantDBs := []Database{
		{Name: "Database 0", Backend: "config", Suffix: "cn=config", Shadow: "false"},
		{Name: "Database 1", Backend: "mdb", Suffix: "dc=example,dc=org", Shadow: "false", MDB: map[string]float64{
			"mdb_entries": 1, "mdb_pages_max": 2560, "mdb_pages_used": 15, "mdb_pages_free": 7,
			"mdb_readers_max": 126, "mdb_readers_used": 1}},
		{Name: "Database 2", Backend: "monitor", Suffix: "cn=Monitor", Shadow: "false"},
	}
	if diff := cmp.Diff(wantDBs, s.Databases); diff != "" {
		t.Errorf("databases (-want +got):\n%s", diff)
	}
	if got := CSNSuffixes(s.Databases); !cmp.Equal(got, []string{"dc=example,dc=org"}) {
		t.Errorf("CSNSuffixes = %v", got)
	}
	if len(s.Listeners) != 2 || s.Listeners[1].URL != "ldapi://%2Frun%2Fslapd%2Fldapi" {
		t.Errorf("listeners: %+v", s.Listeners)
	}
}

func TestParseMonitorSkipsBadValues(t *testing.T) {
	entries := []*ldap.Entry{
		entry("cn=Total,cn=Connections,cn=Monitor", "monitorCounter", "many"),
		entry("cn=Current,cn=Connections,cn=Monitor", "monitorCounter", "3"),
		entry("cn=Max,cn=Threads,cn=Monitor", "monitoredInfo", "-1"),
		entry("cn=Start,cn=Time,cn=Monitor", "monitorTimestamp", "yesterday"),
		entry("cn=Bind,cn=Operations,cn=Monitor", "monitorOpInitiated", "1e3", "monitorOpCompleted", "7"),
		entry("cn=Database 1,cn=Databases,cn=Monitor", "monitoredInfo", "mdb", "namingContexts", "o=x", "olmMDBEntries", "x"),
		entry("cn=State,cn=Threads,cn=Monitor", "monitoredInfo", "running"), // not a number, and not read
		entry("cn=Odd\\,Name,cn=Threads,cn=Monitor", "monitoredInfo", "1"),
		entry("uid=x,dc=example", "monitorCounter", "1"),
		entry(""),
	}
	s, skips := ParseMonitor(entries)
	if len(skips) != 5 {
		t.Errorf("want 5 skips, got %d: %v", len(skips), skips)
	}
	want := map[string]float64{"connections_current": 3}
	if diff := cmp.Diff(want, s.Values); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
	if got := s.Operations["bind"]; got != (OpCount{Completed: 7, HasCompleted: true}) {
		t.Errorf("bind = %+v", got)
	}
	if len(s.Databases) != 1 || s.Databases[0].MDB != nil {
		t.Errorf("databases = %+v", s.Databases)
	}
}

func TestParseCSN(t *testing.T) {
	tests := []struct {
		in      string
		want    CSN
		wantErr bool
	}{
		{"20261124042300.104230Z#000000#001#000000", CSN{time.Date(2026, 11, 24, 4, 23, 0, 104230000, time.UTC), 1}, false},
		{"20200101000000.000000Z#000005#00a#000000", CSN{time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), 10}, false},
		{"20200101000000.000000Z#000005#fff#000000", CSN{time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), 4095}, false},
		{"20200101000000Z#000005#001#000000", CSN{}, true},
		{"20200101000000.000000Z#000005#1000#000000", CSN{}, true},
		{"20200101000000.000000Z#000005#xyz#000000", CSN{}, true},
		{"20200101000000.000000Z#000005##000000", CSN{}, true},
		{"20200101000000.000000Z", CSN{}, true},
		{"", CSN{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseCSN(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !got.Time.Equal(tt.want.Time) || got.ServerID != tt.want.ServerID {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestReplicationLag(t *testing.T) {
	at := func(s int) CSN { return CSN{Time: time.Unix(int64(s), 0)} }
	provider := ContextCSNs{"o=a": {1: at(100), 2: at(50), 3: at(10)}, "o=b": {1: at(5)}}
	local := ContextCSNs{"o=a": {1: at(90), 2: at(60)}}
	want := []Lag{{"o=a", 1, 10}, {"o=a", 2, 0}}
	if diff := cmp.Diff(want, ReplicationLag(provider, local)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// FuzzParseMonitorEntry feeds one attribute of one monitor entry, as slapd
// (or something posing as it) might send it, through the parser.
func FuzzParseMonitorEntry(f *testing.F) {
	f.Add("cn=Total,cn=Connections,cn=Monitor", "monitorCounter", "12")
	f.Add("cn=Start,cn=Time,cn=Monitor", "monitorTimestamp", "20261124042259Z")
	f.Add("cn=Database 1,cn=Databases,cn=Monitor", "olmMDBPagesMax", "2560")
	f.Add("cn=Bind,cn=Operations,cn=Monitor", "monitorOpInitiated", "-1")
	f.Add("cn=Monitor", "monitoredInfo", "OpenLDAP")
	f.Fuzz(func(t *testing.T, dn, attr, value string) {
		s, skips := ParseMonitor([]*ldap.Entry{entry(dn, attr, value)})
		for _, sk := range skips {
			if sk.Error() == "" {
				t.Fatal("empty skip message")
			}
		}
		for k := range s.Values {
			if _, ok := scalarDescs[k]; !ok {
				t.Fatalf("value %q has no metric", k)
			}
		}
	})
}

// FuzzParseCSN checks that no contextCSN value makes the parser panic, and
// that what it accepts round-trips through its own format.
func FuzzParseCSN(f *testing.F) {
	f.Add("20261124042300.104230Z#000000#001#000000")
	f.Add("20261124042300.104230Z#000000#fff#000000")
	f.Add("#")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCSN(s)
		if err != nil {
			return
		}
		if c.ServerID < 0 || c.ServerID > 0xfff {
			t.Fatalf("server ID %d out of range from %q", c.ServerID, s)
		}
	})
}
