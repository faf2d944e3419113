// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package collector

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// key returns a fixed key whose bytes are all b, so golden files are stable.
func key(b byte) wgtypes.Key {
	var k wgtypes.Key
	for i := range k {
		k[i] = b
	}
	return k
}

func cidr(s string) net.IPNet {
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	return *n
}

// testDevices are two devices: wg0 with a named peer that shook hands, one
// that never did, and wg1 with no peers. Every private and preshared key
// is set, so the tests can prove none reaches the output.
func testDevices() []*wgtypes.Device {
	return []*wgtypes.Device{
		{
			Name:       "wg0",
			Type:       wgtypes.Userspace,
			PrivateKey: key(0xA1),
			PublicKey:  key(0x01),
			ListenPort: 51820,
			Peers: []wgtypes.Peer{
				{
					PublicKey:         key(0x02),
					PresharedKey:      key(0xA2),
					Endpoint:          &net.UDPAddr{IP: net.ParseIP("192.0.2.10"), Port: 51820},
					LastHandshakeTime: time.Unix(1764000000, 500),
					ReceiveBytes:      1234,
					TransmitBytes:     5678,
					AllowedIPs:        []net.IPNet{cidr("10.70.0.2/32"), cidr("10.70.1.0/24"), cidr("fd00::2/128")},
				},
				{
					PublicKey:    key(0x03),
					PresharedKey: key(0xA3),
					Endpoint:     &net.UDPAddr{IP: net.ParseIP("2001:db8::1"), Port: 443},
					AllowedIPs:   []net.IPNet{cidr("10.70.0.3/32")},
				},
			},
		},
		{
			Name:       "wg1",
			PrivateKey: key(0xA4),
			PublicKey:  key(0x04),
			ListenPort: 0,
		},
	}
}

var testNames = map[wgtypes.Key]string{
	key(0x02): `alice "laptop"`,
}

func newTest(devs []*wgtypes.Device, err error, opts Options) *Collector {
	opts.Devices = func() ([]*wgtypes.Device, error) { return devs, err }
	if opts.Names == nil {
		opts.Names = func() map[wgtypes.Key]string { return testNames }
	}
	return New(opts)
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name   string
		golden string
		devs   []*wgtypes.Device
		err    error
		opts   Options
	}{
		{name: "two devices", golden: "devices.prom", devs: testDevices()},
		{name: "mindflavor compat", golden: "mindflavor.prom", devs: testDevices(), opts: Options{Compat: CompatMindflavor}},
		{name: "restricted with a missing device", golden: "restricted.prom", devs: testDevices(),
			opts: Options{Interfaces: []string{"wg1", "wg9", "wg1"}}},
		{name: "no device", golden: "none.prom"},
		{name: "read error", golden: "error.prom", err: errors.New("permission denied")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTest(tt.devs, tt.err, tt.opts)
			path := filepath.Join("testdata", tt.golden)
			if *update {
				var buf bytes.Buffer
				if err := c.Read(context.Background()).WriteText(&buf); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// The registry path must agree with the golden text...
			if err := testutil.CollectAndCompare(c, bytes.NewReader(want)); err != nil {
				t.Errorf("Collect: %v", err)
			}
			// ...and so must the direct writer, byte for byte.
			var got bytes.Buffer
			if err := c.Read(context.Background()).WriteText(&got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), got.String()); diff != "" {
				t.Errorf("WriteText (-want +got):\n%s", diff)
			}
			problems, err := testutil.CollectAndLint(c)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				t.Errorf("lint: %s: %s", p.Metric, p.Text)
			}
		})
	}
}

// TestNoSecretKeys proves that neither a private nor a preshared key, in
// any usual encoding, is in the output of either path.
func TestNoSecretKeys(t *testing.T) {
	devs := testDevices()
	var secrets []wgtypes.Key
	for _, d := range devs {
		secrets = append(secrets, d.PrivateKey)
		for _, p := range d.Peers {
			secrets = append(secrets, p.PresharedKey)
		}
	}
	for _, compat := range []Compat{CompatNone, CompatMindflavor} {
		c := newTest(devs, nil, Options{Compat: compat})
		var text bytes.Buffer
		if err := c.Read(context.Background()).WriteText(&text); err != nil {
			t.Fatal(err)
		}
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(c)
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		gathered := fmt.Sprint(mfs)
		for _, k := range secrets {
			for _, enc := range []string{k.String(), hex.EncodeToString(k[:]), base64.RawStdEncoding.EncodeToString(k[:]),
				base64.URLEncoding.EncodeToString(k[:])} {
				if strings.Contains(text.String(), enc) || strings.Contains(gathered, enc) {
					t.Errorf("compat %s: secret key %s in the output", compat, enc)
				}
			}
		}
		if !strings.Contains(text.String(), key(0x02).String()) {
			t.Errorf("compat %s: the peer's public key is missing, so the test proves nothing", compat)
		}
	}
}

func TestHandshakeZeroWhenNever(t *testing.T) {
	devs := []*wgtypes.Device{{Name: "wg0", Peers: []wgtypes.Peer{
		{PublicKey: key(1)},
		{PublicKey: key(2), LastHandshakeTime: time.Unix(0, 0)},
	}}}
	c := newTest(devs, nil, Options{})
	want := `
# HELP wireguard_peer_last_handshake_seconds Unix time of the last handshake with a peer, 0 if there was none.
# TYPE wireguard_peer_last_handshake_seconds gauge
wireguard_peer_last_handshake_seconds{device="wg0",public_key="AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="} 0
wireguard_peer_last_handshake_seconds{device="wg0",public_key="AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "wireguard_peer_last_handshake_seconds"); err != nil {
		t.Error(err)
	}
}

// TestOddLabelValues: names and device names are free text; invalid UTF-8
// must not panic the registry path, and quotes, backslashes and newlines
// must be escaped identically on both paths.
func TestOddLabelValues(t *testing.T) {
	devs := []*wgtypes.Device{{Name: "wg\xff", Peers: []wgtypes.Peer{{PublicKey: key(1)}, {PublicKey: key(2),
		Endpoint: &net.UDPAddr{IP: net.ParseIP("fe80::1"), Port: 1, Zone: `e"th`}}}}}
	nm := map[wgtypes.Key]string{key(1): "a\\b\nc\"d", key(2): "bad \xc3 utf8"}
	c := newTest(devs, nil, Options{Names: func() map[wgtypes.Key]string { return nm }, Compat: CompatMindflavor})
	var text bytes.Buffer
	if err := c.Read(context.Background()).WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := testutil.CollectAndCompare(c, bytes.NewReader(text.Bytes())); err != nil {
		t.Error(err)
	}
	if !strings.Contains(text.String(), `name="a\\b\nc\"d"`) || !strings.Contains(text.String(), `endpoint="[fe80::1%e\"th]:1"`) {
		t.Errorf("escaping:\n%s", text.String())
	}
}

type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestHangingSourceIsBounded: a source that never returns (a frozen
// wireguard-go) makes up 0 within the scrape's deadline, and the next
// scrape answers at once instead of starting a second stuck read.
func TestHangingSourceIsBounded(t *testing.T) {
	release := make(chan struct{})
	var logs logBuffer
	c := New(Options{
		Devices: func() ([]*wgtypes.Device, error) { <-release; return testDevices(), nil },
		Logger:  slog.New(slog.NewTextHandler(&logs, nil)),
	})
	for i := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		start := time.Now()
		s := c.Read(ctx)
		cancel()
		if s.Up() {
			t.Fatalf("scrape %d: up, want down", i)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("scrape %d took %v", i, d)
		}
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n != 2 {
		t.Errorf("want one error line per failed scrape, got %d:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "has not returned yet") {
		t.Errorf("second scrape should say the first read is still running:\n%s", logs.String())
	}
	close(release)
	// Once the stuck read returns, reads work again.
	if err := waitFor(2*time.Second, func() bool { return c.Read(context.Background()).Up() }); err != nil {
		t.Error(err)
	}
}

func waitFor(d time.Duration, ok func() bool) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if ok() {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return errors.New("condition not met in time")
}

func TestErrorIsLoggedOnce(t *testing.T) {
	var logs logBuffer
	c := newTest(nil, errors.New("open /var/run/wireguard/wg0.sock: permission denied"), Options{
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	want := "# HELP wireguard_up Whether WireGuard devices could be read in this scrape (1) or reading failed (0). No device at all is 1.\n# TYPE wireguard_up gauge\nwireguard_up 0\n"
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "permission denied") {
		t.Errorf("want one log line naming the error, got %q", lines)
	}
}

// TestOverlappingScrapesBothSucceed: two scrapers at once (an HA pair of
// Prometheus servers) both get the devices; reads take turns.
func TestOverlappingScrapesBothSucceed(t *testing.T) {
	c := New(Options{Devices: func() ([]*wgtypes.Device, error) {
		time.Sleep(50 * time.Millisecond)
		return testDevices(), nil
	}})
	var wg sync.WaitGroup
	ups := make([]bool, 4)
	for i := range ups {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			ups[i] = c.Read(ctx).Up()
		})
	}
	wg.Wait()
	for i, up := range ups {
		if !up {
			t.Errorf("scrape %d: down", i)
		}
	}
}
