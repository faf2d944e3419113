// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package collector

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/downwatch/downwatch/wireguard_exporter/uapi/uapitest"
)

// oneReply is wireguard-go's answer for a device with one peer.
var oneReply = "private_key=" + strings.Repeat("a1", 32) + "\nlisten_port=51820\npublic_key=" +
	strings.Repeat("02", 32) + "\nallowed_ip=10.0.0.2/32\nrx_bytes=5\ntx_bytes=6\nerrno=0\n\n"

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
	uapitest.Serve(t, filepath.Join(dir, "wgb.sock"), oneReply)
	uapitest.Serve(t, filepath.Join(dir, "wga.sock"), oneReply)
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
	uapitest.Serve(t, filepath.Join(dir, "wgh.sock"), "")
	start := time.Now()
	_, err := Source{SocketDir: dir, Timeout: 200 * time.Millisecond}.Devices()
	if err == nil {
		t.Fatal("no error from a daemon that never answers")
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("took %v, want about the 200ms deadline", took)
	}
}
