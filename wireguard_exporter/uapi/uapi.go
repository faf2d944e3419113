// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Package uapi reads a userspace WireGuard device (wireguard-go, boringtun)
// through its UAPI socket, as wgctrl does, into the same wgtypes.Device,
// with a parser built for devices with thousands of peers.
//
// Why not only wgctrl: at 10,000 peers its UAPI parser (a string per key
// and value, net.ResolveUDPAddr and net.ParseCIDR per line) was the largest
// cost of a scrape in this exporter, about as much as everything else
// together. This one parses the byte lines in place; a test holds its
// result equal to wgctrl's on real wireguard-go devices. Kernel devices are
// still read with wgctrl.
//
// The protocol: https://www.wireguard.com/xplatform/#configuration-protocol
package uapi

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// Get asks the device behind the socket for its state and parses it,
// giving up at deadline (zero: no deadline). Unlike wgctrl, a hung daemon
// cannot keep the read open forever.
func Get(socket string, deadline time.Time) (*wgtypes.Device, error) {
	d := net.Dialer{Deadline: deadline}
	c, err := d.Dial("unix", socket)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if !deadline.IsZero() {
		if err := c.SetDeadline(deadline); err != nil {
			return nil, err
		}
	}
	if _, err := io.WriteString(c, "get=1\n\n"); err != nil {
		return nil, err
	}
	hint, _ := peerHint.Load(socket)
	n, _ := hint.(int)
	dev, err := parse(c, n)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", socket, err)
	}
	peerHint.Store(socket, len(dev.Peers))
	dev.Name = strings.TrimSuffix(filepath.Base(socket), filepath.Ext(socket))
	dev.Type = wgtypes.Userspace
	return dev, nil
}

// ErrErrno is wrapped by the error for a reply that ends in a non-zero errno.
var ErrErrno = errors.New("uapi: device answered with an error")

// maxLine bounds one line; the longest valid one is an IPv6 endpoint with a
// zone, far below.
const maxLine = 4096

// peerHint remembers each socket's last peer count, so that the next read
// allocates the peer slice once instead of growing it (at 10,000 peers the
// growing alone allocated more than the peers themselves).
var peerHint sync.Map

// Parse reads one "get" reply up to its empty line (or EOF).
func Parse(r io.Reader) (*wgtypes.Device, error) { return parse(r, 0) }

func parse(r io.Reader, peers int) (*wgtypes.Device, error) {
	br := bufio.NewReaderSize(r, 64*1024)
	p := parser{d: &wgtypes.Device{}}
	if peers > 0 {
		// A little room, so a few new peers do not double the slice.
		p.d.Peers = make([]wgtypes.Peer, 0, peers+peers/16+1)
	}
	lineNo := 0
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) || len(line) > maxLine {
			return nil, fmt.Errorf("uapi: line %d: too long", lineNo+1)
		}
		if len(line) == 0 && err != nil {
			if err == io.EOF {
				break
			}
			return nil, err
		}
		lineNo++
		line = bytes.TrimSuffix(line, []byte{'\n'})
		if len(line) == 0 {
			break
		}
		k, v, ok := bytes.Cut(line, []byte{'='})
		if !ok {
			return nil, fmt.Errorf("uapi: line %d: no '=' in %q", lineNo, line)
		}
		if perr := p.parse(k, v); perr != nil {
			return nil, fmt.Errorf("uapi: line %d: %s: %w", lineNo, k, perr)
		}
		if err != nil { // EOF after a last line without newline
			break
		}
	}
	p.endPeer()
	if !p.sawErrno {
		// Every reply ends with errno=N; without it the reply was cut short.
		return nil, fmt.Errorf("uapi: reply ends without errno: %w", io.ErrUnexpectedEOF)
	}
	if p.errno != 0 {
		return nil, fmt.Errorf("%w: errno=%d", ErrErrno, p.errno)
	}
	p.d.PublicKey = p.d.PrivateKey.PublicKey()
	return p.d, nil
}

type parser struct {
	d        *wgtypes.Device
	peer     *wgtypes.Peer
	hsSec    int64
	errno    int64
	sawErrno bool
	ipBuf    []byte // IP addresses are carved from shared blocks: one allocation per block, not per address
	// allowed collects the current peer's ranges; endPeer copies them into
	// a shared block, exactly sized, instead of growing a slice per peer.
	allowed []net.IPNet
	netBuf  []net.IPNet
	addrBuf []net.UDPAddr // endpoints, also from shared blocks
	v4mask  [33]net.IPMask
	v6mask  [129]net.IPMask
}

func (p *parser) parse(k, v []byte) error {
	switch string(k) {
	case "errno":
		n, err := atoi(v)
		p.errno, p.sawErrno = n, true
		return err
	case "public_key":
		p.endPeer()
		p.d.Peers = append(p.d.Peers, wgtypes.Peer{})
		p.peer = &p.d.Peers[len(p.d.Peers)-1]
		p.hsSec = 0
		return parseKey(&p.peer.PublicKey, v)
	}
	if p.peer == nil {
		switch string(k) {
		case "private_key":
			return parseKey(&p.d.PrivateKey, v)
		case "listen_port":
			n, err := atoi(v)
			p.d.ListenPort = int(n)
			return err
		case "fwmark":
			n, err := atoi(v)
			p.d.FirewallMark = int(n)
			return err
		}
		return nil
	}
	pe := p.peer
	switch string(k) {
	case "preshared_key":
		return parseKey(&pe.PresharedKey, v)
	case "endpoint":
		ap, err := netip.ParseAddrPort(string(v))
		if err != nil {
			return err
		}
		if len(p.addrBuf) == 0 {
			p.addrBuf = make([]net.UDPAddr, 256)
		}
		pe.Endpoint = &p.addrBuf[0]
		p.addrBuf = p.addrBuf[1:]
		*pe.Endpoint = net.UDPAddr{IP: p.ip(ap.Addr()), Port: int(ap.Port()), Zone: ap.Addr().Zone()}
	case "last_handshake_time_sec":
		n, err := atoi(v)
		p.hsSec = n
		return err
	case "last_handshake_time_nsec":
		n, err := atoi(v)
		if err != nil {
			return err
		}
		// Both zero means "never", which is the zero time.Time.
		if p.hsSec != 0 || n != 0 {
			pe.LastHandshakeTime = time.Unix(p.hsSec, n)
		}
	case "tx_bytes":
		n, err := atoi(v)
		pe.TransmitBytes = n
		return err
	case "rx_bytes":
		n, err := atoi(v)
		pe.ReceiveBytes = n
		return err
	case "persistent_keepalive_interval":
		n, err := atoi(v)
		pe.PersistentKeepaliveInterval = time.Duration(n) * time.Second
		return err
	case "protocol_version":
		n, err := atoi(v)
		pe.ProtocolVersion = int(n)
		return err
	case "allowed_ip":
		pf, err := netip.ParsePrefix(string(v))
		if err != nil {
			return err
		}
		pf = pf.Masked()
		p.allowed = append(p.allowed, net.IPNet{IP: p.ip(pf.Addr()), Mask: p.mask(pf)})
	}
	return nil
}

// endPeer gives the current peer its allowed IPs.
func (p *parser) endPeer() {
	if p.peer == nil || len(p.allowed) == 0 {
		return
	}
	n := len(p.allowed)
	if len(p.netBuf) < n {
		p.netBuf = make([]net.IPNet, max(256, n))
	}
	p.peer.AllowedIPs = p.netBuf[:n:n]
	copy(p.peer.AllowedIPs, p.allowed)
	p.netBuf = p.netBuf[n:]
	p.allowed = p.allowed[:0]
}

// ip returns the address as a 4- or 16-byte net.IP from a shared block.
func (p *parser) ip(a netip.Addr) net.IP {
	n := 16
	if a.Is4() {
		n = 4
	}
	if len(p.ipBuf) < n {
		p.ipBuf = make([]byte, 4096)
	}
	ip := net.IP(p.ipBuf[:n:n])
	p.ipBuf = p.ipBuf[n:]
	if n == 4 {
		b := a.As4()
		copy(ip, b[:])
	} else {
		b := a.As16()
		copy(ip, b[:])
	}
	return ip
}

// mask shares one net.IPMask per prefix length; callers only read them.
func (p *parser) mask(pf netip.Prefix) net.IPMask {
	bits := pf.Bits()
	if pf.Addr().Is4() {
		if p.v4mask[bits] == nil {
			p.v4mask[bits] = net.CIDRMask(bits, 32)
		}
		return p.v4mask[bits]
	}
	if p.v6mask[bits] == nil {
		p.v6mask[bits] = net.CIDRMask(bits, 128)
	}
	return p.v6mask[bits]
}

func parseKey(k *wgtypes.Key, v []byte) error {
	if len(v) != 2*wgtypes.KeyLen {
		return fmt.Errorf("key of %d hex digits, want %d", len(v), 2*wgtypes.KeyLen)
	}
	_, err := hex.Decode(k[:], v)
	return err
}

// atoi parses a non-negative decimal without allocating.
func atoi(v []byte) (int64, error) {
	if len(v) > 18 { // might overflow: the slow, checked way
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err == nil && n < 0 {
			err = strconv.ErrSyntax
		}
		return n, err
	}
	if len(v) == 0 {
		return 0, strconv.ErrSyntax
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, strconv.ErrSyntax
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}

// Sockets lists the UAPI sockets in dir (normally /var/run/wireguard) by
// device name. A missing directory is no sockets.
func Sockets(dir string) (map[string]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(ents))
	for _, e := range ents {
		if e.Type()&os.ModeSocket == 0 || filepath.Ext(e.Name()) != ".sock" {
			continue
		}
		out[strings.TrimSuffix(e.Name(), ".sock")] = filepath.Join(dir, e.Name())
	}
	return out, nil
}
