// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package collector

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"golang.zx2c4.com/wireguard/wgctrl"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// SocketDir is where userspace implementations (wireguard-go, boringtun)
// put their UAPI sockets, and where wgctrl looks for them.
const SocketDir = "/var/run/wireguard"

// Source reads devices through wgctrl: kernel devices over generic
// netlink, userspace ones over their UAPI sockets. A new wgctrl client is
// opened per read, because wgctrl decides at open time whether the kernel
// module is there; the cost is one netlink socket per scrape.
type Source struct {
	// Interfaces, when set, are read one by one by name; otherwise every
	// device is read.
	Interfaces []string
}

// Devices reads the devices. A device that vanishes while it is read (its
// socket is gone, or left behind by a killed wireguard-go and refusing
// connections) is skipped rather than failing the scrape; anything else,
// such as a permission error, is an error.
func (s Source) Devices() ([]*wgtypes.Device, error) {
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
	return byName(c, candidates())
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
func candidates() []string {
	var names []string
	if ifs, err := net.Interfaces(); err == nil {
		for _, i := range ifs {
			names = append(names, i.Name)
		}
	}
	if ents, err := os.ReadDir(SocketDir); err == nil {
		for _, e := range ents {
			if e.Type()&fs.ModeSocket != 0 {
				n := strings.TrimSuffix(e.Name(), filepath.Ext(e.Name()))
				if !slices.Contains(names, n) {
					names = append(names, n)
				}
			}
		}
	}
	return names
}
