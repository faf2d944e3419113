// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package probe

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/promslog"
)

func TestCheckGreeting(t *testing.T) {
	tests := []struct {
		name     string
		proto    Protocol
		greeting string
		ok       bool
	}{
		{"imap", IMAP, "* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n", true},
		{"imap preauth", IMAP, "* PREAUTH ready\r\n", true},
		{"imap waiting for auth, then ready", IMAP, "* OK Waiting for authentication process to respond..\r\n* OK [CAPABILITY IMAP4rev1] ready.\r\n", true},
		{"imap waiting for auth only", IMAP, "* OK Waiting for authentication process to respond..\r\n", false},
		{"pop3 waiting for auth only", POP3, "+OK Waiting for authentication process to respond..\r\n", false},
		{"imap bye", IMAP, "* BYE Too many connections\r\n", false},
		{"pop3", POP3, "+OK Dovecot ready.\r\n", true},
		{"pop3 error", POP3, "-ERR [SYS/TEMP] down\r\n", false},
		{"lmtp", SMTP, "220 mail Dovecot ready.\r\n", true},
		{"smtp multi-line", SMTP, "220-mail ESMTP\r\n220 ready\r\n", true},
		{"smtp busy", SMTP, "421 4.3.2 shutting down\r\n", false},
		{"managesieve", ManageSieve, "\"IMPLEMENTATION\" \"Dovecot Pigeonhole\"\r\n\"SIEVE\" \"fileinto\"\r\n\"VERSION\" \"1.0\"\r\nOK \"Dovecot ready.\"\r\n", true},
		{"managesieve bye", ManageSieve, "BYE \"Too many\"\r\n", false},
		{"managesieve garbage", ManageSieve, "220 wrong port\r\n", false},
		{"cut greeting", IMAP, "* OK", false},
		{"empty", POP3, "", false},
		{"imap on the pop3 port", POP3, "* OK ready\r\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckGreeting(bufio.NewReader(strings.NewReader(tt.greeting)), tt.proto)
			if (err == nil) != tt.ok {
				t.Errorf("CheckGreeting(%q) = %v, want ok %v", tt.greeting, err, tt.ok)
			}
		})
	}
}

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in      string
		want    Target
		wantErr string
	}{
		{in: "imap=127.0.0.1:143", want: Target{"imap", "127.0.0.1:143", IMAP, false}},
		{in: "pop3s=mail.example.org:995", want: Target{"pop3s", "mail.example.org:995", POP3, true}},
		{in: "lmtp=[::1]:24", want: Target{"lmtp", "[::1]:24", SMTP, false}},
		{in: "managesieve=localhost:4190", want: Target{"managesieve", "localhost:4190", ManageSieve, false}},
		{in: "imap", wantErr: "want SERVICE=HOST:PORT"},
		{in: "gopher=host:70", wantErr: `unknown service "gopher"`},
		{in: "imap=host", wantErr: "missing port"},
	}
	for _, tt := range tests {
		got, err := ParseTarget(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseTarget(%q) err = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseTarget(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

// serve accepts on a loopback port and gives each connection to handle.
func serve(t *testing.T, l net.Listener, handle func(net.Conn)) string {
	t.Helper()
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
	return l.Addr().String()
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func greeter(greeting string) func(net.Conn) {
	return func(c net.Conn) {
		defer c.Close()
		_, _ = c.Write([]byte(greeting))
		time.Sleep(100 * time.Millisecond)
	}
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func TestScrape(t *testing.T) {
	cert, pool := selfSigned(t)
	imap := serve(t, listen(t), greeter("* OK ready\r\n"))
	pop3 := serve(t, listen(t), greeter("-ERR down\r\n"))
	imaps := serve(t, tls.NewListener(listen(t), &tls.Config{Certificates: []tls.Certificate{cert}}), greeter("* OK secure\r\n"))
	silent := serve(t, listen(t), func(c net.Conn) { time.Sleep(5 * time.Second); c.Close() })
	closed := listen(t)
	closedAddr := closed.Addr().String()
	closed.Close()

	targets := []Target{
		{"imap", imap, IMAP, false},
		{"pop3", pop3, POP3, false},
		{"imaps", imaps, IMAP, true},
		{"lmtp", silent, SMTP, false},
		{"submission", closedAddr, SMTP, false},
	}
	p := New(targets, &tls.Config{RootCAs: pool}, promslog.NewNopLogger())
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	ch := make(chan prometheus.Metric, 20)
	start := time.Now()
	err := p.Scrape(ctx, ch)
	took := time.Since(start)
	close(ch)
	if err == nil || !strings.Contains(err.Error(), "lmtp") || !strings.Contains(err.Error(), "pop3") {
		t.Errorf("err = %v, want the failed targets named", err)
	}
	if took > 1500*time.Millisecond {
		t.Errorf("took %v past a 500ms deadline", took)
	}
	got := map[string]float64{}
	for m := range ch {
		if !strings.Contains(m.Desc().String(), "dovecot_probe_success") {
			continue
		}
		var svc string
		for _, s := range []string{"imaps", "imap", "pop3", "lmtp", "submission"} {
			if strings.Contains(metricString(m), `"`+s+`"`) {
				svc = s
				break
			}
		}
		got[svc] = testutil.ToFloat64(constCollector{m: m})
	}
	want := map[string]float64{"imap": 1, "imaps": 1, "pop3": 0, "lmtp": 0, "submission": 0}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("success{%s} = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}

	// Without the CA the TLS probe fails.
	p = New(targets[2:3], nil, promslog.NewNopLogger())
	if err := p.Probe(context.Background(), targets[2]); err == nil || !strings.Contains(err.Error(), "TLS") {
		t.Errorf("untrusted certificate: err = %v", err)
	}
}

func TestLint(t *testing.T) {
	l := listen(t)
	addr := serve(t, l, greeter("+OK\r\n"))
	p := New([]Target{{"pop3", addr, POP3, false}}, nil, promslog.NewNopLogger())
	problems, err := testutil.CollectAndLint(constCollector{nil, p})
	if err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
}

// constCollector wraps one metric, or a Prober's scrape.
type constCollector struct {
	m prometheus.Metric
	p *Prober
}

func (constCollector) Describe(chan<- *prometheus.Desc) {}
func (c constCollector) Collect(ch chan<- prometheus.Metric) {
	if c.p != nil {
		_ = c.p.Scrape(context.Background(), ch)
		return
	}
	ch <- c.m
}

func metricString(m prometheus.Metric) string {
	reg := prometheus.NewRegistry()
	reg.MustRegister(constCollector{m: m})
	mfs, _ := reg.Gather()
	var b strings.Builder
	for _, mf := range mfs {
		b.WriteString(mf.String())
	}
	return b.String()
}
