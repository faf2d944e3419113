// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package scrapegen

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/downwatch/downwatch/itest/daemon/victoria"
)

// alertsInventory is short on every interval, so the whole test runs in
// well under a minute: scrape and evaluation 1s, for 2s, absent after 8s.
const alertsInventory = `
grafana: {datasource_uid: vm, interval: 10s}
defaults:
  scrape_interval: 1s
  evaluation_interval: 1s
  for: 2s
  runner_for: 2s
  host_for: 2s
  absent_after: 8s
  handshake_max_age: 60s
hosts:
  mail:
    openldap: {}
    postfix: {}
    dovecot: {}
    custom:
      - {name: blackbox, target: "localhost:9115", metrics_path: /probe, down: 'probe_success{job="blackbox",host="mail"} == 0'}
  fw:
    wireguard: {interfaces: [wg0, wg1]}
    gitea: {target: "localhost:3001"}
    gitea_runners:
      runners: [r1, {name: r2, unit: runner-r2.service}]
  gone: {}
`

// feeder writes the synthetic samples an exporter fleet would produce,
// every 500ms, from a state the test changes.
type feeder struct {
	mu        sync.Mutex
	last      time.Time          // of the last successful write
	maxGap    time.Duration      // longest time between two writes: the machine may be busy
	values    map[string]float64 // series -> value
	handshake map[string]float64 // series -> seconds since the handshake
}

func (f *feeder) set(series string, v float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.values[series] = v
}

func (f *feeder) drop(prefix string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.values {
		if strings.HasPrefix(s, prefix) {
			delete(f.values, s)
		}
	}
}

func (f *feeder) text() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := float64(time.Now().Unix())
	var b strings.Builder
	for s, v := range f.values {
		fmt.Fprintf(&b, "%s %g\n", s, v)
	}
	for s, age := range f.handshake {
		fmt.Fprintf(&b, "%s %d\n", s, int64(now-age))
	}
	return b.String()
}

func healthyFleet() *feeder {
	up := func(host, job string) string { return fmt.Sprintf(`up{host=%q,job=%q}`, host, job) }
	v := map[string]float64{
		up("mail", "node"): 1, up("mail", "openldap"): 1, up("mail", "postfix"): 1, up("mail", "dovecot"): 1, up("mail", "blackbox"): 1,
		`openldap_up{host="mail",job="openldap"}`:                         1,
		`postfix_up{host="mail",job="postfix"}`:                           1,
		`dovecot_up{host="mail",job="dovecot"}`:                           1,
		`dovecot_probe_success{host="mail",job="dovecot",service="imap"}`: 1,
		`dovecot_probe_success{host="mail",job="dovecot",service="pop3"}`: 1,
		`probe_success{host="mail",job="blackbox"}`:                       1,
		up("fw", "node"): 1, up("fw", "wireguard"): 1, up("fw", "gitea"): 1, up("fw", "gitea_runners"): 1,
		`node_systemd_unit_state{host="fw",job="node",name="runner-r2.service",state="active"}`:   1,
		`node_systemd_unit_state{host="fw",job="node",name="runner-r2.service",state="inactive"}`: 0,
		`wireguard_up{host="fw",job="wireguard"}`:                                                 1,
		`wireguard_device_present{host="fw",job="wireguard",device="wg0"}`:                        1,
		`wireguard_device_present{host="fw",job="wireguard",device="wg1"}`:                        1,
		`gitea_runner_up{host="fw",job="gitea_runners"}`:                                          1,
		`gitea_actions_runner_online{host="fw",job="gitea_runners",runner="r1"}`:                  1,
		`gitea_actions_runner_online{host="fw",job="gitea_runners",runner="r2"}`:                  1,
		up("gone", "node"): 1,
	}
	return &feeder{values: v, handshake: map[string]float64{
		`wireguard_peer_last_handshake_seconds{host="fw",job="wireguard",device="wg0",public_key="AAAA="}`: 10,
		`wireguard_peer_last_handshake_seconds{host="fw",job="wireguard",device="wg0",public_key="BBBB="}`: 10,
	}}
}

// alertKey names an alert by its name and the labels that tell failures apart.
func alertKey(a victoria.Alert) string {
	k := a.Name
	for _, l := range []string{"host", "service", "runner", "interface", "public_key"} {
		if v, ok := a.Labels[l]; ok {
			k += " " + l + "=" + v
		}
	}
	return k
}

func activeAlerts(ctx context.Context, t *testing.T, a *victoria.Alerter) (firing, pending []string) {
	t.Helper()
	alerts, err := a.Alerts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, al := range alerts {
		if al.State == "firing" {
			firing = append(firing, alertKey(al))
		} else {
			pending = append(pending, alertKey(al))
		}
	}
	sort.Strings(firing)
	sort.Strings(pending)
	return firing, pending
}

// TestGeneratedRulesFire starts VictoriaMetrics and vmalert with the
// generated rules, writes a healthy fleet's samples, breaks one thing per
// rule kind, and checks that exactly the matching alerts fire, and that
// they clear when all is well again.
func TestGeneratedRulesFire(t *testing.T) {
	dir := t.TempDir()
	inv := filepath.Join(dir, "inventory.yml")
	must(t, os.WriteFile(inv, []byte(alertsInventory), 0o600))
	out := generate(t, inv)

	vm := victoria.Start(t, victoria.ServerOptions{})
	sink := victoria.StartSink(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()

	fleet := healthyFleet()
	feed := func() {
		if err := vm.ImportPrometheus(ctx, fleet.text()); err != nil {
			if ctx.Err() == nil {
				t.Errorf("import: %v", err)
			}
			return
		}
		fleet.mu.Lock()
		if now := time.Now(); !fleet.last.IsZero() {
			fleet.maxGap = max(fleet.maxGap, now.Sub(fleet.last))
		}
		fleet.last = time.Now()
		fleet.mu.Unlock()
	}
	feed()
	var wg sync.WaitGroup
	wg.Add(1)
	stopFeeding := make(chan struct{})
	go func() {
		defer wg.Done()
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopFeeding:
				return
			case <-tick.C:
				feed()
			}
		}
	}()
	defer func() { close(stopFeeding); wg.Wait() }()

	// vmalert starts once VictoriaMetrics answers with every up series, so
	// that its first evaluation sees the healthy fleet.
	if err := waitQuery(ctx, vm, "count(last_over_time(up[8s]))", 10); err != nil {
		t.Fatal(err)
	}
	alerter := victoria.StartAlert(t, victoria.AlertOptions{
		Rules:              []string{filepath.Join(out, "vmalert", "rules.yml")},
		DatasourceURL:      vm.URL,
		NotifierURL:        sink.URL,
		EvaluationInterval: time.Second,
	})

	// Healthy: nothing pending or firing over several evaluations, longer
	// than every `for`.
	quietSince := time.Now()
	for time.Since(quietSince) < 5*time.Second {
		time.Sleep(500 * time.Millisecond)
		firing, pending := activeAlerts(ctx, t, alerter)
		if len(firing)+len(pending) > 0 {
			fleet.mu.Lock()
			gap := fleet.maxGap
			fleet.mu.Unlock()
			t.Fatalf("healthy fleet: firing %q, pending %q (longest pause between sample writes: %v)", firing, pending, gap)
		}
	}
	if bad, err := alerter.RuleHealth(ctx); err != nil || len(bad) > 0 {
		t.Fatalf("rules that fail to evaluate: %v %q", err, bad)
	}
	grafana := readGrafanaRules(t, filepath.Join(out, "grafana", "alert-rules.yaml"))
	if got := grafanaFiring(ctx, t, vm, grafana); len(got) > 0 {
		t.Fatalf("healthy fleet: Grafana's rules would fire %q", got)
	}

	// Break one thing for each kind of rule.
	fleet.set(`up{host="mail",job="openldap"}`, 0) // exporter down...
	fleet.drop(`openldap_up{`)                     // ...and its metrics gone with it
	fleet.set(`postfix_up{host="mail",job="postfix"}`, 0)
	fleet.set(`dovecot_probe_success{host="mail",job="dovecot",service="imap"}`, 0)
	fleet.set(`probe_success{host="mail",job="blackbox"}`, 0)
	fleet.set(`up{host="fw",job="gitea"}`, 0)
	fleet.set(`up{host="mail",job="node"}`, 0) // node's rule covers three hosts: the alert names one
	fleet.set(`gitea_actions_runner_online{host="fw",job="gitea_runners",runner="r1"}`, 0)
	fleet.drop(`gitea_actions_runner_online{host="fw",job="gitea_runners",runner="r2"}`)
	fleet.set(`node_systemd_unit_state{host="fw",job="node",name="runner-r2.service",state="active"}`, 0)
	fleet.set(`wireguard_device_present{host="fw",job="wireguard",device="wg1"}`, 0)
	fleet.mu.Lock()
	fleet.handshake[`wireguard_peer_last_handshake_seconds{host="fw",job="wireguard",device="wg0",public_key="BBBB="}`] = 120
	fleet.mu.Unlock()
	fleet.drop(`up{host="gone",`) // the whole host, or its vmagent, is gone

	want := []string{
		"ExporterDown host=mail service=openldap",
		"ServiceDown host=mail service=postfix",
		"ServiceDown host=mail service=dovecot",
		"ServiceDown host=mail service=blackbox",
		"ExporterDown host=fw service=gitea",
		"ExporterDown host=mail service=node",
		"GiteaRunnerOffline host=fw service=gitea_runners runner=r1",
		"GiteaRunnerOffline host=fw service=gitea_runners runner=r2",
		"GiteaRunnerUnitInactive host=fw service=gitea_runners runner=r2",
		"WireGuardInterfaceDown host=fw service=wireguard interface=wg1",
		"WireGuardPeerHandshakeStale host=fw service=wireguard public_key=BBBB=",
		"HostGone host=gone service=vmagent",
	}
	sort.Strings(want)
	var firing []string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		firing, _ = activeAlerts(ctx, t, alerter)
		if !slices.ContainsFunc(want, func(w string) bool { return !slices.Contains(firing, w) }) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	// Let one more evaluation pass: an alert that should not fire (say
	// ServiceDown for the openldap exporter that is down) would by now.
	time.Sleep(1500 * time.Millisecond)
	firing, pending := activeAlerts(ctx, t, alerter)
	if !slices.Equal(firing, want) {
		t.Errorf("firing alerts:\n  got  %q\n  want %q\n  pending %q", firing, want, pending)
	}
	if bad, err := alerter.RuleHealth(ctx); err != nil || len(bad) > 0 {
		t.Errorf("rules that fail to evaluate: %v %q", err, bad)
	}
	wantG := wantGrafana(want, map[string]string{"r2": "runner-r2.service"})
	if got := grafanaFiring(ctx, t, vm, grafana); !slices.Equal(got, wantG) {
		t.Errorf("Grafana's rules would fire:\n  got  %q\n  want %q", got, wantG)
	}
	got := map[string]bool{}
	for _, a := range sink.Received() {
		if l, ok := a["labels"].(map[string]any); ok {
			got[fmt.Sprint(l["alertname"])] = true
		}
	}
	if !got["HostGone"] || !got["ServiceDown"] {
		t.Errorf("notifier received alerts named %v, want HostGone and ServiceDown among them", slices.Sorted(maps.Keys(got)))
	}

	// Repaired: everything clears.
	healthy := healthyFleet()
	fleet.mu.Lock()
	fleet.values, fleet.handshake = healthy.values, healthy.handshake
	fleet.mu.Unlock()
	deadline = time.Now().Add(20 * time.Second)
	for {
		firing, pending = activeAlerts(ctx, t, alerter)
		if len(firing)+len(pending) == 0 && len(grafanaFiring(ctx, t, vm, grafana)) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after repair still firing %q, pending %q", firing, pending)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// waitQuery waits until expr returns one sample with value want.
func waitQuery(ctx context.Context, vm *victoria.Server, expr string, want float64) error {
	var last []victoria.Sample
	for range 100 {
		got, err := vm.Query(ctx, expr)
		if err != nil {
			return err
		}
		if len(got) == 1 && got[0].Value == want {
			return nil
		}
		last = got
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s: got %v, want %g", expr, last, want)
}
