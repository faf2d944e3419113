// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package showq

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/promslog"
)

var update = flag.Bool("update", false, "rewrite golden files")

// now is an hour after the last message of testdata/postfix37.showq.
var now = time.Unix(1795495142+3600, 0)

func TestRead(t *testing.T) {
	b, err := os.ReadFile("testdata/postfix37.showq")
	if err != nil {
		t.Fatal(err)
	}
	var got []Message
	if err := Read(bytes.NewReader(b), func(m Message) { got = append(got, m) }); err != nil {
		t.Fatal(err)
	}
	want := []Message{
		{Queue: "deferred", Time: 1795495142, Size: 427},
		{Queue: "active", Time: 1795495000, Size: 2000000},
		{Queue: "hold", Time: 1795400000, Size: 50},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name, in string
		wantErr  bool
	}{
		{"empty queue", "protocol\x00mail_queue_list_protocol\x00\x00\x00", false},
		{"nothing", "", false},
		{"truncated in field", "protocol\x00mail_queue_list_protocol\x00\x00queue_name\x00dEf", true},
		{"truncated after name", "protocol\x00mail_queue_list_protocol\x00\x00queue_name\x00", true},
		{"bad time", "queue_name\x00active\x00time\x00soon\x00\x00\x00", true},
		{"bad size", "queue_name\x00active\x00size\x00-\x00\x00\x00", true},
		{"text from an old postfix", "-Queue ID-  --Size-- ----Arrival Time----\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Read(strings.NewReader(tt.in), func(Message) {})
			if (err != nil) != tt.wantErr {
				t.Errorf("err = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

// serve answers each connection on a unix socket with stream.
func serve(t *testing.T, stream []byte, delay time.Duration) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "showq")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				time.Sleep(delay)
				_, _ = c.Write(stream)
			}()
		}
	}()
	return path
}

func TestCollectorGolden(t *testing.T) {
	b, err := os.ReadFile("testdata/postfix37.showq")
	if err != nil {
		t.Fatal(err)
	}
	path := serve(t, b, 0)
	s := NewSourceWithDialer(path, NewDialer(path), promslog.NewNopLogger(), func() time.Time { return now })
	c := s.Collector(context.Background())
	golden := "testdata/collector.prom"
	names := []string{"postfix_up", "postfix_showq_messages", "postfix_showq_message_size_bytes", "postfix_showq_message_age_seconds"}
	if *update {
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(c)
		var buf bytes.Buffer
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "postfix_showq_scrape_duration_seconds" {
				continue
			}
			if err := writeText(&buf, mf); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(golden)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := testutil.CollectAndCompare(c, f, names...); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
}

func TestUpZeroAndOneLogLine(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	missing := filepath.Join(t.TempDir(), "nosuch")
	denied := func(context.Context) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", syscall.EACCES)}
	}
	for _, tt := range []struct {
		name string
		s    *Source
		want string
	}{
		{"missing socket", NewSource(missing, logger), "no such file or directory"},
		{"permission denied", NewSourceWithDialer("/x/showq", denied, logger, time.Now), "permission denied"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			logs.Reset()
			for range 3 {
				want := "# HELP postfix_up Whether the last read of the showq socket succeeded.\n# TYPE postfix_up gauge\npostfix_up 0\n"
				if err := testutil.CollectAndCompare(tt.s.Collector(context.Background()), strings.NewReader(want), "postfix_up"); err != nil {
					t.Error(err)
				}
			}
			if n := strings.Count(logs.String(), "\n"); n != 1 || !strings.Contains(logs.String(), tt.want) {
				t.Errorf("want one log line with %q, got:\n%s", tt.want, logs.String())
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	path := serve(t, []byte("protocol\x00mail_queue_list_protocol\x00\x00\x00"), 5*time.Second)
	s := NewSource(path, promslog.NewNopLogger())
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	want := "# HELP postfix_up Whether the last read of the showq socket succeeded.\n# TYPE postfix_up gauge\npostfix_up 0\n"
	if err := testutil.CollectAndCompare(s.Collector(ctx), strings.NewReader(want), "postfix_up"); err != nil {
		t.Error(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("scrape took %v, want about the 200ms timeout", d)
	}
}

func TestTCP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			_, _ = io.WriteString(c, "protocol\x00mail_queue_list_protocol\x00\x00queue_name\x00active\x00time\x001\x00size\x002\x00\x00\x00")
			c.Close()
		}
	}()
	s := NewSource(l.Addr().String(), promslog.NewNopLogger())
	want := "# HELP postfix_showq_messages Messages in each queue.\n# TYPE postfix_showq_messages gauge\n" +
		"postfix_showq_messages{queue=\"active\"} 1\npostfix_showq_messages{queue=\"deferred\"} 0\n" +
		"postfix_showq_messages{queue=\"hold\"} 0\npostfix_showq_messages{queue=\"incoming\"} 0\npostfix_showq_messages{queue=\"maildrop\"} 0\n"
	if err := testutil.CollectAndCompare(s.Collector(context.Background()), strings.NewReader(want), "postfix_showq_messages"); err != nil {
		t.Error(err)
	}
}

func FuzzRead(f *testing.F) {
	if b, err := os.ReadFile("testdata/postfix37.showq"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("queue_name\x00active\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n := 0
		err := Read(bytes.NewReader(b), func(m Message) {
			n++
			if m.Queue == "" {
				t.Fatalf("message without queue")
			}
		})
		if err != nil && !errors.Is(err, ErrProtocol) {
			t.Fatalf("unexpected error type: %v", err)
		}
		_ = fmt.Sprint(n)
	})
}
