// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Package monitor reads slapd's cn=Monitor backend and the contextCSN of its
// databases over one kept-open LDAP connection, and serves them as
// Prometheus metrics.
package monitor

import (
	"context"
	"log/slog"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const namespace = "openldap"

type scalarDesc struct {
	desc *prometheus.Desc
	typ  prometheus.ValueType
}

func newDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
}

var (
	upDesc = newDesc("up", "Whether slapd answered the read of cn=Monitor in this scrape (1) or not (0).")

	// scalarDescs are keyed like Stats.Values.
	scalarDescs = map[string]scalarDesc{
		"connections_current":              {newDesc("connections_current", "Client connections open now (cn=Current,cn=Connections)."), prometheus.GaugeValue},
		"connections_total":                {newDesc("connections_total", "Client connections accepted since slapd started (cn=Total,cn=Connections)."), prometheus.CounterValue},
		"connections_max_file_descriptors": {newDesc("connections_max_file_descriptors", "Most file descriptors slapd may use for connections."), prometheus.GaugeValue},
		"sent_bytes_total":                 {newDesc("sent_bytes_total", "Bytes sent to clients (cn=Bytes,cn=Statistics)."), prometheus.CounterValue},
		"sent_pdus_total":                  {newDesc("sent_pdus_total", "LDAP PDUs sent to clients (cn=PDU,cn=Statistics)."), prometheus.CounterValue},
		"sent_entries_total":               {newDesc("sent_entries_total", "Entries sent to clients (cn=Entries,cn=Statistics)."), prometheus.CounterValue},
		"sent_referrals_total":             {newDesc("sent_referrals_total", "Referrals sent to clients (cn=Referrals,cn=Statistics)."), prometheus.CounterValue},
		"threads_max":                      {newDesc("threads_max", "Size of the worker thread pool as configured."), prometheus.GaugeValue},
		"threads_max_pending":              {newDesc("threads_max_pending", "Most operations allowed to wait for a thread, as configured."), prometheus.GaugeValue},
		"threads_backload":                 {newDesc("threads_backload", "Operations running plus waiting for a thread."), prometheus.GaugeValue},
		"threads_active":                   {newDesc("threads_active", "Threads running an operation."), prometheus.GaugeValue},
		"threads_open":                     {newDesc("threads_open", "Threads in the pool."), prometheus.GaugeValue},
		"threads_starting":                 {newDesc("threads_starting", "Threads being started."), prometheus.GaugeValue},
		"threads_pending":                  {newDesc("threads_pending", "Operations waiting for a thread."), prometheus.GaugeValue},
		"waiters_read":                     {newDesc("waiters_read", "Connections waiting to read a request."), prometheus.GaugeValue},
		"waiters_write":                    {newDesc("waiters_write", "Connections waiting to write a reply."), prometheus.GaugeValue},
		"start_time_seconds":               {newDesc("start_time_seconds", "When slapd started, as a Unix timestamp."), prometheus.GaugeValue},
		"uptime_seconds":                   {newDesc("uptime_seconds", "Seconds since slapd started."), prometheus.GaugeValue},
	}
	mdbDescs = map[string]*prometheus.Desc{
		"mdb_entries":      newDesc("mdb_entries", "Entries in the mdb database.", "suffix"),
		"mdb_pages_max":    newDesc("mdb_pages_max", "Pages the mdb map can hold (maxsize / page size).", "suffix"),
		"mdb_pages_used":   newDesc("mdb_pages_used", "Pages of the mdb map in use.", "suffix"),
		"mdb_pages_free":   newDesc("mdb_pages_free", "Pages of the mdb map free for reuse.", "suffix"),
		"mdb_readers_max":  newDesc("mdb_readers_max", "Size of the mdb reader table.", "suffix"),
		"mdb_readers_used": newDesc("mdb_readers_used", "Slots of the mdb reader table in use.", "suffix"),
	}

	opInitiatedDesc = newDesc("operations_initiated_total", "Operations slapd started, by kind (cn=Operations).", "operation")
	opCompletedDesc = newDesc("operations_completed_total", "Operations slapd finished, by kind (cn=Operations).", "operation")
	serverInfoDesc  = newDesc("server_info", "The slapd version line from cn=Monitor.", "version")
	listenerDesc    = newDesc("listener_info", "A URL slapd listens on.", "listener", "url", "address")
	databaseDesc    = newDesc("database_info", "A configured database: its backend, suffix and whether it is a syncrepl consumer (shadow).", "database", "backend", "suffix", "shadow")

	csnDesc          = newDesc("replication_context_csn_timestamp_seconds", "Time of the newest change per server ID in the database's contextCSN, as a Unix timestamp.", "suffix", "server_id")
	providerUpDesc   = newDesc("replication_provider_up", "Whether the provider given by --replication.provider-uri answered (1) or not (0).")
	providerCSNDesc  = newDesc("replication_provider_context_csn_timestamp_seconds", "Time of the newest change per server ID in the provider's contextCSN of the same suffix, as a Unix timestamp.", "suffix", "server_id")
	lagDesc          = newDesc("replication_lag_seconds", "How far this server's newest change per server ID is behind the provider's (0 when level or ahead).", "suffix", "server_id")
	successDesc      = newDesc("exporter_collector_success", "Whether a part of the scrape succeeded (1) or not (0).", "collector")
	durationDesc     = newDesc("exporter_collector_duration_seconds", "How long a part of the scrape took.", "collector")
	parseErrorsDesc  = newDesc("exporter_parse_errors_total", "Monitor or contextCSN values that could not be read and were skipped.")
	describedAllOnce = sync.OnceValue(func() []*prometheus.Desc {
		d := []*prometheus.Desc{upDesc, opInitiatedDesc, opCompletedDesc, serverInfoDesc, listenerDesc, databaseDesc,
			csnDesc, providerUpDesc, providerCSNDesc, lagDesc, successDesc, durationDesc, parseErrorsDesc}
		for _, s := range scalarDescs {
			d = append(d, s.desc)
		}
		for _, m := range mdbDescs {
			d = append(d, m)
		}
		return d
	})
)

// Exporter lives as long as the process: it holds the clients (and their
// connections) and the state that must outlast one scrape.
type Exporter struct {
	local    Searcher
	provider Searcher // nil without a provider
	logger   *slog.Logger

	localErrs, providerErrs *errorLog
	parseErrors             atomic.Uint64
}

// NewExporter reads local, and provider when it is not nil.
func NewExporter(local, provider Searcher, logger *slog.Logger) *Exporter {
	return &Exporter{
		local: local, provider: provider, logger: logger,
		localErrs:    &errorLog{logger: logger.With("target", "local")},
		providerErrs: &errorLog{logger: logger.With("target", "provider")},
	}
}

// Collector returns the collector of one scrape, bounded by ctx.
func (e *Exporter) Collector(ctx context.Context) prometheus.Collector {
	return &scrape{e: e, ctx: ctx}
}

// ParseErrors is how many values were skipped so far.
func (e *Exporter) ParseErrors() uint64 { return e.parseErrors.Load() }

type scrape struct {
	e   *Exporter
	ctx context.Context
}

// Describe implements prometheus.Collector.
func (s *scrape) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range describedAllOnce() {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (s *scrape) Collect(ch chan<- prometheus.Metric) { s.e.collect(s.ctx, ch) }

func (e *Exporter) collect(ctx context.Context, ch chan<- prometheus.Metric) {
	start := time.Now()
	res, err := e.local.Search(ctx, MonitorRequest())
	if err == nil && len(res.Entries) == 0 {
		// slapd answers an ACL that hides cn=Monitor with nothing at all;
		// calling that "up" would hide a broken setup.
		err = errNoMonitorEntries
	}
	part(ch, "monitor", start, err)
	if err != nil {
		e.localErrs.failed("cannot read cn=Monitor", err)
		ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 0)
		e.emitParseErrors(ch)
		return
	}
	stats, skips := ParseMonitor(res.Entries)
	e.skipped(skips)
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 1)
	emitStats(ch, stats)

	suffixes := CSNSuffixes(stats.Databases)

	// The provider is another server: read it while the local contextCSNs
	// are read, so the two waits overlap.
	type providerResult struct {
		csns ContextCSNs
		err  error
		took time.Time
	}
	var pres chan providerResult
	if e.provider != nil {
		pres = make(chan providerResult, 1)
		go func() {
			t := time.Now()
			if len(suffixes) == 0 {
				pres <- providerResult{err: errNoSuffixes, took: t}
				return
			}
			csns, skips, err := ReadContextCSNs(ctx, e.provider, suffixes)
			e.skipped(skips)
			pres <- providerResult{csns, err, t}
		}()
	}

	t := time.Now()
	local, skips, err := ReadContextCSNs(ctx, e.local, suffixes)
	e.skipped(skips)
	part(ch, "context_csn", t, err)
	if err != nil {
		e.localErrs.failed("cannot read contextCSN", err)
	} else {
		e.localErrs.ok()
	}
	emitCSNs(ch, csnDesc, local)

	if pres != nil {
		p := <-pres
		part(ch, "provider", p.took, p.err)
		if p.err != nil {
			e.providerErrs.failed("cannot read the provider's contextCSN", p.err)
			ch <- prometheus.MustNewConstMetric(providerUpDesc, prometheus.GaugeValue, 0)
		} else {
			e.providerErrs.ok()
			ch <- prometheus.MustNewConstMetric(providerUpDesc, prometheus.GaugeValue, 1)
			emitCSNs(ch, providerCSNDesc, p.csns)
			if err == nil {
				for _, l := range ReplicationLag(p.csns, local) {
					ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, l.Seconds, l.Suffix, strconv.Itoa(l.ServerID))
				}
			}
		}
	}
	e.emitParseErrors(ch)
}

func (e *Exporter) emitParseErrors(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(parseErrorsDesc, prometheus.CounterValue, float64(e.parseErrors.Load()))
}

// skipped counts unreadable values and logs them at debug level: a slapd
// release that changes a format should not flood the log at every scrape.
func (e *Exporter) skipped(skips []*SkipError) {
	for _, s := range skips {
		if s.NotParse {
			e.logger.Debug("skipped", "dn", s.DN, "attr", s.Attr, "err", s.Err)
			continue
		}
		e.parseErrors.Add(1)
		e.logger.Debug("skipped a value that cannot be read", "dn", s.DN, "attr", s.Attr, "value", s.Value, "err", s.Err)
	}
}

func part(ch chan<- prometheus.Metric, name string, start time.Time, err error) {
	ok := 1.0
	if err != nil {
		ok = 0
	}
	ch <- prometheus.MustNewConstMetric(successDesc, prometheus.GaugeValue, ok, name)
	ch <- prometheus.MustNewConstMetric(durationDesc, prometheus.GaugeValue, time.Since(start).Seconds(), name)
}

func emitStats(ch chan<- prometheus.Metric, s *Stats) {
	for key, v := range s.Values {
		d := scalarDescs[key]
		ch <- prometheus.MustNewConstMetric(d.desc, d.typ, v)
	}
	if s.Server != "" {
		ch <- prometheus.MustNewConstMetric(serverInfoDesc, prometheus.GaugeValue, 1, s.Server)
	}
	for op, c := range s.Operations {
		if c.HasInitiated {
			ch <- prometheus.MustNewConstMetric(opInitiatedDesc, prometheus.CounterValue, c.Initiated, op)
		}
		if c.HasCompleted {
			ch <- prometheus.MustNewConstMetric(opCompletedDesc, prometheus.CounterValue, c.Completed, op)
		}
	}
	seen := map[string]bool{}
	for _, l := range s.Listeners {
		ch <- prometheus.MustNewConstMetric(listenerDesc, prometheus.GaugeValue, 1, l.Name, l.URL, l.Address)
	}
	for _, d := range s.Databases {
		shadow := d.Shadow
		if shadow == "" {
			shadow = "false"
		}
		ch <- prometheus.MustNewConstMetric(databaseDesc, prometheus.GaugeValue, 1, d.Name, d.Backend, d.Suffix, shadow)
		// Two databases cannot share a suffix in slapd; the check keeps a
		// strange answer from failing the whole scrape with a duplicate.
		if d.Suffix == "" || seen[d.Suffix] {
			continue
		}
		seen[d.Suffix] = true
		for key, v := range d.MDB {
			ch <- prometheus.MustNewConstMetric(mdbDescs[key], prometheus.GaugeValue, v, d.Suffix)
		}
	}
}

func emitCSNs(ch chan<- prometheus.Metric, desc *prometheus.Desc, csns ContextCSNs) {
	for suffix, m := range csns {
		sids := make([]int, 0, len(m))
		for sid := range m {
			sids = append(sids, sid)
		}
		sort.Ints(sids)
		for _, sid := range sids {
			t := m[sid].Time
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue,
				float64(t.UnixNano())/1e9, suffix, strconv.Itoa(sid))
		}
	}
}

// errorLog logs a failure once at error level and its repeats at debug
// level, until the failure changes or goes away: a slapd that is down for
// an hour must not write a line per scrape.
type errorLog struct {
	logger *slog.Logger

	mu      sync.Mutex
	last    string
	failing bool
}

// numbers differ between repeats of the same failure (client ports,
// timings), so they do not count as a change.
var numbers = regexp.MustCompile(`[0-9]+`)

func (l *errorLog) failed(msg string, err error) {
	key := msg + ": " + numbers.ReplaceAllString(err.Error(), "#")
	l.mu.Lock()
	repeat := l.failing && key == l.last
	l.failing, l.last = true, key
	l.mu.Unlock()
	if repeat {
		l.logger.Debug(msg+" (repeated)", "err", err)
		return
	}
	l.logger.Error(msg, "err", err)
}

func (l *errorLog) ok() {
	l.mu.Lock()
	was := l.failing
	l.failing, l.last = false, ""
	l.mu.Unlock()
	if was {
		l.logger.Info("reading works again")
	}
}
