// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Command demo runs the whole monitoring chain on loopback (see
// itest/stack) and shows, every few seconds, what VictoriaMetrics and
// vmalert say about each service. Stop a service in another terminal (its
// PID is in .demo/pids) and watch its alert go pending, then firing.
// Ctrl-C stops everything; `demo -stop` stops a demo by its recorded PIDs,
// even one whose process was killed.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/downwatch/downwatch/itest/daemon/proc"
	"github.com/downwatch/downwatch/itest/stack"
)

func main() {
	root, err := proc.RepoRoot()
	if err != nil {
		fatal(err)
	}
	var (
		dir     = flag.String("dir", filepath.Join(root, ".demo"), "directory for the stack: configs, data, logs, PID file")
		stop    = flag.Bool("stop", false, "stop the demo recorded in -dir (by PID) and exit")
		refresh = flag.Duration("refresh", 2*time.Second, "how often to redraw the table")
		once    = flag.Duration("run-for", 0, "stop by itself after this long (0: run until Ctrl-C)")
	)
	flag.Parse()
	logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, "demo: "+format+"\n", args...) }
	if *stop {
		if err := stack.StopRecorded(*dir, logf); err != nil {
			fatal(err)
		}
		return
	}
	if os.Geteuid() != 0 {
		fatal(fmt.Errorf("needs root (network namespaces for WireGuard, Dovecot's and Postfix's users)"))
	}
	if _, err := os.Stat(filepath.Join(*dir, stack.PIDFile)); err == nil {
		logf("a previous demo left %s; stopping what it recorded", filepath.Join(*dir, stack.PIDFile))
		if err := stack.StopRecorded(*dir, logf); err != nil {
			fatal(err)
		}
	}
	// The data of the last run would show its alerts and gaps; logs of
	// the last run go with it.
	if err := os.RemoveAll(*dir); err != nil {
		fatal(err)
	}

	// A closed terminal or a pager that quit must not kill the demo before
	// it has stopped its daemons: SIGHUP stops it like Ctrl-C, and writes
	// to a closed pipe fail instead of raising SIGPIPE.
	signal.Ignore(syscall.SIGPIPE)
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer cancel()
	if *once > 0 {
		var c2 context.CancelFunc
		ctx, c2 = context.WithTimeout(ctx, *once)
		defer c2()
	}
	logf("starting the stack in %s (building the exporters first)", *dir)
	s, err := stack.Start(stack.Options{Dir: *dir, Logf: logf})
	if err != nil {
		fatal(err)
	}
	defer func() {
		logf("stopping everything")
		s.Close()
		logf("stopped; logs are in %s", *dir)
	}()
	if ctx.Err() != nil {
		return
	}
	run(ctx, s, *refresh)
}

func run(ctx context.Context, s *stack.Stack, refresh time.Duration) {
	header := banner(s)
	tty := isTerminal(os.Stdout)
	tick := time.NewTicker(refresh)
	defer tick.Stop()
	msgs := make(chan string, 8)
	go commands(ctx, s, msgs)
	var lastMsg string
	lastTraffic := time.Time{}
	var trafficErr error
	for {
		// Traffic keeps the WireGuard handshakes fresh and gives the
		// exporters something to count.
		if time.Since(lastTraffic) > 30*time.Second {
			trafficErr = s.Traffic(ctx)
			lastTraffic = time.Now()
		}
		qctx, cancel := context.WithTimeout(ctx, refresh)
		rows, err := s.Status(qctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		var b strings.Builder
		if tty {
			b.WriteString("\033[H\033[2J")
		}
		b.WriteString(header)
		fmt.Fprintf(&b, "%s  (refresh %s; Ctrl-C stops everything)\n\n", time.Now().UTC().Format("15:04:05 UTC"), refresh)
		b.WriteString(stack.FormatTable(rows))
		if err != nil {
			fmt.Fprintf(&b, "\nquery error: %v\n", err)
		}
		if trafficErr != nil {
			fmt.Fprintf(&b, "\ntraffic (mail, IMAP, LDAP, tunnel) failed: %v\n", trafficErr)
		}
		select {
		case lastMsg = <-msgs:
		default:
		}
		if lastMsg != "" {
			fmt.Fprintf(&b, "\n> %s\n", lastMsg)
		}
		if !tty {
			b.WriteString("\n")
		}
		os.Stdout.WriteString(b.String())
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// commands reads "stop NAME" and "start NAME" lines from stdin.
func commands(ctx context.Context, s *stack.Stack, msgs chan<- string) {
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() && ctx.Err() == nil {
		verb, name, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		if verb == "" {
			continue
		}
		p, err := s.Part(strings.TrimSpace(name))
		switch {
		case err != nil:
			msgs <- err.Error()
		case verb == "stop":
			s.StopPart(p)
			msgs <- fmt.Sprintf("%s stopped at %s", p.Name, time.Now().UTC().Format("15:04:05"))
		case verb == "start":
			if err := s.StartPart(p); err != nil {
				msgs <- fmt.Sprintf("%s: %v", p.Name, err)
			} else {
				msgs <- fmt.Sprintf("%s started at %s", p.Name, time.Now().UTC().Format("15:04:05"))
			}
		default:
			msgs <- fmt.Sprintf("%q: want stop NAME or start NAME", verb)
		}
	}
}

func banner(s *stack.Stack) string {
	var b strings.Builder
	fmt.Fprintf(&b, "downwatch demo: the chain of the plan's hosts mail and fw on loopback, in %s\n", s.Dir)
	fmt.Fprintf(&b, "scrape %s, evaluation %s, for %s (inventory: %s)\n\n", s.Timing.Scrape, s.Timing.Evaluation, s.Timing.For, s.Inventory)
	for _, l := range s.SortedURLs() {
		b.WriteString("  " + l + "\n")
	}
	var names []string
	for _, p := range s.Parts() {
		names = append(names, p.Name)
	}
	fmt.Fprintf(&b, "\nType \"stop NAME\" or \"start NAME\" and Enter to break and mend a part; NAME is one of:\n  %s\n",
		strings.Join(names, " "))
	fmt.Fprintf(&b, "A Gitea runner goes offline with: curl -X POST '%s_fake/runners/%s?online=false' (online=true brings it back).\n",
		s.Gitea.URL, stack.Runners[1])
	fmt.Fprintf(&b, "(PIDs are in %s: a part killed from outside is reported the same way.)\n\n", filepath.Join(s.Dir, stack.PIDFile))
	return b.String()
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "demo: error: %v\n", err)
	os.Exit(1)
}
