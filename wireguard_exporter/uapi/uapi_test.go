// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package uapi

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/downwatch/downwatch/wireguard_exporter/uapi/uapitest"
)

func hexKey(b byte) string { return strings.Repeat(fmt.Sprintf("%02x", b), 32) }

func key(b byte) wgtypes.Key {
	var k wgtypes.Key
	for i := range k {
		k[i] = b
	}
	return k
}

// reply is what wireguard-go answers to get=1 for a device with two peers.
var reply = "private_key=" + hexKey(0xA1) + `
listen_port=51820
fwmark=7
public_key=` + hexKey(0x02) + `
preshared_key=` + hexKey(0xA2) + `
protocol_version=1
endpoint=192.0.2.10:51820
last_handshake_time_sec=1764000000
last_handshake_time_nsec=500
tx_bytes=5678
rx_bytes=1234
persistent_keepalive_interval=25
allowed_ip=10.70.0.2/32
allowed_ip=10.70.1.0/24
allowed_ip=fd00::2/128
public_key=` + hexKey(0x03) + `
preshared_key=0000000000000000000000000000000000000000000000000000000000000000
protocol_version=1
endpoint=[2001:db8::1%eth0]:443
last_handshake_time_sec=0
last_handshake_time_nsec=0
tx_bytes=0
rx_bytes=0
persistent_keepalive_interval=0
errno=0

`

func TestParse(t *testing.T) {
	got, err := Parse(strings.NewReader(reply))
	if err != nil {
		t.Fatal(err)
	}
	_, n24, _ := net.ParseCIDR("10.70.1.0/24")
	want := &wgtypes.Device{
		PrivateKey:   key(0xA1),
		PublicKey:    key(0xA1).PublicKey(),
		ListenPort:   51820,
		FirewallMark: 7,
		Peers: []wgtypes.Peer{
			{
				PublicKey:                   key(0x02),
				PresharedKey:                key(0xA2),
				ProtocolVersion:             1,
				Endpoint:                    &net.UDPAddr{IP: net.IP{192, 0, 2, 10}, Port: 51820},
				LastHandshakeTime:           time.Unix(1764000000, 500),
				TransmitBytes:               5678,
				ReceiveBytes:                1234,
				PersistentKeepaliveInterval: 25 * time.Second,
				AllowedIPs: []net.IPNet{
					{IP: net.IP{10, 70, 0, 2}, Mask: net.CIDRMask(32, 32)},
					*n24,
					{IP: net.ParseIP("fd00::2"), Mask: net.CIDRMask(128, 128)},
				},
			},
			{
				PublicKey:       key(0x03),
				ProtocolVersion: 1,
				Endpoint:        &net.UDPAddr{IP: net.ParseIP("2001:db8::1"), Port: 443, Zone: "eth0"},
			},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"errno", "listen_port=1\nerrno=22\n\n", "errno=22"},
		{"cut short", "listen_port=1\npublic_key=" + hexKey(1) + "\n", "without errno"},
		{"no equals", "listen_port\nerrno=0\n\n", "line 1: no '='"},
		{"bad key", "private_key=zz\nerrno=0\n\n", "line 1: private_key: key of 2 hex digits"},
		{"bad hex", "private_key=" + strings.Repeat("g", 64) + "\nerrno=0\n\n", "line 1: private_key: encoding/hex"},
		{"bad number", "listen_port=-1\nerrno=0\n\n", "line 1: listen_port"},
		{"bad endpoint", "public_key=" + hexKey(1) + "\nendpoint=nope\nerrno=0\n\n", "line 2: endpoint"},
		{"bad cidr", "public_key=" + hexKey(1) + "\nallowed_ip=10.0.0.0/33\nerrno=0\n\n", "line 2: allowed_ip"},
		{"long line", "x=" + strings.Repeat("a", 70000) + "\n", "too long"},
		{"huge number", "listen_port=99999999999999999999\nerrno=0\n\n", "listen_port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := Parse(strings.NewReader("errno=5\n\n")); !errors.Is(err, ErrErrno) {
		t.Errorf("errno error does not wrap ErrErrno: %v", err)
	}
}

// TestParseStopsAtEmptyLine: the reply ends at its empty line; what follows
// on the connection is not read as part of it.
func TestParseStopsAtEmptyLine(t *testing.T) {
	d, err := Parse(strings.NewReader("listen_port=1\nerrno=0\n\nlisten_port=2\n"))
	if err != nil || d.ListenPort != 1 {
		t.Fatalf("got %v, %v", d, err)
	}
	// And a last line without a newline at EOF still counts.
	if _, err := Parse(strings.NewReader("listen_port=1\nerrno=0")); err != nil {
		t.Fatal(err)
	}
}

func TestGet(t *testing.T) {
	dir := t.TempDir()
	uapitest.Serve(t, filepath.Join(dir, "wg7.sock"), reply)
	uapitest.Serve(t, filepath.Join(dir, "hung.sock"), "")
	if err := os.WriteFile(filepath.Join(dir, "notasocket.sock"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	socks, err := Sockets(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"wg7": filepath.Join(dir, "wg7.sock"), "hung": filepath.Join(dir, "hung.sock")}, socks); diff != "" {
		t.Errorf("Sockets (-want +got):\n%s", diff)
	}
	d, err := Get(socks["wg7"], time.Now().Add(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "wg7" || d.Type != wgtypes.Userspace || len(d.Peers) != 2 {
		t.Errorf("got %s %v with %d peers", d.Name, d.Type, len(d.Peers))
	}
	start := time.Now()
	if _, err := Get(socks["hung"], time.Now().Add(200*time.Millisecond)); err == nil {
		t.Error("a hung daemon answered")
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("deadline not kept: %v", took)
	}
	if s, err := Sockets(filepath.Join(dir, "missing")); err != nil || len(s) != 0 {
		t.Errorf("missing dir: %v %v", s, err)
	}
}

// BigReply is a get=1 reply with n peers as wireguard-go writes it.
func BigReply(n int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "private_key=%s\nlisten_port=51820\n", hexKey(0xA1))
	var k [32]byte
	for i := range n {
		for j := range k {
			k[j] = byte(i*31 + j*7)
		}
		fmt.Fprintf(&b, "public_key=%s\npreshared_key=%s\nprotocol_version=1\nendpoint=192.0.2.%d:51820\n", hex.EncodeToString(k[:]), hexKey(0), i%250+1)
		fmt.Fprintf(&b, "last_handshake_time_sec=%d\nlast_handshake_time_nsec=%d\ntx_bytes=%d\nrx_bytes=%d\npersistent_keepalive_interval=0\n", 1764000000+i, 1000+i, i*3000, i*1000)
		fmt.Fprintf(&b, "allowed_ip=10.%d.%d.%d/32\nallowed_ip=fd00::%x/128\n", i>>16&255, i>>8&255, i&255, i)
	}
	b.WriteString("errno=0\n\n")
	return b.Bytes()
}

// BenchmarkParse10k parses a 10,000-peer reply, the first time (no peer
// count known) and as every later scrape does (Get passes the last count).
func BenchmarkParse10k(b *testing.B) {
	in := BigReply(10000)
	for _, hint := range []int{0, 10000} {
		b.Run(fmt.Sprintf("hint=%d", hint), func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := parse(bytes.NewReader(in), hint); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzParse: any reply parses or fails, never panics, and a device that
// parses has a peer per public_key line.
func FuzzParse(f *testing.F) {
	f.Add(reply)
	f.Add(string(BigReply(3)))
	f.Add("errno=0\n\n")
	f.Fuzz(func(t *testing.T, in string) {
		d, err := Parse(strings.NewReader(in))
		if err != nil {
			return
		}
		if n := strings.Count(in, "public_key="); len(d.Peers) > n {
			t.Errorf("%d peers from %d public_key lines", len(d.Peers), n)
		}
	})
}
