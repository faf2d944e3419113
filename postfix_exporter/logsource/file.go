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

// follower holds the open file and the partial line at its end.
type follower struct {
	f       *File
	handle  func([]byte)
	file    *os.File
	info    os.FileInfo
	offset  int64
	buf     []byte
	n       int // bytes of buf in use (a partial line)
	tail    [64]byte
	tailN   int  // bytes of tail in use: the file's bytes just before offset
	skip    bool // inside an over-long line
	waiting bool // the missing file was already logged
}

// Run follows the file until ctx ends, calling handle with each line
// (without its newline; the slice is valid only during the call).
func (f *File) Run(ctx context.Context, handle func(line []byte)) error {
	if f.Poll <= 0 {
		f.Poll = 100 * time.Millisecond
	}
	fo := &follower{f: f, handle: handle, buf: make([]byte, bufSize)}
	defer func() {
		if fo.file != nil {
			fo.file.Close()
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
				fo.file, fo.info, fo.offset, fo.n, fo.skip, fo.tailN = file, info, 0, 0, false, 0
				if atEnd {
					if fo.offset, err = file.Seek(0, io.SeekEnd); err != nil {
						file.Close()
						return err
					}
				}
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
		// A file that appears while we wait is new: read all of it.
		atEnd = false
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(fo.f.Poll):
		}
	}
}

// follow reads the open file until it is rotated away or ctx ends.
func (fo *follower) follow(ctx context.Context) error {
	for {
		n, err := fo.read()
		if err != nil {
			fo.f.Logger.Error("reading log file", "path", fo.f.Path, "err", err)
			fo.close()
			return nil
		}
		if n > 0 {
			continue
		}
		// At the end: has the file been rotated or truncated?
		switch st, err := os.Stat(fo.f.Path); {
		case err != nil:
			// Renamed and not yet re-created: the writer may still append
			// to the old file, so keep reading it.
		case !os.SameFile(st, fo.info):
			// Renamed and re-created: what was appended to the old file
			// since the last read comes first.
			for {
				n, err := fo.read()
				if err != nil || n == 0 {
					break
				}
			}
			fo.flushPartial()
			fo.close()
			return nil
		case st.Size() < fo.offset:
			// Copied and truncated: start again at the beginning. A partial
			// line from before went to the copy.
			if _, err := fo.file.Seek(0, io.SeekStart); err != nil {
				fo.close()
				return nil
			}
			fo.offset, fo.n, fo.skip, fo.tailN = 0, 0, false, 0
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(fo.f.Poll):
		}
	}
}

func (fo *follower) close() {
	fo.file.Close()
	fo.file = nil
	fo.f.state(false)
}

// truncated tells whether the bytes before offset are no longer what was
// read there: copytruncate truncated the file and the daemon wrote past
// the old offset before the size could show it.
func (fo *follower) truncated() bool {
	if fo.tailN == 0 {
		return false
	}
	var b [64]byte
	n, err := fo.file.ReadAt(b[:fo.tailN], fo.offset-int64(fo.tailN))
	return n != fo.tailN || (err != nil && !errors.Is(err, io.EOF)) || !bytes.Equal(b[:n], fo.tail[:fo.tailN])
}

// read reads once and hands out the complete lines.
func (fo *follower) read() (int, error) {
	if fo.truncated() {
		if _, err := fo.file.Seek(0, io.SeekStart); err != nil {
			return 0, err
		}
		fo.offset, fo.n, fo.skip, fo.tailN = 0, 0, false, 0
	}
	n, err := fo.file.Read(fo.buf[fo.n:])
	if n > 0 {
		fo.offset += int64(n)
		end := fo.n + n
		fo.tailN = copy(fo.tail[:], fo.buf[max(0, end-len(fo.tail)):end])
		fo.lines(end)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return n, err
	}
	return n, nil
}

// lines hands out the lines of buf[:end] and keeps the partial one.
func (fo *follower) lines(end int) {
	data := fo.buf[:end]
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		if fo.skip {
			fo.skip = false
		} else {
			fo.handle(data[:i])
		}
		data = data[i+1:]
	}
	switch {
	case fo.skip:
		fo.n = 0
	case len(data) >= MaxLine:
		fo.handle(data[:MaxLine])
		fo.skip, fo.n = true, 0
	default:
		fo.n = copy(fo.buf, data)
	}
}

// flushPartial hands out a last line that had no newline.
func (fo *follower) flushPartial() {
	if fo.n > 0 && !fo.skip {
		fo.handle(fo.buf[:fo.n])
	}
	fo.n, fo.skip = 0, false
}
