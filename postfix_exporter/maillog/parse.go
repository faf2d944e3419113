// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package maillog

import (
	"bytes"
	"strconv"
	"unsafe"
)

// Kind says what a log line reports.
type Kind uint8

// The kinds of events. KindOther is a Postfix line that is understood but
// counts nowhere except in the per-severity line counter.
const (
	KindGarbage     Kind = iota // no syslog header
	KindForeign                 // a program other than Postfix
	KindUnsupported             // a Postfix line the parser does not know
	KindOther
	KindConnect
	KindDisconnect
	KindLostConnection
	KindTimeout
	KindTooManyErrors
	KindClient
	KindReject
	KindAccessAction
	KindFCrDNSError
	KindSASLFailure
	KindTLS
	KindMilter
	KindCleanupMessage
	KindCleanupAction
	KindCleanupNotAccepted
	KindQmgrInsert
	KindQmgrRemoved
	KindQmgrExpired
	KindDelivery
	KindConnectError
	KindBounce
	KindPickup
	KindDNSBLog
	KindAnvil
	KindScache
	KindMaster
	KindPostscreen
)

var kindNames = [...]string{
	"garbage", "foreign", "unsupported", "other", "connect", "disconnect",
	"lost_connection", "timeout", "too_many_errors", "client", "reject",
	"access_action", "fcrdns_error", "sasl_failure", "tls", "milter",
	"cleanup_message", "cleanup_action", "cleanup_not_accepted",
	"qmgr_insert", "qmgr_removed", "qmgr_expired", "delivery",
	"connect_error", "bounce", "pickup", "dnsblog", "anvil", "scache",
	"master", "postscreen",
}

// String names the kind.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind" + strconv.Itoa(int(k))
}

// Delay stages of a delivery's delays=a/b/c/d field, in Postfix's order.
const (
	StageBeforeQmgr = iota
	StageInQmgr
	StageConnSetup
	StageTransmission
)

// StageNames are the values of the stage label.
var StageNames = [4]string{"before_queue_manager", "queue_manager", "connection_setup", "transmission"}

// Event is one parsed line. String fields hold label values from bounded
// sets (constants, or interned values capped in number), never addresses,
// hosts or queue IDs.
type Event struct {
	Kind     Kind
	Program  *Program // nil for garbage and foreign lines
	Severity string   // info, warning, error, fatal, panic

	Status  string // delivery status; anvil/scache/master/postscreen sub-kind
	Command string // SMTP command of a reject or lost connection
	Code    string // SMTP reply code of a reject
	Reason  string // reject reason class; connect error class
	Action  string // milter, access, cleanup, postscreen, bounce action
	Relay   string // pipe transport name
	SASL    string // SASL method of an accepted message

	// TLS connection parameters.
	Trust, Protocol, Cipher, SecretBits, AlgBits string

	Size, Nrcpt float64    // qmgr insert
	Delays      [4]float64 // delivery delays per stage
	HasDelays   bool
	Value       float64 // anvil statistic; scache hits
	Value2      float64 // scache misses
}

// maxPrograms and maxFree cap what hostile or broken input can add to the
// label sets.
const (
	maxPrograms = 256
	maxFree     = 256
)

// Parser turns lines into events. It keeps a cache of programs and of
// free-form label values, so it is not safe for concurrent use.
type Parser struct {
	programs map[string]*Program
	overflow *Program
	list     []*Program
	free     map[string]string
}

// NewParser returns an empty parser.
func NewParser() *Parser {
	return &Parser{programs: map[string]*Program{}, free: map[string]string{}}
}

// Programs returns the programs seen so far, indexed by ID.
func (p *Parser) Programs() []*Program { return p.list }

// Parse parses one syslog-shaped line into ev.
func (p *Parser) Parse(line []byte, ev *Event) {
	*ev = Event{}
	tag, msg, ok := SplitLine(line)
	if !ok {
		ev.Kind = KindGarbage
		return
	}
	p.parseMessage(tag, msg, ev)
}

// ParseMessage parses a message whose tag (syslog identifier) is already
// split off, as the journal gives it.
func (p *Parser) ParseMessage(tag, msg []byte, ev *Event) {
	*ev = Event{}
	p.parseMessage(tag, msg, ev)
}

func (p *Parser) parseMessage(tag, msg []byte, ev *Event) {
	prog := p.program(tag)
	if prog == nil {
		ev.Kind = KindForeign
		return
	}
	ev.Program = prog
	ev.Severity = "info"
	switch {
	case hasPrefix(msg, "warning: "):
		ev.Severity = "warning"
	case hasPrefix(msg, "error: "):
		ev.Severity = "error"
	case hasPrefix(msg, "fatal: "):
		ev.Severity = "fatal"
	case hasPrefix(msg, "panic: "):
		ev.Severity = "panic"
	}
	ev.Kind = KindUnsupported
	p.parse(prog.kind, msg, ev)
	if ev.Kind == KindUnsupported && ev.Severity != "info" {
		// Postfix's warnings are free text; each is known by its severity.
		ev.Kind = KindOther
	}
}

func (p *Parser) program(tag []byte) *Program {
	if pr, ok := p.programs[string(tag)]; ok {
		return pr
	}
	pr, ok := parseTag(tag)
	if !ok {
		return nil
	}
	if len(p.list) >= maxPrograms {
		// Keep the daemon, which is bounded, and fold the rest.
		key := "\x00" + pr.Daemon
		if o, ok := p.programs[key]; ok {
			return o
		}
		pr.Instance, pr.Service = "other", "other"
		pr.ID = len(p.list)
		p.list = append(p.list, &pr)
		p.programs[key] = &pr
		return &pr
	}
	pr.ID = len(p.list)
	p.list = append(p.list, &pr)
	p.programs[string(tag)] = &pr
	return &pr
}

// intern returns a label value for free-form text from the log (a DNSBL
// domain, a pipe transport, a cipher), or "other" once too many were seen
// or the text is not a plain token.
func (p *Parser) intern(b []byte) string {
	if s, ok := p.free[string(b)]; ok {
		return s
	}
	if len(b) == 0 || len(b) > 64 || len(p.free) >= maxFree {
		return "other"
	}
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '+') {
			return "other"
		}
	}
	s := string(b)
	p.free[s] = s
	return s
}

func hasPrefix(b []byte, s string) bool {
	return len(b) >= len(s) && string(b[:len(s)]) == s
}

func contains(b []byte, s string) bool {
	return bytes.Contains(b, unsafe.Slice(unsafe.StringData(s), len(s)))
}

func index(b []byte, s string) int {
	return bytes.Index(b, unsafe.Slice(unsafe.StringData(s), len(s)))
}

// cutQueueID splits "QUEUEID: rest". Short IDs are upper-case hex, long
// ones (enable_long_queue_ids) base 52; both are alphanumeric.
func cutQueueID(msg []byte) (rest []byte, ok bool) {
	i := 0
	for i < len(msg) && i <= 20 {
		c := msg[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			break
		}
		i++
	}
	if i < 5 || i+1 >= len(msg) || msg[i] != ':' || msg[i+1] != ' ' {
		return nil, false
	}
	return msg[i+2:], true
}

func (p *Parser) parse(d daemon, msg []byte, ev *Event) {
	switch d {
	case dSMTPD:
		p.smtpd(msg, ev)
	case dSMTP, dLMTP:
		p.smtp(msg, ev)
	case dCleanup:
		p.cleanup(msg, ev)
	case dQmgr, dOQmgr:
		p.qmgr(msg, ev)
	case dLocal, dVirtual, dPipe, dError, dDiscard:
		if rest, ok := cutQueueID(msg); ok && hasPrefix(rest, "to=<") {
			p.delivery(d, rest, ev)
		} else if ok {
			ev.Kind = KindOther
		}
	case dBounce:
		p.bounce(msg, ev)
	case dPickup:
		if rest, ok := cutQueueID(msg); ok && hasPrefix(rest, "uid=") {
			ev.Kind = KindPickup
		}
	case dPostscreen:
		p.postscreen(msg, ev)
	case dDNSBLog:
		// addr 192.0.2.1 listed by domain zen.spamhaus.org as 127.0.0.2
		if hasPrefix(msg, "addr ") {
			if i := index(msg, " listed by domain "); i > 0 {
				d := msg[i+len(" listed by domain "):]
				if j := bytes.IndexByte(d, ' '); j > 0 {
					d = d[:j]
				}
				ev.Kind, ev.Action = KindDNSBLog, p.intern(d)
			}
		}
	case dAnvil:
		p.anvil(msg, ev)
	case dScache:
		p.scache(msg, ev)
	case dMaster:
		p.master(msg, ev)
	case dPostfixScript:
		if hasPrefix(msg, "starting the Postfix") || hasPrefix(msg, "stopping the Postfix") ||
			hasPrefix(msg, "refreshing the Postfix") || hasPrefix(msg, "waiting for the Postfix") {
			ev.Kind = KindOther
		}
	case dPostsuper:
		if rest, ok := cutQueueID(msg); ok && (hasPrefix(rest, "removed") || hasPrefix(rest, "placed on hold") ||
			hasPrefix(rest, "released from hold") || hasPrefix(rest, "requeued")) {
			ev.Kind = KindOther
		} else if hasPrefix(msg, "Deleted: ") || hasPrefix(msg, "Requeued: ") || hasPrefix(msg, "Placed on hold: ") ||
			hasPrefix(msg, "Released from hold: ") {
			ev.Kind = KindOther
		}
	case dTLSMgr, dTLSProxy:
		if contains(msg, "TLS connection established") || hasPrefix(msg, "CONNECT ") || hasPrefix(msg, "DISCONNECT ") {
			ev.Kind = KindOther
		}
	case dVerify:
		if hasPrefix(msg, "cache ") {
			ev.Kind = KindOther
		}
	case dPostfixCmd:
		ev.Kind = KindOther
	case dPostlogd:
		if hasPrefix(msg, "daemon started") {
			ev.Kind = KindOther
		}
	}
}

func (p *Parser) smtpd(msg []byte, ev *Event) {
	switch {
	case hasPrefix(msg, "connect from "):
		ev.Kind = KindConnect
	case hasPrefix(msg, "disconnect from "):
		ev.Kind = KindDisconnect
	case hasPrefix(msg, "lost connection after "):
		ev.Kind = KindLostConnection
		ev.Command = afterCommand(msg[len("lost connection after "):])
	case hasPrefix(msg, "timeout after "):
		ev.Kind = KindTimeout
		ev.Command = afterCommand(msg[len("timeout after "):])
	case hasPrefix(msg, "too many errors after "):
		ev.Kind = KindTooManyErrors
		ev.Command = afterCommand(msg[len("too many errors after "):])
	case hasPrefix(msg, "NOQUEUE: "):
		p.smtpdAction(msg[len("NOQUEUE: "):], ev)
	case hasPrefix(msg, "warning: "):
		w := msg[len("warning: "):]
		switch {
		case contains(w, "authentication failed"):
			ev.Kind = KindSASLFailure
		case contains(w, " does not resolve to address ") || contains(w, "verification failed") ||
			contains(w, "address not listed for hostname"):
			ev.Kind = KindFCrDNSError
		}
	case contains(msg, " TLS connection established from "):
		p.tls(msg, ev)
	case hasPrefix(msg, "improper command pipelining after ") || hasPrefix(msg, "SSL_accept error from ") ||
		hasPrefix(msg, "setting up TLS connection from ") || hasPrefix(msg, "discarding EHLO keywords") ||
		hasPrefix(msg, "proxy-accept: ") || hasPrefix(msg, "proxy-reject: ") || hasPrefix(msg, "Anonymous TLS") ||
		hasPrefix(msg, "non-SMTP command from ") || hasPrefix(msg, "hangup after "):
		ev.Kind = KindOther
	default:
		rest, ok := cutQueueID(msg)
		if !ok {
			return
		}
		if hasPrefix(rest, "client=") {
			ev.Kind = KindClient
			if i := index(rest, ", sasl_method="); i >= 0 {
				m := rest[i+len(", sasl_method="):]
				if j := bytes.IndexByte(m, ','); j >= 0 {
					m = m[:j]
				}
				ev.SASL = p.intern(m)
			}
			return
		}
		p.smtpdAction(rest, ev)
	}
}

// smtpdAction handles "reject: RCPT from ...: 550 5.1.1 <a@b>: Recipient
// address rejected: ...; from=<...> to=<...> proto=ESMTP helo=<...>" and the
// other access(5) actions, after the queue ID or NOQUEUE.
func (p *Parser) smtpdAction(rest []byte, ev *Event) {
	i := bytes.IndexByte(rest, ':')
	if i <= 0 || i+2 > len(rest) {
		return
	}
	action := rest[:i]
	rest = rest[i+2:]
	cmdEnd := bytes.IndexByte(rest, ' ')
	if cmdEnd <= 0 {
		return
	}
	cmd := smtpCommand(rest[:cmdEnd])
	switch string(action) {
	case "reject":
		ev.Kind = KindReject
		ev.Command = cmd
		// The reply follows the client ("from host[addr]: " in smtpd,
		// "from [addr]:port: " in postscreen).
		if j := index(rest, ": "); j >= 0 {
			reply := rest[j+2:]
			ev.Code = replyCode(reply)
			ev.Reason = rejectReason(reply)
		} else {
			ev.Code, ev.Reason = "other", "other"
		}
	case "milter-reject", "milter-discard", "milter-hold", "milter-redirect", "milter-tempfail", "milter-quarantine":
		ev.Kind = KindMilter
		ev.Action = milterAction(action)
		ev.Command = cmd
	case "reject_warning", "warn", "hold", "discard", "filter", "redirect", "prepend", "info", "bcc", "dunno", "permit":
		ev.Kind = KindAccessAction
		ev.Action = accessAction(action)
		ev.Command = cmd
	case "lost connection", "client":
		ev.Kind = KindOther
	}
}

func milterAction(b []byte) string {
	switch string(b) {
	case "milter-reject":
		return "reject"
	case "milter-discard":
		return "discard"
	case "milter-hold":
		return "hold"
	case "milter-redirect":
		return "redirect"
	case "milter-tempfail":
		return "tempfail"
	case "milter-quarantine":
		return "quarantine"
	}
	return "other"
}

func accessAction(b []byte) string {
	switch string(b) {
	case "reject_warning":
		return "reject_warning"
	case "warn":
		return "warn"
	case "warning":
		return "warning"
	case "hold":
		return "hold"
	case "discard":
		return "discard"
	case "filter":
		return "filter"
	case "redirect":
		return "redirect"
	case "prepend":
		return "prepend"
	case "replace":
		return "replace"
	case "info":
		return "info"
	case "bcc":
		return "bcc"
	case "dunno":
		return "dunno"
	case "permit":
		return "permit"
	case "reject":
		return "reject"
	case "strip":
		return "strip"
	case "ignore":
		return "ignore"
	}
	return "other"
}

// afterCommand returns the SMTP stage from "DATA (0 bytes) from ..." or
// "END-OF-MESSAGE from ...".
func afterCommand(b []byte) string {
	i := 0
	for i < len(b) && b[i] != ' ' && b[i] != '(' {
		i++
	}
	return smtpCommand(b[:i])
}

// smtpCommand maps an SMTP command word to a constant label value.
func smtpCommand(b []byte) string {
	switch string(b) {
	case "CONNECT":
		return "CONNECT"
	case "EHLO":
		return "EHLO"
	case "HELO":
		return "HELO"
	case "STARTTLS":
		return "STARTTLS"
	case "AUTH":
		return "AUTH"
	case "MAIL":
		return "MAIL"
	case "RCPT":
		return "RCPT"
	case "DATA":
		return "DATA"
	case "BDAT":
		return "BDAT"
	case "END-OF-MESSAGE":
		return "END-OF-MESSAGE"
	case "RSET":
		return "RSET"
	case "NOOP":
		return "NOOP"
	case "QUIT":
		return "QUIT"
	case "VRFY":
		return "VRFY"
	case "ETRN":
		return "ETRN"
	case "XCLIENT":
		return "XCLIENT"
	case "XFORWARD":
		return "XFORWARD"
	case "UNKNOWN":
		return "UNKNOWN"
	case "HELP":
		return "HELP"
	}
	return "other"
}

// replyCode returns a three-digit SMTP reply code as a constant.
func replyCode(b []byte) string {
	if len(b) < 4 || b[3] != ' ' || b[0] < '2' || b[0] > '5' || b[1] < '0' || b[1] > '9' || b[2] < '0' || b[2] > '9' {
		return "other"
	}
	return replyCodes[int(b[0]-'0')*100+int(b[1]-'0')*10+int(b[2]-'0')-200]
}

var replyCodes = func() (s [400]string) {
	for i := range s {
		s[i] = strconv.Itoa(200 + i)
	}
	return
}()

// rejectReason sorts the reply text of a reject into a few classes; the
// order matters, as a DNSBL reject also says "Client host rejected".
func rejectReason(reply []byte) string {
	switch {
	case contains(reply, "User unknown") || contains(reply, "user unknown") || contains(reply, "Recipient address rejected: undeliverable"):
		return "unknown_user"
	case contains(reply, "Relay access denied"):
		return "relay_denied"
	case contains(reply, " blocked using "):
		return "dnsbl"
	case contains(reply, "reylist"):
		return "greylist"
	case contains(reply, "Helo command rejected"):
		return "helo"
	case contains(reply, "Sender address rejected"):
		return "sender"
	case contains(reply, "Recipient address rejected"):
		return "recipient"
	case contains(reply, "Client host rejected"):
		return "client"
	case contains(reply, "Data command rejected") || contains(reply, "Improper use of SMTP command pipelining"):
		return "protocol"
	case contains(reply, "Message size exceeds") || contains(reply, "message size"):
		return "size"
	case contains(reply, "Insufficient system storage"):
		return "storage"
	case contains(reply, "Access denied"):
		return "access_denied"
	case contains(reply, "Service unavailable"):
		return "service_unavailable"
	}
	return "other"
}

// tls parses "Anonymous TLS connection established from host[addr]:
// TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) ...".
func (p *Parser) tls(msg []byte, ev *Event) {
	sp := bytes.IndexByte(msg, ' ')
	if sp <= 0 {
		return
	}
	switch string(msg[:sp]) {
	case "Anonymous":
		ev.Trust = "Anonymous"
	case "Untrusted":
		ev.Trust = "Untrusted"
	case "Trusted":
		ev.Trust = "Trusted"
	case "Verified":
		ev.Trust = "Verified"
	default:
		ev.Trust = "other"
	}
	ev.Kind = KindTLS
	ev.Protocol, ev.Cipher, ev.SecretBits, ev.AlgBits = "other", "other", "other", "other"
	i := index(msg, "]: ")
	if i < 0 {
		i = index(msg, ": ")
		if i < 0 {
			return
		}
		i--
	}
	rest := msg[i+3:]
	j := bytes.IndexByte(rest, ' ')
	if j <= 0 {
		return
	}
	ev.Protocol = p.intern(rest[:j])
	rest = rest[j:]
	if !hasPrefix(rest, " with cipher ") {
		return
	}
	rest = rest[len(" with cipher "):]
	j = bytes.IndexByte(rest, ' ')
	if j <= 0 {
		return
	}
	ev.Cipher = p.intern(rest[:j])
	rest = rest[j+1:]
	if len(rest) < 2 || rest[0] != '(' {
		return
	}
	rest = rest[1:]
	slash := bytes.IndexByte(rest, '/')
	end := bytes.IndexByte(rest, ' ')
	if slash <= 0 || end <= slash {
		return
	}
	ev.SecretBits = p.intern(rest[:slash])
	ev.AlgBits = p.intern(rest[slash+1 : end])
}

func (p *Parser) smtp(msg []byte, ev *Event) {
	switch {
	case hasPrefix(msg, "connect to "):
		p.connectError(msg, ev)
		return
	case contains(msg, " TLS connection established to "):
		p.tls(msg, ev)
		return
	}
	rest, ok := cutQueueID(msg)
	if !ok {
		if hasPrefix(msg, "SSL_connect error") || hasPrefix(msg, "setting up TLS connection to ") ||
			hasPrefix(msg, "host ") || hasPrefix(msg, "certificate verification failed") {
			ev.Kind = KindOther
		}
		return
	}
	switch {
	case hasPrefix(rest, "to=<"):
		p.delivery(dSMTP, rest, ev)
	case hasPrefix(rest, "lost connection with "):
		ev.Kind = KindLostConnection
		ev.Command = "other"
	case hasPrefix(rest, "host ") || hasPrefix(rest, "conversation with ") || hasPrefix(rest, "enabling PIX workarounds") ||
		hasPrefix(rest, "Cannot start TLS") || hasPrefix(rest, "TLS is required"):
		ev.Kind = KindOther
	}
}

// connectError classifies "connect to host[addr]:25: Connection refused".
func (p *Parser) connectError(msg []byte, ev *Event) {
	ev.Kind = KindConnectError
	i := bytes.LastIndex(msg, []byte(": "))
	if i < 0 {
		ev.Reason = "other"
		return
	}
	switch r := msg[i+2:]; {
	case hasPrefix(r, "Connection refused"):
		ev.Reason = "refused"
	case hasPrefix(r, "Connection timed out"):
		ev.Reason = "timed_out"
	case hasPrefix(r, "No route to host"):
		ev.Reason = "no_route"
	case hasPrefix(r, "Network is unreachable"):
		ev.Reason = "network_unreachable"
	case hasPrefix(r, "No such file or directory"):
		ev.Reason = "no_such_file"
	case hasPrefix(r, "Permission denied"):
		ev.Reason = "permission_denied"
	default:
		ev.Reason = "other"
	}
}

// delivery parses "to=<a@b>, [orig_to=<...>,] relay=r, [conn_use=n,]
// delay=d, delays=a/b/c/d, dsn=x.y.z, status=sent (...)".
func (p *Parser) delivery(d daemon, rest []byte, ev *Event) {
	ev.Kind = KindDelivery
	ev.Status = "other"
	i := index(rest, ", status=")
	if i >= 0 {
		s := rest[i+len(", status="):]
		j := 0
		for j < len(s) && s[j] >= 'a' && s[j] <= 'z' {
			j++
		}
		ev.Status = deliveryStatus(s[:j])
		rest = rest[:i]
	}
	if k := index(rest, ", delays="); k >= 0 {
		ev.HasDelays = parseDelays(rest[k+len(", delays="):], &ev.Delays)
	}
	if d == dPipe {
		if k := index(rest, ", relay="); k >= 0 {
			r := rest[k+len(", relay="):]
			if j := bytes.IndexByte(r, ','); j >= 0 {
				r = r[:j]
			}
			ev.Relay = p.intern(r)
		}
	}
}

func deliveryStatus(b []byte) string {
	switch string(b) {
	case "sent":
		return "sent"
	case "deferred":
		return "deferred"
	case "bounced":
		return "bounced"
	case "expired":
		return "expired"
	case "deliverable":
		return "deliverable"
	case "undeliverable":
		return "undeliverable"
	case "softbounce":
		return "softbounce"
	}
	return "other"
}

func parseDelays(b []byte, out *[4]float64) bool {
	for st := range 4 {
		j := 0
		for j < len(b) && b[j] != '/' && b[j] != ',' {
			j++
		}
		v, ok := parseFloat(b[:j])
		if !ok {
			return false
		}
		out[st] = v
		if st < 3 {
			if j >= len(b) || b[j] != '/' {
				return false
			}
			b = b[j+1:]
		}
	}
	return true
}

// parseFloat reads Postfix's delay and size numbers: plain decimals almost
// always, so that case avoids strconv.
func parseFloat(b []byte) (float64, bool) {
	if len(b) == 0 || len(b) > 32 {
		return 0, false
	}
	var ip uint64
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		ip = ip*10 + uint64(b[i]-'0')
		i++
	}
	if i == len(b) && i > 0 && i < 16 {
		return float64(ip), true
	}
	if i > 0 && i < 16 && b[i] == '.' {
		var fp uint64
		scale := 1.0
		k := i + 1
		for k < len(b) && b[k] >= '0' && b[k] <= '9' && k-i < 10 {
			fp = fp*10 + uint64(b[k]-'0')
			scale *= 10
			k++
		}
		if k == len(b) && k > i+1 {
			return float64(ip) + float64(fp)/scale, true
		}
	}
	// The string does not outlive the call: strconv copies it into errors.
	v, err := strconv.ParseFloat(unsafe.String(&b[0], len(b)), 64)
	if err != nil || v < 0 || v != v {
		return 0, false
	}
	return v, true
}

func (p *Parser) cleanup(msg []byte, ev *Event) {
	rest, ok := cutQueueID(msg)
	if !ok {
		if contains(msg, "message not accepted") {
			ev.Kind = KindCleanupNotAccepted
		}
		return
	}
	if hasPrefix(rest, "message-id=") {
		ev.Kind = KindCleanupMessage
		return
	}
	if hasPrefix(rest, "resent-message-id=") || hasPrefix(rest, "queue file size limit exceeded") {
		ev.Kind = KindOther
		return
	}
	i := bytes.IndexByte(rest, ':')
	if i <= 0 || i > 20 {
		return
	}
	a := rest[:i]
	if hasPrefix(a, "milter-") {
		ev.Kind = KindMilter
		ev.Action = milterAction(a)
		ev.Command = "END-OF-MESSAGE"
		if j := index(rest, " from "); j > i+2 {
			ev.Command = smtpCommand(rest[i+2 : j])
		}
		return
	}
	if act := accessAction(a); act != "other" {
		ev.Kind = KindCleanupAction
		ev.Action = act
		if contains(rest, "message not accepted") {
			ev.Kind = KindCleanupNotAccepted
		}
	}
}

func (p *Parser) qmgr(msg []byte, ev *Event) {
	rest, ok := cutQueueID(msg)
	if !ok {
		return
	}
	switch {
	case hasPrefix(rest, "removed"):
		ev.Kind = KindQmgrRemoved
	case hasPrefix(rest, "to=<"):
		p.delivery(dQmgr, rest, ev)
	case hasPrefix(rest, "from=<"):
		if contains(rest, ", status=expired") {
			ev.Kind = KindQmgrExpired
			return
		}
		// from=<a@b>, size=123, nrcpt=1 (queue active)
		i := index(rest, ", size=")
		if i < 0 {
			ev.Kind = KindOther
			return
		}
		r := rest[i+len(", size="):]
		j := bytes.IndexByte(r, ',')
		if j < 0 {
			return
		}
		size, ok1 := parseFloat(r[:j])
		r = r[j:]
		if !hasPrefix(r, ", nrcpt=") {
			return
		}
		r = r[len(", nrcpt="):]
		j = bytes.IndexByte(r, ' ')
		if j < 0 {
			j = len(r)
		}
		n, ok2 := parseFloat(r[:j])
		if ok1 && ok2 {
			ev.Kind, ev.Size, ev.Nrcpt = KindQmgrInsert, size, n
		}
	case hasPrefix(rest, "skipped, still being delivered"):
		ev.Kind = KindOther
	}
}

func (p *Parser) bounce(msg []byte, ev *Event) {
	rest, ok := cutQueueID(msg)
	if !ok {
		return
	}
	switch {
	case hasPrefix(rest, "sender non-delivery notification: "):
		ev.Action = "non_delivery"
	case hasPrefix(rest, "postmaster non-delivery notification: "):
		ev.Action = "postmaster_non_delivery"
	case hasPrefix(rest, "sender delay notification: "):
		ev.Action = "delay"
	case hasPrefix(rest, "postmaster delay notification: "):
		ev.Action = "postmaster_delay"
	case hasPrefix(rest, "sender delivery status notification: "):
		ev.Action = "delivery_status"
	case hasPrefix(rest, "postmaster delivery status notification: "):
		ev.Action = "postmaster_delivery_status"
	default:
		return
	}
	ev.Kind = KindBounce
}

// postscreen parses the upper-case action words that start its lines.
func (p *Parser) postscreen(msg []byte, ev *Event) {
	if hasPrefix(msg, "NOQUEUE: ") {
		p.smtpdAction(msg[len("NOQUEUE: "):], ev)
		if ev.Kind == KindReject {
			ev.Kind, ev.Action = KindPostscreen, "reject"
		}
		return
	}
	if hasPrefix(msg, "cache ") || hasPrefix(msg, "warning: ") {
		ev.Kind = KindOther
		return
	}
	var a string
	switch {
	case hasPrefix(msg, "CONNECT from "):
		a = "connect"
	case hasPrefix(msg, "PASS NEW "):
		a = "pass_new"
	case hasPrefix(msg, "PASS OLD "):
		a = "pass_old"
	case hasPrefix(msg, "DNSBL rank "):
		a = "dnsbl"
	case hasPrefix(msg, "PREGREET "):
		a = "pregreet"
	case hasPrefix(msg, "HANGUP after "):
		a = "hangup"
	case hasPrefix(msg, "DISCONNECT "):
		a = "disconnect"
	case hasPrefix(msg, "WHITELISTED ") || hasPrefix(msg, "ALLOWLISTED "):
		a = "allowlisted"
	case hasPrefix(msg, "BLACKLISTED ") || hasPrefix(msg, "DENYLISTED "):
		a = "denylisted"
	case hasPrefix(msg, "WHITELIST VETO ") || hasPrefix(msg, "ALLOWLIST VETO "):
		a = "allowlist_veto"
	case hasPrefix(msg, "COMMAND PIPELINING "):
		a = "command_pipelining"
	case hasPrefix(msg, "NON-SMTP COMMAND "):
		a = "non_smtp_command"
	case hasPrefix(msg, "BARE NEWLINE "):
		a = "bare_newline"
	case hasPrefix(msg, "COMMAND TIME LIMIT "):
		a = "command_time_limit"
	case hasPrefix(msg, "COMMAND COUNT LIMIT "):
		a = "command_count_limit"
	case hasPrefix(msg, "COMMAND LENGTH LIMIT "):
		a = "command_length_limit"
	case hasPrefix(msg, "BDAT "):
		a = "bdat"
	default:
		return
	}
	ev.Kind, ev.Action = KindPostscreen, a
}

// anvil: "statistics: max connection rate 1/60s for (smtp:192.0.2.1) at ...",
// "statistics: max connection count 1 for ...", "statistics: max cache size 1 at ...".
func (p *Parser) anvil(msg []byte, ev *Event) {
	if !hasPrefix(msg, "statistics: max ") {
		return
	}
	m := msg[len("statistics: max "):]
	var rest []byte
	switch {
	case hasPrefix(m, "connection rate "):
		ev.Status, rest = "connection_rate", m[len("connection rate "):]
	case hasPrefix(m, "connection count "):
		ev.Status, rest = "connection_count", m[len("connection count "):]
	case hasPrefix(m, "message rate "):
		ev.Status, rest = "message_rate", m[len("message rate "):]
	case hasPrefix(m, "recipient rate "):
		ev.Status, rest = "recipient_rate", m[len("recipient rate "):]
	case hasPrefix(m, "newtls rate "):
		ev.Status, rest = "newtls_rate", m[len("newtls rate "):]
	case hasPrefix(m, "auth rate "):
		ev.Status, rest = "auth_rate", m[len("auth rate "):]
	case hasPrefix(m, "cache size "):
		ev.Status, rest = "cache_size", m[len("cache size "):]
	default:
		ev.Kind = KindOther
		return
	}
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	v, ok := parseFloat(rest[:j])
	if !ok {
		return
	}
	ev.Kind, ev.Value = KindAnvil, v
}

// scache: "statistics: domain lookup hits=0 miss=1 success=0%".
func (p *Parser) scache(msg []byte, ev *Event) {
	if !hasPrefix(msg, "statistics: ") {
		return
	}
	m := msg[len("statistics: "):]
	switch {
	case hasPrefix(m, "domain lookup "):
		ev.Status, m = "domain", m[len("domain lookup "):]
	case hasPrefix(m, "address lookup "):
		ev.Status, m = "address", m[len("address lookup "):]
	default:
		ev.Kind = KindOther
		return
	}
	if !hasPrefix(m, "hits=") {
		return
	}
	m = m[len("hits="):]
	j := bytes.IndexByte(m, ' ')
	if j < 0 {
		return
	}
	hits, ok1 := parseFloat(m[:j])
	m = m[j+1:]
	if !hasPrefix(m, "miss=") {
		return
	}
	m = m[len("miss="):]
	j = bytes.IndexByte(m, ' ')
	if j < 0 {
		j = len(m)
	}
	miss, ok2 := parseFloat(m[:j])
	if ok1 && ok2 {
		ev.Kind, ev.Value, ev.Value2 = KindScache, hits, miss
	}
}

func (p *Parser) master(msg []byte, ev *Event) {
	var a string
	switch {
	case hasPrefix(msg, "daemon started"):
		a = "started"
	case hasPrefix(msg, "reload "):
		a = "reloaded"
	case hasPrefix(msg, "terminating on signal"):
		a = "terminated"
	case hasPrefix(msg, "warning: process ") && contains(msg, " exit status "):
		a = "process_exited"
	case hasPrefix(msg, "warning: process ") && contains(msg, " killed by signal "):
		a = "process_killed"
	case hasPrefix(msg, "warning: ") && contains(msg, "throttling"):
		a = "throttled"
	default:
		return
	}
	ev.Kind, ev.Action = KindMaster, a
}
