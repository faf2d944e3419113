// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package collector

import (
	"errors"
	"io/fs"
	"net"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/downwatch/downwatch/wireguard_exporter/uapi"
)

// SocketDir is where userspace implementations (wireguard-go, boringtun)
// put their UAPI sockets, and where wgctrl looks for them.
const SocketDir = "/var/run/wireguard"

// Source reads devices: kernel devices through wgctrl (generic netlink),
// userspace devices through their UAPI sockets, by default with package
// uapi's parser (see there why), or with wgctrl's when WgctrlOnly is set.
//
// A new wgctrl client is opened per read, because wgctrl decides at open
// time whether the kernel module is there; the cost is one netlink socket
// per scrape.
type Source struct {
	// Interfaces, when set, are the only devices read; otherwise every
	// device is read.
	Interfaces []string
	// WgctrlOnly reads userspace devices with wgctrl too.
	WgctrlOnly bool
	// Timeout bounds one device's UAPI exchange, so that a hung daemon
	// does not hold a read open forever (wgctrl's reads have no deadline).
	Timeout time.Duration
	// SocketDir overrides SocketDir, for tests.
	SocketDir string
}

// Devices reads the devices. A device that vanishes while it is read (its
// socket is gone, or left behind by a killed wireguard-go and refusing
// connections) is skipped rather than failing the scrape; anything else,
// such as a permission error, is an error.
func (s Source) Devices() ([]*wgtypes.Device, error) {
	if s.WgctrlOnly {
		return s.wgctrlDevices()
	}
	dir := s.SocketDir
	if dir == "" {
		dir = SocketDir
	}
	socks, err := uapi.Sockets(dir)
	if err != nil {
		return nil, err
	}
	var deadline time.Time
	if s.Timeout > 0 {
		deadline = time.Now().Add(s.Timeout)
	}
	var out []*wgtypes.Device
	for name, path := range socks {
		if len(s.Interfaces) > 0 && !slices.Contains(s.Interfaces, name) {
			continue
		}
		d, err := uapi.Get(path, deadline)
		switch {
		case err == nil:
			out = append(out, d)
		case vanished(err):
		default:
			return nil, err
		}
	}
	// Kernel devices: every interface of this namespace that has no UAPI
	// socket is asked for by name; wgctrl answers "not exist" for those
	// that are not WireGuard devices (or when there is no kernel module).
	var names []string
	if len(s.Interfaces) > 0 {
		names = s.Interfaces
	} else if ifs, err := net.Interfaces(); err == nil {
		for _, i := range ifs {
			names = append(names, i.Name)
		}
	} else {
		return nil, err
	}
	names = slices.DeleteFunc(slices.Clone(names), func(n string) bool { _, ok := socks[n]; return ok })
	if len(names) > 0 {
		c, err := wgctrl.New()
		if err != nil {
			return nil, err
		}
		defer c.Close()
		kd, err := byName(c, names)
		if err != nil {
			return nil, err
		}
		out = append(out, kd...)
	}
	// Sorted by name, so that the exposition is stable from scrape to scrape.
	slices.SortFunc(out, func(a, b *wgtypes.Device) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// wgctrlDevices reads every device with wgctrl alone.
func (s Source) wgctrlDevices() ([]*wgtypes.Device, error) {
	c, err := wgctrl.New()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if len(s.Interfaces) > 0 {
		return byName(c, s.Interfaces)
	}
	devs, err := c.Devices()
	if err == nil || !vanished(err) {
		return devs, err
	}
	// wgctrl gives up on the first socket that fails. Retry device by
	// device so one stale socket does not hide the healthy devices.
	return byName(c, candidates(s.SocketDir))
}

func byName(c *wgctrl.Client, names []string) ([]*wgtypes.Device, error) {
	var out []*wgtypes.Device
	for _, n := range names {
		d, err := c.Device(n)
		switch {
		case err == nil:
			out = append(out, d)
		case vanished(err):
		default:
			return nil, err
		}
	}
	return out, nil
}

// vanished reports errors that mean "no such device (any more)".
func vanished(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ENODEV)
}

// candidates are the names that may be WireGuard devices: the network
// interfaces of this namespace (kernel devices) and the UAPI sockets.
func candidates(dir string) []string {
	if dir == "" {
		dir = SocketDir
	}
	var names []string
	if ifs, err := net.Interfaces(); err == nil {
		for _, i := range ifs {
			names = append(names, i.Name)
		}
	}
	socks, _ := uapi.Sockets(dir)
	for n := range socks {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names
}
