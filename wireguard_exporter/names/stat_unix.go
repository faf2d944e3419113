// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

//go:build unix

package names

import (
	"os"
	"syscall"
)

func statFile(path string) (stamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return stamp{}, err
	}
	st := stamp{mtime: fi.ModTime(), size: fi.Size(), ok: true}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino = sys.Ino
	}
	return st, nil
}
