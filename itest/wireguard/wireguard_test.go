// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Package wireguard tests wireguard_exporter against real WireGuard devices:
// two wireguard-go interfaces in network namespaces joined by a veth pair,
// with traffic through the tunnel.
package wireguard

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/downwatch/downwatch/itest/daemon/proc"
	"github.com/downwatch/downwatch/itest/daemon/wireguard"
)

// exporter is a running wireguard_exporter.
type exporter struct {
	addr string
	proc *proc.Process
}

func startExporter(t *testing.T, bin string, wrap []string, args ...string) *exporter {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", proc.FreePort(t))
	path := bin
	all := append([]string{"--web.listen-address=" + addr}, args...)
	if len(wrap) > 0 {
		path = wrap[0]
		all = append(append(append([]string{}, wrap[1:]...), bin), all...)
	}
	p := proc.Start(t, proc.Spec{Name: "wireguard_exporter", Path: path, Args: all, Dir: t.TempDir()})
	if err := proc.WaitTCP(addr, 10*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, p.LogTail(2000))
	}
	return &exporter{addr: addr, proc: p}
}

type scrape struct {
	body     string
	families map[string]*dto.MetricFamily
	took     time.Duration
}

// scrape gets /metrics as Prometheus does (gzip, with a scrape timeout
// header) and parses it.
func (e *exporter) scrape(t *testing.T, timeoutHeader string) scrape {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+e.addr+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	if timeoutHeader != "" {
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", timeoutHeader)
	}
	start := time.Now()
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d:\n%s", resp.StatusCode, b)
	}
	if !resp.Uncompressed {
		t.Errorf("answer was not gzip-compressed")
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(b)))
	if err != nil {
		t.Fatalf("unparsable exposition: %v\n%s", err, b)
	}
	return scrape{body: string(b), families: fams, took: took}
}

// value returns the value of the one sample of name whose labels include
// want, and whether there is one.
func (s scrape) value(name string, want map[string]string) (float64, bool) {
	f := s.families[name]
	if f == nil {
		return 0, false
	}
	var found []float64
	for _, m := range f.Metric {
		ok := true
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				ok = false
			}
		}
		if !ok {
			continue
		}
		switch {
		case m.Gauge != nil:
			found = append(found, m.Gauge.GetValue())
		case m.Counter != nil:
			found = append(found, m.Counter.GetValue())
		case m.Untyped != nil:
			found = append(found, m.Untyped.GetValue())
		}
	}
	if len(found) != 1 {
		return 0, false
	}
	return found[0], true
}

func (s scrape) mustValue(t *testing.T, name string, want map[string]string) float64 {
	t.Helper()
	v, ok := s.value(name, want)
	if !ok {
		t.Fatalf("no single %s%v in:\n%s", name, want, s.body)
	}
	return v
}

func labels(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func mustKey(t *testing.T) wgtypes.Key {
	t.Helper()
	k, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k.PublicKey()
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestTunnel: traffic through the tunnel, then the exposition must agree
// with `wg show <dev> dump` on handshake times and byte counters, carry
// names from a wg-quick file and from a names file (and pick up a changed
// names file without a restart), and never contain a private key.
func TestTunnel(t *testing.T) {
	extraConf, extraNames := mustKey(t), mustKey(t)
	pair := wireguard.Start(t, wireguard.Options{ExtraPeersA: []wgtypes.Key{extraConf, extraNames}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, size := range []int{100, 1000, 1400} {
		if err := pair.Ping(ctx, size); err != nil {
			t.Fatal(err)
		}
	}

	dir := t.TempDir()
	conf := filepath.Join(dir, "wg0.conf")
	// A wg-quick file as an operator writes it, with both comment styles.
	writeFile(t, conf, fmt.Sprintf(`[Interface]
Address = %s/24
PrivateKey = %s
ListenPort = %d

[Peer]
# Name = bravo
PublicKey = %s
AllowedIPs = %s/32

[Peer]
# friendly_name = charlie phone
PublicKey = %s
AllowedIPs = 10.242.0.1/32
`, pair.A.Tunnel, pair.A.PrivateKey, pair.A.ListenPort, pair.B.PublicKey, pair.B.Tunnel, extraConf))
	namesFile := filepath.Join(dir, "names.json")
	writeFile(t, namesFile, fmt.Sprintf(`{%q: "delta", %q: "alpha"}`, extraNames, pair.A.PublicKey))

	bin := proc.Exporter(t, "wireguard_exporter")
	e := startExporter(t, bin, nil,
		"--wireguard.interface="+pair.A.Name, "--wireguard.interface="+pair.B.Name,
		"--wireguard.config="+conf, "--wireguard.peer-names-file="+namesFile,
		"--metrics.compat=mindflavor")

	// Counters move only with traffic, and there is none now (no keepalive):
	// a dump before and after the scrape that agree pin the values.
	var s scrape
	var dumps map[string][]wireguard.PeerDump
	for attempt := 0; ; attempt++ {
		before := dumpAll(ctx, t, pair)
		s = e.scrape(t, "10")
		after := dumpAll(ctx, t, pair)
		if fmt.Sprint(before) == fmt.Sprint(after) {
			dumps = after
			break
		}
		if attempt == 5 {
			t.Fatalf("wg show dump keeps changing:\n%v\n%v", before, after)
		}
		time.Sleep(200 * time.Millisecond)
	}

	if v := s.mustValue(t, "wireguard_up", nil); v != 1 {
		t.Fatalf("wireguard_up = %v", v)
	}
	for _, d := range []*wireguard.Device{pair.A, pair.B} {
		s.mustValue(t, "wireguard_device_info", labels("device", d.Name, "public_key", d.PublicKey.String(), "listen_port", fmt.Sprint(d.ListenPort)))
		if v := s.mustValue(t, "wireguard_device_peers", labels("device", d.Name)); int(v) != len(dumps[d.Name]) {
			t.Errorf("%s: %v peers, wg show dump has %d", d.Name, v, len(dumps[d.Name]))
		}
		for _, p := range dumps[d.Name] {
			l := labels("device", d.Name, "public_key", p.PublicKey)
			for _, c := range []struct {
				metric string
				want   int64
			}{
				{"wireguard_peer_receive_bytes_total", p.ReceiveBytes},
				{"wireguard_peer_transmit_bytes_total", p.TransmitBytes},
				{"wireguard_peer_last_handshake_seconds", p.LatestHandshake},
			} {
				if got := s.mustValue(t, c.metric, l); int64(got) != c.want {
					t.Errorf("%s %s: exporter %v, wg show dump %d", d.Name, c.metric, got, c.want)
				}
			}
			for _, a := range p.AllowedIPs {
				s.mustValue(t, "wireguard_peer_allowed_ips_info", labels("device", d.Name, "public_key", p.PublicKey, "allowed_ips", a))
			}
			mf := labels("interface", d.Name, "public_key", p.PublicKey, "allowed_ips", strings.Join(p.AllowedIPs, ","))
			if got := s.mustValue(t, "wireguard_sent_bytes_total", mf); int64(got) != p.TransmitBytes {
				t.Errorf("mindflavor sent: %v, want %d", got, p.TransmitBytes)
			}
			if got := s.mustValue(t, "wireguard_received_bytes_total", mf); int64(got) != p.ReceiveBytes {
				t.Errorf("mindflavor received: %v, want %d", got, p.ReceiveBytes)
			}
			if got := s.mustValue(t, "wireguard_latest_handshake_seconds", mf); int64(got) != p.LatestHandshake {
				t.Errorf("mindflavor handshake: %v, want %d", got, p.LatestHandshake)
			}
		}
	}
	// The tunnel carried traffic and shook hands: the values are not zeros.
	ab := labels("device", pair.A.Name, "public_key", pair.B.PublicKey.String())
	if v := s.mustValue(t, "wireguard_peer_transmit_bytes_total", ab); v < 2500 {
		t.Errorf("A sent %v bytes to B, want the pings (>= 2500)", v)
	}
	if hs := s.mustValue(t, "wireguard_peer_last_handshake_seconds", ab); time.Since(time.Unix(int64(hs), 0)) > 5*time.Minute {
		t.Errorf("last handshake %v is not recent", hs)
	}
	if v := s.mustValue(t, "wireguard_peer_last_handshake_seconds", labels("device", pair.A.Name, "public_key", extraConf.String())); v != 0 {
		t.Errorf("a peer that never shook hands: %v, want 0", v)
	}
	s.mustValue(t, "wireguard_peer_info", labels("device", pair.A.Name, "public_key", pair.B.PublicKey.String(),
		"name", "bravo", "endpoint", fmt.Sprintf("%s:%d", pair.B.Underlay, pair.B.ListenPort)))

	// Names: from the wg-quick file (both styles) and from the names file.
	for _, c := range []struct {
		dev, key, name string
	}{
		{pair.A.Name, pair.B.PublicKey.String(), "bravo"},
		{pair.A.Name, extraConf.String(), "charlie phone"},
		{pair.A.Name, extraNames.String(), "delta"},
		{pair.B.Name, pair.A.PublicKey.String(), "alpha"},
	} {
		if _, ok := s.value("wireguard_peer_info", labels("device", c.dev, "public_key", c.key, "name", c.name)); !ok {
			t.Errorf("peer %s on %s: want name %q in:\n%s", c.key, c.dev, c.name, grep(s.body, "wireguard_peer_info"))
		}
		s.mustValue(t, "wireguard_sent_bytes_total", labels("interface", c.dev, "public_key", c.key, "friendly_name", c.name))
	}

	// Secrets never appear.
	for _, secret := range []wgtypes.Key{pair.A.PrivateKey, pair.B.PrivateKey} {
		if strings.Contains(s.body, secret.String()) {
			t.Fatalf("a private key is in the exposition")
		}
	}

	// The names file changes: the next scrape has the new name, no restart.
	writeFile(t, namesFile, fmt.Sprintf("%s: delta renamed\n", extraNames))
	s = e.scrape(t, "")
	s.mustValue(t, "wireguard_peer_info", labels("device", pair.A.Name, "public_key", extraNames.String(), "name", "delta renamed"))
	s.mustValue(t, "wireguard_peer_info", labels("device", pair.B.Name, "public_key", pair.A.PublicKey.String(), "name", ""))
}

func dumpAll(ctx context.Context, t *testing.T, pair *wireguard.Pair) map[string][]wireguard.PeerDump {
	t.Helper()
	out := map[string][]wireguard.PeerDump{}
	for _, d := range []*wireguard.Device{pair.A, pair.B} {
		p, err := d.Dump(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out[d.Name] = p
	}
	return out
}

func grep(body, prefix string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestFaults: no device, a device removed between scrapes, a stale socket,
// a hung wireguard-go and a permission error. The exporter keeps answering
// 200 throughout, with wireguard_up saying whether it could read.
func TestFaults(t *testing.T) {
	pair := wireguard.Start(t, wireguard.Options{})
	bin := proc.Exporter(t, "wireguard_exporter")

	t.Run("no such device", func(t *testing.T) {
		missing := "wgnone" + fmt.Sprint(os.Getpid()%100000)
		e := startExporter(t, bin, nil, "--wireguard.interface="+missing)
		s := e.scrape(t, "")
		if v := s.mustValue(t, "wireguard_up", nil); v != 1 {
			t.Errorf("wireguard_up = %v, want 1: no device is not a read failure", v)
		}
		if v := s.mustValue(t, "wireguard_device_present", labels("device", missing)); v != 0 {
			t.Errorf("wireguard_device_present = %v, want 0", v)
		}
	})

	t.Run("stale socket does not hide the other devices", func(t *testing.T) {
		// A socket file nobody listens on, as a killed wireguard-go leaves.
		name := fmt.Sprintf("wgstale%d", os.Getpid()%100000)
		path := filepath.Join(wireguard.SocketDir, name+".sock")
		l, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		l.(*net.UnixListener).SetUnlinkOnClose(false)
		l.Close()
		t.Cleanup(func() { os.Remove(path) })
		e := startExporter(t, bin, nil) // every device, as by default
		s := e.scrape(t, "")
		if v := s.mustValue(t, "wireguard_up", nil); v != 1 {
			t.Errorf("wireguard_up = %v, want 1\n%s", v, e.proc.LogTail(2000))
		}
		s.mustValue(t, "wireguard_device_info", labels("device", pair.A.Name))
	})

	t.Run("hung wireguard-go", func(t *testing.T) {
		e := startExporter(t, bin, nil, "--wireguard.interface="+pair.B.Name)
		if err := pair.B.Freeze(); err != nil {
			t.Fatal(err)
		}
		thawed := false
		defer func() {
			if !thawed {
				_ = pair.B.Thaw()
			}
		}()
		s := e.scrape(t, "1.5")
		if v := s.mustValue(t, "wireguard_up", nil); v != 0 {
			t.Errorf("wireguard_up = %v while wireguard-go is stopped", v)
		}
		if s.took > 3*time.Second {
			t.Errorf("scrape took %v with a 1.5s scrape timeout", s.took)
		}
		if err := pair.B.Thaw(); err != nil {
			t.Fatal(err)
		}
		thawed = true
		if err := proc.WaitFor(10*time.Second, func() error {
			if v, _ := e.scrape(t, "").value("wireguard_up", nil); v != 1 {
				return fmt.Errorf("wireguard_up still %v", v)
			}
			return nil
		}); err != nil {
			t.Error(err)
		}
	})

	t.Run("permission denied", func(t *testing.T) {
		// The UAPI socket is root's (mode 0700 by wireguard-go's umask):
		// the exporter as nobody can list it but not connect.
		setpriv := proc.RequireBinary(t, "setpriv")
		dir, err := os.MkdirTemp("", "wgexp-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		nobodyBin := filepath.Join(dir, "wireguard_exporter")
		b, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(nobodyBin, b, 0o755); err != nil {
			t.Fatal(err)
		}
		e := startExporter(t, nobodyBin, []string{setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"},
			"--wireguard.interface="+pair.A.Name)
		s := e.scrape(t, "")
		if v := s.mustValue(t, "wireguard_up", nil); v != 0 {
			t.Fatalf("wireguard_up = %v as nobody, want 0", v)
		}
		var errLines []string
		_ = proc.WaitFor(2*time.Second, func() error {
			errLines = nil
			for _, l := range strings.Split(e.proc.LogTail(10000), "\n") {
				if strings.Contains(l, "level=ERROR") {
					errLines = append(errLines, l)
				}
			}
			if len(errLines) == 0 {
				return fmt.Errorf("no error line yet")
			}
			return nil
		})
		t.Logf("log: %q", errLines)
		if len(errLines) != 1 || !strings.Contains(errLines[0], "permission denied") {
			t.Errorf("want one error line saying permission denied, got %q", errLines)
		}
	})

	// Last, because it removes a device for good.
	t.Run("device removed between scrapes", func(t *testing.T) {
		restricted := startExporter(t, bin, nil, "--wireguard.interface="+pair.A.Name, "--wireguard.interface="+pair.B.Name)
		all := startExporter(t, bin, nil)
		s := restricted.scrape(t, "")
		if v := s.mustValue(t, "wireguard_device_present", labels("device", pair.A.Name)); v != 1 {
			t.Fatalf("before: present = %v", v)
		}
		s.mustValue(t, "wireguard_device_info", labels("device", pair.A.Name))
		if _, ok := all.scrape(t, "").value("wireguard_device_info", labels("device", pair.A.Name)); !ok {
			t.Fatalf("unrestricted exporter does not see %s", pair.A.Name)
		}

		pair.A.Stop()

		s = restricted.scrape(t, "")
		if v := s.mustValue(t, "wireguard_up", nil); v != 1 {
			t.Errorf("after: wireguard_up = %v, want 1 (B is still readable)", v)
		}
		if v := s.mustValue(t, "wireguard_device_present", labels("device", pair.A.Name)); v != 0 {
			t.Errorf("after: present = %v, want 0", v)
		}
		if _, ok := s.value("wireguard_device_info", labels("device", pair.A.Name)); ok {
			t.Errorf("after: device_info of the removed device is still there")
		}
		s.mustValue(t, "wireguard_device_info", labels("device", pair.B.Name))
		s = all.scrape(t, "")
		if v := s.mustValue(t, "wireguard_up", nil); v != 1 {
			t.Errorf("after, unrestricted: wireguard_up = %v", v)
		}
		if _, ok := s.value("wireguard_device_info", labels("device", pair.A.Name)); ok {
			t.Errorf("after, unrestricted: removed device still reported")
		}

		if err := pair.A.Restart(); err != nil {
			t.Fatalf("restart: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := pair.Ping(ctx, 64); err != nil {
			t.Fatalf("no tunnel after restart: %v", err)
		}
		s = restricted.scrape(t, "")
		if v := s.mustValue(t, "wireguard_device_present", labels("device", pair.A.Name)); v != 1 {
			t.Errorf("after restart: present = %v, want 1", v)
		}
		if v := s.mustValue(t, "wireguard_peer_last_handshake_seconds", labels("device", pair.A.Name, "public_key", pair.B.PublicKey.String())); v == 0 {
			t.Errorf("after restart and traffic: no handshake with B")
		}
	})
}
