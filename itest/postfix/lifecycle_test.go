// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package postfix

import (
	"context"
	"testing"
	"time"

	"github.com/downwatch/downwatch/itest/daemon/postfix"
)

// TestFrozenAndRestartedPostfix: a hung Postfix (SIGSTOP) makes postfix_up
// 0 within the scrape timeout, with HTTP 200; after a thaw and after a
// restart the exporter reads the queue and the log again by itself.
func TestFrozenAndRestartedPostfix(t *testing.T) {
	t.Parallel()
	pf := postfix.Start(t, postfix.Options{})
	e := startExporter(t, nil, "--postfix.logfile="+pf.LogFile, "--postfix.logfile.from-start",
		"--postfix.showq-path="+pf.ShowqPath, "--postfix.timeout=1s")
	e.waitMetrics(t, 10*time.Second, expectation{"postfix_up", nil, 1},
		expectation{"postfix_master_events_total", []string{"event=started"}, 1})

	if err := pf.Freeze(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s := e.scrape(t)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("scrape of a frozen Postfix took %v, want about the 1s timeout", d)
	}
	if !s.has("postfix_up") || s.sum("postfix_up") != 0 {
		t.Errorf("postfix_up = %v while frozen, want 0", s.sum("postfix_up"))
	}
	if err := pf.Thaw(); err != nil {
		t.Fatal(err)
	}
	e.waitMetrics(t, 10*time.Second, expectation{"postfix_up", nil, 1})

	// Stop signals the whole process group, postlogd too, so master's
	// "terminating" line never reaches the file; the new start does.
	if err := pf.Restart(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := postfix.Swaks(ctx, pf.SMTPAddr, sender, postfix.Mailbox); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	e.waitMetrics(t, 20*time.Second,
		expectation{"postfix_up", nil, 1},
		expectation{"postfix_master_events_total", []string{"event=started"}, 2},
		expectation{"postfix_deliveries_total", []string{"daemon=virtual", "status=sent"}, 1})
}
