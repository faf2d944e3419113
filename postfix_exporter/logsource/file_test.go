// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package logsource

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/promslog"
)

// recorder collects handed-out lines.
type recorder struct {
	mu    sync.Mutex
	lines []string
	up    atomic.Bool
}

func (r *recorder) handle(l []byte) {
	r.mu.Lock()
	r.lines = append(r.lines, string(l))
	r.mu.Unlock()
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.lines)
}

func (r *recorder) snapshot() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}

func start(t *testing.T, f *File) *recorder {
	t.Helper()
	r := &recorder{}
	f.Poll = 10 * time.Millisecond
	f.Logger = promslog.NewNopLogger()
	f.State = r.up.Store
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(ctx, r.handle)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.WriteString(f, s); err != nil {
		t.Fatal(err)
	}
}

func TestStartsAtEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "maillog")
	appendTo(t, path, "old 1\nold 2\n")
	r := start(t, &File{Path: path})
	waitFor(t, "up", r.up.Load)
	appendTo(t, path, "new 1\nnew 2\n")
	waitFor(t, "2 lines", func() bool { return r.count() == 2 })
	if got := r.snapshot(); got[0] != "new 1" || got[1] != "new 2" {
		t.Errorf("got %q", got)
	}
}

func TestFromStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "maillog")
	appendTo(t, path, "old 1\nold 2\npartial")
	r := start(t, &File{Path: path, FromStart: true})
	waitFor(t, "2 lines", func() bool { return r.count() == 2 })
	appendTo(t, path, " line\n")
	waitFor(t, "3 lines", func() bool { return r.count() == 3 })
	if got := r.snapshot()[2]; got != "partial line" {
		t.Errorf("got %q", got)
	}
}

func TestWaitsForMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "maillog")
	r := start(t, &File{Path: path})
	time.Sleep(50 * time.Millisecond)
	if r.up.Load() {
		t.Fatal("up with no file")
	}
	appendTo(t, path, "first\n")
	waitFor(t, "the line of the new file", func() bool { return r.count() == 1 })
	if !r.up.Load() {
		t.Error("not up after the file appeared")
	}
}

func TestLongLineAndBinary(t *testing.T) {
	path := filepath.Join(t.TempDir(), "maillog")
	appendTo(t, path, "")
	r := start(t, &File{Path: path})
	waitFor(t, "up", r.up.Load)
	appendTo(t, path, "before\n"+strings.Repeat("x", 10<<20)+"\n\xff\xfe\x00 binary\nafter\n")
	waitFor(t, "4 lines", func() bool { return r.count() == 4 })
	got := r.snapshot()
	if got[0] != "before" || len(got[1]) != MaxLine || got[2] != "\xff\xfe\x00 binary" || got[3] != "after" {
		t.Errorf("got %q, %d bytes, %q, %q", got[0], len(got[1]), got[2], got[3])
	}
}

// writer appends numbered lines like postlogd: one write per line, to the
// file it has open, which it reopens only when told.
type writer struct {
	mu   sync.Mutex
	path string
	f    *os.File
	n    int
}

func (w *writer) reopen(t *testing.T) {
	if w.f != nil {
		w.f.Close()
	}
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Error(err)
		return
	}
	w.f = f
}

func (w *writer) write(t *testing.T) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n++
	if _, err := fmt.Fprintf(w.f, "line %07d\n", w.n); err != nil {
		t.Error(err)
	}
}

func checkSequence(t *testing.T, got []string, n int) {
	t.Helper()
	if len(got) != n {
		t.Errorf("got %d lines, want %d", len(got), n)
	}
	seen := map[string]int{}
	for i, l := range got {
		seen[l]++
		if want := fmt.Sprintf("line %07d", i+1); l != want && i < 5 {
			t.Errorf("line %d = %q, want %q", i, l, want)
		}
	}
	for l, c := range seen {
		if c > 1 {
			t.Errorf("%q counted %d times", l, c)
		}
	}
	for i := 1; i <= n; i++ {
		if seen[fmt.Sprintf("line %07d", i)] == 0 {
			t.Errorf("line %d lost", i)
		}
	}
}

func TestRotationRenameAndCreate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "maillog")
	w := &writer{path: path}
	w.reopen(t)
	r := start(t, &File{Path: path})
	waitFor(t, "up", r.up.Load)
	const perRound, rounds = 300, 5
	for round := range rounds {
		for i := range perRound {
			w.write(t)
			if i == perRound/3 {
				// logrotate renames; the daemon keeps writing to the old file
				// until it is told to reopen.
				if err := os.Rename(path, filepath.Join(dir, fmt.Sprintf("maillog.%d", round))); err != nil {
					t.Fatal(err)
				}
			}
			if i == 2*perRound/3 {
				w.mu.Lock()
				w.reopen(t)
				w.mu.Unlock()
			}
		}
		// Rotations are hours apart on a real server; two within one poll
		// interval would skip the middle file.
		written := w.n
		waitFor(t, "caught up", func() bool { return r.count() >= written })
	}
	waitFor(t, "every line", func() bool { return r.count() >= perRound*rounds })
	time.Sleep(50 * time.Millisecond)
	checkSequence(t, r.snapshot(), perRound*rounds)
}

func TestRotationCopyTruncate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "maillog")
	w := &writer{path: path}
	w.reopen(t)
	r := start(t, &File{Path: path})
	waitFor(t, "up", r.up.Load)
	const perRound, rounds = 300, 5
	for round := range rounds {
		for i := range perRound {
			w.write(t)
			if i == perRound/2 {
				// copytruncate loses what nobody read between the copy and
				// the truncation, whatever the reader; here the writer pauses
				// and the follower catches up, then the writer goes on at
				// full speed, past the old offset before the next poll.
				w.mu.Lock()
				written := w.n
				waitFor(t, fmt.Sprint("caught up ", written), func() bool { return r.count() == written })
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("maillog.%d", round)), b, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(path, 0); err != nil {
					t.Fatal(err)
				}
				w.mu.Unlock()
			}
		}
	}
	waitFor(t, "every line", func() bool { return r.count() >= perRound*rounds })
	time.Sleep(50 * time.Millisecond)
	checkSequence(t, r.snapshot(), perRound*rounds)
}

func BenchmarkFollow(b *testing.B) {
	path := filepath.Join(b.TempDir(), "maillog")
	var buf bytes.Buffer
	for i := range 100000 {
		fmt.Fprintf(&buf, "Nov 24 03:39:54 mx postfix/smtpd[%d]: connect from unknown[192.0.2.1]\n", i)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		n := 0
		fo := &follower{f: &File{Path: path, Logger: promslog.NewNopLogger()}, handle: func([]byte) { n++ }}
		if err := fo.open(context.Background(), false); err != nil {
			b.Fatal(err)
		}
		for {
			k, err := fo.read(fo.cur)
			if err != nil || k == 0 {
				break
			}
		}
		fo.cur.file.Close()
		if n != 100000 {
			b.Fatalf("%d lines", n)
		}
	}
}

// TestRotationCreateBeforeReopen is logrotate's `create`: the new file
// exists before the daemon reopens, and lines keep going to the old file
// for a while (rsyslog until its HUP is handled).
func TestRotationCreateBeforeReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "maillog")
	w := &writer{path: path}
	w.reopen(t)
	r := start(t, &File{Path: path})
	waitFor(t, "up", r.up.Load)
	const perRound, rounds = 200, 3
	for round := range rounds {
		for i := range perRound {
			w.write(t)
			if i == perRound/4 {
				if err := os.Rename(path, filepath.Join(dir, fmt.Sprintf("maillog.%d", round))); err != nil {
					t.Fatal(err)
				}
				appendTo(t, path, "") // logrotate's create
			}
			if i > perRound/4 && i < perRound/2 {
				// The follower polls every 10ms and switches to the new
				// file meanwhile; the daemon still writes to the old one.
				time.Sleep(time.Millisecond)
			}
			if i == perRound/2 {
				w.mu.Lock()
				w.reopen(t)
				w.mu.Unlock()
			}
		}
		written := w.n
		waitFor(t, "caught up", func() bool { return r.count() >= written })
	}
	time.Sleep(50 * time.Millisecond)
	got := r.snapshot()
	if len(got) != perRound*rounds {
		t.Errorf("got %d lines, want %d", len(got), perRound*rounds)
	}
	seen := map[string]bool{}
	for _, l := range got {
		if seen[l] {
			t.Errorf("%q twice", l)
		}
		seen[l] = true
	}
	for i := 1; i <= perRound*rounds; i++ {
		if !seen[fmt.Sprintf("line %07d", i)] {
			t.Errorf("line %d lost", i)
		}
	}
}
