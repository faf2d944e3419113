// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Command fakegitea serves a stand-in for Gitea's Actions runner API on
// loopback, for the demo. Its runners change state through the /_fake/
// control endpoints (see fakegitea.ControlHandler), e.g.
//
//	curl -X POST 'http://127.0.0.1:3001/_fake/runners/git-runner-2?online=false'
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/downwatch/downwatch/itest/daemon/fakegitea"
)

// runnerFlags collects -runner NAME[:offline][:busy][:labels=a,b].
type runnerFlags []fakegitea.Runner

func (r *runnerFlags) String() string { return fmt.Sprint(len(*r), " runners") }

func (r *runnerFlags) Set(v string) error {
	parts := strings.Split(v, ":")
	if parts[0] == "" {
		return fmt.Errorf("empty runner name in %q", v)
	}
	x := fakegitea.Runner{Name: parts[0], Online: true}
	for _, p := range parts[1:] {
		switch {
		case p == "offline":
			x.Online = false
		case p == "busy":
			x.Busy = true
		case strings.HasPrefix(p, "labels="):
			x.Labels = strings.Split(strings.TrimPrefix(p, "labels="), ",")
		default:
			return fmt.Errorf("%q: want NAME[:offline][:busy][:labels=a,b]", v)
		}
	}
	*r = append(*r, x)
	return nil
}

func main() {
	var (
		runners   runnerFlags
		listen    = flag.String("listen", "127.0.0.1:0", "address to listen on (loopback)")
		tokenFile = flag.String("token-file", "", "file with the API token to require (none: any request is answered)")
		useTLS    = flag.Bool("tls", false, "serve https with a self-signed certificate written to -dir")
		dir       = flag.String("dir", "", "directory for the token and CA files (default: a new temporary one)")
	)
	flag.Var(&runners, "runner", "runner to register, NAME[:offline][:busy][:labels=a,b] (repeatable)")
	flag.Parse()

	opts := fakegitea.Options{Runners: runners, Addr: *listen, TLS: *useTLS, Dir: *dir, Control: true}
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "fakegitea: error: -token-file: %v\n", err)
			os.Exit(1)
		}
		opts.Token = strings.TrimSpace(string(b))
	}
	s, err := fakegitea.StartServer(opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "fakegitea: error: %v\n", err)
		os.Exit(1)
	}
	// The first line says where to point the exporter.
	fmt.Printf("fakegitea listening on %s ca_file=%q token_file=%q\n", s.URL, s.CAFile, s.TokenFile)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	_ = s.Close()
}
