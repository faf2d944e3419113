// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package stack

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/downwatch/downwatch/itest/daemon/postfix"
	"github.com/downwatch/downwatch/itest/daemon/proc"
)

// Exporter is one exporter process of the stack, which the detection test
// stops and starts like any daemon.
type Exporter struct {
	Name string // binary, e.g. "openldap_exporter"
	Addr string // host:port it listens on

	spec proc.Spec
	mu   sync.Mutex
	p    *proc.Process
}

func startExporter(dir, name string, port int, args ...string) (*Exporter, error) {
	bin, err := proc.BuildCommand(name)
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	e := &Exporter{Name: name, Addr: addr, spec: proc.Spec{
		Name: name, Path: bin, Dir: dir,
		Args: append([]string{"--web.listen-address=" + addr}, args...),
	}}
	return e, e.Start()
}

// Start runs the exporter and waits until /metrics answers.
func (e *Exporter) Start() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.p != nil {
		if done, _ := e.p.Exited(); !done {
			return nil
		}
	}
	p, err := proc.StartProcess(e.spec)
	if err != nil {
		return err
	}
	e.p = p
	err = proc.WaitFor(15*time.Second, func() error {
		if done, werr := p.Exited(); done {
			return fmt.Errorf("exited: %v: %s", werr, p.LogTail(500))
		}
		resp, err := http.Get("http://" + e.Addr + "/metrics")
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", e.Name, err)
	}
	return nil
}

// Stop ends the exporter by PID.
func (e *Exporter) Stop() {
	e.mu.Lock()
	p := e.p
	e.mu.Unlock()
	if p != nil {
		p.Stop()
	}
}

// PID is the running process's ID, or 0.
func (e *Exporter) PID() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.p == nil {
		return 0
	}
	if done, _ := e.p.Exited(); done {
		return 0
	}
	return e.p.PID()
}

// LogPath is the exporter's log file.
func (e *Exporter) LogPath() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.p == nil {
		return ""
	}
	return e.p.LogPath
}

// postfixExporterArgs points postfix_exporter at the instance's log file
// and showq socket.
func postfixExporterArgs(p *postfix.Postfix) []string {
	return []string{"--postfix.logfile=" + p.LogFile, "--postfix.showq-path=" + p.ShowqPath}
}
