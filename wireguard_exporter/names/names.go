// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package names

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// Resolver answers peer names from its files and re-reads a file when its
// modification time, size or inode changed, so that edits (including the
// rename-into-place that editors and Nix do) apply at the next scrape
// without a restart. Checking costs one stat per file per scrape.
type Resolver struct {
	logger *slog.Logger

	mu     sync.Mutex
	files  []*source
	merged Map
}

// source is one file and what was last read from it.
type source struct {
	path   string
	flag   string
	parse  func([]byte) (Map, error)
	stamp  stamp
	names  Map
	failed string // the failure already logged
}

// stamp identifies one version of a file cheaply.
type stamp struct {
	mtime time.Time
	size  int64
	ino   uint64
	ok    bool
}

// NewResolver reads every file once and fails, naming the flag and file,
// if one is missing or invalid: a wrong path at start-up is a mistake to
// report at once, whereas a file that breaks later keeps its last good names.
func NewResolver(configFiles []string, namesFile string, logger *slog.Logger) (*Resolver, error) {
	r := &Resolver{logger: logger}
	for _, p := range configFiles {
		r.files = append(r.files, &source{path: p, flag: "--wireguard.config", parse: parseConfigBytes})
	}
	if namesFile != "" {
		// Added last, so that its names override config comments.
		r.files = append(r.files, &source{path: namesFile, flag: "--wireguard.peer-names-file", parse: ParseNamesFile})
	}
	for _, s := range r.files {
		st, err := statFile(s.path)
		if err != nil {
			return nil, fmt.Errorf("%s=%s: %w", s.flag, s.path, err)
		}
		m, err := readFile(s)
		if err != nil {
			return nil, fmt.Errorf("%s=%s: %w", s.flag, s.path, err)
		}
		s.stamp, s.names = st, m
	}
	r.merge()
	return r, nil
}

func parseConfigBytes(b []byte) (Map, error) { return ParseConfig(bytes.NewReader(b)) }

func readFile(s *source) (Map, error) {
	b, err := os.ReadFile(s.path)
	if err != nil {
		return nil, err
	}
	return s.parse(b)
}

// Names re-reads changed files and returns the current mapping. The map is
// shared and must not be modified.
func (r *Resolver) Names() Map {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	changed := false
	for _, s := range r.files {
		st, err := statFile(s.path)
		if err != nil {
			r.logOnce(s, stamp{}, err)
			continue
		}
		if st == s.stamp {
			continue
		}
		m, err := readFile(s)
		if err != nil {
			r.logOnce(s, st, err)
			continue
		}
		s.stamp, s.names, s.failed = st, m, ""
		changed = true
		r.logger.Info("Peer names reloaded", "file", s.path, "names", len(m))
	}
	if changed {
		r.merge()
	}
	return r.merged
}

// logOnce logs a failure once per version of the file and error, not on
// every scrape.
func (r *Resolver) logOnce(s *source, st stamp, err error) {
	msg := fmt.Sprintf("%v|%d|%d|%v", st.mtime.UnixNano(), st.size, st.ino, err)
	if msg == s.failed {
		return
	}
	s.failed = msg
	r.logger.Error("Cannot read peer names, keeping the last good ones", "file", s.path, "err", err)
}

func (r *Resolver) merge() {
	n := 0
	for _, s := range r.files {
		n += len(s.names)
	}
	m := make(Map, n)
	for _, s := range r.files {
		for k, v := range s.names {
			m[k] = v
		}
	}
	r.merged = m
}

// Lookup returns the name of key, or "".
func (m Map) Lookup(k wgtypes.Key) string { return m[k] }
