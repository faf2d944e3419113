// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package runners

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Lister returns the runners of one scope; *Client is one, tests use fakes.
type Lister interface {
	List(ctx context.Context) ([]Runner, error)
}

var _ Lister = (*Client)(nil)

// Metric descriptions. The exporter's own state uses the gitea_runner_
// prefix (from the exporter's name); the runner metrics keep the
// gitea_actions_ prefix of Gitea's own Actions metrics.
var (
	upDesc = prometheus.NewDesc("gitea_runner_up",
		"1 if Gitea answered this scrape with a complete runner list, 0 if not (down, hanging, bad token, too old, not a runner list).",
		nil, nil)
	durationDesc = prometheus.NewDesc("gitea_runner_scrape_duration_seconds",
		"Time spent reading every page of the runner list in this scrape.",
		nil, nil)
	onlineDesc = prometheus.NewDesc("gitea_actions_runner_online",
		"1 if Gitea reports the runner online (seen within the last minute), 0 if offline or expected (--runner.expect) but not registered.",
		[]string{"runner"}, nil)
	busyDesc = prometheus.NewDesc("gitea_actions_runner_busy",
		"1 if the runner is running a job, 0 if not.",
		[]string{"runner"}, nil)
	registeredDesc = prometheus.NewDesc("gitea_actions_runner_registered",
		"1 if a runner of this name is in Gitea's list, 0 if it is only expected (--runner.expect).",
		[]string{"runner"}, nil)
	infoDesc = prometheus.NewDesc("gitea_actions_runner_info",
		"Registered runner, one series per runner ID; labels are its Gitea labels, sorted and comma-joined.",
		[]string{"runner", "id", "ephemeral", "labels"}, nil)
	countDesc = prometheus.NewDesc("gitea_actions_runners",
		"Runners by state: offline (including expected but missing), idle (online, no job) and busy (online, running a job). The states do not overlap, so the sum is the number of runners.",
		[]string{"status"}, nil)
)

// Runner count states, in exposition order.
const (
	StatusOffline = "offline"
	StatusIdle    = "idle"
	StatusBusy    = "busy"
)

// Collector reads the runner list once per scrape. Make one per scrape
// with that scrape's context.
type Collector struct {
	ctx      context.Context
	lister   Lister
	expected []string
	logger   *slog.Logger
}

// NewCollector returns a collector that lists runners with ctx's deadline.
// expected names runners that must exist: missing ones are reported offline,
// so that deleting or renaming a runner does not silence its alert.
func NewCollector(ctx context.Context, l Lister, expected []string, logger *slog.Logger) *Collector {
	return &Collector{ctx: ctx, lister: l, expected: expected, logger: logger}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{upDesc, durationDesc, onlineDesc, busyDesc, registeredDesc, infoDesc, countDesc} {
		ch <- d
	}
}

// runnerState merges the runners that share a name: a runner registered
// again under its old name leaves the old entry behind, offline, until
// someone deletes it, and the alert must follow the live one.
type runnerState struct {
	online, busy, registered bool
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	start := time.Now()
	list, err := c.lister.List(c.ctx)
	ch <- prometheus.MustNewConstMetric(durationDesc, prometheus.GaugeValue, time.Since(start).Seconds())
	if err != nil {
		c.logFailure(err)
		ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 1)

	byName := map[string]*runnerState{}
	counts := map[string]int{StatusOffline: 0, StatusIdle: 0, StatusBusy: 0}
	for _, r := range list {
		s := byName[r.Name]
		if s == nil {
			s = &runnerState{}
			byName[r.Name] = s
		}
		s.registered = true
		s.online = s.online || r.Online()
		s.busy = s.busy || r.Busy
		switch {
		case !r.Online():
			counts[StatusOffline]++
		case r.Busy:
			counts[StatusBusy]++
		default:
			counts[StatusIdle]++
		}
		ch <- prometheus.MustNewConstMetric(infoDesc, prometheus.GaugeValue, 1,
			r.Name, strconv.FormatInt(r.ID, 10), strconv.FormatBool(r.Ephemeral), labelList(r.Labels))
	}
	for _, name := range c.expected {
		if byName[name] == nil {
			byName[name] = &runnerState{}
			counts[StatusOffline]++
		}
	}
	for name, s := range byName {
		ch <- prometheus.MustNewConstMetric(onlineDesc, prometheus.GaugeValue, b2f(s.online), name)
		ch <- prometheus.MustNewConstMetric(busyDesc, prometheus.GaugeValue, b2f(s.busy), name)
		ch <- prometheus.MustNewConstMetric(registeredDesc, prometheus.GaugeValue, b2f(s.registered), name)
	}
	for status, n := range counts {
		ch <- prometheus.MustNewConstMetric(countDesc, prometheus.GaugeValue, float64(n), status)
	}
}

// logFailure logs one line that says what went wrong in operator terms.
func (c *Collector) logFailure(err error) {
	var (
		se *StatusError
		de *DecodeError
	)
	msg := "Reading the runner list failed"
	switch {
	case IsTimeout(err):
		msg = "Gitea did not answer the runner list request within the scrape timeout"
	case errors.As(err, &se) && se.Code == 401:
		msg = "Gitea rejected the token (HTTP 401)"
	case errors.As(err, &se) && se.Code == 404:
		msg = "Gitea has no runner list API at this URL (HTTP 404): Gitea older than 1.24, wrong --gitea.url, or unknown org/repo"
	case errors.As(err, &se):
		msg = "Gitea answered the runner list request with an error"
	case errors.As(err, &de):
		msg = "Gitea's answer is not a runner list (malformed JSON or wrong endpoint)"
	}
	c.logger.Error(msg, "err", err)
}

// labelList is the runner's label names, sorted, without duplicates,
// joined with commas.
func labelList(ls []Label) string {
	names := make([]string, 0, len(ls))
	for _, l := range ls {
		names = append(names, l.Name)
	}
	slices.Sort(names)
	return strings.Join(slices.Compact(names), ",")
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
