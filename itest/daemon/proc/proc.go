// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Package proc starts and stops the processes of integration tests: free
// loopback ports, binaries that must exist in CI, processes stopped by PID at
// the end of the test, and the exporter binaries built from this workspace.
package proc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// InCI reports whether the tests run in CI, where a missing daemon must fail
// the test: a green CI has to mean that the integration tests really ran.
func InCI() bool { return os.Getenv("CI") == "true" }

// searchDirs are looked at after $PATH: Debian puts daemons in sbin and
// helper programs in /usr/lib, which a non-root $PATH lacks.
var searchDirs = []string{"/usr/sbin", "/sbin", "/usr/lib/postfix/sbin", "/usr/bin"}

// LookPath finds a program in $PATH or the usual Debian places.
func LookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range searchDirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found in $PATH or %s", name, strings.Join(searchDirs, ", "))
}

// RequireBinary returns the path of a program the test needs. Without it the
// test is skipped, except in CI where it fails.
func RequireBinary(tb testing.TB, name string) string {
	tb.Helper()
	p, err := LookPath(name)
	if err != nil {
		Unavailable(tb, "%v (install it with scripts/install-test-deps.sh)", err)
	}
	return p
}

// RequireRoot skips (or in CI fails) a test that needs root, for example to
// create network namespaces.
func RequireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		Unavailable(tb, "needs root")
	}
}

// Unavailable skips the test, or fails it in CI, with the reason.
func Unavailable(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if InCI() {
		tb.Fatalf("CI=true and a prerequisite is missing: "+format, args...)
	}
	tb.Skipf("prerequisite missing: "+format, args...)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// Tests running at the same time each get their own.
func FreePort(tb testing.TB) int {
	tb.Helper()
	port, err := PickPort()
	if err != nil {
		tb.Fatalf("free port: %v", err)
	}
	return port
}

// PickPort is FreePort for code without a test, such as the daemon
// harnesses' StartProcess functions and the demo.
func PickPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Process is a started program, stopped by PID when its test ends.
type Process struct {
	Name    string
	Cmd     *exec.Cmd
	LogPath string

	mu     sync.Mutex
	done   chan struct{}
	waited bool
	err    error
}

// Spec describes a process to start.
type Spec struct {
	Name string   // short name for logs
	Path string   // program
	Args []string // arguments
	Env  []string // extra environment, added to os.Environ()
	Dir  string   // working directory and where the log file goes
}

// Start runs spec and registers its stop with tb.Cleanup. Output goes to a
// log file that is printed when the test fails.
func Start(tb testing.TB, spec Spec) *Process {
	tb.Helper()
	p, err := StartProcess(spec)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("--- log of %s (%s):\n%s", p.Name, p.LogPath, p.LogTail(4000))
		}
		p.Stop()
	})
	return p
}

// StartProcess starts spec without a test, for the demo.
func StartProcess(spec Spec) (*Process, error) {
	dir := spec.Dir
	if dir == "" {
		dir = os.TempDir()
	}
	logPath := filepath.Join(dir, spec.Name+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: log file: %w", spec.Name, err)
	}
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), spec.Env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Own process group, so that a stop reaches the children too and a
	// Ctrl-C in a terminal does not reach the daemons before the harness.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("%s: start %s: %w", spec.Name, spec.Path, err)
	}
	p := &Process{Name: spec.Name, Cmd: cmd, LogPath: logPath, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		logf.Close()
		p.mu.Lock()
		p.err, p.waited = err, true
		p.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// PID is the process ID.
func (p *Process) PID() int { return p.Cmd.Process.Pid }

// Exited reports whether the process has ended, and how.
func (p *Process) Exited() (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waited, p.err
}

// Done is closed when the process has ended.
func (p *Process) Done() <-chan struct{} { return p.done }

// Signal sends sig to the process group. For SIGSTOP it returns only once
// every thread of every process in the group has stopped: the kernel
// carries out a group stop asynchronously (the thread that takes the
// signal stops the others), and on a loaded machine a multi-threaded daemon
// can still answer a request for a moment after kill(2) returned.
func (p *Process) Signal(sig syscall.Signal) error {
	if err := syscall.Kill(-p.PID(), sig); err != nil {
		return err
	}
	if sig == syscall.SIGSTOP {
		return WaitGroupStopped(p.PID(), 5*time.Second)
	}
	return nil
}

// WaitGroupStopped waits until every thread of every process in process
// group pgid is stopped (or gone).
func WaitGroupStopped(pgid int, timeout time.Duration) error {
	return WaitFor(timeout, func() error {
		procs, err := filepath.Glob("/proc/[0-9]*/stat")
		if err != nil {
			return err
		}
		for _, stat := range procs {
			state, group, ok := readStat(stat)
			if !ok || group != pgid || state == 'Z' || state == 'X' {
				continue
			}
			tasks, _ := filepath.Glob(filepath.Join(filepath.Dir(stat), "task", "*", "stat"))
			for _, t := range tasks {
				if ts, _, ok := readStat(t); ok && ts != 'T' && ts != 't' && ts != 'Z' && ts != 'X' {
					return fmt.Errorf("%s: state %c, not stopped yet", t, ts)
				}
			}
		}
		return nil
	})
}

// readStat reads the state and process group from a /proc stat file. The
// command name in parentheses may hold spaces, so fields count from the
// last ')'.
func readStat(path string) (state byte, pgrp int, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 3 {
		return 0, 0, false
	}
	var g int
	if _, err := fmt.Sscan(f[2], &g); err != nil {
		return 0, 0, false
	}
	return f[0][0], g, true
}

// Stop ends the process: SIGCONT (it may be frozen), SIGTERM, and SIGKILL
// after five seconds.
func (p *Process) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.Signal(syscall.SIGCONT)
	_ = p.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.Signal(syscall.SIGKILL)
		<-p.done
	}
}

// LogTail returns up to n bytes of the end of the process's log.
func (p *Process) LogTail(n int) string { return FileTail(p.LogPath, n) }

// FileTail returns up to n bytes of the end of a file.
func FileTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// StopPIDFile stops a daemon that forked, by the PID in its PID file:
// SIGCONT, SIGTERM, then SIGKILL after five seconds.
func StopPIDFile(pidFile string) error {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return err
	}
	var pid int
	if _, err := fmt.Sscan(string(bytes.TrimSpace(b)), &pid); err != nil || pid <= 1 {
		return fmt.Errorf("%s: no PID in it", pidFile)
	}
	return StopPID(pid)
}

// StopPID stops one process by PID and waits until it is gone.
func StopPID(pid int) error {
	_ = syscall.Kill(pid, syscall.SIGCONT)
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return err
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if syscall.Kill(pid, 0) != nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	return nil
}

// WaitFor calls check until it returns nil or the timeout passes.
func WaitFor(timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v: %w", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WaitTCP waits until addr accepts a TCP connection.
func WaitTCP(addr string, timeout time.Duration) error {
	return WaitFor(timeout, func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	})
}

// WaitUnix waits until the unix socket at path accepts a connection.
func WaitUnix(path string, timeout time.Duration) error {
	return WaitFor(timeout, func() error {
		c, err := net.DialTimeout("unix", path, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	})
}

// Run runs a short command and returns its combined output, failing with
// that output when the command fails.
func Run(ctx context.Context, name string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

var (
	buildMu    sync.Mutex
	builtPaths = map[string]string{}
)

// Exporter builds one of the workspace's commands (for example
// "openldap_exporter") once per test binary and returns its path.
func Exporter(tb testing.TB, module string) string {
	tb.Helper()
	p, err := BuildCommand(module)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// BuildCommand builds a workspace command with version ldflags, once per
// process, into bin/itest/ of the work tree (ignored by git). Every test
// binary shares that one directory, so nothing piles up in /tmp; a build
// goes to a temporary name first and is renamed into place, so test
// binaries building at the same time never run a half-written file.
func BuildCommand(module string) (string, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := builtPaths[module]; ok {
		return p, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, "bin", "itest")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, "."+module+"-*")
	if err != nil {
		return "", err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	ld := "-X github.com/prometheus/common/version.Version=test -X github.com/prometheus/common/version.Revision=itest"
	cmd := exec.Command("go", "build", "-ldflags", ld, "-o", tmp.Name(), "./"+module)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", module, err, b)
	}
	out := filepath.Join(dir, module)
	if err := os.Rename(tmp.Name(), out); err != nil {
		return "", err
	}
	builtPaths[module] = out
	return out, nil
}

// RepoRoot is the directory that holds go.work.
func RepoRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate the source tree")
	}
	// file is <root>/itest/daemon/proc/proc.go
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", "..")), nil
}
