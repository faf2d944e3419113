// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package logsource

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/common/promslog"
)

// TestMain lets the test binary play journalctl: with the variable set it
// writes journal JSON to stdout, as `journalctl --output=json` does.
func TestMain(m *testing.M) {
	if os.Getenv("FAKE_JOURNALCTL") == "1" {
		fmt.Println(`{"__CURSOR":"s=1","SYSLOG_IDENTIFIER":"postfix/smtpd","MESSAGE":"connect from x[192.0.2.1]","_PID":"12"}`)
		fmt.Println(`{"SYSLOG_IDENTIFIER":"postfix/submission/smtpd","MESSAGE":[108,111,115,116,255]}`)
		fmt.Println(`not json`)
		fmt.Println(`{"SYSLOG_IDENTIFIER":"postfix/qmgr","MESSAGE":null}`)
		fmt.Println(`{"MESSAGE":"no identifier"}`)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestJournal(t *testing.T) {
	type entry struct{ Tag, Msg string }
	var (
		mu  sync.Mutex
		got []entry
		ups []bool
	)
	j := &Journal{
		Units:   []string{"postfix.service"},
		Command: []string{"env", "FAKE_JOURNALCTL=1", os.Args[0]},
		Logger:  promslog.NewNopLogger(),
		State:   func(up bool) { mu.Lock(); ups = append(ups, up); mu.Unlock() },
		Backoff: 20 * time.Millisecond,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = j.Run(ctx, func(tag, msg []byte) {
			mu.Lock()
			got = append(got, entry{string(tag), string(msg)})
			mu.Unlock()
		})
	}()
	// journalctl ending is restarted: the entries come twice.
	waitFor(t, "two runs", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= 6 })
	cancel()
	<-done
	want := []entry{
		{"postfix/smtpd", "connect from x[192.0.2.1]"},
		{"postfix/submission/smtpd", "lost\xff"},
		{"postfix/qmgr", ""},
	}
	if diff := cmp.Diff(want, got[:3]); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if !slices.Contains(ups, true) || ups[len(ups)-1] {
		t.Errorf("state changes %v, want up then down at the end", ups)
	}
}

func TestJournalArgs(t *testing.T) {
	j := &Journal{Units: []string{"postfix.service", "postfix@out.service"}}
	want := []string{"journalctl", "--follow", "--output=json", "--lines=0", "--quiet",
		"--output-fields=SYSLOG_IDENTIFIER,MESSAGE", "--unit=postfix.service", "--unit=postfix@out.service"}
	if diff := cmp.Diff(want, j.Args()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func FuzzDecodeEntry(f *testing.F) {
	f.Add([]byte(`{"SYSLOG_IDENTIFIER":"postfix/smtpd","MESSAGE":"connect from x[192.0.2.1]"}`))
	f.Add([]byte(`{"SYSLOG_IDENTIFIER":"postfix/smtpd","MESSAGE":[1,2,300]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tag, _, err := DecodeEntry(b)
		if err == nil && tag == nil {
			t.Fatal("no error and no tag")
		}
	})
}
