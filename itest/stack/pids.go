// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package stack

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/downwatch/downwatch/itest/daemon/postfix"
	"github.com/downwatch/downwatch/itest/daemon/proc"
	"github.com/downwatch/downwatch/itest/daemon/wireguard"
)

// PIDFile is the file in the stack's directory that lists what runs:
//
//	owner <pid> <comm>    the process that started the stack
//	pid <name> <pid> <comm>
//	netns <name>
//	wgsock <path>
//
// comm is /proc/<pid>/comm at the time of writing: StopRecorded signals a
// PID only while it still names the same program, never a reused one.
const PIDFile = "pids"

func (s *Stack) pidFile() string { return filepath.Join(s.Dir, PIDFile) }

func (s *Stack) record() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recordLocked()
}

// recordLocked rewrites the PID file from the parts that exist now. It is
// written to a temporary file and renamed, so a reader never sees half.
func (s *Stack) recordLocked() {
	var b strings.Builder
	line := func(name string, pid int) {
		if pid <= 0 {
			return
		}
		if c := comm(pid); c != "" {
			fmt.Fprintf(&b, "pid %s %d %s\n", name, pid, c)
		}
	}
	fmt.Fprintf(&b, "owner %d %s\n", os.Getpid(), comm(os.Getpid()))
	if s.Slapd != nil {
		line("slapd", s.Slapd.PID())
	}
	if s.Postfix != nil {
		line("postfix", postfixPID(s.Postfix))
	}
	if s.Dovecot != nil {
		line("dovecot", s.Dovecot.PID())
	}
	if s.WG != nil {
		for _, d := range []*wireguard.Device{s.WG.A, s.WG.B} {
			if d == nil {
				continue
			}
			line("wireguard:"+d.Name, d.PID())
			fmt.Fprintf(&b, "netns %s\nwgsock %s\n", d.Netns, d.Socket)
		}
	}
	for _, job := range []string{JobOpenLDAP, JobPostfix, JobDovecot, JobWireGuard, JobGiteaRunners} {
		if e := s.Exporters[job]; e != nil {
			line(e.Name, e.PID())
		}
	}
	if s.VM != nil {
		line("victoria-metrics", s.VM.Proc.PID())
	}
	for _, h := range Hosts {
		if a := s.Agents[h]; a != nil {
			line("vmagent:"+h, a.Proc.PID())
		}
	}
	if s.Alert != nil {
		line("vmalert", s.Alert.Proc.PID())
	}
	tmp := s.pidFile() + ".new"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		s.logf("pid file: %v", err)
		return
	}
	if err := os.Rename(tmp, s.pidFile()); err != nil {
		s.logf("pid file: %v", err)
	}
}

// comm is the program name of a running process, or "" when it is gone.
func comm(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func alive(pid int, name string) bool { return pid > 0 && comm(pid) == name }

// postfixPID is master's PID from the pid file Postfix keeps in its queue
// directory; the harness runs master in the foreground, so it is also the
// process group every Postfix daemon belongs to.
func postfixPID(p *postfix.Postfix) int {
	b, err := os.ReadFile(filepath.Join(p.QueueDir, "pid", "master.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// StopRecorded stops what a stack's PID file in dir lists: first the owner
// (which stops its stack itself), then any recorded process that is still
// there, by process group, and removes the recorded network namespaces. It
// is how `make demo-stop` cleans up, even after the owner was killed.
func StopRecorded(dir string, logf func(string, ...any)) error {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	path := filepath.Join(dir, PIDFile)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		logf("nothing recorded in %s: no stack is running there", path)
		return nil
	}
	if err != nil {
		return err
	}
	type entry struct {
		name, comm string
		pid        int
	}
	var owner *entry
	var procs []entry
	var netns, socks []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		switch {
		case len(fs) == 3 && fs[0] == "owner":
			pid, _ := strconv.Atoi(fs[1])
			owner = &entry{name: "owner", pid: pid, comm: fs[2]}
		case len(fs) == 4 && fs[0] == "pid":
			pid, _ := strconv.Atoi(fs[2])
			procs = append(procs, entry{name: fs[1], pid: pid, comm: fs[3]})
		case len(fs) == 2 && fs[0] == "netns":
			netns = append(netns, fs[1])
		case len(fs) == 2 && fs[0] == "wgsock":
			socks = append(socks, fs[1])
		}
	}
	f.Close()
	if err := sc.Err(); err != nil {
		return err
	}
	if owner != nil && owner.pid != os.Getpid() && alive(owner.pid, owner.comm) {
		logf("asking %s (PID %d) to stop its stack", owner.comm, owner.pid)
		_ = syscall.Kill(owner.pid, syscall.SIGTERM)
		deadline := time.Now().Add(60 * time.Second)
		for alive(owner.pid, owner.comm) && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
	}
	var errs []error
	// The file lists the monitoring last; stopping it first keeps the
	// services' shutdown from raising alerts.
	slices.Reverse(procs)
	for _, e := range procs {
		if !alive(e.pid, e.comm) {
			continue
		}
		logf("stopping %s (PID %d, %s)", e.name, e.pid, e.comm)
		// Each part leads its own process group (proc.StartProcess), so
		// the group reaches Dovecot's and Postfix's children too.
		_ = syscall.Kill(-e.pid, syscall.SIGCONT)
		_ = syscall.Kill(-e.pid, syscall.SIGTERM)
		deadline := time.Now().Add(5 * time.Second)
		for alive(e.pid, e.comm) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if alive(e.pid, e.comm) {
			_ = syscall.Kill(-e.pid, syscall.SIGKILL)
		}
	}
	for _, s := range socks {
		_ = os.Remove(s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, n := range netns {
		if _, err := os.Stat("/var/run/netns/" + n); err != nil {
			continue
		}
		logf("removing network namespace %s", n)
		if _, err := proc.Run(ctx, "ip", "netns", "delete", n); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// The owner removes the file when it stops its stack itself.
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
