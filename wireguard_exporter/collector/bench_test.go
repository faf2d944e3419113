// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package collector

import (
	"context"
	"encoding/binary"
	"github.com/klauspost/compress/gzip"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// bigDevice is one device with n peers, each with an endpoint, two allowed
// IPs, counters and a handshake, and a name for every other peer.
func bigDevice(n int) ([]*wgtypes.Device, map[wgtypes.Key]string) {
	d := &wgtypes.Device{Name: "wg0", PublicKey: key(0xEE), ListenPort: 51820, Peers: make([]wgtypes.Peer, n)}
	names := map[wgtypes.Key]string{}
	// Keys are random, like real ones: structured keys compress better
	// and would flatter the gzip figures.
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		var k wgtypes.Key
		for j := 0; j < len(k); j += 8 {
			binary.LittleEndian.PutUint64(k[j:], rng.Uint64())
		}
		ip := net.IPv4(10, byte(i>>16), byte(i>>8), byte(i))
		d.Peers[i] = wgtypes.Peer{
			PublicKey:         k,
			Endpoint:          &net.UDPAddr{IP: net.IPv4(192, 0, byte(i>>8), byte(i)), Port: 51820},
			LastHandshakeTime: time.Unix(1764000000+int64(i), 0),
			ReceiveBytes:      int64(i) * 1000,
			TransmitBytes:     int64(i) * 3000,
			AllowedIPs: []net.IPNet{
				{IP: ip, Mask: net.CIDRMask(32, 32)},
				{IP: net.ParseIP("fd00::").To16(), Mask: net.CIDRMask(128, 128)},
			},
		}
		if i%2 == 0 {
			names[k] = "peer-" + ip.String()
		}
	}
	return []*wgtypes.Device{d}, names
}

func benchCollector(b *testing.B, compat Compat) *Collector {
	devs, nm := bigDevice(10000)
	return New(Options{
		Devices: func() ([]*wgtypes.Device, error) { return devs, nil },
		Names:   func() map[wgtypes.Key]string { return nm },
		Compat:  compat,
	})
}

// BenchmarkCollect10k is the prometheus.Collector path: one scrape of
// 10,000 peers into a registry and out as text, as promhttp would do it.
func BenchmarkCollect10k(b *testing.B) {
	c := benchCollector(b, CompatNone)
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteText10k is the exporter's path: read (from memory here),
// flatten, write text.
func BenchmarkWriteText10k(b *testing.B) {
	c := benchCollector(b, CompatNone)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Read(context.Background()).WriteText(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteTextGzip10k adds gzip at BestSpeed, as a Prometheus scrape
// gets it.
func BenchmarkWriteTextGzip10k(b *testing.B) {
	for _, compat := range []Compat{CompatNone, CompatMindflavor} {
		b.Run(string(compat), func(b *testing.B) {
			c := benchCollector(b, compat)
			gz, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
			b.ReportAllocs()
			for b.Loop() {
				gz.Reset(io.Discard)
				if err := c.Read(context.Background()).WriteText(gz); err != nil {
					b.Fatal(err)
				}
				if err := gz.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
