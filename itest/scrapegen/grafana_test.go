// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package scrapegen

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/downwatch/downwatch/itest/daemon/victoria"
)

// No Grafana can run here, so its side of the rules is checked by doing
// what Grafana does with each generated rule: run query A on
// VictoriaMetrics, reduce each series to its value, apply threshold C, and
// turn an empty answer into the rule's noDataState.

type grafanaRule struct {
	title, expr, op, noData string
	param                   float64
	labels                  map[string]string
}

// readGrafanaRules reads the fields above from alert-rules.yaml. The file
// comes from scrapegen's own writer, whose layout is fixed; a change there
// fails the checks at the end rather than passing silently.
func readGrafanaRules(t *testing.T, path string) []grafanaRule {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	unquote := func(s string) string {
		if strings.HasPrefix(s, "'") {
			return strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(s, "'"), "'"), "''", "'")
		}
		if strings.HasPrefix(s, `"`) {
			u, err := strconv.Unquote(s)
			must(t, err)
			return u
		}
		return s
	}
	var rules []grafanaRule
	var cur *grafanaRule
	inLabels, inParams := false, false
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		indent := len(line) - len(strings.TrimLeft(line, " "))
		key, val, _ := strings.Cut(trimmed, ": ")
		switch {
		case strings.HasPrefix(line, "      - uid: "):
			rules = append(rules, grafanaRule{labels: map[string]string{}})
			cur = &rules[len(rules)-1]
			inLabels = false
		case cur == nil:
		case indent == 8 && trimmed == "labels:":
			inLabels = true
		case indent == 8:
			inLabels = false
			switch key {
			case "title":
				cur.title = unquote(val)
			case "noDataState":
				cur.noData = val
			}
		case inLabels && indent == 10:
			cur.labels[key] = unquote(val)
		case indent == 14 && key == "expr" && cur.expr == "":
			cur.expr = unquote(val)
		case indent == 20 && trimmed == "params:":
			inParams = true
		case inParams && indent == 22 && strings.HasPrefix(trimmed, "- "):
			cur.param, err = strconv.ParseFloat(strings.TrimPrefix(trimmed, "- "), 64)
			must(t, err)
			inParams = false
		case indent == 20 && key == "type":
			cur.op = val
		}
	}
	for _, r := range rules {
		if r.title == "" || r.expr == "" || r.noData == "" || (r.op != "lt" && r.op != "gt") || len(r.labels) == 0 {
			t.Fatalf("could not read a Grafana rule from %s: %+v", path, r)
		}
	}
	if len(rules) == 0 {
		t.Fatalf("no rules in %s", path)
	}
	return rules
}

// grafanaKey names an alert by its labels, as alertKey does without the
// alert name (Grafana names alerts by title).
func grafanaKey(labels map[string]string) string {
	var parts []string
	for _, l := range []string{"host", "service", "runner", "unit", "interface", "public_key"} {
		if v, ok := labels[l]; ok {
			parts = append(parts, l+"="+v)
		}
	}
	return strings.Join(parts, " ")
}

// grafanaFiring evaluates every rule once, as Grafana would, ignoring `for`.
func grafanaFiring(ctx context.Context, t *testing.T, vm *victoria.Server, rules []grafanaRule) []string {
	t.Helper()
	var firing []string
	for _, r := range rules {
		samples, err := vm.Query(ctx, r.expr)
		if err != nil {
			t.Fatalf("%s: %v", r.title, err)
		}
		if len(samples) == 0 {
			if r.noData == "Alerting" {
				firing = append(firing, grafanaKey(r.labels))
			}
			continue
		}
		for _, s := range samples {
			if (r.op == "lt" && s.Value < r.param) || (r.op == "gt" && s.Value > r.param) {
				labels := map[string]string{}
				for k, v := range s.Labels {
					labels[k] = v
				}
				for k, v := range r.labels {
					labels[k] = v
				}
				firing = append(firing, grafanaKey(labels))
			}
		}
	}
	sort.Strings(firing)
	return firing
}

// wantGrafana turns the vmalert alerts a test expects into Grafana's keys.
func wantGrafana(want []string, units map[string]string) []string {
	var out []string
	for _, w := range want {
		name, labels, _ := strings.Cut(w, " ")
		if name == "GiteaRunnerUnitInactive" {
			runner := labels[strings.Index(labels, "runner=")+len("runner="):]
			labels = strings.Replace(labels, "runner="+runner, fmt.Sprintf("runner=%s unit=%s", runner, units[runner]), 1)
		}
		out = append(out, labels)
	}
	sort.Strings(out)
	return out
}
