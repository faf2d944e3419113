// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package generate

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metricsql"
	"go.yaml.in/yaml/v3"

	"github.com/downwatch/downwatch/scrapegen/inventory"
)

func mustGenerate(t *testing.T, name, src string) []File {
	t.Helper()
	inv, err := inventory.Parse(name, []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	files, err := Generate(inv)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestYAMLRoundTrip reads every YAML output back with yaml.v3, strictly,
// into the type it was written from: the writer must lose nothing.
func TestYAMLRoundTrip(t *testing.T) {
	for _, path := range []string{"../examples/plan.yml", "../testdata/valid-edge.yml", "../testdata/valid-demo.yml"} {
		inv, err := inventory.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		files, err := Generate(inv)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if !strings.HasSuffix(f.Path, ".yml") && !strings.HasSuffix(f.Path, ".yaml") {
				continue
			}
			back := reflect.New(reflect.TypeOf(f.Value))
			dec := yaml.NewDecoder(bytes.NewReader(f.Data))
			dec.KnownFields(true)
			if err := dec.Decode(back.Interface()); err != nil {
				t.Errorf("%s %s: %v", path, f.Path, err)
				continue
			}
			// JSON of both sides: numbers read back as int compare equal
			// to the float64 they were written from.
			want, _ := json.Marshal(f.Value)
			got, _ := json.Marshal(back.Elem().Interface())
			if !bytes.Equal(want, got) {
				t.Errorf("%s %s: read back differently:\nwant %s\ngot  %s", path, f.Path, want, got)
			}
		}
	}
}

func TestYAMLScalars(t *testing.T) {
	in := []string{"", "plain", "yes", "No", "null", "~", "10", "1e5", "0x1F", "1h30m", "30s", "5", "a: b", "#c", " x", "x ",
		"it's", "line\nbreak", "tab\there", "ünïcode", "-x", "@x", "{a}", "[b]", "*c", "&d", "!e", "%f", "`g`", "a #b",
		"$$dollar", "quote\"d", `back\slash`, "\x00nul", "Infrastructure Services"}
	type doc struct {
		S []string          `yaml:"s"`
		M map[string]string `yaml:"m"`
	}
	want := doc{S: in, M: map[string]string{}}
	for _, s := range in {
		want.M[s+"k"] = s
	}
	data := appendYAML("# header\n", want)
	var got doc
	if err := yaml.Unmarshal(data, &got); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if !reflect.DeepEqual(want, got) {
		t.Errorf("read back differently:\n%s\nwant %q\ngot  %q", data, want, got)
	}
}

// Hosts with the same settings share one rule per check; the host comes
// from the series, so the rule has no host label of its own.
func TestRulesShareAcrossHosts(t *testing.T) {
	inv, err := inventory.Parse("inv.yml", []byte(`
grafana: {datasource_uid: vm}
hosts:
  a.example.org: {openldap: {}}
  b: {openldap: {}}
  c: {openldap: {}, for: 10m}
`))
	if err != nil {
		t.Fatal(err)
	}
	var got []Rule
	for _, r := range Rules(inv) {
		if r.Group == "openldap" && r.Check == "exporter-down" {
			got = append(got, r)
		}
	}
	if len(got) != 2 {
		t.Fatalf("%d openldap exporter-down rules, want 2 (a and b share, c has its own for)", len(got))
	}
	shared, single := got[0], got[1]
	if !slices.Equal(shared.Hosts, []string{"a.example.org", "b"}) || !slices.Equal(single.Hosts, []string{"c"}) {
		t.Errorf("hosts %q and %q", shared.Hosts, single.Hosts)
	}
	if !strings.Contains(shared.Expr, `up{host=~"a\\.example\\.org|b",job="openldap"}`) {
		t.Errorf("shared rule's expression: %s", shared.Expr)
	}
	if _, ok := shared.labels()["host"]; ok || single.labels()["host"] != "c" {
		t.Errorf("labels: shared %v, single %v", shared.labels(), single.labels())
	}
	if shared.Title != "OpenLDAP exporter down" || single.Title != "c: OpenLDAP exporter down" {
		t.Errorf("titles %q, %q", shared.Title, single.Title)
	}
	if !strings.Contains(shared.Summary, "{{ .Labels.host }}") {
		t.Errorf("shared summary does not name the alert's host: %q", shared.Summary)
	}
	for _, r := range got {
		if _, err := metricsql.Parse(r.Expr); err != nil {
			t.Errorf("%s: %v", r.Expr, err)
		}
	}
}
