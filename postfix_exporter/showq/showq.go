// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Package showq reads Postfix's queue through the showq service and
// exposes it per scrape: messages per queue, and size and age histograms.
//
// Postfix 3 speaks its attribute protocol on the showq socket: the server
// sends "protocol\0mail_queue_list_protocol\0\0", then one record per
// message as name\0value\0 pairs (queue_name, queue_id, time, size,
// forced_expire, sender, then recipient and reason per recipient), each
// record ended by an empty name, and an empty record at the end.
package showq

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const namespace = "postfix"

// Queues are the queue names showq reports, in Postfix's order.
var Queues = []string{"maildrop", "incoming", "active", "deferred", "hold"}

// Message is the part of a queue entry the metrics need.
type Message struct {
	Queue string
	Time  int64 // arrival, Unix seconds
	Size  int64 // bytes
}

// maxField bounds one name or value, so that a broken peer cannot make the
// reader hold an unbounded line; recipients' reasons are the longest.
const maxField = 1 << 20

// ErrProtocol is wrapped by errors about a stream that is not showq's.
var ErrProtocol = errors.New("showq protocol error")

// Read parses a showq stream, calling fn for each message.
func Read(r io.Reader, fn func(Message)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		m       Message
		inRec   bool
		sawProt bool
	)
	for {
		name, err := readField(br)
		if err != nil {
			if errors.Is(err, io.EOF) {
				if !inRec {
					return nil
				}
				return fmt.Errorf("%w: stream ends inside a record", ErrProtocol)
			}
			return err
		}
		if len(name) == 0 {
			// End of a record; an empty record ends the list.
			if !inRec {
				return nil
			}
			if m.Queue != "" {
				fn(m)
			}
			m, inRec = Message{}, false
			continue
		}
		value, err := readField(br)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("%w: stream ends inside attribute %q", ErrProtocol, name)
			}
			return err
		}
		if string(name) == "protocol" && !sawProt {
			sawProt = true
			// The protocol announcement is a record of its own.
			inRec = true
			continue
		}
		inRec = true
		switch string(name) {
		case "queue_name":
			m.Queue = queueName(value)
		case "time":
			if m.Time, err = strconv.ParseInt(string(value), 10, 64); err != nil {
				return fmt.Errorf("%w: time %q", ErrProtocol, value)
			}
		case "size":
			if m.Size, err = strconv.ParseInt(string(value), 10, 64); err != nil {
				return fmt.Errorf("%w: size %q", ErrProtocol, value)
			}
		}
	}
}

func queueName(b []byte) string {
	for _, q := range Queues {
		if string(b) == q {
			return q
		}
	}
	return "other"
}

func readField(br *bufio.Reader) ([]byte, error) {
	var acc []byte
	for {
		b, err := br.ReadSlice(0)
		switch {
		case err == nil:
			if acc == nil {
				return b[:len(b)-1], nil
			}
			return append(acc, b[:len(b)-1]...), nil
		case errors.Is(err, bufio.ErrBufferFull):
			acc = append(acc, b...)
			if len(acc) > maxField {
				return nil, fmt.Errorf("%w: field longer than %d bytes", ErrProtocol, maxField)
			}
		case errors.Is(err, io.EOF) && len(b)+len(acc) > 0:
			return nil, fmt.Errorf("%w: stream ends inside a field", ErrProtocol)
		default:
			return nil, err
		}
	}
}

// Buckets of the histograms.
var (
	SizeBuckets = []float64{1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}
	AgeBuckets  = []float64{60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 5 * 86400, 7 * 86400}
)

var (
	upDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "up"),
		"Whether the last read of the showq socket succeeded.", nil, nil)
	messagesDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "showq", "messages"),
		"Messages in each queue.", []string{"queue"}, nil)
	sizeDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "showq", "message_size_bytes"),
		"Size of messages in each queue.", []string{"queue"}, nil)
	ageDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "showq", "message_age_seconds"),
		"Age of messages in each queue.", []string{"queue"}, nil)
	durationDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "showq", "scrape_duration_seconds"),
		"Time the read of the showq socket took.", nil, nil)
)

// Dialer opens a connection to showq.
type Dialer func(ctx context.Context) (net.Conn, error)

// NewDialer dials a unix socket path, or host:port when addr has no slash.
func NewDialer(addr string) Dialer {
	network := "unix"
	if !strings.Contains(addr, "/") && strings.Contains(addr, ":") {
		network = "tcp"
	}
	return func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
}

// Source reads the queue on each scrape. It remembers the last error so
// that a socket that stays broken is logged once, not on every scrape.
type Source struct {
	addr   string
	dial   Dialer
	logger *slog.Logger
	now    func() time.Time

	mu      sync.Mutex
	lastErr string
}

// NewSource returns a Source for addr (see NewDialer).
func NewSource(addr string, logger *slog.Logger) *Source {
	return &Source{addr: addr, dial: NewDialer(addr), logger: logger, now: time.Now}
}

// NewSourceWithDialer is NewSource with an injected dialer, for tests.
func NewSourceWithDialer(addr string, dial Dialer, logger *slog.Logger, now func() time.Time) *Source {
	return &Source{addr: addr, dial: dial, logger: logger, now: now}
}

// Collector returns the collector of one scrape, bounded by ctx.
func (s *Source) Collector(ctx context.Context) prometheus.Collector {
	return &collector{s: s, ctx: ctx}
}

type queueStats struct {
	count            uint64
	sizeSum, ageSum  float64
	sizeBkt, ageBkts []uint64
}

func (s *Source) read(ctx context.Context) (map[string]*queueStats, error) {
	conn, err := s.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	// Closing the connection ends a read blocked past cancellation.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	stats := map[string]*queueStats{}
	for _, q := range Queues {
		stats[q] = &queueStats{sizeBkt: make([]uint64, len(SizeBuckets)), ageBkts: make([]uint64, len(AgeBuckets))}
	}
	now := float64(s.now().Unix())
	err = Read(conn, func(m Message) {
		st := stats[m.Queue]
		if st == nil {
			return
		}
		age := max(now-float64(m.Time), 0)
		st.count++
		st.sizeSum += float64(m.Size)
		st.ageSum += age
		for i, b := range SizeBuckets {
			if float64(m.Size) <= b {
				st.sizeBkt[i]++
			}
		}
		for i, b := range AgeBuckets {
			if age <= b {
				st.ageBkts[i]++
			}
		}
	})
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	return stats, err
}

type collector struct {
	s   *Source
	ctx context.Context
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{upDesc, messagesDesc, sizeDesc, ageDesc, durationDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	start := time.Now()
	stats, err := c.s.read(c.ctx)
	ch <- prometheus.MustNewConstMetric(durationDesc, prometheus.GaugeValue, time.Since(start).Seconds())
	c.s.logResult(err)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 1)
	for _, q := range Queues {
		st := stats[q]
		ch <- prometheus.MustNewConstMetric(messagesDesc, prometheus.GaugeValue, float64(st.count), q)
		ch <- prometheus.MustNewConstHistogram(sizeDesc, st.count, st.sizeSum, buckets(SizeBuckets, st.sizeBkt), q)
		ch <- prometheus.MustNewConstHistogram(ageDesc, st.count, st.ageSum, buckets(AgeBuckets, st.ageBkts), q)
	}
}

func buckets(bounds []float64, counts []uint64) map[float64]uint64 {
	m := make(map[float64]uint64, len(bounds))
	for i, b := range bounds {
		m[b] = counts[i]
	}
	return m
}

// logResult logs a failure when it starts or changes, and the recovery.
func (s *Source) logResult(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err == nil && s.lastErr != "":
		s.logger.Info("showq readable again", "path", s.addr)
		s.lastErr = ""
	case err != nil && err.Error() != s.lastErr:
		s.logger.Error("cannot read the Postfix queue from showq; postfix_up is 0", "path", s.addr, "err", err)
		s.lastErr = err.Error()
	}
}
