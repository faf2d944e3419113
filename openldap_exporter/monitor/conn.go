// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package monitor

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Searcher runs LDAP searches; *Client is the real one, tests use fakes.
type Searcher interface {
	// Search runs req within ctx.
	Search(ctx context.Context, req *ldap.SearchRequest) (*ldap.SearchResult, error)
}

// Client keeps one authenticated connection to slapd open across scrapes.
// The connection is dropped after any error and dialled again by the next
// search, so a restarted slapd is picked up without restarting the exporter.
// Concurrent callers take turns; a caller whose context ends while it waits
// gives up instead of queueing behind a hung server.
type Client struct {
	cfg  Config
	turn chan struct{} // holds one token: whoever has it owns conn

	conn *ldap.Conn
	raw  net.Conn // under conn, so deadlines and a hard close reach it

	roundTrips atomic.Uint64
	dials      atomic.Uint64
}

// NewClient returns a client that dials on first use.
func NewClient(cfg Config) *Client {
	c := &Client{cfg: cfg, turn: make(chan struct{}, 1)}
	c.turn <- struct{}{}
	return c
}

// RoundTrips is the number of LDAP requests sent so far (binds, StartTLS and
// searches), for benchmarks and tests.
func (c *Client) RoundTrips() uint64 { return c.roundTrips.Load() }

// Dials is the number of connections opened so far.
func (c *Client) Dials() uint64 { return c.dials.Load() }

// Endpoint is the URL this client talks to.
func (c *Client) Endpoint() Endpoint { return c.cfg.Endpoint }

// Close drops the connection.
func (c *Client) Close() {
	<-c.turn
	c.drop()
	c.turn <- struct{}{}
}

// Search implements Searcher. A reused connection that turns out to be dead
// (slapd restarted, idle timeout) is replaced once within the same call, so a
// restart does not cost a failed scrape.
func (c *Client) Search(ctx context.Context, req *ldap.SearchRequest) (*ldap.SearchResult, error) {
	select {
	case <-c.turn:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the connection: %w", context.Cause(ctx))
	}
	defer func() { c.turn <- struct{}{} }()

	reused := c.conn != nil && !c.conn.IsClosing()
	res, err := c.search(ctx, req)
	if err != nil && reused && ctx.Err() == nil && isConnError(err) {
		res, err = c.search(ctx, req)
	}
	return res, err
}

func (c *Client) search(ctx context.Context, req *ldap.SearchRequest) (*ldap.SearchResult, error) {
	if c.conn != nil && c.conn.IsClosing() {
		c.drop()
	}
	if c.conn == nil {
		if err := c.dial(ctx); err != nil {
			return nil, err
		}
	}
	var res *ldap.SearchResult
	err := c.bounded(ctx, func() error {
		c.roundTrips.Add(1)
		var err error
		res, err = c.conn.Search(req)
		return err
	})
	if err != nil {
		err = readable(err)
	}
	if err != nil && !isResultError(err) {
		// Anything but an answer from slapd leaves the connection in an
		// unknown state: start over next time.
		c.drop()
	}
	return res, err
}

// bounded runs f with the connection's deadline and request timeout set from
// ctx, and closes the socket if ctx ends early: a frozen slapd never answers,
// and only a closed socket wakes go-ldap's reader.
func (c *Client) bounded(ctx context.Context, f func() error) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(c.cfg.Timeout)
	}
	if c.conn == nil {
		return ldap.NewError(ldap.ErrorNetwork, errors.New("connection closed"))
	}
	raw := c.raw
	_ = raw.SetDeadline(deadline)
	c.conn.SetTimeout(max(time.Until(deadline), time.Millisecond))
	stop := context.AfterFunc(ctx, func() { _ = raw.Close() })
	err := f()
	if !stop() {
		// ctx ended while f ran: the socket is closed now, and whatever
		// was to follow on this connection cannot happen.
		c.drop()
		if err == nil {
			return context.Cause(ctx)
		}
		return fmt.Errorf("%w (%v)", err, context.Cause(ctx))
	}
	// go-ldap reads in the background all the time; a deadline left behind
	// would kill the idle connection between scrapes.
	_ = raw.SetDeadline(time.Time{})
	return err
}

func (c *Client) dial(ctx context.Context) error {
	ep := c.cfg.Endpoint
	c.dials.Add(1)
	d := net.Dialer{Timeout: c.cfg.Timeout}
	raw, err := d.DialContext(ctx, ep.Network, ep.Address)
	if err != nil {
		return fmt.Errorf("dial %s: %w", ep.URI, err)
	}
	nc := raw
	if ep.Scheme == "ldaps" {
		tc := tls.Client(raw, c.cfg.TLS)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return fmt.Errorf("TLS handshake with %s: %w", ep.URI, err)
		}
		nc = tc
	}
	conn := ldap.NewConn(nc, ep.Scheme == "ldaps")
	conn.Start()
	c.conn, c.raw = conn, raw

	if c.cfg.StartTLS {
		err := c.bounded(ctx, func() error {
			c.roundTrips.Add(1)
			return c.conn.StartTLS(c.cfg.TLS)
		})
		if err != nil {
			c.drop()
			return fmt.Errorf("StartTLS with %s: %w", ep.URI, err)
		}
	}
	if err := c.bind(ctx); err != nil {
		c.drop()
		return err
	}
	return nil
}

// bind authenticates: simple bind with a DN and password; SASL EXTERNAL over
// ldapi (peer credentials) or with a client certificate; anonymous otherwise.
func (c *Client) bind(ctx context.Context) error {
	cfg := c.cfg
	var pw string
	if cfg.BindDN != "" {
		var err error
		if pw, err = ReadPassword(cfg.PasswordFile); err != nil {
			return fmt.Errorf("password file %s: %w", cfg.PasswordFile, err)
		}
	}
	external := cfg.BindDN == "" && (cfg.Endpoint.Scheme == "ldapi" || (cfg.TLS != nil && len(cfg.TLS.Certificates) > 0))
	if cfg.BindDN == "" && !external {
		return nil // anonymous: no bind request at all
	}
	err := c.bounded(ctx, func() error {
		c.roundTrips.Add(1)
		if external {
			return c.conn.ExternalBind()
		}
		return c.conn.Bind(cfg.BindDN, pw)
	})
	if err != nil {
		if external {
			return fmt.Errorf("SASL EXTERNAL bind to %s: %w", cfg.Endpoint.URI, readable(err))
		}
		return fmt.Errorf("simple bind to %s as %q: %w", cfg.Endpoint.URI, cfg.BindDN, readable(err))
	}
	return nil
}

func (c *Client) drop() {
	if c.conn == nil {
		return
	}
	conn, raw := c.conn, c.raw
	c.conn, c.raw = nil, nil
	// Closing the socket first makes go-ldap's Close quick even when the
	// server is frozen; its Close still runs apart, as it may wait for its
	// goroutines.
	_ = raw.Close()
	go conn.Close()
}

// resultError prints slapd's answer without go-ldap's trailing ": " when
// slapd sent no diagnostic message.
type resultError struct{ err *ldap.Error }

func (e resultError) Error() string {
	msg := fmt.Sprintf("LDAP result %d (%s)", e.err.ResultCode, ldap.LDAPResultCodeMap[e.err.ResultCode])
	if e.err.Err != nil && e.err.Err.Error() != "" {
		msg += ": " + e.err.Err.Error()
	}
	return msg
}

func (e resultError) Unwrap() error { return e.err }

// readable makes LDAP errors read well in logs; errors.As still finds the
// *ldap.Error.
func readable(err error) error {
	var le *ldap.Error
	if errors.As(err, &le) && isResultError(err) {
		return resultError{le}
	}
	return err
}

// isResultError tells an LDAP result code (the server answered) from a
// network or protocol failure.
func isResultError(err error) bool {
	var le *ldap.Error
	if errors.As(err, &le) {
		// go-ldap numbers its own failures from 200 up; slapd's answers are
		// below that, or the sync codes from 4096 up.
		return le.ResultCode < ldap.ErrorNetwork || le.ResultCode >= ldap.LDAPResultSyncRefreshRequired
	}
	return false
}

func isConnError(err error) bool {
	var le *ldap.Error
	if errors.As(err, &le) {
		return le.ResultCode == ldap.ErrorNetwork
	}
	return !isResultError(err)
}
