// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package check_test

import (
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metricsql"
	"github.com/google/go-cmp/cmp"

	"github.com/downwatch/downwatch/scrapegen/check"
	"github.com/downwatch/downwatch/scrapegen/generate"
)

// goodRule is a Grafana rule as scrapegen writes it; each case below
// breaks one thing Grafana checks when it loads the file.
const goodRule = `apiVersion: 1
groups:
  - orgId: 1
    name: openldap
    folder: Infrastructure Services
    interval: 1m
    rules:
      - uid: dw-mail-openldap-down
        title: 'mail: OpenLDAP down'
        condition: C
        data:
          - refId: A
            relativeTimeRange: {from: 600, to: 0}
            datasourceUid: vm
            model: {refId: A, expr: 'openldap_up{host="mail"}', instant: true}
          - refId: B
            relativeTimeRange: {from: 0, to: 0}
            datasourceUid: __expr__
            model: {refId: B, type: reduce, expression: A, reducer: last}
          - refId: C
            relativeTimeRange: {from: 0, to: 0}
            datasourceUid: __expr__
            model: {refId: C, type: threshold, expression: B, conditions: [{evaluator: {type: lt, params: [1]}}]}
        noDataState: OK
        execErrState: Error
        for: 2m
        labels: {severity: critical, service: openldap, host: mail}
        annotations: {summary: OpenLDAP on mail is down}
`

func TestGrafanaRules(t *testing.T) {
	tests := []struct {
		name     string
		old, new string // replace old by new in goodRule
		want     []string
	}{
		{"good", "", "", nil},
		{"prometheus-style rule", "        title: 'mail: OpenLDAP down'\n", "        alert: OpenLDAPDown\n        expr: openldap_up == 0\n", []string{
			`line 9: unknown key "alert": not in Grafana's alert rule provisioning schema`,
			`line 10: unknown key "expr": not in Grafana's alert rule provisioning schema`,
		}},
		{"uid charset", "uid: dw-mail-openldap-down", "uid: dw/mail", []string{
			`group "openldap": rule "dw/mail": uid must be 1 to 40 characters of a-z A-Z 0-9 _ -`,
		}},
		{"uid length", "uid: dw-mail-openldap-down", "uid: " + strings.Repeat("x", 41), []string{
			`group "openldap": rule "` + strings.Repeat("x", 41) + `": uid must be 1 to 40 characters of a-z A-Z 0-9 _ -`,
		}},
		{"interval", "interval: 1m", "interval: 15s", []string{
			`group "openldap": interval 15s is not a positive multiple of 10s (Grafana's scheduler interval); set grafana.interval in the inventory`,
		}},
		{"condition", "condition: C", "condition: D", []string{
			`group "openldap": rule "dw-mail-openldap-down": condition "D" names no refId in data`,
		}},
		{"states", "noDataState: OK\n        execErrState: Error", "noDataState: Firing\n        execErrState: NoData", []string{
			`group "openldap": rule "dw-mail-openldap-down": noDataState "Firing" is not one of Alerting, NoData, OK, KeepLast`,
			`group "openldap": rule "dw-mail-openldap-down": execErrState "NoData" is not one of Alerting, Error, OK, KeepLast`,
		}},
		{"dollar", "service: openldap", "service: $SERVICE", []string{
			`group "openldap": rule "dw-mail-openldap-down": label service has a $ that Grafana expands as an environment variable; write $$`,
		}},
		{"time range in text", "{from: 600, to: 0}", "{from: 10m, to: 0}", []string{
			"line 13: cannot unmarshal !!str `10m` into int64",
		}},
		{"expression type", "type: reduce", "type: sum", []string{
			`group "openldap": rule "dw-mail-openldap-down": data "B": expression type "sum" is not one of reduce, threshold, math, resample, classic_conditions, sql`,
		}},
		{"bad query", `expr: 'openldap_up{host="mail"}'`, `expr: 'openldap_up{host="mail"'`, []string{
			`group "openldap": rule "dw-mail-openldap-down": data "A": expr does not parse as MetricsQL: ` + parseError(`openldap_up{host="mail"`),
		}},
		{"no title", "title: 'mail: OpenLDAP down'", "title: ''", []string{
			`group "openldap": rule "dw-mail-openldap-down": no title`,
		}},
		{"bad for", "for: 2m", "for: two minutes", []string{
			`group "openldap": rule "dw-mail-openldap-down": bad for "two minutes"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := strings.Replace(goodRule, tt.old, tt.new, 1)
			if tt.old != "" && data == goodRule {
				t.Fatalf("%q not found in goodRule", tt.old)
			}
			got := messages(check.Files([]generate.File{{Path: generate.GrafanaRulesPath, Data: []byte(data)}}, nil, name))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDuplicateUIDsAndTitles(t *testing.T) {
	rule := goodRule[strings.Index(goodRule, "      - uid:"):]
	data := goodRule + rule
	got := messages(check.Files([]generate.File{{Path: generate.GrafanaRulesPath, Data: []byte(data)}}, nil, name))
	want := []string{
		`group "openldap": rule "dw-mail-openldap-down": duplicate uid (first in group "openldap")`,
		`group "openldap": rule "dw-mail-openldap-down": title "mail: OpenLDAP down" is already used in folder "Infrastructure Services" by rule "dw-mail-openldap-down"`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func TestOtherFiles(t *testing.T) {
	tests := []struct {
		name, path, data string
		want             []string
	}{
		{"inline bearer token", "vmagent/fw.yml", "scrape_configs:\n  - job_name: gitea\n    bearer_token: abc\n", []string{
			`line 3: unknown key "bearer_token": not in vmagent's scrape config`,
		}},
		{"no host label", "vmagent/fw.yml", "scrape_configs:\n  - {job_name: node, scrape_interval: 30s, scrape_timeout: 1m, metrics_path: /metrics, scheme: http, static_configs: [{targets: ['localhost:9100']}]}\n", []string{
			`scrape_configs[0] (job "node"): scrape_timeout "1m" must be more than 0 and at most scrape_interval "30s"`,
			`scrape_configs[0] (job "node"): a target without the host label: the alert rules select on it`,
		}},
		{"json unknown key", "vmagent/fw.json", `{"scrape_configs": [{"job_name": "x", "password": "p"}]}`, []string{
			`json: unknown field "password"`,
		}},
		{"vmalert expr", "vmalert/rules.yml", "groups:\n  - name: g\n    interval: 1m\n    rules:\n      - {alert: X, expr: 'up ==', for: 1m}\n", []string{
			`group "g": rules[0] (X): expr does not parse as MetricsQL: ` + parseError("up =="),
		}},
		{"pushover value", "grafana/contact-points.yaml", "apiVersion: 1\ncontactPoints:\n  - orgId: 1\n    name: cp\n    receivers:\n      - {uid: cp-pushover, type: pushover, settings: {userKey: u123, apiToken: '$__file{/run/secrets/t}'}}\n", []string{
			`contact point "cp": userKey must be a $__file{/path} reference, not a value`,
		}},
		{"policy without receiver", "grafana/policies.yaml", "apiVersion: 1\npolicies:\n  - orgId: 1\n", []string{
			`policies[0]: no receiver`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := messages(check.Files([]generate.File{{Path: tt.path, Data: []byte(tt.data)}}, nil, name))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSecretContent(t *testing.T) {
	files := []generate.File{{Path: "manifest.json", Data: []byte(`{"x": "hunter2-secret"}`)}}
	got := check.Files(files, map[string]string{"/run/secrets/x": "hunter2-secret"}, name)
	want := []check.Problem{{File: "manifest.json", Msg: "holds the content of secret file /run/secrets/x: secrets must stay in files"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func name(p string) string { return p }

func messages(ps []check.Problem) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Msg)
	}
	return out
}

func parseError(expr string) string {
	_, err := metricsql.Parse(expr)
	return err.Error()
}
