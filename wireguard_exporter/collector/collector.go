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
	"unicode/utf8"

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

	// busy holds one token while a read runs. Reads take no context, so
	// a read that outlives its scrape (a frozen wireguard-go never answers
	// on its socket) keeps running until its own socket deadline; later
	// scrapes wait for it within their deadline and answer up 0 if it is
	// still running, instead of piling up goroutines behind it.
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
	// Reads run one at a time: scrapes that overlap (two Prometheus
	// servers) wait for their turn within their own deadline.
	select {
	case c.busy <- struct{}{}:
	case <-ctx.Done():
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
//
// It keeps the devices as wgtypes gave them and formats label values only
// while writing: at 10,000 peers, building a string per key, endpoint and
// range first doubled the memory a scrape held at its peak.
type Snapshot struct {
	up      bool
	compat  Compat
	devices []*wgtypes.Device
	names   map[string]string // device name -> UTF-8-safe label value, when it differs
	missing []string
	peerNm  map[wgtypes.Key]string
}

// Up reports whether the devices could be read.
func (s *Snapshot) Up() bool { return s.up }

// build keeps the wanted devices once each (a kernel wg0 next to a
// userspace wg0 would otherwise be a duplicate series) and notes the
// missing ones. Private and preshared keys are never read by the writers,
// so they cannot reach the output.
func (s *Snapshot) build(devs []*wgtypes.Device, nm map[wgtypes.Key]string, only []string) {
	s.peerNm = nm
	seen := make(map[string]bool, len(devs))
	for _, d := range devs {
		if d == nil || seen[d.Name] || (len(only) > 0 && !slices.Contains(only, d.Name)) {
			continue
		}
		seen[d.Name] = true
		s.devices = append(s.devices, d)
	}
	for _, name := range only {
		if !seen[name] {
			s.missing = append(s.missing, name)
		}
	}
}

// validUTF8 makes a label value valid: interface names are bytes to the
// kernel and names come from files, but label values must be UTF-8.
func validUTF8(v string) string {
	if utf8.ValidString(v) {
		return v
	}
	return strings.ToValidUTF8(v, "\uFFFD")
}

// Collect implements prometheus.Collector, so a Snapshot can be registered
// like any collector.
func (s *Snapshot) Collect(ch chan<- prometheus.Metric) {
	s.emit(&constSink{ch: ch})
}

// Describe implements prometheus.Collector.
func (s *Snapshot) Describe(ch chan<- *prometheus.Desc) {
	for _, f := range families(s.compat) {
		ch <- f.desc
	}
}

// lval is one label value, in the form the data has; sinks format it.
type lval struct {
	s    string
	key  *wgtypes.Key
	addr *net.UDPAddr // endpoint; nil is ""
	nets []net.IPNet  // CIDRs, comma-joined
	port int          // used when isPort
	kind byte         // 's', 'k', 'a', 'n', 'p'
}

// labelValues are the values of one sample, in the family's label order.
type labelValues struct {
	n int
	v [4]lval
}

func (l *labelValues) reset() { l.n = 0 }
func (l *labelValues) str(s string) *labelValues {
	l.v[l.n] = lval{kind: 's', s: s}
	l.n++
	return l
}
func (l *labelValues) key(k *wgtypes.Key) *labelValues {
	l.v[l.n] = lval{kind: 'k', key: k}
	l.n++
	return l
}
func (l *labelValues) addr(a *net.UDPAddr) *labelValues {
	l.v[l.n] = lval{kind: 'a', addr: a}
	l.n++
	return l
}
func (l *labelValues) nets(n []net.IPNet) *labelValues {
	l.v[l.n] = lval{kind: 'n', nets: n}
	l.n++
	return l
}
func (l *labelValues) port(p int) *labelValues {
	l.v[l.n] = lval{kind: 'p', port: p}
	l.n++
	return l
}

// appendLval formats a value as text (unescaped). Both sinks use it, so
// they cannot disagree on formats.
func appendLval(b []byte, v *lval) []byte {
	switch v.kind {
	case 's':
		return append(b, v.s...)
	case 'k':
		return base64.StdEncoding.AppendEncode(b, v.key[:])
	case 'a':
		if v.addr == nil {
			return b
		}
		return appendUDPAddr(b, v.addr)
	case 'n':
		for i := range v.nets {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendIPNet(b, &v.nets[i])
		}
		return b
	case 'p':
		return strconv.AppendInt(b, int64(v.port), 10)
	}
	return b
}

// appendUDPAddr is net.UDPAddr.String without allocating: "ip:port", or
// "[ipv6%zone]:port".
func appendUDPAddr(b []byte, a *net.UDPAddr) []byte {
	ip, ok := netip.AddrFromSlice(a.IP)
	if !ok {
		return append(b, a.String()...)
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
	return strconv.AppendInt(b, int64(a.Port), 10)
}

// appendIPNet prints a CIDR the way wg(8) does: IPv4 ranges in dotted form
// even when stored in 16 bytes.
func appendIPNet(b []byte, n *net.IPNet) []byte {
	ones, _ := n.Mask.Size()
	ip, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return append(b, n.String()...)
	}
	if len(n.Mask) == net.IPv4len {
		ip = ip.Unmap()
	}
	b = ip.AppendTo(b)
	b = append(b, '/')
	return strconv.AppendInt(b, int64(ones), 10)
}

// sink receives the samples of one scrape, family by family. The label
// values are only valid during the call.
type sink interface {
	begin(f *family)
	sample(f *family, v float64, lv *labelValues)
}

// constSink is the prometheus.Collector path.
type constSink struct {
	ch  chan<- prometheus.Metric
	buf []byte
}

func (*constSink) begin(*family) {}
func (c *constSink) sample(f *family, v float64, l *labelValues) {
	vals := make([]string, l.n)
	for i := range l.n {
		if l.v[i].kind == 's' {
			vals[i] = l.v[i].s
			continue
		}
		c.buf = appendLval(c.buf[:0], &l.v[i])
		vals[i] = string(c.buf)
	}
	c.ch <- prometheus.MustNewConstMetric(f.desc, f.typ, v, vals...)
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// emit sends every sample to k, grouped by family as the text format needs.
func (s *Snapshot) emit(k sink) {
	var l labelValues
	l.reset()
	k.begin(upFamily)
	k.sample(upFamily, boolFloat(s.up), &l)
	if !s.up || len(s.devices)+len(s.missing) == 0 {
		return
	}
	// Device names, made valid UTF-8 once.
	dn := make([]string, len(s.devices))
	for i, d := range s.devices {
		dn[i] = validUTF8(d.Name)
	}
	k.begin(devicePresentFamily)
	for i := range s.devices {
		l.reset()
		k.sample(devicePresentFamily, 1, l.str(dn[i]))
	}
	for _, m := range s.missing {
		l.reset()
		k.sample(devicePresentFamily, 0, l.str(validUTF8(m)))
	}
	if len(s.devices) == 0 {
		return
	}
	k.begin(deviceInfoFamily)
	for i, d := range s.devices {
		l.reset()
		k.sample(deviceInfoFamily, 1, l.str(dn[i]).key(&d.PublicKey).port(d.ListenPort))
	}
	k.begin(devicePeersFamily)
	for i, d := range s.devices {
		l.reset()
		k.sample(devicePeersFamily, float64(len(d.Peers)), l.str(dn[i]))
	}
	peers := 0
	for _, d := range s.devices {
		peers += len(d.Peers)
	}
	if peers == 0 {
		return
	}
	// eachPeer runs fn for every peer, with the device's label value.
	eachPeer := func(fn func(dev string, p *wgtypes.Peer)) {
		for i, d := range s.devices {
			for j := range d.Peers {
				fn(dn[i], &d.Peers[j])
			}
		}
	}
	name := func(p *wgtypes.Peer) string { return validUTF8(s.peerNm[p.PublicKey]) }
	k.begin(peerInfoFamily)
	eachPeer(func(dev string, p *wgtypes.Peer) {
		l.reset()
		k.sample(peerInfoFamily, 1, l.str(dev).key(&p.PublicKey).str(name(p)).addr(p.Endpoint))
	})
	k.begin(peerAllowedIPsFamily)
	eachPeer(func(dev string, p *wgtypes.Peer) {
		for i := range p.AllowedIPs {
			l.reset()
			k.sample(peerAllowedIPsFamily, 1, l.str(dev).key(&p.PublicKey).nets(p.AllowedIPs[i:i+1]))
		}
	})
	counter := func(f *family, val func(p *wgtypes.Peer) float64) {
		k.begin(f)
		eachPeer(func(dev string, p *wgtypes.Peer) {
			l.reset()
			k.sample(f, val(p), l.str(dev).key(&p.PublicKey))
		})
	}
	counter(peerRxFamily, func(p *wgtypes.Peer) float64 { return float64(p.ReceiveBytes) })
	counter(peerTxFamily, func(p *wgtypes.Peer) float64 { return float64(p.TransmitBytes) })
	counter(peerHandshakeFamily, handshake)
	if s.compat != CompatMindflavor {
		return
	}
	mf := func(f *family, val func(p *wgtypes.Peer) float64) {
		k.begin(f)
		eachPeer(func(dev string, p *wgtypes.Peer) {
			l.reset()
			k.sample(f, val(p), l.str(dev).key(&p.PublicKey).nets(p.AllowedIPs).str(name(p)))
		})
	}
	mf(mfSent, func(p *wgtypes.Peer) float64 { return float64(p.TransmitBytes) })
	mf(mfReceived, func(p *wgtypes.Peer) float64 { return float64(p.ReceiveBytes) })
	mf(mfHandshake, handshake)
}

// handshake is the Unix time of the last handshake, 0 if none.
func handshake(p *wgtypes.Peer) float64 {
	if p.LastHandshakeTime.IsZero() {
		return 0
	}
	return float64(max(p.LastHandshakeTime.Unix(), 0))
}

// pool recycles the text writer's buffers between scrapes.
var pool = sync.Pool{New: func() any { b := make([]byte, 0, 64*1024); return &b }}
