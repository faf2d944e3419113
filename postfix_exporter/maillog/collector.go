// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package maillog

import (
	"context"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

const namespace = "postfix"

// Buckets of the delivery delay histograms, in seconds: from a local
// delivery to a message that waited days in the deferred queue.
var delayBuckets = []float64{0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400, 432000}

// counterFamily is a counter vector whose first labels come from the
// program (daemon, when withDaemon, then instance and service).
type counterFamily struct {
	id         uint8
	vec        *prometheus.CounterVec
	withDaemon bool
	extra      int
}

type histFamily struct {
	id    uint8
	vec   *prometheus.HistogramVec
	extra int
}

// key identifies one child of a family for one program.
type key struct {
	id            uint8
	a, b, c, d, e string
}

// key1 is key for children with at most one extra label value.
type key1 struct {
	id uint8
	a  string
}

// key2 identifies a histogram child by up to two extra label values.
type key2 struct {
	id   uint8
	a, b string
}

// maxFamilies bounds the family IDs the per-program arrays cover.
const maxFamilies = 64

type lastCounter struct {
	a string
	c prometheus.Counter
}

// program is the per-program cache of metric children, so that a line
// costs one map lookup instead of a label hash in client_golang.
type program struct {
	p     *Program
	ctrs  map[key]prometheus.Counter
	ctrs1 map[key1]prometheus.Counter
	obs   map[key2]prometheus.Observer
	gs    map[key]prometheus.Gauge
	last  [maxFamilies]lastCounter
	// stages caches the delay histogram children of one family, by stage.
	stages [maxFamilies]*[4]prometheus.Observer
}

// Collector counts Postfix log events. It lives as long as the process:
// register it once and feed it lines from one or more sources.
type Collector struct {
	logger *slog.Logger
	debug  bool

	mu       sync.Mutex
	parser   *Parser
	ev       Event
	programs []*program
	foreign  prometheus.Counter
	garbage  prometheus.Counter

	lines     prometheus.Counter
	sourceUp  *prometheus.GaugeVec
	counters  []*counterFamily
	hists     []*histFamily
	anvilVec  *prometheus.GaugeVec
	delayVecs map[daemon]*histFamily

	messages, unsupported                                                       *counterFamily
	connects, disconnects, lost, timeouts, tooMany, processed, rejected, access *counterFamily
	fcrdns, saslFail, smtpdTLS                                                  *counterFamily
	smtpTLS, connErrors, connTimedOut, smtpLost, smtpDeferred                   *counterFamily
	deliveries, milter                                                          *counterFamily
	cleanupProcessed, cleanupRejected, cleanupNotAccepted, cleanupActions       *counterFamily
	qmgrRemoved, qmgrExpired, bounce, pickup, postscreen, dnsblog, scache       *counterFamily
	master                                                                      *counterFamily
	insertSize, insertRcpt                                                      *histFamily
}

// New returns a Collector. logger gets unrecognised lines at debug level.
func New(logger *slog.Logger) *Collector {
	c := &Collector{
		logger:    logger,
		debug:     logger.Enabled(context.Background(), slog.LevelDebug),
		parser:    NewParser(),
		delayVecs: map[daemon]*histFamily{},
	}
	c.lines = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "log_lines_total",
		Help: "Log lines read from the log source, recognised or not.",
	})
	c.sourceUp = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Name: "log_source_up",
		Help: "Whether the log source (file or journal) is open and being read.",
	}, []string{"source"})
	c.anvilVec = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Subsystem: "anvil", Name: "max_value",
		Help: "Last peak value anvil logged in its statistics, by statistic.",
	}, []string{"instance", "service", "statistic"})

	cf := func(subsystem, name, help string, withDaemon bool, extra ...string) *counterFamily {
		labels := []string{"instance", "service"}
		if withDaemon {
			labels = append([]string{"daemon"}, labels...)
		}
		f := &counterFamily{id: uint8(len(c.counters)), withDaemon: withDaemon, extra: len(extra),
			vec: prometheus.NewCounterVec(prometheus.CounterOpts{
				Namespace: namespace, Subsystem: subsystem, Name: name, Help: help,
			}, append(labels, extra...))}
		c.counters = append(c.counters, f)
		return f
	}
	hf := func(subsystem, name, help string, buckets []float64, extra ...string) *histFamily {
		f := &histFamily{id: uint8(len(c.hists)), extra: len(extra),
			vec: prometheus.NewHistogramVec(prometheus.HistogramOpts{
				Namespace: namespace, Subsystem: subsystem, Name: name, Help: help, Buckets: buckets,
			}, append([]string{"instance", "service"}, extra...))}
		c.hists = append(c.hists, f)
		return f
	}

	c.messages = cf("", "log_messages_total", "Postfix log lines by program and severity.", true, "severity")
	c.unsupported = cf("", "unsupported_log_entries_total",
		"Log lines of Postfix programs that were not recognised; foreign and garbage lines have daemon=\"foreign\" or \"garbage\".", true)
	c.foreign = c.unsupported.vec.WithLabelValues("foreign", "", "")
	c.garbage = c.unsupported.vec.WithLabelValues("garbage", "", "")

	c.connects = cf("smtpd", "connects_total", "Connections accepted by smtpd.", false)
	c.disconnects = cf("smtpd", "disconnects_total", "Connections closed by smtpd.", false)
	c.lost = cf("smtpd", "connections_lost_total", "Connections the client dropped, by the SMTP stage it dropped after.", false, "after_stage")
	c.timeouts = cf("smtpd", "timeouts_total", "Connections that timed out, by SMTP stage.", false, "after_stage")
	c.tooMany = cf("smtpd", "too_many_errors_total", "Connections closed for too many errors, by SMTP stage.", false, "after_stage")
	c.processed = cf("smtpd", "messages_processed_total", "Messages accepted by smtpd (a queue ID assigned to a client), by SASL method.", false, "sasl_method")
	c.rejected = cf("smtpd", "messages_rejected_total", "Rejected SMTP commands (NOQUEUE and queue-ID rejects), by command, reply code and reason class.", false, "command", "code", "reason")
	c.access = cf("smtpd", "access_actions_total", "access(5) actions other than reject taken by smtpd.", false, "action", "command")
	c.fcrdns = cf("smtpd", "forward_confirmed_reverse_dns_errors_total", "Clients whose reverse DNS name did not resolve back to their address.", false)
	c.saslFail = cf("smtpd", "sasl_authentication_failures_total", "Failed SASL authentications.", false)
	tlsLabels := []string{"trust", "protocol", "cipher", "secret_bits", "algorithm_bits"}
	c.smtpdTLS = cf("smtpd", "tls_connections_total", "Incoming TLS connections.", false, tlsLabels...)
	c.smtpTLS = cf("smtp", "tls_connections_total", "Outgoing TLS connections (smtp and lmtp).", false, tlsLabels...)
	c.connErrors = cf("smtp", "connection_errors_total", "Failed outgoing connections (smtp and lmtp), by reason.", false, "reason")
	c.connTimedOut = cf("smtp", "connection_timed_out_total", "Outgoing connections that timed out.", false)
	c.smtpLost = cf("smtp", "connections_lost_total", "Outgoing connections lost during the SMTP session.", false)
	c.smtpDeferred = cf("smtp", "deferred_messages_total", "Deliveries by smtp with status=deferred.", false)
	c.deliveries = cf("", "deliveries_total", "Delivery attempts per recipient by delivery agent and status.", true, "status")
	c.milter = cf("", "milter_actions_total", "Milter actions (milter-reject, milter-discard, ...) by program and SMTP stage.", true, "action", "command")
	c.cleanupProcessed = cf("cleanup", "messages_processed_total", "Messages processed by cleanup.", false)
	c.cleanupRejected = cf("cleanup", "messages_rejected_total", "Messages rejected by cleanup (header/body checks or milter).", false)
	c.cleanupNotAccepted = cf("cleanup", "messages_not_accepted_total", "Messages cleanup did not accept.", false)
	c.cleanupActions = cf("cleanup", "actions_total", "header_checks/body_checks actions taken by cleanup.", false, "action")
	c.qmgrRemoved = cf("qmgr", "messages_removed_total", "Messages removed from the queue.", false)
	c.qmgrExpired = cf("qmgr", "messages_expired_total", "Messages that expired in the queue and were returned.", false)
	c.bounce = cf("bounce", "notifications_total", "Notifications sent by bounce, by kind.", false, "kind")
	c.pickup = cf("pickup", "messages_total", "Messages picked up from the maildrop queue.", false)
	c.postscreen = cf("postscreen", "actions_total", "postscreen events by action.", false, "action")
	c.dnsblog = cf("dnsblog", "listings_total", "Client addresses found listed, by DNSBL domain.", false, "domain")
	c.scache = cf("scache", "lookups_total", "Connection cache lookups, by lookup type and result.", false, "type", "result")
	c.master = cf("master", "events_total", "master(8) events: started, reloaded, terminated, process_exited, process_killed, throttled.", false, "event")

	c.insertSize = hf("qmgr", "messages_inserted_size_bytes", "Size of messages inserted into the active queue.",
		[]float64{1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9})
	c.insertRcpt = hf("qmgr", "messages_inserted_recipients", "Recipients per message inserted into the active queue.",
		[]float64{1, 2, 4, 8, 16, 32, 64, 128})
	for _, d := range []struct {
		kind daemon
		name string
	}{{dSMTP, "smtp"}, {dLMTP, "lmtp"}, {dLocal, "local"}, {dVirtual, "virtual"}} {
		c.delayVecs[d.kind] = hf(d.name, "delivery_delay_seconds",
			"Delivery delays of "+d.name+" by stage: before_queue_manager, queue_manager, connection_setup, transmission.",
			delayBuckets, "stage")
	}
	c.delayVecs[dPipe] = hf("pipe", "delivery_delay_seconds",
		"Delivery delays of pipe by transport (relay) and stage: before_queue_manager, queue_manager, connection_setup, transmission.",
		delayBuckets, "relay", "stage")
	if len(c.counters) > maxFamilies || len(c.hists) > maxFamilies {
		panic("maillog: more metric families than the per-program caches hold")
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	c.lines.Describe(ch)
	c.sourceUp.Describe(ch)
	c.anvilVec.Describe(ch)
	for _, f := range c.counters {
		f.vec.Describe(ch)
	}
	for _, f := range c.hists {
		f.vec.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.lines.Collect(ch)
	c.sourceUp.Collect(ch)
	c.anvilVec.Collect(ch)
	for _, f := range c.counters {
		f.vec.Collect(ch)
	}
	for _, f := range c.hists {
		f.vec.Collect(ch)
	}
}

// SetSourceUp records whether a log source is being read.
func (c *Collector) SetSourceUp(source string, up bool) {
	v := 0.0
	if up {
		v = 1
	}
	c.sourceUp.WithLabelValues(source).Set(v)
}

// ProcessLine counts one syslog-shaped line (without its newline).
func (c *Collector) ProcessLine(line []byte) {
	c.mu.Lock()
	c.parser.Parse(line, &c.ev)
	c.apply(&c.ev, line)
	c.mu.Unlock()
}

// ProcessMessage counts one message whose syslog identifier is known, as
// the journal gives them.
func (c *Collector) ProcessMessage(tag, msg []byte) {
	c.mu.Lock()
	c.parser.ParseMessage(tag, msg, &c.ev)
	c.apply(&c.ev, msg)
	c.mu.Unlock()
}

func (c *Collector) prog(p *Program) *program {
	for len(c.programs) <= p.ID {
		c.programs = append(c.programs, nil)
	}
	pr := c.programs[p.ID]
	if pr == nil {
		pr = &program{p: p, ctrs: map[key]prometheus.Counter{}, ctrs1: map[key1]prometheus.Counter{}, obs: map[key2]prometheus.Observer{}, gs: map[key]prometheus.Gauge{}}
		c.programs[p.ID] = pr
	}
	return pr
}

func (pr *program) inc(f *counterFamily, a, b, c, d, e string) {
	pr.add(f, 1, a, b, c, d, e)
}

func (pr *program) add(f *counterFamily, v float64, a, b, c, d, e string) {
	// Most lines touch families with at most one extra label: a smaller key
	// hashes faster.
	if b == "" && c == "" && d == "" && e == "" {
		// A program mostly repeats the last value of a family (severity
		// info, status sent): compare before hashing.
		if l := &pr.last[f.id]; l.c != nil && l.a == a {
			l.c.Add(v)
			return
		}
		k := key1{f.id, a}
		ctr, ok := pr.ctrs1[k]
		if !ok {
			ctr = f.vec.WithLabelValues(pr.labels(f.withDaemon, f.extra, a, b, c, d, e)...)
			pr.ctrs1[k] = ctr
		}
		pr.last[f.id] = lastCounter{a, ctr}
		ctr.Add(v)
		return
	}
	k := key{f.id, a, b, c, d, e}
	ctr, ok := pr.ctrs[k]
	if !ok {
		ctr = f.vec.WithLabelValues(pr.labels(f.withDaemon, f.extra, a, b, c, d, e)...)
		pr.ctrs[k] = ctr
	}
	ctr.Add(v)
}

func (pr *program) observe(f *histFamily, v float64, a, b string) {
	k := key2{f.id, a, b}
	o, ok := pr.obs[k]
	if !ok {
		o = f.vec.WithLabelValues(pr.labels(false, f.extra, a, b, "", "", "")...)
		pr.obs[k] = o
	}
	o.Observe(v)
}

func (pr *program) observeStage(f *histFamily, st int, v float64) {
	obs := pr.stages[f.id]
	if obs == nil {
		obs = new([4]prometheus.Observer)
		for i := range obs {
			obs[i] = f.vec.WithLabelValues(pr.p.Instance, pr.p.Service, StageNames[i])
		}
		pr.stages[f.id] = obs
	}
	obs[st].Observe(v)
}

// labels builds the label values of a new child; only on a cache miss.
func (pr *program) labels(withDaemon bool, n int, a, b, c, d, e string) []string {
	l := make([]string, 0, 8)
	if withDaemon {
		l = append(l, pr.p.Daemon)
	}
	l = append(l, pr.p.Instance, pr.p.Service)
	return append(l, []string{a, b, c, d, e}[:n]...)
}

// apply turns an event into metric updates.
func (c *Collector) apply(ev *Event, line []byte) {
	c.lines.Inc()
	switch ev.Kind {
	case KindGarbage:
		c.garbage.Inc()
		c.logUnsupported(line)
		return
	case KindForeign:
		c.foreign.Inc()
		c.logUnsupported(line)
		return
	}
	pr := c.prog(ev.Program)
	pr.inc(c.messages, ev.Severity, "", "", "", "")
	switch ev.Kind {
	case KindUnsupported:
		pr.inc(c.unsupported, "", "", "", "", "")
		c.logUnsupported(line)
	case KindConnect:
		pr.inc(c.connects, "", "", "", "", "")
	case KindDisconnect:
		pr.inc(c.disconnects, "", "", "", "", "")
	case KindLostConnection:
		if ev.Program.kind == dSMTPD {
			pr.inc(c.lost, ev.Command, "", "", "", "")
		} else {
			pr.inc(c.smtpLost, "", "", "", "", "")
		}
	case KindTimeout:
		pr.inc(c.timeouts, ev.Command, "", "", "", "")
	case KindTooManyErrors:
		pr.inc(c.tooMany, ev.Command, "", "", "", "")
	case KindClient:
		pr.inc(c.processed, ev.SASL, "", "", "", "")
	case KindReject:
		pr.inc(c.rejected, ev.Command, ev.Code, ev.Reason, "", "")
	case KindAccessAction:
		pr.inc(c.access, ev.Action, ev.Command, "", "", "")
	case KindFCrDNSError:
		pr.inc(c.fcrdns, "", "", "", "", "")
	case KindSASLFailure:
		pr.inc(c.saslFail, "", "", "", "", "")
	case KindTLS:
		f := c.smtpTLS
		if ev.Program.kind == dSMTPD {
			f = c.smtpdTLS
		}
		pr.inc(f, ev.Trust, ev.Protocol, ev.Cipher, ev.SecretBits, ev.AlgBits)
	case KindMilter:
		pr.inc(c.milter, ev.Action, ev.Command, "", "", "")
		if ev.Program.kind == dCleanup && ev.Action == "reject" {
			pr.inc(c.cleanupRejected, "", "", "", "", "")
		}
	case KindCleanupMessage:
		pr.inc(c.cleanupProcessed, "", "", "", "", "")
	case KindCleanupAction:
		pr.inc(c.cleanupActions, ev.Action, "", "", "", "")
		if ev.Action == "reject" {
			pr.inc(c.cleanupRejected, "", "", "", "", "")
		}
	case KindCleanupNotAccepted:
		pr.inc(c.cleanupNotAccepted, "", "", "", "", "")
	case KindQmgrInsert:
		pr.observe(c.insertSize, ev.Size, "", "")
		pr.observe(c.insertRcpt, ev.Nrcpt, "", "")
	case KindQmgrRemoved:
		pr.inc(c.qmgrRemoved, "", "", "", "", "")
	case KindQmgrExpired:
		pr.inc(c.qmgrExpired, "", "", "", "", "")
	case KindDelivery:
		pr.inc(c.deliveries, ev.Status, "", "", "", "")
		d := ev.Program.kind
		if d == dSMTP && ev.Status == "deferred" {
			pr.inc(c.smtpDeferred, "", "", "", "", "")
		}
		if f := c.delayVecs[d]; f != nil && ev.HasDelays {
			for st, v := range ev.Delays {
				if d == dPipe {
					pr.observe(f, v, ev.Relay, StageNames[st])
				} else {
					pr.observeStage(f, st, v)
				}
			}
		}
	case KindConnectError:
		pr.inc(c.connErrors, ev.Reason, "", "", "", "")
		if ev.Reason == "timed_out" {
			pr.inc(c.connTimedOut, "", "", "", "", "")
		}
	case KindBounce:
		pr.inc(c.bounce, ev.Action, "", "", "", "")
	case KindPickup:
		pr.inc(c.pickup, "", "", "", "", "")
	case KindPostscreen:
		pr.inc(c.postscreen, ev.Action, "", "", "", "")
	case KindDNSBLog:
		pr.inc(c.dnsblog, ev.Action, "", "", "", "")
	case KindAnvil:
		k := key{255, ev.Status, "", "", "", ""}
		g, ok := pr.gs[k]
		if !ok {
			g = c.anvilVec.WithLabelValues(pr.p.Instance, pr.p.Service, ev.Status)
			pr.gs[k] = g
		}
		g.Set(ev.Value)
	case KindScache:
		pr.add(c.scache, ev.Value, ev.Status, "hit", "", "", "")
		pr.add(c.scache, ev.Value2, ev.Status, "miss", "", "", "")
	case KindMaster:
		pr.inc(c.master, ev.Action, "", "", "", "")
	}
}

func (c *Collector) logUnsupported(line []byte) {
	if !c.debug {
		return
	}
	if len(line) > 1024 {
		line = line[:1024]
	}
	c.logger.Debug("unrecognised log line", "line", string(line))
}
