// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Package scrapegen tests scrapegen's outputs with the real consumers:
// vmagent and vmalert from Debian's victoria-metrics package, promtool, and
// a running VictoriaMetrics and vmalert fed with synthetic samples.
package scrapegen

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/downwatch/downwatch/itest/daemon/proc"
)

// generate runs the scrapegen binary on an inventory and returns the
// output directory.
func generate(t *testing.T, inventory string) string {
	t.Helper()
	bin := proc.Exporter(t, "scrapegen")
	out := t.TempDir()
	cmd := exec.Command(bin, "generate", "--inventory", inventory, "--out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scrapegen generate --inventory %s: %v\n%s", inventory, err, b)
	}
	return out
}

// validInventories are the committed inventories that must generate.
func validInventories(t *testing.T) []string {
	t.Helper()
	root, err := proc.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	files := []string{filepath.Join(root, "scrapegen", "examples", "plan.yml")}
	more, err := filepath.Glob(filepath.Join(root, "scrapegen", "testdata", "valid-*.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return append(files, more...)
}

func runTool(t *testing.T, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Errorf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
}

// TestToolsAcceptOutputs runs each generated file through the tool that
// will read it in production.
func TestToolsAcceptOutputs(t *testing.T) {
	vmagent := proc.RequireBinary(t, "vmagent")
	vmalert := proc.RequireBinary(t, "vmalert")
	promtool := proc.RequireBinary(t, "promtool")
	for _, inv := range validInventories(t) {
		t.Run(filepath.Base(inv), func(t *testing.T) {
			t.Parallel()
			out := generate(t, inv)
			configs, _ := filepath.Glob(filepath.Join(out, "vmagent", "*"))
			if len(configs) == 0 {
				t.Fatal("no vmagent configs generated")
			}
			for _, c := range configs {
				runTool(t, vmagent, "-promscrape.config="+withLocalFiles(t, c), "-promscrape.config.strictParse", "-promscrape.config.dryRun")
			}
			rules := filepath.Join(out, "vmalert", "rules.yml")
			runTool(t, vmalert, "-dryRun", "-rule="+rules)
			runTool(t, promtool, "check", "rules", rules)
		})
	}
}

// TestToolsRejectBrokenFiles makes sure the tools above would notice a
// broken file, so that their passing means something.
func TestToolsRejectBrokenFiles(t *testing.T) {
	vmagent := proc.RequireBinary(t, "vmagent")
	vmalert := proc.RequireBinary(t, "vmalert")
	promtool := proc.RequireBinary(t, "promtool")
	dir := t.TempDir()
	scrape := filepath.Join(dir, "scrape.yml")
	rules := filepath.Join(dir, "rules.yml")
	must(t, os.WriteFile(scrape, []byte("scrape_configs:\n  - job_name: x\n    bearer_token_fil: /x\n    static_configs: [{targets: ['localhost:1']}]\n"), 0o600))
	must(t, os.WriteFile(rules, []byte("groups:\n  - name: g\n    rules:\n      - alert: X\n        expr: up ==\n"), 0o600))
	for _, c := range [][]string{
		{vmagent, "-promscrape.config=" + scrape, "-promscrape.config.strictParse", "-promscrape.config.dryRun"},
		{vmalert, "-dryRun", "-rule=" + rules},
		{promtool, "check", "rules", rules},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err == nil {
			t.Errorf("%s accepted a broken file:\n%s", filepath.Base(c[0]), out)
		}
	}
}

var fileKeyRe = regexp.MustCompile(`((ca_file|password_file|bearer_token_file)"?:\s*"?)(/[^"\s]+)`)

// withLocalFiles returns a copy of a scrape config whose CA, password and
// token files point at files the test made: vmagent's dry run reads them,
// and the inventory names paths on the target hosts.
func withLocalFiles(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	must(t, os.WriteFile(ca, selfSignedPEM(t), 0o600))
	secret := filepath.Join(dir, "secret")
	must(t, os.WriteFile(secret, []byte("not-a-real-secret\n"), 0o600))
	out := fileKeyRe.ReplaceAllStringFunc(string(b), func(m string) string {
		sub := fileKeyRe.FindStringSubmatch(m)
		if sub[2] == "ca_file" {
			return sub[1] + ca
		}
		return sub[1] + secret
	})
	copyPath := filepath.Join(dir, filepath.Base(path))
	must(t, os.WriteFile(copyPath, []byte(out), 0o600))
	return copyPath
}

func selfSignedPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
