// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package maillog

import (
	"bytes"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/common/promslog"

	"github.com/downwatch/downwatch/postfix_exporter/internal/loggen"
)

// flat is the comparable part of an Event.
type flat struct {
	Kind                                         string
	Instance, Service, Daemon, Severity          string
	Status, Command, Code, Reason, Action, Relay string
	SASL                                         string
	Trust, Protocol, Cipher, SecretBits, AlgBits string
	Size, Nrcpt                                  float64
	Delays                                       [4]float64
	Value, Value2                                float64
}

func flatten(ev *Event) flat {
	f := flat{Kind: ev.Kind.String(), Severity: ev.Severity, Status: ev.Status, Command: ev.Command,
		Code: ev.Code, Reason: ev.Reason, Action: ev.Action, Relay: ev.Relay, SASL: ev.SASL,
		Trust: ev.Trust, Protocol: ev.Protocol, Cipher: ev.Cipher, SecretBits: ev.SecretBits, AlgBits: ev.AlgBits,
		Size: ev.Size, Nrcpt: ev.Nrcpt, Delays: ev.Delays, Value: ev.Value, Value2: ev.Value2}
	if ev.Program != nil {
		f.Instance, f.Service, f.Daemon = ev.Program.Instance, ev.Program.Service, ev.Program.Daemon
	}
	return f
}

// pf fills the program part of a flat for the common case.
func pf(daemon string, f flat) flat {
	if f.Instance == "" {
		f.Instance = "postfix"
	}
	if f.Service == "" {
		f.Service = daemon
	}
	if f.Severity == "" {
		f.Severity = "info"
	}
	f.Daemon = daemon
	return f
}

const hdr = "Nov 24 03:39:54 mx "

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		line string
		want flat
	}{
		// Headers.
		{"classic single-digit day", "Nov  4 03:39:54 mx postfix/smtpd[1]: connect from unknown[192.0.2.1]", pf("smtpd", flat{Kind: "connect"})},
		{"postlogd zero-padded day", "Mar 01 00:00:01 mx postfix/smtpd[1]: connect from unknown[192.0.2.1]", pf("smtpd", flat{Kind: "connect"})},
		{"rfc3339", "2026-11-24T03:39:54.902828+00:00 mx postfix/smtpd[1]: connect from unknown[192.0.2.1]", pf("smtpd", flat{Kind: "connect"})},
		{"crlf", hdr + "postfix/smtpd[1]: connect from x[192.0.2.1]\r", pf("smtpd", flat{Kind: "connect"})},
		{"no pid", hdr + "postfix/smtpd: connect from x[192.0.2.1]", pf("smtpd", flat{Kind: "connect"})},
		{"garbage", "hello world", flat{Kind: "garbage"}},
		{"empty", "", flat{Kind: "garbage"}},
		{"bad day", "Nov x4 03:39:54 mx postfix/smtpd[1]: connect", flat{Kind: "garbage"}},
		{"foreign program", hdr + "dovecot[12]: imap-login: Login: user=<a>", flat{Kind: "foreign"}},
		{"unknown postfix daemon", hdr + "postfix/frobnicate[1]: hi", flat{Kind: "foreign"}},
		{"postfix command", hdr + "postfix[1]: Postfix is using backwards-compatible default settings", pf("postfix", flat{Kind: "other"})},
		{"other instance without daemon", hdr + "postfix-out[1]: hi", flat{Kind: "foreign"}},
		// Service names and instances.
		{"submission", hdr + "postfix/submission/smtpd[1]: connect from x[192.0.2.1]", pf("smtpd", flat{Kind: "connect", Service: "submission"})},
		{"smtps", hdr + "postfix/smtps/smtpd[1]: disconnect from x[192.0.2.1] ehlo=1 quit=1 commands=2", pf("smtpd", flat{Kind: "disconnect", Service: "smtps"})},
		{"multi-instance", hdr + "postfix-out/smtp[1]: connect to mx.example.net[192.0.2.2]:25: Connection refused",
			pf("smtp", flat{Kind: "connect_error", Instance: "postfix-out", Reason: "refused"})},
		{"multi-instance service", hdr + "postfix-out/relay/smtp[1]: connect to mx.example.net[192.0.2.2]:25: No route to host",
			pf("smtp", flat{Kind: "connect_error", Instance: "postfix-out", Service: "relay", Reason: "no_route"})},
		// smtpd.
		{"lost after eom", hdr + "postfix/smtpd[1]: lost connection after END-OF-MESSAGE from x[192.0.2.1]", pf("smtpd", flat{Kind: "lost_connection", Command: "END-OF-MESSAGE"})},
		{"lost after data bytes", hdr + "postfix/smtpd[1]: lost connection after DATA (0 bytes) from x[192.0.2.1]", pf("smtpd", flat{Kind: "lost_connection", Command: "DATA"})},
		{"lost after junk", hdr + "postfix/smtpd[1]: lost connection after FOO from x[192.0.2.1]", pf("smtpd", flat{Kind: "lost_connection", Command: "other"})},
		{"timeout", hdr + "postfix/smtpd[1]: timeout after CONNECT from x[192.0.2.1]", pf("smtpd", flat{Kind: "timeout", Command: "CONNECT"})},
		{"too many errors", hdr + "postfix/smtpd[1]: too many errors after AUTH from x[192.0.2.1]", pf("smtpd", flat{Kind: "too_many_errors", Command: "AUTH"})},
		{"client", hdr + "postfix/smtpd[1]: 4A1B2C3D4E: client=x[192.0.2.1]", pf("smtpd", flat{Kind: "client"})},
		{"client sasl", hdr + "postfix/submission/smtpd[1]: 4A1B2C3D4E: client=x[192.0.2.1], sasl_method=PLAIN, sasl_username=alice",
			pf("smtpd", flat{Kind: "client", Service: "submission", SASL: "PLAIN"})},
		{"long queue id", hdr + "postfix/smtpd[1]: 4Ldq2j0b2Qz9sZm: client=x[192.0.2.1]", pf("smtpd", flat{Kind: "client"})},
		{"noqueue reject rcpt unknown", hdr + "postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown in virtual mailbox table; from=<bob@sender.test> to=<nobody@example.test> proto=ESMTP helo=<vm>",
			pf("smtpd", flat{Kind: "reject", Command: "RCPT", Code: "550", Reason: "unknown_user"})},
		{"noqueue reject mail", hdr + "postfix/smtpd[1]: NOQUEUE: reject: MAIL from x[192.0.2.1]: 553 5.7.1 <a@b>: Sender address rejected: not logged in; from=<a@b> proto=ESMTP helo=<h>",
			pf("smtpd", flat{Kind: "reject", Command: "MAIL", Code: "553", Reason: "sender"})},
		{"reject relay", hdr + "postfix/smtpd[1]: NOQUEUE: reject: RCPT from x[192.0.2.1]: 454 4.7.1 <a@b.test>: Relay access denied; from=<a@c> to=<a@b.test> proto=ESMTP helo=<h>",
			pf("smtpd", flat{Kind: "reject", Command: "RCPT", Code: "454", Reason: "relay_denied"})},
		{"reject dnsbl", hdr + "postfix/smtpd[1]: NOQUEUE: reject: RCPT from x[192.0.2.1]: 554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; from=<a@c> to=<a@b.test> proto=ESMTP helo=<h>",
			pf("smtpd", flat{Kind: "reject", Command: "RCPT", Code: "554", Reason: "dnsbl"})},
		{"reject helo", hdr + "postfix/smtpd[1]: NOQUEUE: reject: RCPT from x[192.0.2.1]: 504 5.5.2 <h>: Helo command rejected: need fully-qualified hostname; from=<a@c> to=<a@b.test> proto=ESMTP helo=<h>",
			pf("smtpd", flat{Kind: "reject", Command: "RCPT", Code: "504", Reason: "helo"})},
		{"reject connect", hdr + "postfix/smtpd[1]: NOQUEUE: reject: CONNECT from x[192.0.2.1]: 554 5.7.1 <x[192.0.2.1]>: Client host rejected: Access denied; proto=SMTP",
			pf("smtpd", flat{Kind: "reject", Command: "CONNECT", Code: "554", Reason: "client"})},
		{"queue id reject", hdr + "postfix/smtpd[1]: 4A1B2C3D4E: reject: RCPT from x[192.0.2.1]: 450 4.7.1 <a@b>: Recipient address rejected: Greylisted; from=<a@c> to=<a@b> proto=ESMTP helo=<h>",
			pf("smtpd", flat{Kind: "reject", Command: "RCPT", Code: "450", Reason: "greylist"})},
		{"reject bad code", hdr + "postfix/smtpd[1]: NOQUEUE: reject: RCPT from x[192.0.2.1]: 999 nope; from=<a@c>",
			pf("smtpd", flat{Kind: "reject", Command: "RCPT", Code: "other", Reason: "other"})},
		{"reject_warning", hdr + "postfix/smtpd[1]: NOQUEUE: reject_warning: RCPT from x[192.0.2.1]: 450 4.7.1 <h>: Helo command rejected: Host not found; from=<a@c> to=<a@b> proto=ESMTP helo=<h>",
			pf("smtpd", flat{Kind: "access_action", Action: "reject_warning", Command: "RCPT"})},
		{"hold", hdr + "postfix/smtpd[1]: 4A1B2C3D4E: hold: RCPT from x[192.0.2.1]: <a@b>: Recipient address triggers HOLD action; from=<a@c> to=<a@b> proto=ESMTP helo=<h>",
			pf("smtpd", flat{Kind: "access_action", Action: "hold", Command: "RCPT"})},
		{"smtpd milter-reject", hdr + "postfix/smtpd[1]: NOQUEUE: milter-reject: RCPT from x[192.0.2.1]: 451 4.7.1 Service unavailable - try again later; from=<a@c> to=<a@b> proto=ESMTP helo=<h>",
			pf("smtpd", flat{Kind: "milter", Action: "reject", Command: "RCPT"})},
		{"fcrdns", hdr + "postfix/smtpd[1]: warning: hostname mail.example.com does not resolve to address 192.0.2.1: Name or service not known",
			pf("smtpd", flat{Kind: "fcrdns_error", Severity: "warning"})},
		{"fcrdns verification", hdr + "postfix/smtpd[1]: warning: 192.0.2.1: hostname mail.example.com verification failed: Name or service not known",
			pf("smtpd", flat{Kind: "fcrdns_error", Severity: "warning"})},
		{"sasl failure", hdr + "postfix/submission/smtpd[1]: warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
			pf("smtpd", flat{Kind: "sasl_failure", Severity: "warning", Service: "submission"})},
		{"smtpd other warning", hdr + "postfix/smtpd[1]: warning: non-SMTP command from x[192.0.2.1]: GET / HTTP/1.1",
			pf("smtpd", flat{Kind: "other", Severity: "warning"})},
		{"smtpd tls", hdr + "postfix/smtpd[1]: Anonymous TLS connection established from x[192.0.2.1]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256",
			pf("smtpd", flat{Kind: "tls", Trust: "Anonymous", Protocol: "TLSv1.3", Cipher: "TLS_AES_256_GCM_SHA384", SecretBits: "256", AlgBits: "256"})},
		{"smtpd unknown", hdr + "postfix/smtpd[1]: something new from x", pf("smtpd", flat{Kind: "unsupported"})},
		// smtp and lmtp.
		{"smtp sent", hdr + "postfix/smtp[1]: 4A1B2C3D4E: to=<a@gmail.com>, relay=gmail-smtp-in.l.google.com[142.250.102.27]:25, delay=1.5, delays=0.06/0.01/0.3/1.1, dsn=2.0.0, status=sent (250 2.0.0 OK)",
			pf("smtp", flat{Kind: "delivery", Status: "sent", Delays: [4]float64{0.06, 0.01, 0.3, 1.1}})},
		{"smtp sent orig_to conn_use", hdr + "postfix/smtp[1]: 4A1B2C3D4E: to=<a@gmail.com>, orig_to=<b@x>, relay=g[142.250.102.27]:25, conn_use=2, delay=0.5, delays=0/0/0/0.5, dsn=2.0.0, status=sent (250 2.0.0 OK)",
			pf("smtp", flat{Kind: "delivery", Status: "sent", Delays: [4]float64{0, 0, 0, 0.5}})},
		{"smtp deferred", hdr + "postfix/smtp[23348]: 46495984C26: to=<someone@remote.test>, relay=none, delay=0.03, delays=0.01/0.02/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:25999: Connection refused)",
			pf("smtp", flat{Kind: "delivery", Status: "deferred", Delays: [4]float64{0.01, 0.02, 0, 0}})},
		{"smtp bounced", hdr + "postfix/smtp[1]: 4A1B2C3D4E: to=<gone@example.net>, relay=mx.example.net[192.0.2.99]:25, delay=1, delays=0.1/0/0.4/0.5, dsn=5.1.1, status=bounced (host mx.example.net[192.0.2.99] said: 550 5.1.1 User unknown (in reply to RCPT TO command))",
			pf("smtp", flat{Kind: "delivery", Status: "bounced", Delays: [4]float64{0.1, 0, 0.4, 0.5}})},
		{"smtp e-notation delay", hdr + "postfix/smtp[1]: 4A1B2C3D4E: to=<a@b>, relay=none, delay=4.3e+05, delays=4.3e+05/0.01/30/0, dsn=4.4.1, status=deferred (connect to b[192.0.2.2]:25: Connection timed out)",
			pf("smtp", flat{Kind: "delivery", Status: "deferred", Delays: [4]float64{430000, 0.01, 30, 0}})},
		{"relay service", hdr + "postfix/relay/smtp[1]: 4A1B2C3D4E: to=<a@b>, relay=r[192.0.2.3]:25, delay=1, delays=0.1/0.2/0.3/0.4, dsn=2.0.0, status=sent (250 ok)",
			pf("smtp", flat{Kind: "delivery", Service: "relay", Status: "sent", Delays: [4]float64{0.1, 0.2, 0.3, 0.4}})},
		{"smtp connect refused", hdr + "postfix/smtp[23348]: connect to 127.0.0.1[127.0.0.1]:25999: Connection refused", pf("smtp", flat{Kind: "connect_error", Reason: "refused"})},
		{"smtp connect timed out", hdr + "postfix/smtp[1]: connect to mx.x[203.0.113.9]:25: Connection timed out", pf("smtp", flat{Kind: "connect_error", Reason: "timed_out"})},
		{"smtp tls", hdr + "postfix/smtp[1]: Trusted TLS connection established to g[142.250.102.27]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519",
			pf("smtp", flat{Kind: "tls", Trust: "Trusted", Protocol: "TLSv1.3", Cipher: "TLS_AES_256_GCM_SHA384", SecretBits: "256", AlgBits: "256"})},
		{"smtp lost", hdr + "postfix/smtp[1]: 4A1B2C3D4E: lost connection with mx.x[192.0.2.2] while receiving the initial server greeting", pf("smtp", flat{Kind: "lost_connection", Command: "other"})},
		{"smtp host said", hdr + "postfix/smtp[1]: 4A1B2C3D4E: host mx.x[192.0.2.2] said: 450 4.7.1 try later (in reply to RCPT TO command)", pf("smtp", flat{Kind: "other"})},
		{"lmtp sent", hdr + "postfix/lmtp[1]: 4A1B2C3D4E: to=<a@example.org>, relay=mail.example.org[private/dovecot-lmtp], delay=0.1, delays=0.01/0.01/0.01/0.07, dsn=2.0.0, status=sent (250 2.0.0 <a@example.org> Saved)",
			pf("lmtp", flat{Kind: "delivery", Status: "sent", Delays: [4]float64{0.01, 0.01, 0.01, 0.07}})},
		{"lmtp deferred", hdr + "postfix/lmtp[1]: 4A1B2C3D4E: to=<a@example.org>, relay=none, delay=0.1, delays=0.01/0.01/0.08/0, dsn=4.4.1, status=deferred (connect to mail.example.org[private/dovecot-lmtp]: No such file or directory)",
			pf("lmtp", flat{Kind: "delivery", Status: "deferred", Delays: [4]float64{0.01, 0.01, 0.08, 0}})},
		{"lmtp connect", hdr + "postfix/lmtp[1]: connect to mail.example.org[private/dovecot-lmtp]: No such file or directory", pf("lmtp", flat{Kind: "connect_error", Reason: "no_such_file"})},
		// Other delivery agents.
		{"virtual", hdr + "postfix/virtual[22800]: 7631C984334: to=<alice@example.test>, relay=virtual, delay=0.08, delays=0.05/0.03/0/0.01, dsn=2.0.0, status=sent (delivered to maildir)",
			pf("virtual", flat{Kind: "delivery", Status: "sent", Delays: [4]float64{0.05, 0.03, 0, 0.01}})},
		{"local", hdr + "postfix/local[1]: 4A1B2C3D4E: to=<root@mx>, orig_to=<root>, relay=local, delay=0.1, delays=0.1/0/0/0, dsn=2.0.0, status=sent (delivered to mailbox)",
			pf("local", flat{Kind: "delivery", Status: "sent", Delays: [4]float64{0.1, 0, 0, 0}})},
		{"local forwarded", hdr + "postfix/local[1]: 4A1B2C3D4E: to=<a@mx>, relay=local, delay=0.1, delays=0.1/0/0/0, dsn=2.0.0, status=sent (forwarded as 5B2C3D4E5F)",
			pf("local", flat{Kind: "delivery", Status: "sent", Delays: [4]float64{0.1, 0, 0, 0}})},
		{"pipe", hdr + "postfix/pipe[1]: 4A1B2C3D4E: to=<a@b>, relay=dovecot, delay=0.2, delays=0.1/0/0/0.1, dsn=2.0.0, status=sent (delivered via dovecot service)",
			pf("pipe", flat{Kind: "delivery", Status: "sent", Relay: "dovecot", Delays: [4]float64{0.1, 0, 0, 0.1}})},
		{"error", hdr + "postfix/error[1]: 4A1B2C3D4E: to=<x@bounce.test>, relay=none, delay=0.01, delays=0/0/0/0, dsn=5.1.1, status=bounced (no such user)",
			pf("error", flat{Kind: "delivery", Status: "bounced"})},
		{"retry", hdr + "postfix/retry/error[1]: 4A1B2C3D4E: to=<x@b>, relay=none, delay=300, delays=300/0/0/0, dsn=4.4.1, status=deferred (delivery temporarily suspended)",
			pf("error", flat{Kind: "delivery", Service: "retry", Status: "deferred", Delays: [4]float64{300, 0, 0, 0}})},
		{"discard", hdr + "postfix/discard[1]: 4A1B2C3D4E: to=<x@b>, relay=none, delay=0.1, delays=0.1/0/0/0, dsn=2.0.0, status=sent (b)",
			pf("discard", flat{Kind: "delivery", Status: "sent", Delays: [4]float64{0.1, 0, 0, 0}})},
		// cleanup.
		{"cleanup message-id", hdr + "postfix/cleanup[22796]: 7631C984334: message-id=<20261124043849.022730@vm>", pf("cleanup", flat{Kind: "cleanup_message"})},
		{"cleanup header reject", hdr + "postfix/cleanup[1]: 4A1B2C3D4E: reject: header Subject: spam from x[192.0.2.1]; from=<a@b> to=<c@d> proto=ESMTP helo=<h>: 5.7.1 no",
			pf("cleanup", flat{Kind: "cleanup_action", Action: "reject"})},
		{"cleanup header warning", hdr + "postfix/cleanup[1]: 4A1B2C3D4E: warning: header Subject: hi from local; from=<a@b> to=<c@d>",
			pf("cleanup", flat{Kind: "cleanup_action", Action: "warning"})},
		{"cleanup milter-reject", hdr + "postfix/cleanup[1]: 4A1B2C3D4E: milter-reject: END-OF-MESSAGE from x[192.0.2.1]: 5.7.1 Spam; from=<a@b> to=<c@d> proto=ESMTP helo=<h>",
			pf("cleanup", flat{Kind: "milter", Action: "reject", Command: "END-OF-MESSAGE"})},
		{"cleanup milter-hold", hdr + "postfix/cleanup[1]: 4A1B2C3D4E: milter-hold: END-OF-MESSAGE from x[192.0.2.1]: milter triggers HOLD action; from=<a@b> to=<c@d> proto=ESMTP helo=<h>",
			pf("cleanup", flat{Kind: "milter", Action: "hold", Command: "END-OF-MESSAGE"})},
		// qmgr.
		{"qmgr insert", hdr + "postfix/qmgr[28236]: 7631C984334: from=<bob@sender.test>, size=425, nrcpt=1 (queue active)", pf("qmgr", flat{Kind: "qmgr_insert", Size: 425, Nrcpt: 1})},
		{"qmgr removed", hdr + "postfix/qmgr[28236]: 7631C984334: removed", pf("qmgr", flat{Kind: "qmgr_removed"})},
		{"qmgr expired", hdr + "postfix/qmgr[1]: 4A1B2C3D4E: from=<a@b>, status=expired, returned to sender", pf("qmgr", flat{Kind: "qmgr_expired"})},
		{"qmgr suspended", hdr + "postfix/qmgr[1]: 4A1B2C3D4E: to=<a@b>, relay=none, delay=300, delays=300/0/0/0, dsn=4.4.1, status=deferred (delivery temporarily suspended: connect to b[192.0.2.2]:25: Connection refused)",
			pf("qmgr", flat{Kind: "delivery", Status: "deferred", Delays: [4]float64{300, 0, 0, 0}})},
		{"qmgr warning", hdr + "postfix/qmgr[1]: warning: /etc/postfix/main.cf, line 24: overriding earlier entry", pf("qmgr", flat{Kind: "other", Severity: "warning"})},
		// bounce.
		{"bounce ndr", hdr + "postfix/bounce[1]: 4A1B2C3D4E: sender non-delivery notification: 5B2C3D4E5F", pf("bounce", flat{Kind: "bounce", Action: "non_delivery"})},
		{"bounce delay", hdr + "postfix/bounce[1]: 4A1B2C3D4E: sender delay notification: 5B2C3D4E5F", pf("bounce", flat{Kind: "bounce", Action: "delay"})},
		{"bounce dsn", hdr + "postfix/bounce[1]: 4A1B2C3D4E: sender delivery status notification: 5B2C3D4E5F", pf("bounce", flat{Kind: "bounce", Action: "delivery_status"})},
		// pickup, postscreen, dnsblog, anvil, scache, master, misc.
		{"pickup", hdr + "postfix/pickup[25184]: 94D9B98562F: uid=0 from=<root>", pf("pickup", flat{Kind: "pickup"})},
		{"postscreen connect", hdr + "postfix/postscreen[1]: CONNECT from [192.0.2.1]:45678 to [192.0.2.2]:25", pf("postscreen", flat{Kind: "postscreen", Action: "connect"})},
		{"postscreen pass new", hdr + "postfix/postscreen[1]: PASS NEW [192.0.2.1]:45678", pf("postscreen", flat{Kind: "postscreen", Action: "pass_new"})},
		{"postscreen pass old", hdr + "postfix/postscreen[1]: PASS OLD [192.0.2.1]:45678", pf("postscreen", flat{Kind: "postscreen", Action: "pass_old"})},
		{"postscreen pregreet", hdr + "postfix/postscreen[1]: PREGREET 11 after 0.09 from [192.0.2.1]:45678: EHLO bot\\r\\n", pf("postscreen", flat{Kind: "postscreen", Action: "pregreet"})},
		{"postscreen dnsbl", hdr + "postfix/postscreen[1]: DNSBL rank 3 for [192.0.2.1]:45678", pf("postscreen", flat{Kind: "postscreen", Action: "dnsbl"})},
		{"postscreen hangup", hdr + "postfix/postscreen[1]: HANGUP after 0.5 from [192.0.2.1]:45678 in tests after SMTP handshake", pf("postscreen", flat{Kind: "postscreen", Action: "hangup"})},
		{"postscreen allowlisted", hdr + "postfix/postscreen[1]: ALLOWLISTED [192.0.2.1]:45678", pf("postscreen", flat{Kind: "postscreen", Action: "allowlisted"})},
		{"postscreen whitelisted", hdr + "postfix/postscreen[1]: WHITELISTED [192.0.2.1]:45678", pf("postscreen", flat{Kind: "postscreen", Action: "allowlisted"})},
		{"postscreen denylisted", hdr + "postfix/postscreen[1]: DENYLISTED [192.0.2.1]:45678", pf("postscreen", flat{Kind: "postscreen", Action: "denylisted"})},
		{"postscreen pipelining", hdr + "postfix/postscreen[1]: COMMAND PIPELINING from [192.0.2.1]:45678 after EHLO: QUIT\\r\\n", pf("postscreen", flat{Kind: "postscreen", Action: "command_pipelining"})},
		{"postscreen non-smtp", hdr + "postfix/postscreen[1]: NON-SMTP COMMAND from [192.0.2.1]:45678 after CONNECT: GET / HTTP/1.1", pf("postscreen", flat{Kind: "postscreen", Action: "non_smtp_command"})},
		{"postscreen bare newline", hdr + "postfix/postscreen[1]: BARE NEWLINE from [192.0.2.1]:45678 after DATA", pf("postscreen", flat{Kind: "postscreen", Action: "bare_newline"})},
		{"postscreen time limit", hdr + "postfix/postscreen[1]: COMMAND TIME LIMIT from [192.0.2.1]:45678 after RCPT", pf("postscreen", flat{Kind: "postscreen", Action: "command_time_limit"})},
		{"postscreen disconnect", hdr + "postfix/postscreen[1]: DISCONNECT [192.0.2.1]:45678", pf("postscreen", flat{Kind: "postscreen", Action: "disconnect"})},
		{"postscreen reject", hdr + "postfix/postscreen[1]: NOQUEUE: reject: RCPT from [192.0.2.1]:45678: 550 5.7.1 Service unavailable; client [192.0.2.1] blocked using zen.spamhaus.org; from=<a@b>, to=<c@d>, proto=ESMTP, helo=<h>",
			pf("postscreen", flat{Kind: "postscreen", Action: "reject", Command: "RCPT", Code: "550", Reason: "dnsbl"})},
		{"postscreen cache", hdr + "postfix/postscreen[1]: cache btree:/var/lib/postfix/psc_cache full cleanup: retained=1 dropped=0 entries", pf("postscreen", flat{Kind: "other"})},
		{"dnsblog", hdr + "postfix/dnsblog[1]: addr 192.0.2.1 listed by domain zen.spamhaus.org as 127.0.0.4", pf("dnsblog", flat{Kind: "dnsblog", Action: "zen.spamhaus.org"})},
		{"anvil rate", hdr + "postfix/anvil[1]: statistics: max connection rate 3/60s for (smtp:192.0.2.50) at Nov 24 03:39:54", pf("anvil", flat{Kind: "anvil", Status: "connection_rate", Value: 3})},
		{"anvil count", hdr + "postfix/anvil[1]: statistics: max connection count 2 for (smtp:192.0.2.50) at Nov 24 03:39:54", pf("anvil", flat{Kind: "anvil", Status: "connection_count", Value: 2})},
		{"anvil cache", hdr + "postfix/anvil[1]: statistics: max cache size 4 at Nov 24 03:39:54", pf("anvil", flat{Kind: "anvil", Status: "cache_size", Value: 4})},
		{"scache domain", hdr + "postfix/scache[1]: statistics: domain lookup hits=2 miss=3 success=40%", pf("scache", flat{Kind: "scache", Status: "domain", Value: 2, Value2: 3})},
		{"scache start", hdr + "postfix/scache[1]: statistics: start interval Nov 24 03:36:34", pf("scache", flat{Kind: "other"})},
		{"scache max", hdr + "postfix/scache[1]: statistics: max simultaneous domains=1 addresses=1 connection=1", pf("scache", flat{Kind: "other"})},
		{"master started", hdr + "postfix/master[28234]: daemon started -- version 3.7.11, configuration /tmp/pfx1/etc", pf("master", flat{Kind: "master", Action: "started"})},
		{"master reload", hdr + "postfix/master[1]: reload -- version 3.7.11, configuration /etc/postfix", pf("master", flat{Kind: "master", Action: "reloaded"})},
		{"master terminating", hdr + "postfix/master[1]: terminating on signal 15", pf("master", flat{Kind: "master", Action: "terminated"})},
		{"master exit", hdr + "postfix/master[1]: warning: process /usr/lib/postfix/sbin/smtpd pid 123 exit status 1", pf("master", flat{Kind: "master", Action: "process_exited", Severity: "warning"})},
		{"master killed", hdr + "postfix/master[1]: warning: process /usr/lib/postfix/sbin/smtpd pid 123 killed by signal 9", pf("master", flat{Kind: "master", Action: "process_killed", Severity: "warning"})},
		{"master throttle", hdr + "postfix/master[1]: warning: /usr/lib/postfix/sbin/smtpd: bad command startup -- throttling", pf("master", flat{Kind: "master", Action: "throttled", Severity: "warning"})},
		{"postsuper", hdr + "postfix/postsuper[25203]: Placed on hold: 1 message", pf("postsuper", flat{Kind: "other"})},
		{"postfix-script", hdr + "postfix/postfix-script[1]: starting the Postfix mail system", pf("postfix-script", flat{Kind: "other"})},
		{"fatal", hdr + "postfix/smtpd[1]: fatal: open /etc/postfix/main.cf: No such file or directory", pf("smtpd", flat{Kind: "other", Severity: "fatal"})},
		{"non-utf8", hdr + "postfix/smtpd[1]: lost connection after \xff\xfe from x", pf("smtpd", flat{Kind: "lost_connection", Command: "other"})},
		{"non-utf8 tag", hdr + "postfix/\xffsmtpd[1]: connect from x", flat{Kind: "foreign"}},
	}
	p := NewParser()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ev Event
			p.Parse([]byte(tt.line), &ev)
			if diff := cmp.Diff(tt.want, flatten(&ev)); diff != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", tt.line, diff)
			}
		})
	}
}

func TestJournalMessage(t *testing.T) {
	p := NewParser()
	var ev Event
	p.ParseMessage([]byte("postfix/submission/smtpd"), []byte("connect from x[192.0.2.1]"), &ev)
	if got := flatten(&ev); got != pf("smtpd", flat{Kind: "connect", Service: "submission"}) {
		t.Errorf("got %+v", got)
	}
}

// TestGeneratedLogIsRecognised checks that the realistic log has no
// unsupported Postfix line: only its foreign lines stay unrecognised.
func TestGeneratedLogIsRecognised(t *testing.T) {
	var buf bytes.Buffer
	counts, err := loggen.Write(&buf, 20000, 7)
	if err != nil {
		t.Fatal(err)
	}
	p := NewParser()
	var ev Event
	foreign := 0
	for l := range strings.SplitSeq(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		p.Parse([]byte(l), &ev)
		switch ev.Kind {
		case KindForeign:
			foreign++
		case KindUnsupported, KindGarbage:
			t.Errorf("%v: %s", ev.Kind, l)
		}
	}
	if foreign != counts.Foreign {
		t.Errorf("foreign lines = %d, want %d", foreign, counts.Foreign)
	}
}

func TestProgramsAreCapped(t *testing.T) {
	p := NewParser()
	var ev Event
	for i := range 2 * maxPrograms {
		p.Parse([]byte(hdr+"postfix-"+strings.Repeat("x", i%50)+string(rune('a'+i%26))+"/i"+strings.Repeat("y", i/26)+"/smtpd[1]: connect from x"), &ev)
	}
	if n := len(p.Programs()); n > maxPrograms+10 {
		t.Errorf("%d programs kept, want at most about %d", n, maxPrograms)
	}
	if ev.Program.Instance != "other" {
		t.Errorf("instance after the cap = %q, want other", ev.Program.Instance)
	}
}

// BenchmarkParse reports lines/s of wall time and, because the test
// machine is shared, also per CPU second of this process (cpu-lines/s).
func BenchmarkParse(b *testing.B) {
	lines := sampleLines(b, 100000)
	p := NewParser()
	var ev Event
	b.ReportAllocs()
	cpu0 := cpuTime()
	n := 0
	for b.Loop() {
		p.Parse(lines[n%len(lines)], &ev)
		n++
	}
	reportRates(b, n, cpu0)
}

// BenchmarkProcessLine is the parser plus the metric updates: what the
// exporter spends per line.
func BenchmarkProcessLine(b *testing.B) {
	lines := sampleLines(b, 100000)
	c := New(promslog.NewNopLogger())
	b.ReportAllocs()
	cpu0 := cpuTime()
	n := 0
	for b.Loop() {
		c.ProcessLine(lines[n%len(lines)])
		n++
	}
	reportRates(b, n, cpu0)
}

func reportRates(b *testing.B, n int, cpu0 time.Duration) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lines/s")
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(n)/cpu.Seconds(), "cpu-lines/s")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func sampleLines(tb testing.TB, n int) [][]byte {
	tb.Helper()
	var buf bytes.Buffer
	if _, err := loggen.Write(&buf, n, 1); err != nil {
		tb.Fatal(err)
	}
	return bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n"))
}
