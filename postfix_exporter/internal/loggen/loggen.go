// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Package loggen writes a deterministic, realistic Postfix log: the mix of a
// small mail server with an MX, submission, postscreen and a few rejects,
// in the line formats Postfix 3.7 writes. Benchmarks and the whole-process
// comparison use it, so their figures are reproducible.
package loggen

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
)

// Counts are the events a generated log holds, for checking an exporter.
type Counts struct {
	Lines       int
	Connects    int // smtpd connect from
	Rejects     int // NOQUEUE: reject
	Deliveries  int // to=<...> lines of delivery agents
	Sent        int
	Deferred    int
	Bounced     int
	QmgrRemoved int
	Foreign     int
}

// Write writes about n lines (whole sessions, so a few more) to w.
func Write(w io.Writer, n int, seed uint64) (Counts, error) {
	bw := bufio.NewWriterSize(w, 1<<16)
	g := &gen{w: bw, r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	for g.c.Lines < n {
		g.session()
	}
	if err := bw.Flush(); err != nil {
		return g.c, err
	}
	return g.c, g.err
}

type gen struct {
	w   *bufio.Writer
	r   *rand.Rand
	c   Counts
	sec int
	pid int
	qid uint32
	err error
}

var hosts = []string{"mail-ed1-f41.google.com[209.85.208.41]", "mout.gmx.net[212.227.15.18]",
	"unknown[198.51.100.23]", "mx.example.org[192.0.2.10]", "smtp.mailbox.org[80.241.60.212]",
	"a1-2.smtp-out.amazonses.com[54.240.1.2]"}
var users = []string{"alice", "bob", "carol", "dave", "erin", "frank"}
var ciphers = []string{"TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256", "ECDHE-RSA-AES256-GCM-SHA384"}

func (g *gen) line(prog, format string, args ...any) {
	g.sec++
	g.pid = 1000 + g.sec%30000
	s := g.sec
	_, err := fmt.Fprintf(g.w, "Nov %2d %02d:%02d:%02d mx %s[%d]: ", 1+(s/86400)%28, (s/3600)%24, (s/60)%60, s%60, prog, g.pid)
	if err == nil {
		_, err = fmt.Fprintf(g.w, format, args...)
	}
	if err == nil {
		err = g.w.WriteByte('\n')
	}
	if err != nil && g.err == nil {
		g.err = err
	}
	g.c.Lines++
}

func (g *gen) nextQID() string {
	g.qid += 0x1F3A7
	return fmt.Sprintf("%X%04X", 0x4A000+g.qid%0xFFFF, g.qid&0xFFFF)
}

func (g *gen) session() {
	host := hosts[g.r.IntN(len(hosts))]
	user := users[g.r.IntN(len(users))]
	switch x := g.r.IntN(100); {
	case x < 8: // postscreen turns a bot away
		g.line("postfix/postscreen", "CONNECT from [198.51.100.%d]:%d to [192.0.2.1]:25", g.r.IntN(250), 40000+g.r.IntN(20000))
		g.line("postfix/postscreen", "PREGREET 11 after 0.09 from [198.51.100.7]:45678: EHLO bot\\r\\n")
		g.line("postfix/dnsblog", "addr 198.51.100.7 listed by domain zen.spamhaus.org as 127.0.0.4")
		g.line("postfix/postscreen", "DNSBL rank 3 for [198.51.100.7]:45678")
		g.line("postfix/postscreen", "NOQUEUE: reject: RCPT from [198.51.100.7]:45678: 550 5.7.1 Service unavailable; client [198.51.100.7] blocked using zen.spamhaus.org; from=<spam@bad.test>, to=<%s@example.org>, proto=ESMTP, helo=<bot>", user)
		g.line("postfix/postscreen", "DISCONNECT [198.51.100.7]:45678")
		return
	case x < 12: // foreign lines share mail.log on Debian
		g.line("dovecot", "imap-login: Login: user=<%s@example.org>, method=PLAIN, rip=192.0.2.50, lip=192.0.2.1, mpid=%d, TLS, session=<abcdEFGH>", user, g.r.IntN(9999))
		g.c.Foreign++
		return
	case x < 13:
		g.line("postfix/anvil", "statistics: max connection rate 3/60s for (smtp:192.0.2.50) at Nov 24 03:39:54")
		g.line("postfix/scache", "statistics: domain lookup hits=%d miss=%d success=50%%", g.r.IntN(9), g.r.IntN(9))
		return
	}
	g.line("postfix/postscreen", "CONNECT from [192.0.2.77]:%d to [192.0.2.1]:25", 40000+g.r.IntN(20000))
	g.line("postfix/postscreen", "PASS OLD [192.0.2.77]:%d", 40000+g.r.IntN(20000))
	prog := "postfix/smtpd"
	if g.r.IntN(4) == 0 {
		prog = "postfix/submission/smtpd"
	}
	g.line(prog, "connect from %s", host)
	g.c.Connects++
	g.line(prog, "Anonymous TLS connection established from %s: TLSv1.3 with cipher %s (256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256", host, ciphers[g.r.IntN(len(ciphers))])
	if g.r.IntN(10) == 0 {
		g.line(prog, "NOQUEUE: reject: RCPT from %s: 550 5.1.1 <nosuch@example.org>: Recipient address rejected: User unknown in virtual mailbox table; from=<x@sender.test> to=<nosuch@example.org> proto=ESMTP helo=<client.test>", host)
		g.c.Rejects++
		g.line(prog, "disconnect from %s ehlo=2 starttls=1 mail=1 rcpt=0/1 quit=1 commands=5/6", host)
		return
	}
	if g.r.IntN(25) == 0 {
		g.line(prog, "lost connection after DATA (0 bytes) from %s", host)
		g.line(prog, "disconnect from %s ehlo=1 mail=1 rcpt=1 data=0/1 commands=3/4", host)
		return
	}
	qid := g.nextQID()
	if prog == "postfix/submission/smtpd" {
		g.line(prog, "%s: client=%s, sasl_method=PLAIN, sasl_username=%s@example.org", qid, host, user)
	} else {
		g.line(prog, "%s: client=%s", qid, host)
	}
	g.line("postfix/cleanup", "%s: message-id=<%x.%d@%s.example>", qid, g.r.Uint64(), g.sec, user)
	size := 800 + g.r.IntN(200000)
	g.line("postfix/qmgr", "%s: from=<%s@sender.test>, size=%d, nrcpt=1 (queue active)", qid, user, size)
	g.line(prog, "disconnect from %s ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7", host)
	g.c.Deliveries++
	d := func() string {
		return fmt.Sprintf("delay=%.2g, delays=%.2g/%.2g/%.2g/%.2g", g.r.Float64()*3, g.r.Float64(), g.r.Float64()/10, g.r.Float64()/5, g.r.Float64())
	}
	switch y := g.r.IntN(20); {
	case y < 11:
		g.line("postfix/lmtp", "%s: to=<%s@example.org>, relay=mail.example.org[private/dovecot-lmtp], %s, dsn=2.0.0, status=sent (250 2.0.0 <%s@example.org> 8JmvMBpQI2fLDQAAbHvJ2A Saved)", qid, user, d(), user)
		g.c.Sent++
	case y < 16:
		g.line("postfix/smtp", "Trusted TLS connection established to gmail-smtp-in.l.google.com[142.250.102.27]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (P-256) server-digest SHA256")
		g.line("postfix/smtp", "%s: to=<friend%d@gmail.com>, relay=gmail-smtp-in.l.google.com[142.250.102.27]:25, %s, dsn=2.0.0, status=sent (250 2.0.0 OK  1732419594 5b1f17b1804b1-43%d.8 - gsmtp)", qid, g.r.IntN(99), d(), g.r.IntN(9999))
		g.c.Sent++
	case y < 18:
		g.line("postfix/smtp", "connect to mx.unreachable.test[203.0.113.9]:25: Connection timed out")
		g.line("postfix/smtp", "%s: to=<info@unreachable.test>, relay=none, %s, dsn=4.4.1, status=deferred (connect to mx.unreachable.test[203.0.113.9]:25: Connection timed out)", qid, d())
		g.c.Deferred++
		return // stays in the queue
	case y < 19:
		g.line("postfix/smtp", "%s: to=<gone@example.net>, relay=mx.example.net[192.0.2.99]:25, %s, dsn=5.1.1, status=bounced (host mx.example.net[192.0.2.99] said: 550 5.1.1 User unknown (in reply to RCPT TO command))", qid, d())
		g.c.Bounced++
		bq := g.nextQID()
		g.line("postfix/cleanup", "%s: message-id=<%d.%s@mx.example.org>", bq, g.sec, bq)
		g.line("postfix/bounce", "%s: sender non-delivery notification: %s", qid, bq)
		g.line("postfix/qmgr", "%s: from=<>, size=%d, nrcpt=1 (queue active)", bq, size+2000)
		g.line("postfix/qmgr", "%s: removed", bq)
		g.c.QmgrRemoved++
	default:
		g.line("postfix/virtual", "%s: to=<%s@example.org>, relay=virtual, %s, dsn=2.0.0, status=sent (delivered to maildir)", qid, user, d())
		g.c.Sent++
	}
	g.line("postfix/qmgr", "%s: removed", qid)
	g.c.QmgrRemoved++
}
