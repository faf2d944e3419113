// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package slapd

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/downwatch/downwatch/itest/daemon/proc"
)

// TestLifecycle: the demo's entry point, then stop, restart on the same
// ports with the same data, and freeze/thaw.
func TestLifecycle(t *testing.T) {
	proc.RequireBinary(t, "slapd")
	proc.RequireBinary(t, "ldapsearch")
	ctx := context.Background()
	s, err := StartProcess(Options{Dir: t.TempDir(), TLS: true})
	if s != nil {
		defer s.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Touch(ctx); err != nil {
		t.Fatal(err)
	}
	before, err := s.ContextCSN(ctx)
	if err != nil || len(before) != 1 || !strings.Contains(before[0], "#001#") {
		t.Fatalf("contextCSN %v, %v", before, err)
	}
	port, pid := s.Port, s.PID()

	s.Stop()
	if s.PID() != 0 || s.ping() == nil {
		t.Fatal("still answering after Stop")
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	after, err := s.ContextCSN(ctx)
	if err != nil || s.Port != port || s.PID() == pid || strings.Join(after, ",") != strings.Join(before, ",") {
		t.Errorf("after restart: port %d (was %d), pid %d (was %d), contextCSN %v (was %v), %v",
			s.Port, port, s.PID(), pid, after, before, err)
	}

	if err := s.Freeze(); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	_, err = s.Ldapsearch(cctx, "-b", "cn=Monitor", "-s", "base")
	cancel()
	if err == nil {
		t.Error("a frozen slapd answered")
	}
	if err := s.Thaw(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ldapsearch(ctx, "-b", "cn=Monitor", "-s", "base"); err != nil {
		t.Errorf("after thaw: %v", err)
	}
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(s.LDAPSURI, "ldaps://"), time.Second)
	if err != nil {
		t.Errorf("ldaps listener: %v", err)
	} else {
		c.Close()
	}
}
