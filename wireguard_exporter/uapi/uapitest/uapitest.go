// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Package uapitest fakes a userspace WireGuard daemon's UAPI socket for
// tests of this module.
package uapitest

import (
	"io"
	"net"
	"testing"
	"time"
)

// Serve answers `get=1` on a unix socket at path with reply, as wireguard-go
// does; with an empty reply it never answers, like a hung daemon.
func Serve(tb testing.TB, path, reply string) {
	tb.Helper()
	l, err := net.Listen("unix", path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 7)
				if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "get=1\n\n" {
					return
				}
				if reply == "" {
					time.Sleep(10 * time.Second)
					return
				}
				_, _ = io.WriteString(c, reply)
			}()
		}
	}()
}
