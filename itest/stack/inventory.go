// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package stack

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/downwatch/downwatch/itest/daemon/proc"
)

// Timing is what the demo inventory sets instead of the plan's production
// intervals, so that a fault alerts within seconds.
type Timing struct {
	Scrape      time.Duration // scrape_interval (and timeout)
	Evaluation  time.Duration // vmalert group interval
	For         time.Duration // for, runner_for and host_for
	AbsentAfter time.Duration // how long a host may send nothing before HostGone
}

// DefaultTiming is the demo's timing: scrape 2s, evaluation 2s, for 10s.
// Two scrape intervals of silence mean a host or its vmagent is gone.
var DefaultTiming = Timing{Scrape: 2 * time.Second, Evaluation: 2 * time.Second, For: 10 * time.Second, AbsentAfter: 4 * time.Second}

// Deadline is the latest an alert may fire after its fault: `for`, plus two
// evaluation and two scrape intervals for the samples and the rule to see it.
func (t Timing) Deadline() time.Duration { return t.For + 2*t.Evaluation + 2*t.Scrape }

// inventoryTemplate is scrapegen/examples/plan.yml with the demo's loopback
// targets and short intervals. What the demo cannot run is left out: Gitea's
// own /metrics (no Gitea, only its runner API), node_exporter and the
// runners' systemd units (read through node_exporter), and web-arm, whose
// VictoriaMetrics is the one the stack starts.
var inventoryTemplate = template.Must(template.New("inventory").Parse(`# The demo's inventory: scrapegen/examples/plan.yml on loopback, written by
# itest/stack. Short intervals so that a fault alerts within seconds.
remote_write_url: {{.WriteURL}}
grafana:
  datasource_uid: victoriametrics
  folder: Infrastructure Services
  interval: 10s
defaults:
  scrape_interval: {{.T.Scrape}}
  evaluation_interval: {{.T.Evaluation}}
  for: {{.T.For}}
  runner_for: {{.T.For}}
  host_for: {{.T.For}}
  absent_after: {{.T.AbsentAfter}}
hosts:
  fw:
    node: {enabled: false}
    wireguard:
      target: {{.WireGuard}}
      interfaces: [{{.Interfaces}}]
      handshake_max_age: 10m
    gitea_runners:
      target: {{.Runners}}
      runners: [git-runner-1, git-runner-2]
  mail:
    node: {enabled: false}
    openldap: {target: {{.OpenLDAP}}}
    postfix: {target: {{.Postfix}}}
    dovecot: {target: {{.Dovecot}}}
`))

// generate writes the inventory and runs `scrapegen generate` on it: the
// stack runs exactly what scrapegen produced.
func (s *Stack) generate() error {
	var b strings.Builder
	err := inventoryTemplate.Execute(&b, map[string]any{
		"WriteURL":   s.VM.WriteURL(),
		"T":          s.Timing,
		"WireGuard":  s.Exporters[JobWireGuard].Addr,
		"Interfaces": s.WG.A.Name + ", " + s.WG.B.Name,
		"Runners":    s.Exporters[JobGiteaRunners].Addr,
		"OpenLDAP":   s.Exporters[JobOpenLDAP].Addr,
		"Postfix":    s.Exporters[JobPostfix].Addr,
		"Dovecot":    s.Exporters[JobDovecot].Addr,
	})
	if err != nil {
		return err
	}
	s.Inventory = filepath.Join(s.Dir, "inventory.yml")
	if err := os.WriteFile(s.Inventory, []byte(b.String()), 0o644); err != nil {
		return err
	}
	bin, err := proc.BuildCommand("scrapegen")
	if err != nil {
		return err
	}
	s.Generated = filepath.Join(s.Dir, "generated")
	out, err := exec.Command(bin, "generate", "--inventory", s.Inventory, "--out", s.Generated).CombinedOutput()
	if err != nil {
		return fmt.Errorf("scrapegen generate: %w: %s", err, out)
	}
	return nil
}

// ScrapeConfig is the vmagent scrape config scrapegen wrote for a host.
func (s *Stack) ScrapeConfig(host string) string {
	return filepath.Join(s.Generated, "vmagent", host+".yml")
}

// RulesFile is the vmalert rule file scrapegen wrote.
func (s *Stack) RulesFile() string { return filepath.Join(s.Generated, "vmalert", "rules.yml") }
