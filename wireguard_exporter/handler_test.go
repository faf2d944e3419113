// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/exporter-toolkit/bootstrap"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/downwatch/downwatch/wireguard_exporter/collector"
)

func testHandler(devices func() ([]*wgtypes.Device, error), timeout time.Duration) http.Handler {
	b := &bootstrap.Bootstrap{Logger: promslog.NewNopLogger()}
	c := collector.New(collector.Options{Devices: devices, Timeout: timeout})
	return newMetricsHandler(b, timeout, func(ctx context.Context) *collector.Snapshot { return c.Read(ctx) })
}

func TestHandler(t *testing.T) {
	devs := []*wgtypes.Device{{Name: "wg0", ListenPort: 51820, Peers: []wgtypes.Peer{{ReceiveBytes: 42}}}}
	h := testHandler(func() ([]*wgtypes.Device, error) { return devs, nil }, 5*time.Second)
	tests := []struct {
		name           string
		acceptEncoding string
		wantGzip       bool
	}{
		{"gzip as Prometheus asks", "gzip", true},
		{"gzip among others", "deflate, gzip;q=0.8, br", true},
		{"gzip refused", "gzip;q=0", false},
		{"identity", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			if tt.acceptEncoding != "" {
				req.Header.Set("Accept-Encoding", tt.acceptEncoding)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
				t.Errorf("Content-Type %q", ct)
			}
			var body io.Reader = rec.Body
			if got := rec.Header().Get("Content-Encoding") == "gzip"; got != tt.wantGzip {
				t.Fatalf("gzip = %v, want %v", got, tt.wantGzip)
			}
			if tt.wantGzip {
				zr, err := gzip.NewReader(rec.Body)
				if err != nil {
					t.Fatal(err)
				}
				body = zr
			}
			p := expfmt.NewTextParser(model.UTF8Validation)
			fams, err := p.TextToMetricFamilies(body)
			if err != nil {
				t.Fatalf("unparsable: %v", err)
			}
			for _, want := range []string{"wireguard_up", "wireguard_exporter_build_info", "wireguard_peer_receive_bytes_total", "go_goroutines"} {
				if fams[want] == nil {
					t.Errorf("no %s", want)
				}
			}
		})
	}
}

// TestHandlerHonoursScrapeTimeout: a hung read is cut at the scraper's
// timeout (less the margin), with wireguard_up 0 and status 200.
func TestHandlerHonoursScrapeTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	h := testHandler(func() ([]*wgtypes.Device, error) { <-release; return nil, errors.New("late") }, time.Minute)
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "1")
	rec := httptest.NewRecorder()
	start := time.Now()
	h.ServeHTTP(rec, req)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %v with a 1s scrape timeout", took)
	}
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "\nwireguard_up 0\n") {
		t.Errorf("status %d, body:\n%s", rec.Code, rec.Body.String())
	}
}

func TestScrapeTimeout(t *testing.T) {
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"", 5 * time.Second},
		{"10", 5 * time.Second},
		{"2", 1750 * time.Millisecond},
		{"0.4", 400 * time.Millisecond},
		{"nope", 5 * time.Second},
		{"-1", 5 * time.Second},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if tt.header != "" {
			req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", tt.header)
		}
		if got := scrapeTimeout(req, 5*time.Second); got != tt.want {
			t.Errorf("header %q: %v, want %v", tt.header, got, tt.want)
		}
	}
}

// BenchmarkHandler10k is one whole scrape as Prometheus makes it (gzip)
// of a device with 10,000 peers, minus reading the device: flatten, write
// text, compress, plus the exporter's own metrics.
func BenchmarkHandler10k(b *testing.B) {
	devs := collectorBigDevice(10000)
	h := testHandler(func() ([]*wgtypes.Device, error) { return devs, nil }, time.Minute)
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	b.ReportAllocs()
	var n int
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		n = rec.Body.Len()
	}
	b.ReportMetric(float64(n), "gzip_bytes/op")
}

// collectorBigDevice is a device with n peers with random keys, two allowed
// IPs each, endpoints, counters and handshakes.
func collectorBigDevice(n int) []*wgtypes.Device {
	rng := rand.New(rand.NewPCG(1, 2))
	d := &wgtypes.Device{Name: "wg0", ListenPort: 51820, Peers: make([]wgtypes.Peer, n)}
	for i := range n {
		var k wgtypes.Key
		for j := 0; j < len(k); j += 8 {
			binary.LittleEndian.PutUint64(k[j:], rng.Uint64())
		}
		d.Peers[i] = wgtypes.Peer{
			PublicKey:         k,
			Endpoint:          &net.UDPAddr{IP: net.IPv4(192, 0, byte(i>>8), byte(i)), Port: 51820},
			LastHandshakeTime: time.Unix(1764000000+int64(i), 0),
			ReceiveBytes:      int64(i) * 1000,
			TransmitBytes:     int64(i) * 3000,
			AllowedIPs: []net.IPNet{
				{IP: net.IPv4(10, byte(i>>16), byte(i>>8), byte(i)).To4(), Mask: net.CIDRMask(32, 32)},
				{IP: net.ParseIP("fd00::1"), Mask: net.CIDRMask(128, 128)},
			},
		}
	}
	return []*wgtypes.Device{d}
}
