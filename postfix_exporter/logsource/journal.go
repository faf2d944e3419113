// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package logsource

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"time"
)

// Journal follows the systemd journal by running journalctl.
type Journal struct {
	// Units are the systemd units whose messages are read.
	Units []string
	// Command replaces journalctl (with all arguments), for tests.
	Command []string
	Logger  *slog.Logger
	State   func(up bool)
	// Backoff is the wait before journalctl is started again after it ended.
	Backoff time.Duration
}

// Args is the journalctl command line for the units: new entries only,
// one JSON object per line.
func (j *Journal) Args() []string {
	if len(j.Command) > 0 {
		return j.Command
	}
	args := []string{"journalctl", "--follow", "--output=json", "--lines=0", "--quiet",
		"--output-fields=SYSLOG_IDENTIFIER,MESSAGE"}
	for _, u := range j.Units {
		args = append(args, "--unit="+u)
	}
	return args
}

func (j *Journal) state(up bool) {
	if j.State != nil {
		j.State(up)
	}
}

// Run reads journal entries until ctx ends, calling handle with each
// entry's syslog identifier and message. journalctl is restarted when it
// ends.
func (j *Journal) Run(ctx context.Context, handle func(tag, msg []byte)) error {
	if j.Backoff <= 0 {
		j.Backoff = 2 * time.Second
	}
	defer j.state(false)
	for {
		err := j.runOnce(ctx, handle)
		j.state(false)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		j.Logger.Error("journalctl ended; starting it again", "err", err, "backoff", j.Backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(j.Backoff):
		}
	}
}

func (j *Journal) runOnce(ctx context.Context, handle func(tag, msg []byte)) error {
	args := j.Args()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	j.state(true)
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	bad := 0
	for sc.Scan() {
		tag, msg, err := DecodeEntry(sc.Bytes())
		if err != nil {
			if bad == 0 {
				j.Logger.Warn("undecodable journal entry", "err", err)
			}
			bad++
			continue
		}
		handle(tag, msg)
	}
	scanErr := sc.Err()
	err = cmd.Wait()
	if scanErr != nil {
		return scanErr
	}
	if err != nil {
		return fmt.Errorf("%w: %s", err, stderr.String())
	}
	return errors.New("journalctl exited")
}

// field is a journal field as journalctl's JSON writes it: a string, an
// array of byte values when the value is not valid UTF-8, or null when it
// is too large.
type field []byte

// UnmarshalJSON implements json.Unmarshaler.
func (f *field) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || string(b) == "null" {
		*f = nil
		return nil
	}
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = []byte(s)
		return nil
	}
	var bs []int
	if err := json.Unmarshal(b, &bs); err != nil {
		return err
	}
	out := make([]byte, len(bs))
	for i, v := range bs {
		if v < 0 || v > 255 {
			return fmt.Errorf("byte value %d out of range", v)
		}
		out[i] = byte(v)
	}
	*f = out
	return nil
}

// DecodeEntry takes SYSLOG_IDENTIFIER and MESSAGE from one line of
// `journalctl --output=json`.
func DecodeEntry(line []byte) (tag, msg []byte, err error) {
	var e struct {
		Identifier field `json:"SYSLOG_IDENTIFIER"`
		Message    field `json:"MESSAGE"`
	}
	if err := json.Unmarshal(line, &e); err != nil {
		return nil, nil, err
	}
	if e.Identifier == nil {
		return nil, nil, errors.New("entry without SYSLOG_IDENTIFIER")
	}
	return e.Identifier, e.Message, nil
}

// limitedBuffer keeps the first 4 KiB of journalctl's stderr for the log.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 4096 - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return string(l.b) }
