// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package wireguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// inNetns runs fn on an OS thread switched into the namespace. Sockets keep
// the namespace they were created in, so what fn opens can be used from any
// goroutine afterwards. The thread is switched back; if that fails it stays
// locked and Go ends it with the goroutine, so no other code runs there.
func inNetns[T any](netns string, fn func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		var zero T
		runtime.LockOSThread()
		orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{zero, err}
			return
		}
		defer orig.Close()
		target, err := os.Open("/var/run/netns/" + netns)
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{zero, err}
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- result{zero, fmt.Errorf("setns %s: %w", netns, err)}
			return
		}
		v, err := fn()
		if rerr := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); rerr == nil {
			runtime.UnlockOSThread()
		}
		done <- result{v, err}
	}()
	r := <-done
	return r.v, r.err
}

// ListenPacket opens a packet socket inside the device's namespace.
func (d *Device) ListenPacket(network, addr string) (net.PacketConn, error) {
	return inNetns(d.Netns, func() (net.PacketConn, error) { return net.ListenPacket(network, addr) })
}

// Dial connects from inside the device's namespace.
func (d *Device) Dial(network, addr string) (net.Conn, error) {
	return inNetns(d.Netns, func() (net.Conn, error) { return net.DialTimeout(network, addr, 5*time.Second) })
}

// Ping sends size bytes from A to B through the tunnel and waits for them to
// come back (a UDP echo on B's tunnel address), retrying while the first
// handshake happens. It proves the tunnel carries traffic both ways.
func (p *Pair) Ping(ctx context.Context, size int) error {
	srv, err := p.B.ListenPacket("udp4", p.B.Tunnel+":0")
	if err != nil {
		return err
	}
	defer srv.Close()
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := srv.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = srv.WriteTo(buf[:n], from)
		}
	}()
	c, err := p.A.Dial("udp4", srv.LocalAddr().String())
	if err != nil {
		return err
	}
	defer c.Close()
	msg := make([]byte, size)
	for i := range msg {
		msg[i] = byte(i)
	}
	buf := make([]byte, size+1)
	var last error
	for ctx.Err() == nil {
		if _, err := c.Write(msg); err != nil {
			last = err
		} else {
			_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			n, err := c.Read(buf)
			if err == nil && n == size {
				return nil
			}
			last = err
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	return errors.Join(fmt.Errorf("no echo from %s through the tunnel", p.B.Tunnel), last, ctx.Err())
}
