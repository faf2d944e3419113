// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Package wireguard runs real WireGuard devices for integration tests and
// the demo: wireguard-go (userspace, since CI has no kernel module) inside
// network namespaces that this package creates with unique names, joined by
// a veth pair, configured with wg(8).
//
// wireguard-go's UAPI socket is /var/run/wireguard/<iface>.sock. /var/run
// is not per network namespace, so the socket of a device running inside
// a namespace is visible from the root namespace: an exporter (and `wg
// show`) in the root namespace reads it like any local device, and `wg
// show` inside the namespace reads the same socket. That directory is
// shared by every test on the machine, so interface names carry a random
// suffix, and exporters under test should be restricted to their devices
// with --wireguard.interface.
package wireguard

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/downwatch/downwatch/itest/daemon/proc"
)

// SocketDir is where wireguard-go puts its UAPI sockets.
const SocketDir = "/var/run/wireguard"

// envUserspace must be set for wireguard-go to start on Linux at all: it
// refuses when it thinks the kernel module could be used instead.
const envUserspace = "WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1"

// Addresses used inside the namespaces. They are private to each test's
// own namespaces, so concurrent tests can reuse them.
const (
	underlayA = "192.168.241.1"
	underlayB = "192.168.241.2"
	tunnelA   = "10.241.0.1"
	tunnelB   = "10.241.0.2"
	// ListenPort is the UDP port of both devices (each in its namespace).
	ListenPort = 51820
)

// Device is one wireguard-go device running in its own network namespace.
type Device struct {
	Name       string // interface name, unique on the machine, <= 15 bytes
	Netns      string // network namespace name (ip netns)
	PrivateKey wgtypes.Key
	PublicKey  wgtypes.Key
	ListenPort int
	Underlay   string // address on the veth end in the namespace
	Tunnel     string // address on the WireGuard interface
	Socket     string // UAPI socket path
	Dir        string // config and log files

	mu      sync.Mutex
	process *proc.Process
	stopped bool
	// peers is what configure last applied, so that Restart can apply it
	// again; nil for a device that was never configured.
	peers []peerConf
}

// Pair is two devices, A and B, whose namespaces are joined by a veth pair
// and that are each other's peer: traffic from A to B.Tunnel goes through
// WireGuard.
type Pair struct {
	A, B *Device
}

// Options configure a Pair.
type Options struct {
	// Dir holds configs and logs; a test's t.TempDir() by default, a new
	// temporary directory for StartPair.
	Dir string
	// ExtraPeersA are more peers configured on A (they never connect), for
	// tests that need names for more than one peer.
	ExtraPeersA []wgtypes.Key
}

// Require skips the test (fails in CI) without root or the binaries.
func Require(tb testing.TB) {
	tb.Helper()
	proc.RequireRoot(tb)
	for _, b := range []string{"wireguard-go", "wg", "ip"} {
		proc.RequireBinary(tb, b)
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		proc.Unavailable(tb, "/dev/net/tun: %v", err)
	}
}

// Start starts a Pair and removes it when the test ends.
func Start(tb testing.TB, opts Options) *Pair {
	tb.Helper()
	Require(tb)
	if opts.Dir == "" {
		opts.Dir = tb.TempDir()
	}
	p, err := StartPair(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			for _, d := range []*Device{p.A, p.B} {
				tb.Logf("--- log of wireguard-go %s:\n%s", d.Name, proc.FileTail(d.logPath(), 2000))
			}
		}
		if err := p.Close(); err != nil {
			tb.Errorf("wireguard cleanup: %v", err)
		}
	})
	return p
}

// StartPair starts a Pair without a test, for the demo. Close it at the end.
func StartPair(opts Options) (p *Pair, err error) {
	if opts.Dir == "" {
		d, err := os.MkdirTemp("", "downwatch-wg-")
		if err != nil {
			return nil, err
		}
		opts.Dir = d
	}
	suffix := randomSuffix()
	p = &Pair{}
	defer func() {
		if err != nil {
			_ = p.Close()
			p = nil
		}
	}()
	if p.A, err = newDevice(opts.Dir, "wga"+suffix, "dwwg-"+suffix+"-a", underlayA, tunnelA); err != nil {
		return p, err
	}
	if p.B, err = newDevice(opts.Dir, "wgb"+suffix, "dwwg-"+suffix+"-b", underlayB, tunnelB); err != nil {
		return p, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	vethA, vethB := "dwva"+suffix, "dwvb"+suffix
	if _, err := proc.Run(ctx, "ip", "link", "add", vethA, "netns", p.A.Netns, "type", "veth", "peer", "name", vethB, "netns", p.B.Netns); err != nil {
		return p, err
	}
	for _, side := range []struct {
		d    *Device
		veth string
	}{{p.A, vethA}, {p.B, vethB}} {
		if err := ipIn(ctx, side.d.Netns, "addr", "add", side.d.Underlay+"/24", "dev", side.veth); err != nil {
			return p, err
		}
		if err := ipIn(ctx, side.d.Netns, "link", "set", side.veth, "up"); err != nil {
			return p, err
		}
	}
	extra := make([]peerConf, 0, len(opts.ExtraPeersA))
	for i, k := range opts.ExtraPeersA {
		extra = append(extra, peerConf{key: k, allowed: fmt.Sprintf("10.242.%d.%d/32", i/250, i%250+1)})
	}
	if err := p.A.configure(ctx, append([]peerConf{{key: p.B.PublicKey, endpoint: p.B.Underlay, allowed: p.B.Tunnel + "/32"}}, extra...)); err != nil {
		return p, err
	}
	if err := p.B.configure(ctx, []peerConf{{key: p.A.PublicKey, endpoint: p.A.Underlay, allowed: p.A.Tunnel + "/32"}}); err != nil {
		return p, err
	}
	return p, nil
}

// StartDevice starts one device in a new namespace of its own, not linked
// to anything, with the interface left down; callers configure it with
// wg(8) (for example `wg setconf`). For the demo and benchmarks.
func StartDevice(dir string) (*Device, error) {
	suffix := randomSuffix()
	return newDevice(dir, "wgs"+suffix, "dwwg-"+suffix+"-s", "", "")
}

// randomSuffix is 8 hex digits: interface names stay at 11 bytes, under
// the kernel's 15.
func randomSuffix() string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

func newDevice(dir, name, netns, underlay, tunnel string) (*Device, error) {
	priv, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		return nil, err
	}
	d := &Device{
		Name: name, Netns: netns, PrivateKey: priv, PublicKey: priv.PublicKey(),
		ListenPort: ListenPort, Underlay: underlay, Tunnel: tunnel,
		Socket: filepath.Join(SocketDir, name+".sock"), Dir: dir,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := proc.Run(ctx, "ip", "netns", "add", netns); err != nil {
		return nil, err
	}
	if err := ipIn(ctx, netns, "link", "set", "lo", "up"); err != nil {
		_ = d.Close()
		return nil, err
	}
	if err := d.startProcess(); err != nil {
		_ = d.Close()
		return nil, err
	}
	return d, nil
}

func (d *Device) logPath() string { return filepath.Join(d.Dir, "wireguard-go-"+d.Name+".log") }

// startProcess runs wireguard-go in the foreground inside the namespace;
// `ip netns exec` execs it, so the PID is wireguard-go's own.
func (d *Device) startProcess() error {
	wg, err := proc.LookPath("wireguard-go")
	if err != nil {
		return err
	}
	ip, err := proc.LookPath("ip")
	if err != nil {
		return err
	}
	p, err := proc.StartProcess(proc.Spec{
		Name: "wireguard-go-" + d.Name,
		Path: ip,
		Args: []string{"netns", "exec", d.Netns, wg, "-f", d.Name},
		Env:  []string{envUserspace},
		Dir:  d.Dir,
	})
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.process, d.stopped = p, false
	d.mu.Unlock()
	if err := proc.WaitUnix(d.Socket, 10*time.Second); err != nil {
		p.Stop()
		return fmt.Errorf("wireguard-go %s: no UAPI socket: %w: %s", d.Name, err, p.LogTail(1000))
	}
	return nil
}

type peerConf struct {
	key      wgtypes.Key
	endpoint string
	allowed  string
}

// configure sets the private key, port and peers with `wg setconf`, and
// gives the interface its tunnel address and brings it up.
func (d *Device) configure(ctx context.Context, peers []peerConf) error {
	var b strings.Builder
	fmt.Fprintf(&b, "[Interface]\nPrivateKey = %s\nListenPort = %d\n", d.PrivateKey, d.ListenPort)
	for _, p := range peers {
		fmt.Fprintf(&b, "\n[Peer]\nPublicKey = %s\nAllowedIPs = %s\n", p.key, p.allowed)
		if p.endpoint != "" {
			fmt.Fprintf(&b, "Endpoint = %s:%d\n", p.endpoint, ListenPort)
		}
	}
	conf := filepath.Join(d.Dir, d.Name+".setconf")
	// 0600: it holds the private key.
	if err := os.WriteFile(conf, []byte(b.String()), 0o600); err != nil {
		return err
	}
	if err := d.SetConf(ctx, conf); err != nil {
		return err
	}
	d.mu.Lock()
	d.peers = append([]peerConf{}, peers...)
	d.mu.Unlock()
	if d.Tunnel != "" {
		if err := ipIn(ctx, d.Netns, "addr", "replace", d.Tunnel+"/24", "dev", d.Name); err != nil {
			return err
		}
		if err := ipIn(ctx, d.Netns, "link", "set", d.Name, "up"); err != nil {
			return err
		}
	}
	return nil
}

// SetConf applies a wg(8) configuration file with `wg setconf`.
func (d *Device) SetConf(ctx context.Context, path string) error {
	_, err := proc.Run(ctx, "wg", "setconf", d.Name, path)
	return err
}

// WG runs wg(8) inside the device's namespace, e.g. WG(ctx, "show", d.Name, "dump").
func (d *Device) WG(ctx context.Context, args ...string) (string, error) {
	return proc.Run(ctx, "ip", append([]string{"netns", "exec", d.Netns, "wg"}, args...)...)
}

// PeerDump is one peer line of `wg show <dev> dump`.
type PeerDump struct {
	PublicKey           string
	PresharedKey        string // "(none)" when unset
	Endpoint            string // "(none)" when unknown
	AllowedIPs          []string
	LatestHandshake     int64 // Unix seconds, 0 if never
	ReceiveBytes        int64
	TransmitBytes       int64
	PersistentKeepalive string
}

// Dump runs `wg show <dev> dump` in the namespace and parses the peers.
func (d *Device) Dump(ctx context.Context) ([]PeerDump, error) {
	out, err := d.WG(ctx, "show", d.Name, "dump")
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var peers []PeerDump
	// The first line is the interface: private key, public key, port, fwmark.
	for _, l := range lines[1:] {
		f := strings.Split(l, "\t")
		if len(f) != 8 {
			return nil, fmt.Errorf("wg show dump: want 8 fields, got %q", l)
		}
		p := PeerDump{PublicKey: f[0], PresharedKey: f[1], Endpoint: f[2], PersistentKeepalive: f[7]}
		if f[3] != "(none)" {
			p.AllowedIPs = strings.Split(f[3], ",")
		}
		var errs []error
		p.LatestHandshake, err = strconv.ParseInt(f[4], 10, 64)
		errs = append(errs, err)
		p.ReceiveBytes, err = strconv.ParseInt(f[5], 10, 64)
		errs = append(errs, err)
		p.TransmitBytes, err = strconv.ParseInt(f[6], 10, 64)
		errs = append(errs, err)
		if err := errors.Join(errs...); err != nil {
			return nil, fmt.Errorf("wg show dump: %q: %w", l, err)
		}
		peers = append(peers, p)
	}
	return peers, nil
}

// PID is wireguard-go's process ID, 0 when stopped.
func (d *Device) PID() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.process == nil || d.stopped {
		return 0
	}
	return d.process.PID()
}

// Stop ends wireguard-go, which removes the interface and its socket: the
// device is gone, as when wg-quick down runs.
func (d *Device) Stop() {
	d.mu.Lock()
	p := d.process
	d.stopped = true
	d.mu.Unlock()
	if p != nil {
		p.Stop()
	}
	// A wireguard-go that had to be killed leaves its socket behind.
	_ = os.Remove(d.Socket)
}

// Restart brings a stopped device back as it was: wireguard-go again, with
// the same name, keys, port, peers and tunnel address, as when wg-quick up
// runs after a wg-quick down. A running device is stopped first. The new
// interface has no session yet: traffic (Pair.Ping) makes the handshake.
func (d *Device) Restart() error {
	d.Stop()
	if err := d.startProcess(); err != nil {
		return err
	}
	d.mu.Lock()
	peers := d.peers
	d.mu.Unlock()
	if peers == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return d.configure(ctx, peers)
}

// Freeze stops wireguard-go with SIGSTOP: its socket accepts connections
// but nothing answers, as with a hung daemon.
func (d *Device) Freeze() error { return d.signal(syscall.SIGSTOP) }

// Thaw resumes a frozen wireguard-go.
func (d *Device) Thaw() error { return d.signal(syscall.SIGCONT) }

func (d *Device) signal(sig syscall.Signal) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.process == nil || d.stopped {
		return errors.New("wireguard-go is not running")
	}
	return d.process.Signal(sig)
}

// Close stops wireguard-go and deletes the namespace.
func (d *Device) Close() error {
	if d == nil {
		return nil
	}
	d.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := proc.Run(ctx, "ip", "netns", "delete", d.Netns); err != nil && !strings.Contains(err.Error(), "No such file") {
		return err
	}
	return nil
}

// Close removes both devices and their namespaces (and with them the veth
// pair).
func (p *Pair) Close() error {
	if p == nil {
		return nil
	}
	return errors.Join(p.A.Close(), p.B.Close())
}

func ipIn(ctx context.Context, netns string, args ...string) error {
	_, err := proc.Run(ctx, "ip", append([]string{"-n", netns}, args...)...)
	return err
}
