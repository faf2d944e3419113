// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Package probe checks that Dovecot's listeners greet: a stats socket can
// answer while logins fail, so "is Dovecot down" needs a connection to the
// services clients use.
package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Protocol says which greeting a listener sends.
type Protocol int

// The greetings the probe knows.
const (
	IMAP        Protocol = iota // "* OK ..." (or "* PREAUTH")
	POP3                        // "+OK ..."
	SMTP                        // "220 ..." (LMTP, submission), multi-line "220-" allowed
	ManageSieve                 // capability lines, then "OK ..."
)

// services maps the service names --probe accepts to their protocol and
// whether the listener speaks TLS from the first byte.
var services = map[string]struct {
	proto Protocol
	tls   bool
}{
	"imap":         {IMAP, false},
	"imaps":        {IMAP, true},
	"pop3":         {POP3, false},
	"pop3s":        {POP3, true},
	"lmtp":         {SMTP, false},
	"submission":   {SMTP, false},
	"submissions":  {SMTP, true},
	"managesieve":  {ManageSieve, false},
	"sieve":        {ManageSieve, false},
	"managesieves": {ManageSieve, true},
}

// Target is one listener to probe.
type Target struct {
	// Service is the label value and names the protocol (see ParseTarget).
	Service  string
	Address  string
	Protocol Protocol
	TLS      bool
}

// ParseTarget reads SERVICE=HOST:PORT, where SERVICE is imap, imaps, pop3,
// pop3s, lmtp, submission, submissions, managesieve (or sieve) or
// managesieves; the "s" forms use TLS from the start.
func ParseTarget(s string) (Target, error) {
	svc, addr, ok := strings.Cut(s, "=")
	if !ok || svc == "" || addr == "" {
		return Target{}, fmt.Errorf("%q: want SERVICE=HOST:PORT", s)
	}
	info, ok := services[svc]
	if !ok {
		names := make([]string, 0, len(services))
		for n := range services {
			names = append(names, n)
		}
		slices.Sort(names)
		return Target{}, fmt.Errorf("%q: unknown service %q (known: %s)", s, svc, strings.Join(names, ", "))
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return Target{}, fmt.Errorf("%q: %w", s, err)
	}
	return Target{Service: svc, Address: addr, Protocol: info.proto, TLS: info.tls}, nil
}

var (
	successDesc = prometheus.NewDesc("dovecot_probe_success",
		"1 if the listener accepted a connection and sent its greeting within the scrape timeout.",
		[]string{"service"}, nil)
	durationDesc = prometheus.NewDesc("dovecot_probe_duration_seconds",
		"Time from connecting to the end of the greeting, or to the failure.",
		[]string{"service"}, nil)
)

// Prober probes every target once per scrape, all at the same time.
type Prober struct {
	targets []Target
	tls     *tls.Config
	logger  *slog.Logger
}

// New returns a Prober. tlsConfig is used for the TLS services; its
// ServerName defaults to the target's host.
func New(targets []Target, tlsConfig *tls.Config, logger *slog.Logger) *Prober {
	if tlsConfig == nil {
		tlsConfig = &tls.Config{}
	}
	return &Prober{targets: targets, tls: tlsConfig, logger: logger}
}

// Name implements collector.Scraper.
func (p *Prober) Name() string { return "probe" }

// Scrape implements collector.Scraper. It returns an error naming the
// targets that failed, so that with no statistics source configured the
// probes alone decide dovecot_up.
func (p *Prober) Scrape(ctx context.Context, ch chan<- prometheus.Metric) error {
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed []error
	)
	for _, t := range p.targets {
		wg.Go(func() {
			start := time.Now()
			err := p.Probe(ctx, t)
			d := time.Since(start).Seconds()
			ok := 0.0
			if err == nil {
				ok = 1
			} else {
				p.logger.Debug("probe failed", "service", t.Service, "address", t.Address, "err", err)
				mu.Lock()
				failed = append(failed, fmt.Errorf("%s %s: %w", t.Service, t.Address, err))
				mu.Unlock()
			}
			ch <- prometheus.MustNewConstMetric(successDesc, prometheus.GaugeValue, ok, t.Service)
			ch <- prometheus.MustNewConstMetric(durationDesc, prometheus.GaugeValue, d, t.Service)
		})
	}
	wg.Wait()
	return errors.Join(failed...)
}

// Probe connects to one target and reads its greeting, giving up when ctx
// ends.
func (p *Prober) Probe(ctx context.Context, t Target) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", t.Address)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if t.TLS {
		cfg := p.tls.Clone()
		if cfg.ServerName == "" {
			host, _, _ := net.SplitHostPort(t.Address)
			cfg.ServerName = host
		}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("TLS handshake: %w", err)
		}
		conn = tc
	}
	err = CheckGreeting(bufio.NewReaderSize(conn, 4096), t.Protocol)
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("no greeting before the timeout: %w", err)
	}
	return err
}

// maxGreetingLines bounds a multi-line greeting (ManageSieve's capability
// list is about ten lines).
const maxGreetingLines = 64

// CheckGreeting reads a greeting and says whether it is a healthy one.
func CheckGreeting(br *bufio.Reader, proto Protocol) error {
	for range maxGreetingLines {
		line, err := readLine(br)
		if err != nil {
			return err
		}
		// Dovecot's login processes say this before the greeting while the
		// auth process does not answer; logins fail until the greeting
		// follows, so the probe waits for it (or for the timeout).
		if strings.Contains(line, "Waiting for authentication process") {
			continue
		}
		switch proto {
		case IMAP:
			if strings.HasPrefix(line, "* OK") || strings.HasPrefix(line, "* PREAUTH") {
				return nil
			}
			return fmt.Errorf("IMAP greeting %q", line)
		case POP3:
			if strings.HasPrefix(line, "+OK") {
				return nil
			}
			return fmt.Errorf("POP3 greeting %q", line)
		case SMTP:
			if strings.HasPrefix(line, "220-") {
				continue
			}
			if line == "220" || strings.HasPrefix(line, "220 ") {
				return nil
			}
			return fmt.Errorf("greeting %q, want 220", line)
		case ManageSieve:
			switch {
			case strings.HasPrefix(line, "OK"):
				return nil
			case strings.HasPrefix(line, "NO") || strings.HasPrefix(line, "BYE"):
				return fmt.Errorf("ManageSieve greeting %q", line)
			case strings.HasPrefix(line, `"`):
				continue // a capability
			}
			return fmt.Errorf("ManageSieve greeting line %q", line)
		}
	}
	return errors.New("greeting too long")
}

func readLine(br *bufio.Reader) (string, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return "", errors.New("greeting line too long")
		}
		return "", err
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}
