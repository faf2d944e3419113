// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Package collector turns WireGuard devices, as wgctrl reads them, into
// Prometheus metrics. The devices come from an injected function, so tests
// use constructed devices and the exporter uses wgctrl (see Source).
package collector

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

const namespace = "wireguard"

// Compat selects extra metrics for dashboards built for another exporter.
type Compat string

// Compatibility modes.
const (
	CompatNone       Compat = "none"
	CompatMindflavor Compat = "mindflavor" // MindFlavor/prometheus_wireguard_exporter
)

// family is one metric family; the same table drives both the
// prometheus.Collector path and the direct text writer, so they cannot
// disagree on names, help, types or label names.
type family struct {
	name   string
	help   string
	typ    prometheus.ValueType
	labels []string
	order  []int // label indexes in name order, as client_golang writes them
	desc   *prometheus.Desc
	header []byte // "# HELP ...\n# TYPE ...\n"
}

func newFamily(name, help string, typ prometheus.ValueType, labels ...string) *family {
	fq := prometheus.BuildFQName(namespace, "", name)
	t := "gauge"
	if typ == prometheus.CounterValue {
		t = "counter"
	}
	order := make([]int, len(labels))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(labels[a], labels[b]) })
	return &family{
		order:  order,
		name:   fq,
		help:   help,
		typ:    typ,
		labels: labels,
		desc:   prometheus.NewDesc(fq, help, labels, nil),
		header: fmt.Appendf(nil, "# HELP %s %s\n# TYPE %s %s\n", fq, escapeHelp(help), fq, t),
	}
}

var (
	upFamily = newFamily("up",
		"Whether WireGuard devices could be read in this scrape (1) or reading failed (0). No device at all is 1.",
		prometheus.GaugeValue)
	devicePresentFamily = newFamily("device_present",
		"Whether a device named with --wireguard.interface exists (1) or not (0); every device found is 1.",
		prometheus.GaugeValue, "device")
	deviceInfoFamily = newFamily("device_info",
		"Metadata about a device: its public key and UDP listen port.",
		prometheus.GaugeValue, "device", "public_key", "listen_port")
	devicePeersFamily = newFamily("device_peers",
		"Number of peers configured on a device.",
		prometheus.GaugeValue, "device")
	peerInfoFamily = newFamily("peer_info",
		"Metadata about a peer. public_key is the peer's key, name comes from the configured names (empty if unknown), endpoint is empty until the peer was seen.",
		prometheus.GaugeValue, "device", "public_key", "name", "endpoint")
	peerAllowedIPsFamily = newFamily("peer_allowed_ips_info",
		"One series per allowed IP range (CIDR) of a peer.",
		prometheus.GaugeValue, "device", "public_key", "allowed_ips")
	peerRxFamily = newFamily("peer_receive_bytes_total",
		"Number of bytes received from a peer.",
		prometheus.CounterValue, "device", "public_key")
	peerTxFamily = newFamily("peer_transmit_bytes_total",
		"Number of bytes transmitted to a peer.",
		prometheus.CounterValue, "device", "public_key")
	peerHandshakeFamily = newFamily("peer_last_handshake_seconds",
		"Unix time of the last handshake with a peer, 0 if there was none.",
		prometheus.GaugeValue, "device", "public_key")

	// The MindFlavor exporter's names and label names, for its dashboards.
	mfLabels    = []string{"interface", "public_key", "allowed_ips", "friendly_name"}
	mfSent      = newFamily("sent_bytes_total", "Bytes sent to the peer (MindFlavor compatible).", prometheus.CounterValue, mfLabels...)
	mfReceived  = newFamily("received_bytes_total", "Bytes received from the peer (MindFlavor compatible).", prometheus.CounterValue, mfLabels...)
	mfHandshake = newFamily("latest_handshake_seconds",
		"Unix time of the last handshake with the peer, 0 if none (MindFlavor compatible).", prometheus.GaugeValue, mfLabels...)
)

// families lists what a scrape emits, in order.
func families(compat Compat) []*family {
	fs := []*family{upFamily, devicePresentFamily, deviceInfoFamily, devicePeersFamily,
		peerInfoFamily, peerAllowedIPsFamily, peerRxFamily, peerTxFamily, peerHandshakeFamily}
	if compat == CompatMindflavor {
		fs = append(fs, mfSent, mfReceived, mfHandshake)
	}
	return fs
}

// Options configure a Collector.
type Options struct {
	// Devices reads the devices; Source(...).Devices in the exporter.
	Devices func() ([]*wgtypes.Device, error)
	// Names returns the current public key to name mapping; may be nil.
	Names func() map[wgtypes.Key]string
	// Interfaces, when set, are the only devices reported; a missing one is
	// reported with wireguard_device_present 0.
	Interfaces []string
	// Compat adds another exporter's metric names.
	Compat Compat
	// Timeout bounds a read when Collect is called without a context.
	Timeout time.Duration
	Logger  *slog.Logger
}

// Collector reads WireGuard devices on each scrape.
type Collector struct {
	opts Options

	// busy holds one token while a read runs. wgctrl's calls take no
	// context, so a read that outlives its scrape (a frozen wireguard-go
	// never answers on its socket) keeps running; later scrapes then
	// answer up 0 at once instead of piling up goroutines behind it.
	busy chan struct{}
}

var _ prometheus.Collector = (*Collector)(nil)

// New returns a Collector.
func New(opts Options) *Collector {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Compat == "" {
		opts.Compat = CompatNone
	}
	opts.Interfaces = dedup(opts.Interfaces)
	return &Collector{opts: opts, busy: make(chan struct{}, 1)}
}

func dedup(s []string) []string {
	var out []string
	for _, v := range s {
		if v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, f := range families(c.opts.Compat) {
		ch <- f.desc
	}
}

// Collect implements prometheus.Collector with a read bounded by
// Options.Timeout.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.Timeout)
	defer cancel()
	c.Read(ctx).Collect(ch)
}

// errBusy is reported while an earlier read has not returned yet.
var errBusy = errors.New("an earlier read of the WireGuard devices has not returned yet")

// Read reads the devices once, bounded by ctx, and returns what to expose.
// A failure is logged once here and shows as wireguard_up 0.
func (c *Collector) Read(ctx context.Context) *Snapshot {
	s := &Snapshot{compat: c.opts.Compat}
	devs, err := c.devices(ctx)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			c.opts.Logger.Error("Cannot read WireGuard devices", "err", err,
				"hint", "needs CAP_NET_ADMIN for kernel devices and write access to the sockets in "+SocketDir+" for userspace ones")
		} else {
			c.opts.Logger.Error("Cannot read WireGuard devices", "err", err)
		}
		return s
	}
	s.up = true
	var nm map[wgtypes.Key]string
	if c.opts.Names != nil {
		nm = c.opts.Names()
	}
	s.build(devs, nm, c.opts.Interfaces)
	return s
}

func (c *Collector) devices(ctx context.Context) ([]*wgtypes.Device, error) {
	select {
	case c.busy <- struct{}{}:
	default:
		return nil, errBusy
	}
	type result struct {
		devs []*wgtypes.Device
		err  error
	}
	done := make(chan result, 1)
	go func() {
		defer func() { <-c.busy }()
		d, err := c.opts.Devices()
		done <- result{d, err}
	}()
	select {
	case r := <-done:
		return r.devs, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("reading the WireGuard devices: %w", context.Cause(ctx))
	}
}

// Snapshot is the result of one read, ready to be collected or written.
type Snapshot struct {
	up      bool
	compat  Compat
	devices []deviceRow
	peers   []peerRow
}

type deviceRow struct {
	name, publicKey, listenPort string
	present                     bool
	peers                       int
}

type peerRow struct {
	device, publicKey, name, endpoint string
	allowed                           []string
	allowedJoined                     string
	rx, tx                            int64
	handshake                         int64
}

// Up reports whether the devices could be read.
func (s *Snapshot) Up() bool { return s.up }

// build flattens the devices once, so that each family is a plain loop and
// each key is encoded once, not once per family. Private and preshared keys
// are never read here, so they cannot reach the output.
func (s *Snapshot) build(devs []*wgtypes.Device, nm map[wgtypes.Key]string, only []string) {
	// seen also drops a second device of the same name (a kernel wg0 next
	// to a userspace wg0), which would otherwise be a duplicate series.
	seen := make(map[string]bool, len(devs))
	wanted := func(d *wgtypes.Device) bool {
		return d != nil && (len(only) == 0 || slices.Contains(only, d.Name))
	}
	n := 0
	for _, d := range devs {
		if wanted(d) {
			n += len(d.Peers)
		}
	}
	s.peers = make([]peerRow, 0, n)
	for _, d := range devs {
		if !wanted(d) || seen[d.Name] {
			continue
		}
		seen[d.Name] = true
		// Interface names are bytes to the kernel; label values must be UTF-8.
		dn := strings.ToValidUTF8(d.Name, "\uFFFD")
		s.devices = append(s.devices, deviceRow{
			name:       dn,
			publicKey:  keyString(&d.PublicKey),
			listenPort: strconv.Itoa(d.ListenPort),
			present:    true,
			peers:      len(d.Peers),
		})
		for i := range d.Peers {
			p := &d.Peers[i]
			r := peerRow{
				device:    dn,
				publicKey: keyString(&p.PublicKey),
				name:      strings.ToValidUTF8(nm[p.PublicKey], "\uFFFD"),
				rx:        p.ReceiveBytes,
				tx:        p.TransmitBytes,
			}
			if p.Endpoint != nil {
				r.endpoint = udpAddrString(p.Endpoint)
			}
			if !p.LastHandshakeTime.IsZero() {
				r.handshake = max(p.LastHandshakeTime.Unix(), 0)
			}
			if len(p.AllowedIPs) > 0 {
				r.allowed = make([]string, len(p.AllowedIPs))
				for j := range p.AllowedIPs {
					r.allowed[j] = ipNetString(&p.AllowedIPs[j])
				}
				if s.compat == CompatMindflavor {
					r.allowedJoined = strings.Join(r.allowed, ",")
				}
			}
			s.peers = append(s.peers, r)
		}
	}
	for _, name := range only {
		if !seen[name] {
			s.devices = append(s.devices, deviceRow{name: name})
		}
	}
}

// keyString is Key.String with one allocation instead of two.
func keyString(k *wgtypes.Key) string {
	var b [44]byte
	base64.StdEncoding.Encode(b[:], k[:])
	return string(b[:])
}

// udpAddrString is net.UDPAddr.String in one allocation.
func udpAddrString(a *net.UDPAddr) string {
	var buf [64]byte
	b := buf[:0]
	ip, ok := netip.AddrFromSlice(a.IP)
	if !ok {
		return net.JoinHostPort(a.IP.String(), strconv.Itoa(a.Port))
	}
	ip = ip.Unmap()
	if ip.Is6() {
		b = append(b, '[')
		b = ip.AppendTo(b)
		if a.Zone != "" {
			b = append(b, '%')
			b = append(b, a.Zone...)
		}
		b = append(b, ']')
	} else {
		b = ip.AppendTo(b)
	}
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(a.Port), 10)
	return string(b)
}

// ipNetString prints a CIDR the way wg(8) does (IPv4 ranges in dotted form
// even when stored in 16 bytes), in one allocation.
func ipNetString(n *net.IPNet) string {
	ones, _ := n.Mask.Size()
	ip, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return n.String()
	}
	if len(n.Mask) == net.IPv4len {
		ip = ip.Unmap()
	}
	var buf [64]byte
	b := ip.AppendTo(buf[:0])
	b = append(b, '/')
	b = strconv.AppendInt(b, int64(ones), 10)
	return string(b)
}

// Collect implements prometheus.Collector, so a Snapshot can be registered
// like any collector.
func (s *Snapshot) Collect(ch chan<- prometheus.Metric) {
	s.emit(constSink{ch})
}

// Describe implements prometheus.Collector.
func (s *Snapshot) Describe(ch chan<- *prometheus.Desc) {
	for _, f := range families(s.compat) {
		ch <- f.desc
	}
}

// sink receives the samples of one scrape, family by family.
type sink interface {
	begin(f *family)
	sample(f *family, v float64, lv labelValues)
}

// labelValues is passed by value: a variadic []string through the sink
// interface would be one heap allocation per sample.
type labelValues struct {
	n int
	v [4]string
}

func lv(v ...string) labelValues {
	var l labelValues
	l.n = copy(l.v[:], v)
	return l
}

type constSink struct{ ch chan<- prometheus.Metric }

func (constSink) begin(*family) {}
func (c constSink) sample(f *family, v float64, l labelValues) {
	c.ch <- prometheus.MustNewConstMetric(f.desc, f.typ, v, l.v[:l.n]...)
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// emit sends every sample to k, grouped by family as the text format needs.
func (s *Snapshot) emit(k sink) {
	k.begin(upFamily)
	k.sample(upFamily, boolFloat(s.up), labelValues{})
	if !s.up {
		return
	}
	if len(s.devices) == 0 {
		return
	}
	k.begin(devicePresentFamily)
	for i := range s.devices {
		d := &s.devices[i]
		k.sample(devicePresentFamily, boolFloat(d.present), lv(d.name))
	}
	k.begin(deviceInfoFamily)
	for i := range s.devices {
		if d := &s.devices[i]; d.present {
			k.sample(deviceInfoFamily, 1, lv(d.name, d.publicKey, d.listenPort))
		}
	}
	k.begin(devicePeersFamily)
	for i := range s.devices {
		if d := &s.devices[i]; d.present {
			k.sample(devicePeersFamily, float64(d.peers), lv(d.name))
		}
	}
	if len(s.peers) == 0 {
		return
	}
	k.begin(peerInfoFamily)
	for i := range s.peers {
		p := &s.peers[i]
		k.sample(peerInfoFamily, 1, lv(p.device, p.publicKey, p.name, p.endpoint))
	}
	k.begin(peerAllowedIPsFamily)
	for i := range s.peers {
		p := &s.peers[i]
		for _, a := range p.allowed {
			k.sample(peerAllowedIPsFamily, 1, lv(p.device, p.publicKey, a))
		}
	}
	k.begin(peerRxFamily)
	for i := range s.peers {
		p := &s.peers[i]
		k.sample(peerRxFamily, float64(p.rx), lv(p.device, p.publicKey))
	}
	k.begin(peerTxFamily)
	for i := range s.peers {
		p := &s.peers[i]
		k.sample(peerTxFamily, float64(p.tx), lv(p.device, p.publicKey))
	}
	k.begin(peerHandshakeFamily)
	for i := range s.peers {
		p := &s.peers[i]
		k.sample(peerHandshakeFamily, float64(p.handshake), lv(p.device, p.publicKey))
	}
	if s.compat != CompatMindflavor {
		return
	}
	k.begin(mfSent)
	for i := range s.peers {
		p := &s.peers[i]
		k.sample(mfSent, float64(p.tx), lv(p.device, p.publicKey, p.allowedJoined, p.name))
	}
	k.begin(mfReceived)
	for i := range s.peers {
		p := &s.peers[i]
		k.sample(mfReceived, float64(p.rx), lv(p.device, p.publicKey, p.allowedJoined, p.name))
	}
	k.begin(mfHandshake)
	for i := range s.peers {
		p := &s.peers[i]
		k.sample(mfHandshake, float64(p.handshake), lv(p.device, p.publicKey, p.allowedJoined, p.name))
	}
}

// pool recycles the text writer's buffers between scrapes.
var pool = sync.Pool{New: func() any { b := make([]byte, 0, 64*1024); return &b }}
