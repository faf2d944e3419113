// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Package stats reads Dovecot's statistics (Dovecot 2.3 and 2.4 `metric`
// definitions) from the stats-reader socket and turns them into metrics
// named as Dovecot's own OpenMetrics endpoint names them.
//
// The protocol: both sides send a VERSION line ("VERSION\tstats-reader-client\t2\t0"
// and "VERSION\tstats-reader-server\t2\t<minor>"), the client asks
// "DUMP\t<field>...", and Dovecot answers one tab-separated line per metric
// and per sub-metric (the metric name, then the asked fields of the event
// durations, then per extra event field its key and the asked fields),
// ending with an empty line.
package stats

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const namespace = "dovecot"

// handshake is sent before the DUMP request. Dovecot checks the major
// version only.
const handshake = "VERSION\tstats-reader-client\t2\t0\n"

const serverVersionPrefix = "VERSION\tstats-reader-server\t2\t"

// DialFunc connects to a socket; tests replace it.
type DialFunc func(ctx context.Context, path string) (net.Conn, error)

func dialUnix(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", path)
}

// Scraper reads the stats-reader socket once per scrape. A new connection
// per scrape means a restarted Dovecot is picked up by the next scrape with
// nothing to reconnect.
type Scraper struct {
	socket      string
	groupBy     GroupBy
	dial        DialFunc
	parseErrors prometheus.Counter
	logger      *slog.Logger

	mu    sync.Mutex
	descs map[descKey]*prometheus.Desc
}

// Config configures a Scraper.
type Config struct {
	// Socket is the path of the stats-reader socket.
	Socket string
	// GroupBy names the group_by levels of the metrics that have them.
	GroupBy GroupBy
	// ParseErrors counts reply lines that could not be parsed.
	ParseErrors prometheus.Counter
	// Dial replaces the unix socket dialer (tests).
	Dial DialFunc
}

// New returns a Scraper for cfg.
func New(cfg Config, logger *slog.Logger) *Scraper {
	s := &Scraper{
		socket:      cfg.Socket,
		groupBy:     cfg.GroupBy,
		dial:        cfg.Dial,
		parseErrors: cfg.ParseErrors,
		logger:      logger,
		descs:       map[descKey]*prometheus.Desc{},
	}
	if s.dial == nil {
		s.dial = dialUnix
	}
	if s.parseErrors == nil {
		s.parseErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "unused"})
	}
	return s
}

// Name implements collector.Scraper.
func (s *Scraper) Name() string { return "stats" }

// Dump connects, performs the handshake and returns the parsed DUMP reply.
func (s *Scraper) Dump(ctx context.Context) (Result, error) {
	conn, err := s.dial(ctx, s.socket)
	if err != nil {
		return Result{}, fmt.Errorf("stats-reader %s: %w", s.socket, err)
	}
	defer conn.Close()
	// A deadline on the connection bounds every read and write; closing on
	// cancellation covers a context without deadline.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if _, err := conn.Write([]byte(handshake + DumpCommand)); err != nil {
		return Result{}, fmt.Errorf("stats-reader %s: sending DUMP: %w", s.socket, err)
	}
	br := bufio.NewReaderSize(conn, 64*1024)
	line, err := br.ReadString('\n')
	if err != nil {
		return Result{}, fmt.Errorf("stats-reader %s: reading VERSION: %w", s.socket, err)
	}
	if !strings.HasPrefix(line, serverVersionPrefix) {
		return Result{}, fmt.Errorf("stats-reader %s: unexpected handshake %q (not a stats-reader socket, or an unknown protocol version)",
			s.socket, strings.TrimSpace(line))
	}
	res, err := Parse(br, s.groupBy)
	if res.BadLines > 0 {
		s.parseErrors.Add(float64(res.BadLines))
		s.logger.Debug("skipped unparsable DUMP lines", "count", res.BadLines)
	}
	if err != nil {
		return res, fmt.Errorf("stats-reader %s: %w", s.socket, err)
	}
	return res, nil
}

// Scrape implements collector.Scraper: it sends the metrics of one DUMP, or
// nothing and an error when Dovecot did not answer completely.
func (s *Scraper) Scrape(ctx context.Context, ch chan<- prometheus.Metric) error {
	res, err := s.Dump(ctx)
	if err != nil {
		return err
	}
	s.Emit(res, ch)
	return nil
}

// validName is the Prometheus metric name syntax; Dovecot's OpenMetrics
// endpoint leaves out metrics whose names do not fit it, and so do we.
var validName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)

// Emit turns a parsed reply into metrics.
func (s *Scraper) Emit(res Result, ch chan<- prometheus.Metric) {
	var labelNames, labelValues []string
	for i := range res.Samples {
		smp := &res.Samples[i]
		if smp.HasChildren && len(smp.Labels) == 0 {
			continue
		}
		labelNames, labelValues = labelNames[:0], labelValues[:0]
		for _, l := range smp.Labels {
			labelNames = append(labelNames, l.Name)
			labelValues = append(labelValues, l.Value)
		}
		k := descKey{metric: smp.Metric, depth: len(smp.Labels), kind: kindCount}
		s.send(ch, k, labelNames, labelValues, float64(smp.Count))
		k.kind = kindDuration
		s.send(ch, k, labelNames, labelValues, float64(smp.DurationMicroseconds)/1e6)
		k.kind = kindField
		for _, f := range smp.Fields {
			k.field = f.Key
			s.send(ch, k, labelNames, labelValues, float64(f.Sum))
		}
	}
}

// The families of one Dovecot metric.
const (
	kindCount = iota
	kindDuration
	kindField
)

// descKey names a descriptor without building strings: the label names of a
// sample follow from its metric and its depth in the group_by tree.
type descKey struct {
	metric, field string
	kind, depth   int
}

func (s *Scraper) send(ch chan<- prometheus.Metric, k descKey, labelNames, labelValues []string, v float64) {
	d := s.desc(k, labelNames)
	if d == nil {
		return
	}
	m, err := prometheus.NewConstMetric(d, prometheus.CounterValue, v, labelValues...)
	if err != nil {
		// Only label values that are not UTF-8 get here.
		s.parseErrors.Inc()
		return
	}
	ch <- m
}

// desc caches descriptors across scrapes: a DUMP repeats the same few
// families every time, and remembers the names that make no valid metric
// name (nil), so that the name check runs once per family.
func (s *Scraper) desc(k descKey, labelNames []string) *prometheus.Desc {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.descs[k]; ok {
		return d
	}
	if !validName.MatchString(k.metric) {
		s.descs[k] = nil
		return nil
	}
	var name, help string
	switch k.kind {
	case kindCount:
		name, help = k.metric+"_total", "Number of events of the Dovecot metric "+k.metric+"."
	case kindDuration:
		name, help = k.metric+"_duration_seconds_total", "Total duration of the events of the Dovecot metric "+k.metric+"."
	default:
		if !validName.MatchString(k.field) {
			s.descs[k] = nil
			return nil
		}
		name, help = k.metric+"_"+k.field+"_total", "Sum of the event field "+k.field+" of the Dovecot metric "+k.metric+"."
	}
	// The caller reuses labelNames; the descriptor keeps its own copy.
	d := prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, slices.Clone(labelNames), nil)
	s.descs[k] = d
	return d
}
