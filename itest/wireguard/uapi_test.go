// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package wireguard

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/downwatch/downwatch/itest/daemon/wireguard"
	"github.com/downwatch/downwatch/wireguard_exporter/collector"
)

// TestUAPIReaderMatchesWgctrl: the exporter's own UAPI parser and wgctrl's
// read the same real wireguard-go devices identically (after traffic, so
// handshakes, endpoints and counters are set).
func TestUAPIReaderMatchesWgctrl(t *testing.T) {
	var extra []wgtypes.Key
	for range 300 {
		extra = append(extra, mustKey(t))
	}
	pair := wireguard.Start(t, wireguard.Options{ExtraPeersA: extra})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := pair.Ping(ctx, 500); err != nil {
		t.Fatal(err)
	}
	names := []string{pair.A.Name, pair.B.Name}
	for attempt := 0; ; attempt++ {
		ours, err := collector.Source{Interfaces: names, Timeout: 5 * time.Second}.Devices()
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := collector.Source{Interfaces: names, WgctrlOnly: true}.Devices()
		if err != nil {
			t.Fatal(err)
		}
		diff := cmp.Diff(normalize(theirs), normalize(ours))
		if diff == "" {
			if len(ours) != 2 || len(ours[0].Peers)+len(ours[1].Peers) != 302 {
				t.Errorf("read %d devices", len(ours))
			}
			return
		}
		// Counters may move between the two reads; retry a few times.
		if attempt == 5 {
			t.Fatalf("wgctrl (-) and uapi (+) differ:\n%s", diff)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

type normDevice struct {
	Name, Type, PrivateKey, PublicKey string
	ListenPort, FirewallMark          int
	Peers                             []normPeer
}

type normPeer struct {
	PublicKey, PresharedKey, Endpoint, Handshake string
	Keepalive                                    time.Duration
	Rx, Tx                                       int64
	Proto                                        int
	AllowedIPs                                   []string
}

// normalize renders addresses as strings: wgctrl keeps IPv4 endpoints in
// 16 bytes, the exporter's reader in 4, which is the same address.
func normalize(devs []*wgtypes.Device) []normDevice {
	var out []normDevice
	for _, d := range devs {
		nd := normDevice{Name: d.Name, Type: d.Type.String(), PrivateKey: d.PrivateKey.String(), PublicKey: d.PublicKey.String(),
			ListenPort: d.ListenPort, FirewallMark: d.FirewallMark}
		for _, p := range d.Peers {
			np := normPeer{PublicKey: p.PublicKey.String(), PresharedKey: p.PresharedKey.String(),
				Handshake: fmt.Sprint(p.LastHandshakeTime.UnixNano()), Keepalive: p.PersistentKeepaliveInterval,
				Rx: p.ReceiveBytes, Tx: p.TransmitBytes, Proto: p.ProtocolVersion}
			if p.Endpoint != nil {
				np.Endpoint = p.Endpoint.String()
			}
			for _, a := range p.AllowedIPs {
				np.AllowedIPs = append(np.AllowedIPs, a.String())
			}
			nd.Peers = append(nd.Peers, np)
		}
		// wireguard-go lists peers in map order, different on every read.
		slices.SortFunc(nd.Peers, func(a, b normPeer) int { return strings.Compare(a.PublicKey, b.PublicKey) })
		out = append(out, nd)
	}
	return out
}
