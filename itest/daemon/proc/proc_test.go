// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package proc

import (
	"errors"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestSignalStop checks that a SIGSTOP returns only once the process is
// stopped, and that SIGCONT resumes it.
func TestSignalStop(t *testing.T) {
	p := Start(t, Spec{Name: "sleep", Path: RequireBinary(t, "sleep"), Args: []string{"60"}, Dir: t.TempDir()})
	stat := "/proc/" + strconv.Itoa(p.PID()) + "/stat"
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if st, _, _ := readStat(stat); st != 'T' {
		t.Fatalf("state after SIGSTOP = %c, want T", st)
	}
	if err := p.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	err := WaitFor(5*time.Second, func() error {
		if st, _, _ := readStat(stat); st == 'T' {
			return errors.New("still stopped")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
