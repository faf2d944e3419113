// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package inventory_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/downwatch/downwatch/scrapegen/check"
	"github.com/downwatch/downwatch/scrapegen/generate"
	"github.com/downwatch/downwatch/scrapegen/inventory"
)

// Each invalid inventory and every line of its error, without the file
// name that starts each line.
var invalid = []struct {
	file string
	want []string
}{
	{"invalid-anchor.yml", []string{
		"3:9: hosts.mail: YAML anchors and aliases are not supported",
		"4:7: hosts.fw: YAML anchors and aliases are not supported",
	}},
	{"invalid-bad-duration.yml", []string{
		"3:8: defaults.for: bad duration \"5 minutes\": want a duration such as 30s, 2m or 1h30m (units y, w, d, h, m, s, ms)",
		"4:20: defaults.scrape_interval: bad duration \"1m30\": want a duration such as 30s, 2m or 1h30m (units y, w, d, h, m, s, ms)",
	}},
	{"invalid-bad-target.yml", []string{
		"4:23: hosts.mail.postfix.target: bad target \"localhost:99999\": port must be a number from 1 to 65535",
		"5:23: hosts.mail.dovecot.target: bad target \"http://localhost:9166\": want host:port such as localhost:9100",
		"6:24: hosts.mail.openldap.target: bad target \"local host:9330\": \"local host\" is not a host name or IP address",
	}},
	{"invalid-custom.yml", []string{
		"5:9: hosts.web.custom[0].down: does not parse as MetricsQL: singleExpr: unexpected token \"\"; want \"(\", \"{\", \"-\", \"+\"; unparsed data: \"\"",
		"6:9: hosts.web.custom[1].name: want a job name (letters, digits, '_' or '-', not starting with a digit), got \"9lives\"",
		"7:9: hosts.web.custom[2].down: missing: the expression that returns series when the service is down",
	}},
	{"invalid-duplicate-host.yml", []string{
		"5:3: hosts.mail: duplicate host (first at line 3)",
	}},
	{"invalid-duplicate-job.yml", []string{
		"6:9: hosts.mail.custom[0]: duplicate job \"openldap\" on host mail (first at line 4)",
	}},
	{"invalid-empty.yml", []string{
		" empty inventory",
	}},
	{"invalid-inline-secret.yml", []string{
		"6:5: grafana.pushover: unknown key \"api_token\" (known: name, user_key_file, api_token_file, priority)",
	}},
	{"invalid-json.json", []string{
		"1:60: hosts.fw.gitea: unknown key \"bearer_token\" (known: enabled, target, scheme, metrics_path, bearer_token_file, ca_file, basic_auth)",
	}},
	{"invalid-no-grafana.yml", []string{
		"1:1: missing key \"grafana\" (at least grafana.datasource_uid)",
		"1:8: hosts: no hosts",
	}},
	{"invalid-remote-write.yml", []string{
		"1:19: remote_write_url: must not hold credentials: give them to vmagent from a secret file",
		"2:27: grafana.datasource_uid: want the datasource's UID (1 to 40 of A-Z a-z 0-9 _ -), got \"victoria metrics\"",
	}},
	{"invalid-runner-key.yml", []string{
		"5:21: hosts.fw.gitea_runners.runners[1]: unknown key \"host\" (known: name, unit)",
	}},
	{"invalid-runners.yml", []string{
		"5:21: hosts.fw.gitea_runners.runners[1]: duplicate runner \"r1\"",
		"5:25: hosts.fw.gitea_runners.runners[2].unit: bad systemd unit name \"bad unit\"",
		"7:20: hosts.web.gitea_runners.runners: name the runners that must be online",
	}},
	{"invalid-syntax.yml", []string{
		"3: did not find expected ',' or '}'",
	}},
	{"invalid-timeout.yml", []string{
		"3:3: defaults.scrape_timeout: 10s must be more than 0 and at most the scrape interval 5s",
	}},
	{"invalid-unknown-key.yml", []string{
		"5:7: hosts.mail.postfix: unknown key \"tagret\" (known: enabled, target, scheme, metrics_path, bearer_token_file, ca_file, basic_auth)",
	}},
	{"invalid-wrong-type.yml", []string{
		"5:19: hosts.fw.wireguard.interfaces: want a list, got \"wg0\"",
		"8:16: hosts.fw.gitea_runners.enabled: want true or false, got \"yes\"",
	}},
}

func TestInvalidInventories(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid-*")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(invalid) {
		t.Errorf("%d invalid-* files in testdata, %d in the table", len(files), len(invalid))
	}
	for _, tt := range invalid {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", tt.file)
			inv, err := inventory.Load(path)
			if err == nil {
				t.Fatalf("accepted: %+v", inv)
			}
			var errs inventory.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %T, want inventory.Errors", err)
			}
			var got []string
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, path+":") {
					t.Errorf("line does not start with the file name: %q", line)
				}
				got = append(got, strings.TrimPrefix(line, path+":"))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMissingFile(t *testing.T) {
	_, err := inventory.Load("testdata/no-such-file.yml")
	if err == nil || !strings.HasPrefix(err.Error(), "testdata/no-such-file.yml: ") {
		t.Errorf("error %v, want it to start with the file name", err)
	}
}

func TestDefaults(t *testing.T) {
	inv, err := inventory.Parse("inv.yml", []byte(`
grafana: {datasource_uid: vm}
hosts:
  fw:
    gitea: {target: "localhost:3001", bearer_token_file: /run/secrets/gitea}
    gitea_runners: {runners: [r1]}
    wireguard: {interfaces: [wg0]}
  mail:
    openldap: {}
    postfix: {target: ":19154"}
    dovecot:
    node: {enabled: false}
`))
	if err != nil {
		t.Fatal(err)
	}
	type job struct{ Host, Name, Target string }
	var got []job
	for _, h := range inv.Hosts {
		for _, j := range h.Jobs {
			got = append(got, job{h.Name, j.Name, j.Scheme + "://" + j.Target + j.MetricsPath})
		}
	}
	want := []job{
		{"fw", "node", "http://localhost:9100/metrics"},
		{"fw", "wireguard", "http://localhost:9586/metrics"},
		{"fw", "gitea", "http://localhost:3001/metrics"},
		{"fw", "gitea_runners", "http://localhost:" + "10101" + "/metrics"},
		{"mail", "openldap", "http://localhost:9330/metrics"},
		{"mail", "postfix", "http://localhost:19154/metrics"},
		{"mail", "dovecot", "http://localhost:9166/metrics"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("jobs (-want +got):\n%s", diff)
	}
	wantTiming := inventory.Timing{
		ScrapeInterval: inventory.DefaultScrapeInterval, ScrapeTimeout: inventory.DefaultScrapeTimeout,
		For: inventory.DefaultFor, RunnerFor: inventory.DefaultRunnerFor, HostFor: inventory.DefaultHostFor,
		AbsentAfter: inventory.DefaultAbsentAfter, HandshakeMaxAge: inventory.DefaultHandshakeMaxAge,
	}
	if diff := cmp.Diff(wantTiming, inv.Hosts[0].Timing); diff != "" {
		t.Errorf("timing (-want +got):\n%s", diff)
	}
	if inv.Grafana.Folder != inventory.DefaultFolder || inv.Grafana.Interval != inventory.DefaultEvaluationInterval || inv.Grafana.OrgID != 1 {
		t.Errorf("grafana defaults: %+v", inv.Grafana)
	}
}

func TestOverrides(t *testing.T) {
	inv, err := inventory.Parse("inv.yml", []byte(`
grafana: {datasource_uid: vm, interval: 10s}
defaults: {scrape_interval: 2s, evaluation_interval: 2s, for: 10s, absent_after: 10s}
hosts:
  a: {}
  b: {scrape_interval: 1s, scrape_timeout: 500ms, for: 1m, wireguard: {handshake_max_age: 3m}}
`))
	if err != nil {
		t.Fatal(err)
	}
	a, b := inv.Hosts[0].Timing, inv.Hosts[1].Timing
	if a.ScrapeInterval.String() != "2s" || a.ScrapeTimeout.String() != "2s" || a.For.String() != "10s" {
		t.Errorf("host a: %+v", a)
	}
	if b.ScrapeInterval.String() != "1s" || b.ScrapeTimeout.String() != "500ms" || b.For.String() != "1m" || b.HandshakeMaxAge.String() != "3m" || b.AbsentAfter.String() != "10s" {
		t.Errorf("host b: %+v", b)
	}
	if inv.EvaluationInterval.String() != "2s" || inv.Grafana.Interval.String() != "10s" {
		t.Errorf("intervals: evaluation %s, grafana %s", inv.EvaluationInterval, inv.Grafana.Interval)
	}
}

// Nix writes the inventory as JSON on one line: it must mean the same.
func TestJSONMatchesYAML(t *testing.T) {
	y, err := inventory.Load("../examples/plan.yml")
	if err != nil {
		t.Fatal(err)
	}
	j, err := inventory.Load("testdata/plan.json")
	if err != nil {
		t.Fatal(err)
	}
	j.File = y.File
	if diff := cmp.Diff(y, j, cmpopts.IgnoreTypes(inventory.Pos{})); diff != "" {
		t.Errorf("JSON inventory differs from YAML (-yaml +json):\n%s", diff)
	}
}

func TestDuration(t *testing.T) {
	for _, tt := range []struct {
		in, out string
		ok      bool
	}{
		{"30s", "30s", true}, {"1h30m", "1h30m", true}, {"90s", "1m30s", true}, {"500ms", "500ms", true},
		{"2d", "2d", true}, {"1w", "1w", true}, {"0", "0s", true}, {"0s", "0s", true},
		{"", "", false}, {"1m30", "", false}, {"30m1h", "", false}, {"1.5h", "", false}, {"-1s", "", false},
		{"5 minutes", "", false}, {"1mm", "", false}, {"9999999999999y", "", false},
	} {
		d, err := inventory.ParseDuration(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseDuration(%q): err %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok && d.String() != tt.out {
			t.Errorf("ParseDuration(%q).String() = %q, want %q", tt.in, d, tt.out)
		}
	}
}

// FuzzParse feeds arbitrary bytes to the parser. It must never panic, and
// whatever it accepts must generate files that pass every check (except a
// Grafana interval that is not a multiple of 10s, which only check reports).
func FuzzParse(f *testing.F) {
	for _, glob := range []string{"testdata/*.yml", "testdata/*.json", "../examples/*.yml", "../testdata/*.yml"} {
		files, _ := filepath.Glob(glob)
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := inventory.Parse("fuzz.yml", data)
		if err != nil {
			var errs inventory.Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error %T %v, want inventory.Errors", err, err)
			}
			return
		}
		files, err := generate.Generate(inv)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range check.Files(files, nil, func(s string) string { return s }) {
			if !strings.Contains(p.Msg, "multiple of 10s") {
				t.Errorf("accepted inventory generates a bad file: %s\n%s", p, data)
			}
		}
	})
}
