// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Package chain is the detection test of the whole chain: with every part
// of the plan running on loopback (itest/stack), each fault must raise its
// alert in vmalert in time, the alert must resolve when the part is back,
// and nothing may fire while all is well.
package chain

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/downwatch/downwatch/itest/daemon/proc"
	"github.com/downwatch/downwatch/itest/daemon/victoria"
	"github.com/downwatch/downwatch/itest/daemon/wireguard"
	"github.com/downwatch/downwatch/itest/stack"
)

var healthyFor = flag.Duration("chain.healthy", defaultHealthy(),
	"how long the chain runs healthy, with traffic and one short restart, before the faults (env DOWNWATCH_E2E_HEALTHY)")

func defaultHealthy() time.Duration {
	if v := os.Getenv("DOWNWATCH_E2E_HEALTHY"); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return 2 * time.Minute
}

// alertKey names an alert by its name and the labels that tell it apart.
type alertKey struct {
	name   string
	labels map[string]string
}

func (k alertKey) matches(a victoria.Alert) bool {
	if a.Name != k.name {
		return false
	}
	for l, v := range k.labels {
		if a.Labels[l] != v {
			return false
		}
	}
	return true
}

func (k alertKey) String() string {
	var ls []string
	for l, v := range k.labels {
		ls = append(ls, l+"="+v)
	}
	sort.Strings(ls)
	return k.name + "{" + strings.Join(ls, ",") + "}"
}

func describe(a victoria.Alert) string {
	var ls []string
	for _, l := range []string{"host", "service", "interface", "runner"} {
		if v := a.Labels[l]; v != "" {
			ls = append(ls, l+"="+v)
		}
	}
	return a.Name + "{" + strings.Join(ls, ",") + "}"
}

// fault is one part to stop and the alert that must catch it. also lists
// alerts the same fault may raise besides (Dovecot down also takes its
// statistics socket with it).
type fault struct {
	part   string
	expect alertKey
	also   []alertKey
}

// monitor polls vmalert and keeps every firing alert that no current fault
// explains.
type monitor struct {
	s *stack.Stack

	mu      sync.Mutex
	allowed []alertKey
	alerts  []victoria.Alert
	polled  time.Time
	false_  map[string]string // alert -> when and during what
	phase   string
	errs    int
}

func (m *monitor) run(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		as, err := m.s.Alert.Alerts(qctx)
		cancel()
		now := time.Now()
		m.mu.Lock()
		if err != nil {
			m.errs++
		} else {
			m.alerts, m.polled = as, now
			for _, a := range as {
				if a.State != "firing" {
					continue
				}
				ok := false
				for _, k := range m.allowed {
					ok = ok || k.matches(a)
				}
				if d := describe(a); !ok && m.false_[d] == "" {
					m.false_[d] = fmt.Sprintf("%s during %s", now.UTC().Format("15:04:05.0"), m.phase)
				}
			}
		}
		m.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *monitor) set(phase string, allowed ...alertKey) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.phase, m.allowed = phase, allowed
}

// waitFor polls the monitor's latest view until cond holds, and returns
// when it first did.
func (m *monitor) waitFor(timeout time.Duration, cond func([]victoria.Alert) bool) (time.Time, bool) {
	deadline := time.Now().Add(timeout)
	var seen time.Time
	for time.Now().Before(deadline) {
		m.mu.Lock()
		as, at := m.alerts, m.polled
		m.mu.Unlock()
		if at.After(seen) {
			seen = at
			if cond(as) {
				return at, true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Time{}, false
}

func state(as []victoria.Alert, k alertKey) string {
	st := ""
	for _, a := range as {
		if k.matches(a) && (st == "" || a.State == "firing") {
			st = a.State
		}
	}
	return st
}

func activeList(as []victoria.Alert) string {
	var out []string
	for _, a := range as {
		out = append(out, a.State+" "+describe(a))
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

type result struct {
	fault              fault
	detect, resolve    time.Duration
	detected, resolved bool
}

func TestDetection(t *testing.T) {
	if testing.Short() {
		t.Skip("the detection test runs the whole chain for minutes")
	}
	proc.RequireRoot(t)
	for _, b := range []string{"slapd", "slapadd", "ldapmodify", "postfix", "master", "dovecot", "doveadm",
		victoria.ServerBinary, victoria.AgentBinary, victoria.AlertBinary} {
		proc.RequireBinary(t, b)
	}
	wireguard.Require(t)

	dir := t.TempDir()
	// Dovecot's and Postfix's unprivileged users must get through to their
	// files; t.TempDir's parent is private to root.
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	s, err := stack.Start(stack.Options{Dir: dir, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, f := range []string{"vmalert/vmalert.log", "vmagent-mail/vmagent.log", "vmagent-fw/vmagent.log"} {
				t.Logf("--- %s:\n%s", f, proc.FileTail(filepath.Join(dir, f), 2000))
			}
		}
		s.Close()
	})
	t.Logf("stack up in %.1fs; inventory %s", time.Since(t0).Seconds(), s.Inventory)
	tm := s.Timing
	deadline := tm.Deadline()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := &monitor{s: s, false_: map[string]string{}}
	m.set("start-up")
	go m.run(ctx)

	// Start-up: every rule evaluates without error, and the chain settles
	// with no alert active at all (after a few evaluations, so that the
	// empty list is vmalert's verdict and not its not having started).
	time.Sleep(3 * tm.Evaluation)
	if _, ok := m.waitFor(time.Minute, func(as []victoria.Alert) bool { return len(as) == 0 }); !ok {
		rows, _ := s.Status(ctx)
		t.Fatalf("the healthy chain does not settle without alerts:\n%s", stack.FormatTable(rows))
	}
	if bad, err := s.Alert.RuleHealth(ctx); err != nil || len(bad) > 0 {
		t.Fatalf("rules failing: %v %v", bad, err)
	}

	// Healthy: traffic on every service, and Dovecot restarted once for
	// less than `for`. Nothing may fire.
	m.set("the healthy run")
	healthyStart := time.Now()
	restarted := false
	var restartDown time.Duration
	for time.Since(healthyStart) < *healthyFor {
		if err := s.Traffic(ctx); err != nil {
			t.Errorf("traffic: %v", err)
		}
		if !restarted && time.Since(healthyStart) > *healthyFor/3 {
			restarted = true
			p, err := s.Part("dovecot")
			if err != nil {
				t.Fatal(err)
			}
			m.set("the healthy run (dovecot restart shorter than for)")
			down := time.Now()
			s.StopPart(p)
			time.Sleep(tm.For / 2)
			if err := s.StartPart(p); err != nil {
				t.Fatalf("dovecot back: %v", err)
			}
			restartDown = time.Since(down)
			t.Logf("dovecot was down for %.1fs (for is %s)", restartDown.Seconds(), tm.For)
			// Its pending alert must go away without firing.
			if _, ok := m.waitFor(deadline+10*time.Second, func(as []victoria.Alert) bool { return len(as) == 0 }); !ok {
				t.Errorf("alerts left after the short dovecot restart")
			}
			m.set("the healthy run")
		}
		time.Sleep(5 * time.Second)
	}
	t.Logf("healthy run: %s with mail, IMAP, LDAP and tunnel traffic every 5s", time.Since(healthyStart).Round(time.Second))

	faults := []fault{
		{part: "slapd", expect: alertKey{"ServiceDown", map[string]string{"host": stack.HostMail, "service": stack.JobOpenLDAP}}},
		{part: "postfix", expect: alertKey{"ServiceDown", map[string]string{"host": stack.HostMail, "service": stack.JobPostfix}}},
		{part: "dovecot", expect: alertKey{"ServiceDown", map[string]string{"host": stack.HostMail, "service": stack.JobDovecot}},
			also: []alertKey{{"DovecotStatsDown", map[string]string{"host": stack.HostMail, "service": stack.JobDovecot}}}},
		{part: "wireguard:" + s.WG.A.Name, expect: alertKey{"WireGuardInterfaceDown", map[string]string{"host": stack.HostFW, "interface": s.WG.A.Name}}},
		{part: "openldap_exporter", expect: alertKey{"ExporterDown", map[string]string{"host": stack.HostMail, "service": stack.JobOpenLDAP}}},
		{part: "vmagent:" + stack.HostMail, expect: alertKey{"HostGone", map[string]string{"host": stack.HostMail}}},
	}
	var results []result
	for _, f := range faults {
		r := result{fault: f}
		p, err := s.Part(f.part)
		if err != nil {
			t.Fatal(err)
		}
		m.set("the "+f.part+" fault", append([]alertKey{f.expect}, f.also...)...)
		stopped := time.Now()
		s.StopPart(p)
		at, ok := m.waitFor(deadline+20*time.Second, func(as []victoria.Alert) bool { return state(as, f.expect) == "firing" })
		r.detected, r.detect = ok, at.Sub(stopped)
		if !ok {
			m.mu.Lock()
			t.Errorf("%s stopped: %s not firing after %s; active: %s", f.part, f.expect, deadline+20*time.Second, activeList(m.alerts))
			m.mu.Unlock()
		}
		started := time.Now()
		if err := s.StartPart(p); err != nil {
			t.Fatalf("%s back: %v", f.part, err)
		}
		at, ok = m.waitFor(time.Minute, func(as []victoria.Alert) bool {
			for _, k := range append([]alertKey{f.expect}, f.also...) {
				if state(as, k) != "" {
					return false
				}
			}
			return true
		})
		r.resolved, r.resolve = ok, at.Sub(started)
		if !ok {
			t.Errorf("%s started again: %s still active after 1m", f.part, f.expect)
		}
		results = append(results, r)
		// The next fault starts from a quiet chain.
		if _, ok := m.waitFor(time.Minute, func(as []victoria.Alert) bool { return len(as) == 0 }); !ok {
			m.mu.Lock()
			t.Errorf("after %s: alerts still active: %s", f.part, activeList(m.alerts))
			m.mu.Unlock()
		}
		m.set("after the " + f.part + " fault")
	}
	cancel()

	var b strings.Builder
	fmt.Fprintf(&b, "scrape %s, evaluation %s, for %s: an alert must fire within %s of its fault.\n"+
		"FIRING IN counts from the stop, RESOLVED IN from the start of the restart.\n\n", tm.Scrape, tm.Evaluation, tm.For, deadline)
	fmt.Fprintf(&b, "%-26s  %-60s  %9s  %11s\n", "STOPPED", "ALERT", "FIRING IN", "RESOLVED IN")
	for _, r := range results {
		d, rs := "missing", "-"
		if r.detected {
			d = fmt.Sprintf("%.1fs", r.detect.Seconds())
		}
		if r.resolved {
			rs = fmt.Sprintf("%.1fs", r.resolve.Seconds())
		}
		fmt.Fprintf(&b, "%-26s  %-60s  %9s  %11s\n", r.fault.part, r.fault.expect, d, rs)
	}
	t.Logf("detection and resolve times:\n%s", b.String())
	for _, r := range results {
		if r.detected && r.detect > deadline {
			t.Errorf("%s: %s fired after %.1fs, later than %s", r.fault.part, r.fault.expect, r.detect.Seconds(), deadline)
		}
	}
	// The chain ends at the notifier: every alert that fired was sent.
	sent := s.Sink.Received()
	for _, r := range results {
		if r.detected && !notified(sent, r.fault.expect) {
			t.Errorf("%s fired but the notifier never received it", r.fault.expect)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for a, when := range m.false_ {
		t.Errorf("false alert: %s fired at %s", a, when)
	}
	if m.errs > 20 {
		t.Errorf("%d failed polls of vmalert", m.errs)
	}
}

// notified reports whether vmalert posted an alert matching k to the
// notifier (Alertmanager's format: labels hold alertname).
func notified(sent []map[string]any, k alertKey) bool {
	for _, a := range sent {
		ls, _ := a["labels"].(map[string]any)
		if ls["alertname"] != k.name {
			continue
		}
		ok := true
		for l, v := range k.labels {
			ok = ok && ls[l] == v
		}
		if ok {
			return true
		}
	}
	return false
}
