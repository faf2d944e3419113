// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package stack

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/downwatch/downwatch/itest/daemon/proc"
)

// TestStopRecorded stops what a PID file lists, process group and all, and
// leaves alone a PID whose program is not the recorded one (a reused PID).
func TestStopRecorded(t *testing.T) {
	dir := t.TempDir()
	sh := proc.RequireBinary(t, "sh")
	// A parent with a child in its group, like Dovecot's master.
	p := proc.Start(t, proc.Spec{Name: "group", Path: sh, Dir: dir, Args: []string{"-c", "sleep 300 & sleep 300; wait"}})
	var child int
	if err := proc.WaitFor(5*time.Second, func() error {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", p.PID(), p.PID()))
		if err != nil {
			return err
		}
		f := strings.Fields(string(b))
		if len(f) < 2 {
			return fmt.Errorf("children: %q", b)
		}
		_, err = fmt.Sscan(f[0], &child)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	self := os.Getpid()
	file := fmt.Sprintf("owner 999999999 demo\npid group %d %s\npid reused %d not-%s\nnetns dwwg-never-created\n",
		p.PID(), comm(p.PID()), self, comm(self))
	if err := os.WriteFile(filepath.Join(dir, PIDFile), []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := StopRecorded(dir, t.Logf); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the recorded process is still running")
	}
	if err := proc.WaitFor(5*time.Second, func() error {
		if comm(child) == "sleep" {
			return fmt.Errorf("child %d still running", child)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(dir, PIDFile)); !os.IsNotExist(err) {
		t.Errorf("PID file left: %v", err)
	}
	// Nothing recorded: nothing to do, no error.
	if err := StopRecorded(dir, t.Logf); err != nil {
		t.Errorf("second stop: %v", err)
	}
}

func TestFormatTable(t *testing.T) {
	got := FormatTable([]Row{{"Postfix", "mail", "1", "0", "firing: ServiceDown"}, {"vmagent", "fw", "n/a", "1", "ok"}})
	want := "SERVICE  HOST  EXPORTER UP  SERVICE UP  ALERT\n" +
		"Postfix  mail  1            0           firing: ServiceDown\n" +
		"vmagent  fw    n/a          1           ok\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
