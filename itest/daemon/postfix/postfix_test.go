// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package postfix

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/downwatch/downwatch/itest/daemon/proc"
)

// TestStartProcessWithoutT runs the demo's path: StartProcess, a mail,
// Restart on the same ports, Stop.
func TestStartProcessWithoutT(t *testing.T) {
	proc.RequireBinary(t, "postfix")
	proc.RequireRoot(t)
	if _, err := StartProcess(Options{}); err == nil {
		t.Fatal("StartProcess without Dir succeeded")
	}
	p, err := StartProcess(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := Swaks(ctx, p.SMTPAddr, "a@sender.test", Mailbox); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	addr, pid := p.SMTPAddr, p.PID()
	if pid <= 0 {
		t.Errorf("PID() = %d", pid)
	}
	if err := p.Restart(); err != nil {
		t.Fatal(err)
	}
	if p.PID() == pid || p.PID() <= 0 {
		t.Errorf("PID() after restart = %d, before %d", p.PID(), pid)
	}
	if p.SMTPAddr != addr {
		t.Errorf("address changed on restart: %s -> %s", addr, p.SMTPAddr)
	}
	if out, err := Swaks(ctx, p.SubmissionAddr, "a@sender.test", Mailbox); err != nil {
		t.Fatalf("after restart: %v\n%s", err, out)
	}
	err = proc.WaitFor(10*time.Second, func() error {
		b, err := os.ReadFile(p.LogFile)
		if err != nil {
			return err
		}
		if n := strings.Count(string(b), "status=sent (delivered to maildir)"); n != 2 {
			return os.ErrNotExist
		}
		return nil
	})
	if err != nil {
		t.Errorf("two deliveries not logged: %v\n%s", err, proc.FileTail(p.LogFile, 3000))
	}
	msgs, err := p.Queue(ctx)
	if err != nil || len(msgs) != 0 {
		t.Errorf("queue %v, %v; want empty", msgs, err)
	}
	p.Stop()
	p.Stop() // idempotent
	if p.PID() != 0 {
		t.Errorf("PID() after Stop = %d, want 0", p.PID())
	}
	if listening(p.SMTPAddr) {
		t.Error("smtpd still listening after Stop")
	}
}
