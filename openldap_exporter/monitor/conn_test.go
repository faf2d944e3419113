// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package monitor

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// silentServer accepts LDAP connections and reads requests but never
// answers, like a slapd stopped with SIGSTOP whose kernel still accepts.
func silentServer(t *testing.T, network, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				_, _ = io.Copy(io.Discard, c)
				c.Close()
			})
		}
	})
	return ln
}

func TestSearchOfHungServerEndsWithContext(t *testing.T) {
	tcp := silentServer(t, "tcp", "127.0.0.1:0")
	sock := filepath.Join(t.TempDir(), "ldapi")
	silentServer(t, "unix", sock)
	pw := filepath.Join(t.TempDir(), "pw")
	writeFile(t, pw, "secret")
	for _, tc := range []struct {
		name, uri, dn, pw string
	}{
		{"ldap simple bind", "ldap://" + tcp.Addr().String(), "cn=x", pw},
		{"ldapi external", "ldapi://" + pathEscape(sock), "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := NewConfig("ldap.uri", tc.uri, tc.dn, tc.pw, false, TLSOptions{}, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			c := NewClient(cfg)
			defer c.Close()
			for range 3 {
				ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
				t0 := time.Now()
				_, err := c.Search(ctx, MonitorRequest())
				cancel()
				if err == nil {
					t.Fatal("search of a silent server succeeded")
				}
				if took := time.Since(t0); took > time.Second {
					t.Errorf("search took %v with a 200ms context", took)
				}
			}
			// Every attempt found the connection dead and dialled anew.
			if c.Dials() != 3 {
				t.Errorf("dials = %d, want 3", c.Dials())
			}
		})
	}
}

func TestWaitingForTheConnectionEndsWithContext(t *testing.T) {
	tcp := silentServer(t, "tcp", "127.0.0.1:0")
	cfg, err := NewConfig("ldap.uri", "ldap://"+tcp.Addr().String(), "", "", false, TLSOptions{}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(cfg)
	defer c.Close()
	// Anonymous: no bind, so the first search holds the connection until
	// its 2s context ends; the second waits for its turn only 200ms.
	first := make(chan struct{})
	go func() {
		defer close(first)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, _ = c.Search(ctx, MonitorRequest())
	}()
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	if _, err := c.Search(ctx, MonitorRequest()); err == nil {
		t.Fatal("second search succeeded")
	}
	if took := time.Since(t0); took > time.Second {
		t.Errorf("waiting for the turn took %v with a 200ms context", took)
	}
	<-first
}
