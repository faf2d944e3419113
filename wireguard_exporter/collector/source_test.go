// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package collector

import (
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeDaemon answers get=1 on a unix socket like wireguard-go, with one peer.
func fakeDaemon(t *testing.T, path string, hang bool) {
	t.Helper()
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
				buf := make([]byte, 7)
				if _, err := io.ReadFull(c, buf); err != nil {
					return
				}
				if hang {
					time.Sleep(5 * time.Second)
					return
				}
				_, _ = io.WriteString(c, "private_key="+strings.Repeat("a1", 32)+"\nlisten_port=51820\npublic_key="+
					strings.Repeat("02", 32)+"\nallowed_ip=10.0.0.2/32\nrx_bytes=5\ntx_bytes=6\nerrno=0\n\n")
			}()
		}
	}()
}

// staleSocket leaves a socket file nobody listens on, as a killed
// wireguard-go does.
func staleSocket(t *testing.T, path string) {
	t.Helper()
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
}

func TestSourceUserspace(t *testing.T) {
	dir := t.TempDir()
	fakeDaemon(t, filepath.Join(dir, "wgb.sock"), false)
	fakeDaemon(t, filepath.Join(dir, "wga.sock"), false)
	staleSocket(t, filepath.Join(dir, "wgstale.sock"))

	// Every device: the stale socket is skipped, the others sorted by name.
	// (Kernel devices are looked up too; there are none in a test.)
	devs, err := Source{SocketDir: dir, Timeout: time.Second}.Devices()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range devs {
		names = append(names, d.Name)
	}
	if strings.Join(names, ",") != "wga,wgb" {
		t.Errorf("devices %v, want wga,wgb", names)
	}
	if devs[0].Peers[0].ReceiveBytes != 5 || devs[0].ListenPort != 51820 {
		t.Errorf("wga parsed wrong: %+v", devs[0])
	}

	// Restricted: only the named ones; a missing name is simply absent.
	devs, err = Source{SocketDir: dir, Interfaces: []string{"wgb", "wgmissing"}}.Devices()
	if err != nil || len(devs) != 1 || devs[0].Name != "wgb" {
		t.Errorf("restricted: %v %v", devs, err)
	}
}

func TestSourceHungDaemonIsAnError(t *testing.T) {
	dir := t.TempDir()
	fakeDaemon(t, filepath.Join(dir, "wgh.sock"), true)
	start := time.Now()
	_, err := Source{SocketDir: dir, Timeout: 200 * time.Millisecond}.Devices()
	if err == nil {
		t.Fatal("no error from a daemon that never answers")
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("took %v, want about the 200ms deadline", took)
	}
}
