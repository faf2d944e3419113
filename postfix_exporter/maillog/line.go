// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Package maillog turns Postfix log lines into events and events into
// Prometheus metrics. The parser works on byte slices and allocates nothing
// for a line whose program it has seen before, because a busy mail server
// writes millions of lines a day and the exporter must not be the thing that
// shows up in top.
package maillog

import (
	"bytes"
)

// SplitLine takes a syslog-shaped line apart: the timestamp and host are
// skipped, the tag (program name without the [pid]) and the message are
// returned. It accepts the classic BSD timestamp (`Nov  4 03:39:54`),
// postlogd's zero-padded one (`Nov 04 03:39:54`) and RFC 3339
// (`2026-11-24T03:39:54.902828+00:00`). ok is false when the line does not
// have that shape.
func SplitLine(line []byte) (tag, msg []byte, ok bool) {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if len(line) < 8 {
		return nil, nil, false
	}
	var rest []byte
	switch c := line[0]; {
	case c >= '0' && c <= '9':
		// RFC 3339: one token.
		i := bytes.IndexByte(line, ' ')
		if i < 10 || line[4] != '-' {
			return nil, nil, false
		}
		rest = line[i+1:]
	case c >= 'A' && c <= 'Z':
		// "Mon dd HH:MM:SS": month, one or two spaces, day, time.
		if line[3] != ' ' {
			return nil, nil, false
		}
		i := 4
		for i < len(line) && line[i] == ' ' {
			i++
		}
		j := i
		for j < len(line) && line[j] >= '0' && line[j] <= '9' {
			j++
		}
		if j == i || j-i > 2 || j >= len(line) || line[j] != ' ' {
			return nil, nil, false
		}
		j++
		k := bytes.IndexByte(line[j:], ' ')
		if k < 5 || line[j+2] != ':' {
			return nil, nil, false
		}
		rest = line[j+k+1:]
	default:
		return nil, nil, false
	}
	// Host.
	i := bytes.IndexByte(rest, ' ')
	if i <= 0 {
		return nil, nil, false
	}
	rest = rest[i+1:]
	// Tag, optionally with [pid], then ": ".
	for i = 0; i < len(rest); i++ {
		c := rest[i]
		if c == '[' || c == ':' || c == ' ' {
			break
		}
	}
	if i == 0 || i == len(rest) {
		return nil, nil, false
	}
	tag = rest[:i]
	if rest[i] == '[' {
		j := bytes.IndexByte(rest[i:], ']')
		if j < 0 {
			return nil, nil, false
		}
		i += j + 1
	}
	if i >= len(rest) || rest[i] != ':' {
		return nil, nil, false
	}
	msg = rest[i+1:]
	if len(msg) > 0 && msg[0] == ' ' {
		msg = msg[1:]
	}
	return tag, msg, true
}

// Program is what a syslog tag says about the process that wrote a line:
// `postfix-out/submission/smtpd` is daemon smtpd of instance postfix-out,
// running as master.cf service submission.
type Program struct {
	// Instance is the first part of the syslog_name: "postfix" unless
	// multi-instance or a custom syslog_name is in use.
	Instance string
	// Service is the master.cf service name when the syslog_name carries
	// it (`postfix/submission/smtpd`), otherwise the daemon name.
	Service string
	// Daemon is the Postfix program (smtpd, qmgr, ...).
	Daemon string
	// ID numbers programs in the order the parser first saw them, so that
	// a consumer can keep per-program state in a slice.
	ID   int
	kind daemon
}

// daemon enumerates the Postfix programs the parser knows.
type daemon uint8

const (
	dOther daemon = iota
	dSMTPD
	dSMTP
	dLMTP
	dCleanup
	dQmgr
	dLocal
	dVirtual
	dPipe
	dError
	dDiscard
	dBounce
	dPickup
	dPostscreen
	dDNSBLog
	dAnvil
	dScache
	dMaster
	dPostsuper
	dPostfixScript
	dTLSMgr
	dTLSProxy
	dVerify
	dTrivialRewrite
	dProxymap
	dPostdrop
	dSendmail
	dPostqueue
	dPostlogd
	dFlush
	dSpawn
	dShowq
	dPostmap
	dPostalias
	dPostconf
	dPostmulti
	dPostlog
	dOQmgr
	dQMQPD
	dPostfixCmd
)

// daemonByName is every program of Postfix 3.x; a tag whose last part is
// not one of these is not Postfix.
var daemonByName = map[string]daemon{
	"smtpd": dSMTPD, "smtp": dSMTP, "lmtp": dLMTP, "cleanup": dCleanup,
	"qmgr": dQmgr, "oqmgr": dOQmgr, "local": dLocal, "virtual": dVirtual,
	"pipe": dPipe, "error": dError, "discard": dDiscard, "bounce": dBounce,
	"pickup": dPickup, "postscreen": dPostscreen, "dnsblog": dDNSBLog,
	"anvil": dAnvil, "scache": dScache, "master": dMaster,
	"postsuper": dPostsuper, "postfix-script": dPostfixScript,
	"tlsmgr": dTLSMgr, "tlsproxy": dTLSProxy, "verify": dVerify,
	"trivial-rewrite": dTrivialRewrite, "proxymap": dProxymap,
	"postdrop": dPostdrop, "sendmail": dSendmail, "postqueue": dPostqueue,
	"postlogd": dPostlogd, "flush": dFlush, "spawn": dSpawn, "showq": dShowq,
	"postmap": dPostmap, "postalias": dPostalias, "postconf": dPostconf,
	"postmulti": dPostmulti, "postlog": dPostlog, "qmqpd": dQMQPD,
}

// parseTag splits a tag into a Program. ok is false for tags that are not
// Postfix's or hold characters a label value must not have.
func parseTag(tag []byte) (p Program, ok bool) {
	if string(tag) == "postfix" {
		// postfix(1) itself, e.g. its compatibility notes at start.
		return Program{Instance: "postfix", Service: "postfix", Daemon: "postfix", kind: dPostfixCmd}, true
	}
	first := bytes.IndexByte(tag, '/')
	last := bytes.LastIndexByte(tag, '/')
	if first <= 0 || last == len(tag)-1 {
		return p, false
	}
	for _, c := range tag {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '/') {
			return p, false
		}
	}
	d, known := daemonByName[string(tag[last+1:])]
	if !known {
		return p, false
	}
	p.Instance = string(tag[:first])
	p.Daemon = string(tag[last+1:])
	p.kind = d
	if last > first {
		p.Service = string(tag[first+1 : last])
	} else {
		p.Service = p.Daemon
	}
	return p, true
}
