// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/downwatch/downwatch/scrapegen/generate"
	"github.com/downwatch/downwatch/scrapegen/inventory"
)

var update = flag.Bool("update", false, "rewrite the golden files and examples/out")

// goldenCases pairs each committed inventory with its committed output.
func goldenCases(t *testing.T) map[string]string {
	t.Helper()
	cases := map[string]string{"examples/plan.yml": "examples/out"}
	valid, err := filepath.Glob("testdata/valid-*.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range valid {
		cases[v] = filepath.Join("testdata", "golden", strings.TrimSuffix(filepath.Base(v), ".yml"))
	}
	return cases
}

func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		out[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}

// TestGolden compares every output with its golden file; -update rewrites
// them (go test ./scrapegen -run TestGolden -update).
func TestGolden(t *testing.T) {
	for inv, dir := range goldenCases(t) {
		t.Run(inv, func(t *testing.T) {
			i, err := inventory.Load(inv)
			if err != nil {
				t.Fatal(err)
			}
			files, err := generate.Generate(i)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, f := range files {
				got[f.Path] = string(f.Data)
			}
			if *update {
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				var stdout, stderr bytes.Buffer
				if code := run([]string{"generate", "--inventory", inv, "--out", dir}, &stdout, &stderr); code != 0 {
					t.Fatalf("generate: exit %d: %s", code, stderr.String())
				}
			}
			if diff := cmp.Diff(readTree(t, dir), got); diff != "" {
				t.Errorf("%s is out of date; run go test -run TestGolden -update (-golden +generated):\n%s", dir, diff)
			}
		})
	}
}

// TestDeterministic generates twice, and once from the same inventory as
// Nix's JSON: the bytes must not change.
func TestDeterministic(t *testing.T) {
	gen := func(path string) []generate.File {
		i, err := inventory.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		files, err := generate.Generate(i)
		if err != nil {
			t.Fatal(err)
		}
		return files
	}
	a, b := gen("examples/plan.yml"), gen("examples/plan.yml")
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("two runs differ:\n%s", diff)
	}
	j := gen("inventory/testdata/plan.json")
	if len(j) != len(a) {
		t.Fatalf("JSON inventory: %d files, YAML: %d", len(j), len(a))
	}
	for k := range a {
		if a[k].Path != j[k].Path || !bytes.Equal(a[k].Data, j[k].Data) {
			t.Errorf("%s differs between the YAML and the JSON inventory", a[k].Path)
		}
	}
}

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestCLI(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")

	code, stdout, stderr := runCLI(t, "generate", "--inventory", "examples/plan.yml", "--out", out)
	if code != 0 || !strings.HasPrefix(stdout, "wrote 3 hosts, 9 scrape jobs, ") || stderr != "" {
		t.Fatalf("generate: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if code, stdout, stderr = runCLI(t, "check", "--inventory", "examples/plan.yml", "--dir", out); code != 0 || !strings.HasPrefix(stdout, "ok: ") {
		t.Fatalf("check of a fresh directory: exit %d, %q %q", code, stdout, stderr)
	}

	// Hand edits, left-overs and missing files are each one line.
	rules := filepath.Join(out, "vmalert", "rules.yml")
	b, _ := os.ReadFile(rules)
	must(t, os.WriteFile(rules, bytes.Replace(b, []byte("for: 2m"), []byte("for: 2 minutes"), 1), 0o644))
	must(t, os.WriteFile(filepath.Join(out, "vmagent", "old-host.yml"), []byte("scrape_configs: []\n"), 0o644))
	must(t, os.Remove(filepath.Join(out, "vmagent", "mail.json")))
	code, _, stderr = runCLI(t, "check", "--inventory", "examples/plan.yml", "--dir", out)
	want := []string{
		out + "/vmagent/old-host.yml: not generated from examples/plan.yml (left over from an older inventory?)",
		out + "/vmalert/rules.yml: differs from what examples/plan.yml generates: run scrapegen generate",
		out + "/vmagent/mail.json: missing: run scrapegen generate",
		out + `/vmalert/rules.yml: group "dovecot": rules[0] (ExporterDown): bad for "2 minutes"`,
	}
	if diff := cmp.Diff(want, strings.Split(strings.TrimSpace(stderr), "\n")); code != 1 || diff != "" {
		t.Errorf("check of an edited directory: exit %d (-want +got):\n%s", code, diff)
	}

	// An invalid inventory: exit 1, one line per problem, nothing written.
	bad := filepath.Join(dir, "bad")
	code, _, stderr = runCLI(t, "generate", "--inventory", "inventory/testdata/invalid-custom.yml", "--out", bad)
	if lines := strings.Split(strings.TrimSpace(stderr), "\n"); code != 1 || len(lines) != 3 || !strings.HasPrefix(lines[0], "inventory/testdata/invalid-custom.yml:5:9: hosts.web.custom[0].down: ") {
		t.Errorf("invalid inventory: exit %d, stderr:\n%s", code, stderr)
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Errorf("generate wrote %s for an invalid inventory", bad)
	}

	// A Grafana interval that Grafana rejects fails generate and check.
	for _, cmd := range []string{"generate", "check"} {
		code, _, stderr = runCLI(t, cmd, "--inventory", "testdata/invalid-grafana-interval.yml", "--out", bad)
		if cmd == "check" {
			code, _, stderr = runCLI(t, cmd, "--inventory", "testdata/invalid-grafana-interval.yml")
		}
		if code != 1 || !strings.Contains(stderr, `grafana/alert-rules.yaml: group "hosts": interval 2s is not a positive multiple of 10s`) {
			t.Errorf("%s with a 2s Grafana interval: exit %d, stderr:\n%s", cmd, code, stderr)
		}
	}

	// Usage errors are one line and exit 2; help and version exit 0.
	if code, _, stderr = runCLI(t, "check"); code != 2 || stderr != "scrapegen: error: required flag(s) '--inventory' not provided\n" {
		t.Errorf("missing flag: exit %d, stderr %q", code, stderr)
	}
	if code, stdout, _ = runCLI(t, "--version"); code != 0 || !strings.Contains(stdout, "scrapegen, version") {
		t.Errorf("--version: exit %d, %q", code, stdout)
	}
	if code, stdout, _ = runCLI(t, "generate", "-h"); code != 0 || !strings.Contains(stdout, "--inventory=INVENTORY") {
		t.Errorf("-h: exit %d, %q", code, stdout)
	}
}

// TestSecretsStayInFiles puts a secret file where the inventory points and
// checks that no output holds its content, and that check notices when one
// does.
func TestSecretsStayInFiles(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "gitea-token")
	must(t, os.WriteFile(secret, []byte("s3cr3t-gitea-token\n"), 0o600))
	inv := filepath.Join(dir, "inv.yml")
	must(t, os.WriteFile(inv, []byte("grafana: {datasource_uid: vm}\nhosts:\n  fw: {gitea: {bearer_token_file: "+secret+"}}\n"), 0o600))
	out := filepath.Join(dir, "out")
	if code, _, stderr := runCLI(t, "generate", "--inventory", inv, "--out", out); code != 0 {
		t.Fatalf("generate: %s", stderr)
	}
	leaky := filepath.Join(out, "vmagent", "fw.yml")
	b, _ := os.ReadFile(leaky)
	must(t, os.WriteFile(leaky, append(b, []byte("# token: s3cr3t-gitea-token\n")...), 0o644))
	code, _, stderr := runCLI(t, "check", "--inventory", inv, "--dir", out)
	if want := leaky + ": holds the content of secret file " + secret + ": secrets must stay in files"; code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("check: exit %d, stderr:\n%s\nwant a line %q", code, stderr, want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
