// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Package stack starts the whole monitoring chain on loopback, in one
// directory: slapd, Postfix, Dovecot, a WireGuard pair, a stand-in for
// Gitea's runner API, the five exporters as real binaries, VictoriaMetrics,
// one vmagent per host of the plan with the scrape configs scrapegen
// generated, and vmalert with the generated rules. The demo (itest/cmd/demo)
// and the detection test (itest/chain) share it. Every part can be stopped
// and started again, and the stack records every PID in its directory, so
// that StopRecorded can clean up after a stack whose process was killed.
package stack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/downwatch/downwatch/itest/daemon/dovecot"
	"github.com/downwatch/downwatch/itest/daemon/fakegitea"
	"github.com/downwatch/downwatch/itest/daemon/postfix"
	"github.com/downwatch/downwatch/itest/daemon/proc"
	"github.com/downwatch/downwatch/itest/daemon/slapd"
	"github.com/downwatch/downwatch/itest/daemon/victoria"
	"github.com/downwatch/downwatch/itest/daemon/wireguard"
)

// The plan's hosts that run a vmagent in the demo, and the job names
// scrapegen gives their services.
const (
	HostMail = "mail"
	HostFW   = "fw"

	JobOpenLDAP     = "openldap"
	JobPostfix      = "postfix"
	JobDovecot      = "dovecot"
	JobWireGuard    = "wireguard"
	JobGiteaRunners = "gitea_runners"
)

// Runners are the Gitea Actions runners of the plan's fw host.
var Runners = []string{"git-runner-1", "git-runner-2"}

// Hosts lists the vmagent hosts in a fixed order.
var Hosts = []string{HostMail, HostFW}

// giteaToken is the stand-in Gitea's API token; it is not a secret.
const giteaToken = "downwatch-demo-token"

// Options configures a stack.
type Options struct {
	// Dir holds everything: configs, data, logs and the PID file. It must
	// exist or be creatable; its parent must let the daemons' users
	// (dovecot, postfix) through, so Start makes Dir mode 0755.
	Dir string
	// Timing goes into the inventory; zero means DefaultTiming.
	Timing Timing
	// Logf reports progress; nil is quiet.
	Logf func(format string, args ...any)
}

// Stack is a running chain. Its fields are the parts' harness handles.
type Stack struct {
	Dir    string
	Timing Timing

	Slapd     *slapd.Server
	Postfix   *postfix.Postfix
	Dovecot   *dovecot.Dovecot
	WG        *wireguard.Pair
	Gitea     *fakegitea.Server
	Exporters map[string]*Exporter // by job name
	VM        *victoria.Server
	Agents    map[string]*victoria.Agent // by host
	Alert     *victoria.Alerter
	Sink      *victoria.Sink

	Inventory string // the demo inventory
	Generated string // scrapegen's output directory

	logf   func(string, ...any)
	mu     sync.Mutex // serialises part starts and stops and the PID file
	closed bool
}

// Start starts every part, each waiting until it answers, and returns the
// stack. On error, what was started is stopped again.
func Start(opts Options) (s *Stack, err error) {
	if opts.Dir == "" {
		return nil, errors.New("stack: Options.Dir is required")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	// Dovecot's and Postfix's unprivileged processes read their files here.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	s = &Stack{Dir: dir, Timing: opts.Timing, Exporters: map[string]*Exporter{}, Agents: map[string]*victoria.Agent{}, logf: opts.Logf}
	if s.Timing == (Timing{}) {
		s.Timing = DefaultTiming
	}
	if s.logf == nil {
		s.logf = func(string, ...any) {}
	}
	if err := os.WriteFile(s.pidFile(), nil, 0o644); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.Close()
			s = nil
		}
	}()
	steps := []struct {
		what string
		fn   func() error
	}{
		{"slapd", s.startSlapd},
		{"postfix", s.startPostfix},
		{"dovecot", s.startDovecot},
		{"wireguard pair", s.startWireGuard},
		{"gitea runner API stand-in", s.startGitea},
		{"exporters", s.startExporters},
		{"victoria-metrics", s.startVM},
		{"scrapegen generate", s.generate},
		{"vmagents", s.startAgents},
		{"vmalert", s.startAlert},
	}
	for _, st := range steps {
		t0 := time.Now()
		if err := st.fn(); err != nil {
			return s, fmt.Errorf("stack: %s: %w", st.what, err)
		}
		s.record()
		s.logf("started %s (%.1fs)", st.what, time.Since(t0).Seconds())
	}
	return s, nil
}

func (s *Stack) sub(name string) (string, error) {
	d := filepath.Join(s.Dir, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return "", err
	}
	return d, os.Chmod(d, 0o755)
}

func (s *Stack) startSlapd() error {
	d, err := s.sub("slapd")
	if err != nil {
		return err
	}
	s.Slapd, err = slapd.StartProcess(slapd.Options{Dir: d})
	return err
}

func (s *Stack) startPostfix() error {
	d, err := s.sub("postfix")
	if err != nil {
		return err
	}
	s.Postfix, err = postfix.StartProcess(postfix.Options{Dir: d})
	return err
}

func (s *Stack) startDovecot() error {
	d, err := s.sub("dovecot")
	if err != nil {
		return err
	}
	s.Dovecot, err = dovecot.StartProcess(d, dovecot.Options{})
	return err
}

func (s *Stack) startWireGuard() error {
	d, err := s.sub("wireguard")
	if err != nil {
		return err
	}
	s.WG, err = wireguard.StartPair(wireguard.Options{Dir: d})
	if err != nil {
		return err
	}
	// Each side records its namespace as soon as it exists, so that
	// StopRecorded removes them even if the stack dies before its first
	// traffic.
	s.record()
	// A fresh pair has not shaken hands: without traffic its peers' last
	// handshake stays 0, which the handshake rule calls stale.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return s.WG.Ping(ctx, 64)
}

func (s *Stack) startGitea() error {
	d, err := s.sub("gitea")
	if err != nil {
		return err
	}
	var runners []fakegitea.Runner
	for _, n := range Runners {
		runners = append(runners, fakegitea.Runner{Name: n, Online: true, Labels: []string{"ubuntu-latest"}})
	}
	s.Gitea, err = fakegitea.StartServer(fakegitea.Options{Dir: d, Token: giteaToken, Runners: runners, Control: true})
	return err
}

func (s *Stack) startExporters() error {
	d, err := s.sub("exporters")
	if err != nil {
		return err
	}
	specs := []struct {
		job, bin string
		args     []string
	}{
		{JobOpenLDAP, "openldap_exporter", []string{
			"--ldap.uri=" + s.Slapd.URI,
			"--ldap.bind-dn=" + s.Slapd.MonitorDN,
			"--ldap.password-file=" + s.Slapd.MonitorPasswordFile,
		}},
		{JobPostfix, "postfix_exporter", postfixExporterArgs(s.Postfix)},
		{JobDovecot, "dovecot_exporter", []string{
			"--dovecot.stats-socket=" + s.Dovecot.StatsSocket,
			"--dovecot.stats-group-by=" + dovecot.DefaultGroupBy,
			"--probe=imap=" + s.Dovecot.IMAPAddr,
			"--probe=pop3=" + s.Dovecot.POP3Addr,
			"--probe=lmtp=" + s.Dovecot.LMTPAddr,
		}},
		{JobWireGuard, "wireguard_exporter", []string{
			"--wireguard.interface=" + s.WG.A.Name,
			"--wireguard.interface=" + s.WG.B.Name,
		}},
		{JobGiteaRunners, "gitea_runner_exporter", []string{
			"--gitea.url=" + s.Gitea.URL,
			"--gitea.token-file=" + s.Gitea.TokenFile,
			"--runner.expect=" + Runners[0],
			"--runner.expect=" + Runners[1],
		}},
	}
	for _, sp := range specs {
		port, err := proc.PickPort()
		if err != nil {
			return err
		}
		e, err := startExporter(d, sp.bin, port, sp.args...)
		if e != nil {
			s.Exporters[sp.job] = e
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Stack) startVM() error {
	d, err := s.sub("victoria-metrics")
	if err != nil {
		return err
	}
	s.VM, err = victoria.StartServerProcess(victoria.ServerOptions{Dir: d})
	return err
}

func (s *Stack) startAgents() error {
	for _, h := range Hosts {
		d, err := s.sub("vmagent-" + h)
		if err != nil {
			return err
		}
		a, err := victoria.StartAgentProcess(victoria.AgentOptions{Dir: d, ScrapeConfig: s.ScrapeConfig(h), RemoteWriteURL: s.VM.WriteURL()})
		if err != nil {
			return fmt.Errorf("host %s: %w", h, err)
		}
		s.Agents[h] = a
	}
	return nil
}

func (s *Stack) startAlert() error {
	d, err := s.sub("vmalert")
	if err != nil {
		return err
	}
	if s.Sink, err = victoria.StartSinkProcess(); err != nil {
		return err
	}
	s.Alert, err = victoria.StartAlertProcess(victoria.AlertOptions{
		Dir: d, Rules: []string{s.RulesFile()}, DatasourceURL: s.VM.URL, NotifierURL: s.Sink.URL,
		EvaluationInterval: s.Timing.Evaluation,
	})
	return err
}

// Close stops every part, the monitoring first so that the services'
// shutdown raises no alert, and removes the network namespaces. The
// directory stays, with the logs.
func (s *Stack) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	if s.Alert != nil {
		s.Alert.Stop()
	}
	if s.Sink != nil {
		s.Sink.Close()
	}
	for _, h := range Hosts {
		if a := s.Agents[h]; a != nil {
			a.Stop()
		}
	}
	if s.VM != nil {
		s.VM.Stop()
	}
	var wg sync.WaitGroup
	for _, e := range s.Exporters {
		wg.Go(e.Stop)
	}
	wg.Wait()
	if s.Gitea != nil {
		_ = s.Gitea.Close()
	}
	if s.WG != nil {
		if err := s.WG.Close(); err != nil {
			s.logf("wireguard: %v", err)
		}
	}
	if s.Dovecot != nil {
		wg.Go(s.Dovecot.Close)
	}
	if s.Postfix != nil {
		wg.Go(s.Postfix.Stop)
	}
	if s.Slapd != nil {
		wg.Go(s.Slapd.Close)
	}
	wg.Wait()
	_ = os.Remove(s.pidFile())
}

// Part is one piece of the chain that can be stopped and started again.
type Part struct {
	Name string // e.g. "slapd", "openldap_exporter", "vmagent:mail"
	Host string // the plan host it belongs to
	stop func()
	// start brings it back with the same configuration and waits until
	// it answers.
	start func() error
	pids  func() []int
}

// Parts lists every part, services first, in a fixed order.
func (s *Stack) Parts() []*Part {
	ps := []*Part{
		{Name: "slapd", Host: HostMail, stop: s.Slapd.Stop, start: s.Slapd.Restart, pids: func() []int { return []int{s.Slapd.PID()} }},
		{Name: "postfix", Host: HostMail, stop: s.Postfix.Stop, start: s.Postfix.Restart, pids: func() []int { return []int{postfixPID(s.Postfix)} }},
		{Name: "dovecot", Host: HostMail, stop: s.Dovecot.Stop, start: s.Dovecot.Restart, pids: func() []int { return []int{s.Dovecot.PID()} }},
	}
	for _, d := range []*wireguard.Device{s.WG.A, s.WG.B} {
		ps = append(ps, &Part{Name: "wireguard:" + d.Name, Host: HostFW, stop: d.Stop, start: func() error {
			if err := d.Restart(); err != nil {
				return err
			}
			// The new device shakes hands on its first packet.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			return s.WG.Ping(ctx, 64)
		}, pids: func() []int { return []int{d.PID()} }})
	}
	ps = append(ps, &Part{Name: "fakegitea", Host: HostFW, stop: func() { _ = s.Gitea.Stop() }, start: s.Gitea.Restart, pids: func() []int { return nil }})
	for _, job := range []string{JobOpenLDAP, JobPostfix, JobDovecot, JobWireGuard, JobGiteaRunners} {
		e := s.Exporters[job]
		host := HostMail
		if job == JobWireGuard || job == JobGiteaRunners {
			host = HostFW
		}
		ps = append(ps, &Part{Name: e.Name, Host: host, stop: e.Stop, start: e.Start, pids: func() []int { return []int{e.PID()} }})
	}
	ps = append(ps, &Part{Name: "victoria-metrics", stop: s.VM.Stop, start: s.VM.Restart, pids: func() []int { return []int{s.VM.Proc.PID()} }})
	for _, h := range Hosts {
		a := s.Agents[h]
		ps = append(ps, &Part{Name: "vmagent:" + h, Host: h, stop: a.Stop, start: a.Restart, pids: func() []int { return []int{a.Proc.PID()} }})
	}
	ps = append(ps, &Part{Name: "vmalert", stop: s.Alert.Stop, start: s.Alert.Restart, pids: func() []int { return []int{s.Alert.Proc.PID()} }})
	return ps
}

// Part finds a part by name.
func (s *Stack) Part(name string) (*Part, error) {
	var names []string
	for _, p := range s.Parts() {
		if p.Name == name {
			return p, nil
		}
		names = append(names, p.Name)
	}
	sort.Strings(names)
	return nil, fmt.Errorf("stack: no part %q (have %s)", name, strings.Join(names, ", "))
}

// StopPart stops a part by its PID and records that.
func (s *Stack) StopPart(p *Part) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p.stop()
	s.recordLocked()
}

// StartPart starts a stopped part again, waits until it answers, and
// records its new PID.
func (s *Stack) StartPart(p *Part) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := p.start()
	s.recordLocked()
	return err
}
