// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Package skeleton tests what every exporter binary shares: flags, the
// landing page, /metrics with build info, TLS and basic auth through
// --web.config.file, and one-line errors for bad flags and files.
package skeleton

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/downwatch/downwatch/itest/daemon/proc"
)

var exporters = []struct {
	module    string
	namespace string
}{
	{"openldap_exporter", "openldap"},
	{"postfix_exporter", "postfix"},
	{"dovecot_exporter", "dovecot"},
	{"wireguard_exporter", "wireguard"},
	{"gitea_runner_exporter", "gitea_runner"},
}

func TestServesLandingPageAndMetrics(t *testing.T) {
	for _, e := range exporters {
		t.Run(e.module, func(t *testing.T) {
			t.Parallel()
			bin := proc.Exporter(t, e.module)
			addr := fmt.Sprintf("127.0.0.1:%d", proc.FreePort(t))
			proc.Start(t, proc.Spec{Name: e.module, Path: bin, Dir: t.TempDir(),
				Args: []string{"--web.listen-address=" + addr}})
			if err := proc.WaitTCP(addr, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			landing := get(t, http.DefaultClient, "http://"+addr+"/", "", "")
			if !strings.Contains(landing.body, e.module) || !strings.Contains(landing.body, "/metrics") {
				t.Errorf("landing page lacks the name or the metrics link:\n%s", landing.body)
			}
			m := get(t, http.DefaultClient, "http://"+addr+"/metrics", "", "")
			for _, want := range []string{
				e.module + `_build_info{`, `version="test"`, "go_goroutines ", "process_resident_memory_bytes ",
			} {
				if !strings.Contains(m.body, want) {
					t.Errorf("/metrics lacks %q", want)
				}
			}
		})
	}
}

func TestDisableExporterMetrics(t *testing.T) {
	bin := proc.Exporter(t, "openldap_exporter")
	addr := fmt.Sprintf("127.0.0.1:%d", proc.FreePort(t))
	proc.Start(t, proc.Spec{Name: "exporter", Path: bin, Dir: t.TempDir(),
		Args: []string{"--web.listen-address=" + addr, "--web.disable-exporter-metrics"}})
	if err := proc.WaitTCP(addr, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	m := get(t, http.DefaultClient, "http://"+addr+"/metrics", "", "")
	if strings.Contains(m.body, "go_goroutines") || !strings.Contains(m.body, "openldap_exporter_build_info") {
		t.Errorf("want build info without Go metrics, got:\n%s", m.body)
	}
}

func TestVersionAndHelp(t *testing.T) {
	for _, e := range exporters {
		t.Run(e.module, func(t *testing.T) {
			t.Parallel()
			bin := proc.Exporter(t, e.module)
			out, err := exec.Command(bin, "--version").CombinedOutput()
			if err != nil || !strings.Contains(string(out), "version test") {
				t.Errorf("--version: %v\n%s", err, out)
			}
			out, err = exec.Command(bin, "-h").CombinedOutput()
			if err != nil || !strings.Contains(string(out), "--web.listen-address") ||
				!strings.Contains(string(out), "--web.config.file") {
				t.Errorf("-h: %v\n%s", err, out)
			}
		})
	}
}

func TestBadInputExitsWithOneLine(t *testing.T) {
	dir := t.TempDir()
	badYAML := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(badYAML, []byte("tls_server_config: {cert_file: \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	unreadable := filepath.Join(dir, "missing.yml")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"--no-such-flag"}, "unknown long flag '--no-such-flag'"},
		{"missing web config", []string{"--web.config.file=" + unreadable}, "--web.config.file=" + unreadable},
		{"bad web config", []string{"--web.config.file=" + badYAML}, "--web.config.file=" + badYAML},
		{"bad log level", []string{"--log.level=loud"}, "log level loud"},
	}
	for _, e := range exporters {
		bin := proc.Exporter(t, e.module)
		for _, tt := range tests {
			t.Run(e.module+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				args := append([]string{fmt.Sprintf("--web.listen-address=127.0.0.1:%d", proc.FreePort(t))}, tt.args...)
				cmd := exec.Command(bin, args...)
				var stderr strings.Builder
				cmd.Stderr = &stderr
				done := make(chan error, 1)
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				go func() { done <- cmd.Wait() }()
				select {
				case err := <-done:
					if err == nil {
						t.Fatalf("exited 0, want non-zero")
					}
				case <-time.After(10 * time.Second):
					_ = cmd.Process.Kill()
					t.Fatalf("still running after 10s, want an exit")
				}
				lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
				last := lines[len(lines)-1]
				if !strings.HasPrefix(last, e.module+": error: ") || !strings.Contains(last, tt.want) {
					t.Errorf("last stderr line = %q, want %q: error: …%s…", last, e.module, tt.want)
				}
				for _, l := range lines[:len(lines)-1] {
					if strings.Contains(l, "level=ERROR") {
						t.Errorf("error reported twice: %q", l)
					}
				}
			})
		}
	}
}

func TestTLSAndBasicAuth(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	must(t, os.WriteFile(certFile, certPEM, 0o600))
	must(t, os.WriteFile(keyFile, keyPEM, 0o600))
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	must(t, err)
	webConfig := filepath.Join(dir, "web.yml")
	must(t, os.WriteFile(webConfig, fmt.Appendf(nil,
		"tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  prometheus: %s\n",
		certFile, keyFile, hash), 0o600))

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}}}

	for _, e := range exporters {
		t.Run(e.module, func(t *testing.T) {
			t.Parallel()
			bin := proc.Exporter(t, e.module)
			addr := fmt.Sprintf("127.0.0.1:%d", proc.FreePort(t))
			proc.Start(t, proc.Spec{Name: e.module, Path: bin, Dir: t.TempDir(),
				Args: []string{"--web.listen-address=" + addr, "--web.config.file=" + webConfig}})
			if err := proc.WaitTCP(addr, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			url := "https://" + addr + "/metrics"
			if r := get(t, client, url, "prometheus", "s3cret"); r.status != 200 || !strings.Contains(r.body, "_build_info") {
				t.Errorf("right password: status %d", r.status)
			}
			if r := get(t, client, url, "prometheus", "wrong"); r.status != http.StatusUnauthorized {
				t.Errorf("wrong password: status %d, want 401", r.status)
			}
			if r := get(t, client, url, "", ""); r.status != http.StatusUnauthorized {
				t.Errorf("no password: status %d, want 401", r.status)
			}
			// Plain HTTP to a TLS listener must not get metrics.
			if r, err := http.Get("http://" + addr + "/metrics"); err == nil {
				b, _ := io.ReadAll(r.Body)
				r.Body.Close()
				if strings.Contains(string(b), "_build_info") {
					t.Errorf("plain HTTP got metrics")
				}
			}
		})
	}
}

type response struct {
	status int
	body   string
}

func get(t *testing.T, c *http.Client, url, user, pass string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	must(t, err)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	return response{resp.StatusCode, string(b)}
}

func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	kb, err := x509.MarshalECPrivateKey(key)
	must(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
