// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Package logsource follows Postfix's log: a file across rotation, or the
// systemd journal through journalctl.
//
// The file follower is written here rather than taken from nxadm/tail:
// tail reopens a renamed file without reading what was appended to the old
// one after its last read (those lines are lost), and it allocates a string
// and a Line per line and sends each over a channel, which would cost more
// than parsing the line. This follower reads large blocks, hands out
// slices of its buffer, and drains the old file before switching.
package logsource

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"time"
)

// MaxLine is the longest line handed out whole. A longer line is handed
// out cut to MaxLine bytes, once, and the rest of it is skipped, so that a
// runaway line cannot make the exporter hold it all in memory.
const MaxLine = 64 << 10

const bufSize = 256 << 10

// File follows a log file.
type File struct {
	Path string
	// FromStart reads what the file holds when the follower starts;
	// otherwise it starts at the end. A file that appears later, or the
	// new file after a rotation, is always read from its start.
	FromStart bool
	// Poll is how often the file is checked for new data and rotation.
	Poll   time.Duration
	Logger *slog.Logger
	// State is told whether the file is open (up) or missing/unreadable.
	State func(up bool)
}

func (f *File) state(up bool) {
	if f.State != nil {
		f.State(up)
	}
}

// OldFileGrace is how long a rotated file is still read after it was last
// seen growing: logrotate creates the new file before it tells the daemon
// (rsyslog's HUP, postfix reload) to reopen, and until then lines go to the
// old file.
const OldFileGrace = 5 * time.Second

// reader is one open file and the partial line at its end.
type reader struct {
	file   *os.File
	info   os.FileInfo
	offset int64
	buf    []byte
	n      int // bytes of buf in use (a partial line)
	tail   [64]byte
	tailN  int  // bytes of tail in use: the file's bytes just before offset
	skip   bool // inside an over-long line
}

// follower follows the path: the current file, and the previous one for
// OldFileGrace after a rotation.
type follower struct {
	f       *File
	handle  func([]byte)
	cur     *reader
	old     *reader
	oldSeen time.Time // when old last had new data
	waiting bool      // the missing file was already logged
}

// Run follows the file until ctx ends, calling handle with each line
// (without its newline; the slice is valid only during the call).
func (f *File) Run(ctx context.Context, handle func(line []byte)) error {
	if f.Poll <= 0 {
		f.Poll = 100 * time.Millisecond
	}
	fo := &follower{f: f, handle: handle}
	defer func() {
		if fo.cur != nil {
			fo.cur.file.Close()
		}
		if fo.old != nil {
			fo.old.file.Close()
		}
		f.state(false)
	}()
	first := true
	for {
		if err := fo.open(ctx, first && !f.FromStart); err != nil {
			return err
		}
		first = false
		if err := fo.follow(ctx); err != nil {
			return err
		}
	}
}

// open waits until the file can be opened. atEnd seeks to its end.
func (fo *follower) open(ctx context.Context, atEnd bool) error {
	for {
		file, err := os.Open(fo.f.Path)
		if err == nil {
			info, err := file.Stat()
			if err == nil {
				r := &reader{file: file, info: info, buf: make([]byte, bufSize)}
				if atEnd {
					if r.offset, err = file.Seek(0, io.SeekEnd); err != nil {
						file.Close()
						return err
					}
				}
				fo.cur = r
				if fo.waiting {
					fo.f.Logger.Info("log file appeared, following it", "path", fo.f.Path)
				}
				fo.waiting = false
				fo.f.state(true)
				return nil
			}
			file.Close()
		}
		if !fo.waiting {
			fo.f.Logger.Error("cannot open log file, waiting for it", "path", fo.f.Path, "err", err)
			fo.waiting = true
		}
		fo.f.state(false)
		fo.drainOld()
		// A file that appears while we wait is new: read all of it.
		atEnd = false
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(fo.f.Poll):
		}
	}
}

// follow reads the current file until it is rotated away or ctx ends.
func (fo *follower) follow(ctx context.Context) error {
	for {
		n, err := fo.read(fo.cur)
		if err != nil {
			fo.f.Logger.Error("reading log file", "path", fo.f.Path, "err", err)
			fo.retire(false)
			return nil
		}
		if n > 0 {
			continue
		}
		fo.drainOld()
		// At the end: has the file been rotated or truncated?
		switch st, err := os.Stat(fo.f.Path); {
		case err != nil:
			// Renamed and not yet re-created: the writer may still append
			// to the old file, so keep reading it.
		case !os.SameFile(st, fo.cur.info):
			// Renamed and re-created: the new file is read from now on,
			// and the old one for as long as the daemon still writes to it.
			fo.retire(true)
			return nil
		case st.Size() < fo.cur.offset:
			// Copied and truncated: start again at the beginning. A partial
			// line from before went to the copy.
			if err := fo.cur.rewind(); err != nil {
				fo.retire(false)
				return nil
			}
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(fo.f.Poll):
		}
	}
}

// retire ends the current file: kept as the old file when keep (rotated),
// closed otherwise.
func (fo *follower) retire(keep bool) {
	r := fo.cur
	fo.cur = nil
	fo.f.state(false)
	if !keep {
		r.file.Close()
		return
	}
	if fo.old != nil {
		fo.closeOld()
	}
	fo.old, fo.oldSeen = r, time.Now()
}

// drainOld reads what the daemon appended to the rotated file, and closes
// it once it stayed quiet for OldFileGrace.
func (fo *follower) drainOld() {
	if fo.old == nil {
		return
	}
	for {
		n, err := fo.read(fo.old)
		if err != nil {
			fo.closeOld()
			return
		}
		if n == 0 {
			break
		}
		fo.oldSeen = time.Now()
	}
	if time.Since(fo.oldSeen) > OldFileGrace {
		fo.closeOld()
	}
}

func (fo *follower) closeOld() {
	r := fo.old
	fo.old = nil
	// A last line without its newline is complete by now.
	if r.n > 0 && !r.skip {
		fo.handle(r.buf[:r.n])
	}
	r.file.Close()
}

func (r *reader) rewind() error {
	if _, err := r.file.Seek(0, io.SeekStart); err != nil {
		return err
	}
	r.offset, r.n, r.skip, r.tailN = 0, 0, false, 0
	return nil
}

// truncated tells whether the bytes before offset are no longer what was
// read there: copytruncate truncated the file and the daemon wrote past
// the old offset before the size could show it.
func (r *reader) truncated() bool {
	if r.tailN == 0 {
		return false
	}
	var b [64]byte
	n, err := r.file.ReadAt(b[:r.tailN], r.offset-int64(r.tailN))
	return n != r.tailN || (err != nil && !errors.Is(err, io.EOF)) || !bytes.Equal(b[:n], r.tail[:r.tailN])
}

// read reads once from r and hands out the complete lines.
func (fo *follower) read(r *reader) (int, error) {
	if r.truncated() {
		if err := r.rewind(); err != nil {
			return 0, err
		}
	}
	n, err := r.file.Read(r.buf[r.n:])
	if n > 0 {
		r.offset += int64(n)
		end := r.n + n
		r.tailN = copy(r.tail[:], r.buf[max(0, end-len(r.tail)):end])
		fo.lines(r, end)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return n, err
	}
	return n, nil
}

// lines hands out the lines of r.buf[:end] and keeps the partial one.
func (fo *follower) lines(r *reader, end int) {
	data := r.buf[:end]
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		if r.skip {
			r.skip = false
		} else {
			fo.handle(data[:i])
		}
		data = data[i+1:]
	}
	switch {
	case r.skip:
		r.n = 0
	case len(data) >= MaxLine:
		fo.handle(data[:MaxLine])
		r.skip, r.n = true, 0
	default:
		r.n = copy(r.buf, data)
	}
}
