// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package scrapegen

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/downwatch/downwatch/itest/daemon/victoria"
)

// TestVMAgentScrapesWithHostLabel runs a real vmagent on a generated
// scrape config against a stand-in exporter and finds its samples in
// VictoriaMetrics with the host and job labels the rules select on.
func TestVMAgentScrapesWithHostLabel(t *testing.T) {
	exporter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, "# TYPE openldap_up gauge\nopenldap_up 1\n")
	}))
	defer exporter.Close()
	target := strings.TrimPrefix(exporter.URL, "http://")

	dir := t.TempDir()
	inv := filepath.Join(dir, "inventory.yml")
	must(t, os.WriteFile(inv, []byte(fmt.Sprintf(`
grafana: {datasource_uid: vm}
defaults: {scrape_interval: 1s, absent_after: 5s}
hosts:
  mail:
    node: {enabled: false}
    openldap: {target: %q}
`, target)), 0o600))
	out := generate(t, inv)

	vm := victoria.Start(t, victoria.ServerOptions{})
	victoria.StartAgent(t, victoria.AgentOptions{
		ScrapeConfig:   filepath.Join(out, "vmagent", "mail.yml"),
		RemoteWriteURL: vm.WriteURL(),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, expr := range []string{`up{host="mail",job="openldap"}`, `openldap_up{host="mail",job="openldap"}`} {
		if err := waitQuery(ctx, vm, expr, 1); err != nil {
			t.Error(err)
		}
	}
}
