// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Package postfix tests postfix_exporter against Debian's Postfix 3.7
// running with its own configuration and queue on loopback: mail that is
// accepted, rejected and deferred, the queue as showq and postqueue see it,
// log rotation by postlogd itself and by copytruncate, and the faults.
package postfix

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/downwatch/downwatch/itest/daemon/postfix"
	"github.com/downwatch/downwatch/itest/daemon/proc"
)

const sender = "bob@sender.test"

func TestMailFlowAndQueue(t *testing.T) {
	t.Parallel()
	pf := postfix.Start(t, postfix.Options{})
	e := startExporter(t, nil, "--postfix.logfile="+pf.LogFile, "--postfix.logfile.from-start",
		"--postfix.showq-path="+pf.ShowqPath)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	if out, err := postfix.Swaks(ctx, pf.SMTPAddr, sender, postfix.Mailbox); err != nil {
		t.Fatalf("accepted mail: %v\n%s", err, out)
	}
	if out, err := postfix.Swaks(ctx, pf.SMTPAddr, sender, "nobody@"+postfix.Domain); err == nil {
		t.Fatalf("mail to an unknown recipient was accepted:\n%s", out)
	}
	if out, err := postfix.Swaks(ctx, pf.SubmissionAddr, sender, "someone@"+postfix.RemoteDomain); err != nil {
		t.Fatalf("mail to relay: %v\n%s", err, out)
	}

	exps := []expectation{
		{"postfix_smtpd_connects_total", []string{"service=smtpd"}, 2},
		{"postfix_smtpd_connects_total", []string{"service=submission"}, 1},
		{"postfix_smtpd_disconnects_total", nil, 3},
		{"postfix_smtpd_messages_processed_total", nil, 2},
		{"postfix_smtpd_messages_rejected_total", []string{"service=smtpd", "command=RCPT", "code=550", "reason=unknown_user"}, 1},
		{"postfix_cleanup_messages_processed_total", nil, 2},
		{"postfix_qmgr_messages_inserted_size_bytes_count", nil, 2},
		{"postfix_qmgr_messages_inserted_recipients_sum", nil, 2},
		{"postfix_deliveries_total", []string{"daemon=virtual", "status=sent"}, 1},
		{"postfix_deliveries_total", []string{"daemon=smtp", "status=deferred"}, 1},
		{"postfix_deliveries_total", nil, 2},
		{"postfix_smtp_deferred_messages_total", nil, 1},
		{"postfix_smtp_connection_errors_total", []string{"reason=refused"}, 1},
		{"postfix_qmgr_messages_removed_total", nil, 1},
		{"postfix_log_source_up", []string{"source=file"}, 1},
		{"postfix_up", nil, 1},
		{"postfix_showq_messages", []string{"queue=deferred"}, 1},
		{"postfix_showq_messages", nil, 1},
		{"postfix_unsupported_log_entries_total", nil, 0},
	}
	for _, st := range []string{"before_queue_manager", "queue_manager", "connection_setup", "transmission"} {
		exps = append(exps,
			expectation{"postfix_virtual_delivery_delay_seconds_count", []string{"stage=" + st}, 1},
			expectation{"postfix_smtp_delivery_delay_seconds_count", []string{"stage=" + st}, 1})
	}
	s := e.waitMetrics(t, 30*time.Second, exps...)
	if s.has("postfix_smtp_delivery_delay_seconds_count") && s.sum("postfix_smtp_delivery_delay_seconds_count", "stage=") != 0 {
		t.Error("a delay sample with an empty stage label")
	}
	compareWithPostqueue(t, ctx, pf, e)

	// Hold the deferred message: showq and postqueue follow.
	if err := pf.Postsuper(ctx, "-h", "ALL"); err != nil {
		t.Fatal(err)
	}
	e.waitMetrics(t, 10*time.Second,
		expectation{"postfix_showq_messages", []string{"queue=hold"}, 1},
		expectation{"postfix_showq_messages", []string{"queue=deferred"}, 0})
	compareWithPostqueue(t, ctx, pf, e)
}

// compareWithPostqueue checks that the exporter's queue gauges and size
// sums equal what `postqueue -j` lists.
func compareWithPostqueue(t *testing.T, ctx context.Context, pf *postfix.Postfix, e *exporter) {
	t.Helper()
	msgs, err := pf.Queue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	count, size := map[string]float64{}, map[string]float64{}
	for _, m := range msgs {
		count[m.QueueName]++
		size[m.QueueName] += float64(m.MessageSize)
	}
	s := e.scrape(t)
	for _, q := range []string{"maildrop", "incoming", "active", "deferred", "hold"} {
		if got := s.sum("postfix_showq_messages", "queue="+q); got != count[q] {
			t.Errorf("queue %s: exporter %v messages, postqueue -j %v", q, got, count[q])
		}
		if got := s.sum("postfix_showq_message_size_bytes_sum", "queue="+q); got != size[q] {
			t.Errorf("queue %s: exporter %v bytes, postqueue -j %v", q, got, size[q])
		}
		if got := s.sum("postfix_showq_message_age_seconds_count", "queue="+q); got != count[q] {
			t.Errorf("queue %s: age histogram count %v, want %v", q, got, count[q])
		}
	}
}

// logWriter writes numbered smtpd lines through Postfix's own postlog(1)
// and postlogd(8), which appends them to maillog_file.
type logWriter struct {
	mu      sync.Mutex
	pf      *postfix.Postfix
	written int
}

func (w *logWriter) write(t *testing.T) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.written++
	out, err := exec.Command("/usr/sbin/postlog", "-c", w.pf.ConfigDir, "-t", "postfix/smtpd", "-i",
		fmt.Sprintf("connect from host%d.example[192.0.2.1]", w.written)).CombinedOutput()
	if err != nil {
		t.Errorf("postlog: %v: %s", err, out)
	}
}

// TestRotationByPostfix rotates with `postfix logrotate` (rename, reload so
// that postlogd creates a new file, gzip the old one) while lines are
// written: every line is counted once.
func TestRotationByPostfix(t *testing.T) {
	t.Parallel()
	pf := postfix.Start(t, postfix.Options{})
	e := startExporter(t, nil, "--postfix.logfile="+pf.LogFile, "--postfix.logfile.from-start",
		"--postfix.logfile.poll-interval=20ms", "--postfix.showq-path=")
	w := &logWriter{pf: pf}
	const n = 240
	var rotations sync.WaitGroup
	for i := range n {
		w.write(t)
		if i == n/3 || i == 2*n/3 {
			rotations.Add(1)
			go func() {
				defer rotations.Done()
				if out, err := exec.Command("/usr/sbin/postfix", "-c", pf.ConfigDir, "logrotate").CombinedOutput(); err != nil {
					t.Errorf("postfix logrotate: %v: %s", err, out)
				}
			}()
			// logrotate names the old file by the second.
			if i == n/3 {
				time.Sleep(1100 * time.Millisecond)
			}
		}
	}
	rotations.Wait()
	rotated, _ := filepath.Glob(pf.LogFile + ".*")
	if len(rotated) != 2 {
		t.Errorf("rotated files %v, want 2", rotated)
	}
	e.waitMetrics(t, 20*time.Second, expectation{"postfix_smtpd_connects_total", nil, n})
	time.Sleep(300 * time.Millisecond)
	e.waitMetrics(t, time.Second, expectation{"postfix_smtpd_connects_total", nil, n},
		expectation{"postfix_log_source_up", []string{"source=file"}, 1})
}

// TestRotationCopyTruncate copies and truncates postlogd's file while
// lines are written. copytruncate itself loses what is written between the
// copy and the truncation, so the writer pauses for that moment (as
// logrotate's window is short against a poll interval); afterwards it
// writes on at once, past the old offset.
func TestRotationCopyTruncate(t *testing.T) {
	t.Parallel()
	pf := postfix.Start(t, postfix.Options{})
	e := startExporter(t, nil, "--postfix.logfile="+pf.LogFile, "--postfix.logfile.from-start",
		"--postfix.logfile.poll-interval=20ms", "--postfix.showq-path=")
	w := &logWriter{pf: pf}
	const n = 240
	for i := range n {
		w.write(t)
		if i == n/3 || i == 2*n/3 {
			w.mu.Lock()
			e.waitMetrics(t, 20*time.Second, expectation{"postfix_smtpd_connects_total", nil, float64(w.written)})
			b, err := os.ReadFile(pf.LogFile)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(fmt.Sprintf("%s.%d", pf.LogFile, i), b, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(pf.LogFile, 0); err != nil {
				t.Fatal(err)
			}
			w.mu.Unlock()
		}
	}
	e.waitMetrics(t, 20*time.Second, expectation{"postfix_smtpd_connects_total", nil, n})
	time.Sleep(300 * time.Millisecond)
	e.waitMetrics(t, time.Second, expectation{"postfix_smtpd_connects_total", nil, n},
		expectation{"postfix_unsupported_log_entries_total", []string{"daemon=garbage"}, 0})
}

// TestLogFileMissingAtStart starts the exporter before Postfix has written
// its log: it waits for the file and reads it from the start.
func TestLogFileMissingAtStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logFile := filepath.Join(dir, "maillog")
	e := startExporter(t, nil, "--postfix.logfile="+logFile, "--postfix.showq-path=")
	e.waitMetrics(t, 5*time.Second, expectation{"postfix_log_source_up", []string{"source=file"}, 0})
	pf := postfix.Start(t, postfix.Options{Dir: dir})
	if pf.LogFile != logFile {
		t.Fatalf("log file %s, want %s", pf.LogFile, logFile)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := postfix.Swaks(ctx, pf.SMTPAddr, sender, postfix.Mailbox); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	e.waitMetrics(t, 20*time.Second,
		expectation{"postfix_log_source_up", []string{"source=file"}, 1},
		expectation{"postfix_master_events_total", []string{"event=started"}, 1},
		expectation{"postfix_smtpd_connects_total", nil, 1},
		expectation{"postfix_deliveries_total", []string{"daemon=virtual", "status=sent"}, 1})
	if n := strings.Count(e.p.LogTail(100000), "cannot open log file"); n != 1 {
		t.Errorf("missing file logged %d times, want once", n)
	}
}

// worldReadableCopy copies the exporter binary where an unprivileged user
// can run it.
func worldReadableCopy(t *testing.T) string {
	t.Helper()
	bin := proc.Exporter(t, "postfix_exporter")
	dir := t.TempDir()
	for d := dir; d != "/" && d != "."; d = filepath.Dir(d) {
		if st, err := os.Stat(d); err == nil && st.Mode().Perm()&0o005 != 0o005 {
			_ = os.Chmod(d, st.Mode().Perm()|0o005)
		}
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "postfix_exporter")
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestShowqFaults: a missing socket and one the exporter may not open (it
// runs as nobody, outside the postdrop group) give postfix_up 0, HTTP 200
// and one log line each, however often they are scraped.
func TestShowqFaults(t *testing.T) {
	t.Parallel()
	pf := postfix.Start(t, postfix.Options{})
	setpriv := proc.RequireBinary(t, "setpriv")
	tests := []struct {
		name    string
		wrap    []string
		path    string
		wantLog string
	}{
		{"missing", nil, filepath.Join(t.TempDir(), "nosuch", "showq"), "no such file or directory"},
		{"permission denied", []string{setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"}, pf.ShowqPath, "permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wrap := tt.wrap
			if wrap != nil {
				wrap = append(wrap, "--")
				bin := worldReadableCopy(t)
				wrap = append(wrap, bin)
				e := startExporterPath(t, wrap, "--postfix.logfile=", "--postfix.showq-path="+tt.path)
				checkShowqDown(t, e, tt.wantLog)
				return
			}
			e := startExporter(t, nil, "--postfix.logfile=", "--postfix.showq-path="+tt.path)
			checkShowqDown(t, e, tt.wantLog)
		})
	}
	// The same socket is readable for root, the postdrop group's stand-in.
	e := startExporter(t, nil, "--postfix.logfile=", "--postfix.showq-path="+pf.ShowqPath)
	e.waitMetrics(t, 10*time.Second, expectation{"postfix_up", nil, 1})
}

// startExporterPath runs a command line whose last element is the binary.
func startExporterPath(t *testing.T, cmd []string, args ...string) *exporter {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", proc.FreePort(t))
	all := append(append(cmd[1:], "--web.listen-address="+addr), args...)
	dir := t.TempDir()
	_ = os.Chmod(dir, 0o777)
	p := proc.Start(t, proc.Spec{Name: "postfix_exporter", Path: cmd[0], Args: all, Dir: dir})
	if err := proc.WaitTCP(addr, 15*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, p.LogTail(3000))
	}
	return &exporter{url: "http://" + addr + "/metrics", p: p}
}

func checkShowqDown(t *testing.T, e *exporter, wantLog string) {
	t.Helper()
	for range 3 {
		start := time.Now()
		s := e.scrape(t)
		if s.sum("postfix_up") != 0 || !s.has("postfix_up") {
			t.Errorf("postfix_up = %v, want 0", s.sum("postfix_up"))
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("scrape took %v", d)
		}
	}
	logs := e.p.LogTail(100000)
	if n := strings.Count(logs, "cannot read the Postfix queue"); n != 1 || !strings.Contains(logs, wantLog) {
		t.Errorf("want one log line with %q, got:\n%s", wantLog, logs)
	}
}

// TestHugeLineAndBinary appends a 10 MB line, non-UTF-8 bytes and binary
// garbage: they are counted, the exposition stays valid UTF-8, the lines
// after them are read, and memory stays small.
func TestHugeLineAndBinary(t *testing.T) {
	t.Parallel()
	logFile := filepath.Join(t.TempDir(), "maillog")
	if err := os.WriteFile(logFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	e := startExporter(t, nil, "--postfix.logfile="+logFile, "--postfix.showq-path=")
	e.waitMetrics(t, 5*time.Second, expectation{"postfix_log_source_up", []string{"source=file"}, 1})
	hdr := "Nov 24 03:39:54 mx "
	content := hdr + "postfix/smtpd[1]: connect from " + strings.Repeat("a", 10<<20) + "[192.0.2.1]\n" +
		hdr + "postfix/smtpd[1]: lost connection after \xff\xfe from x[192.0.2.1]\n" +
		"\x00\xff\xc3\x28 binary garbage\n" +
		hdr + "postfix/sm\xfftpd[1]: connect from x[192.0.2.1]\n" +
		hdr + "postfix/smtpd[1]: connect from x[192.0.2.1]\n"
	f, err := os.OpenFile(logFile, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	f.Close()
	s := e.waitMetrics(t, 20*time.Second,
		expectation{"postfix_log_lines_total", nil, 5},
		expectation{"postfix_smtpd_connects_total", nil, 2},
		expectation{"postfix_smtpd_connections_lost_total", []string{"after_stage=other"}, 1},
		expectation{"postfix_unsupported_log_entries_total", []string{"daemon=garbage"}, 1},
		expectation{"postfix_unsupported_log_entries_total", []string{"daemon=foreign"}, 1})
	if !utf8.ValidString(s.text) {
		t.Error("exposition is not valid UTF-8")
	}
	rss := s.sum("process_resident_memory_bytes")
	if rss > 64<<20 {
		t.Errorf("resident memory %v MB after a 10 MB line", rss/(1<<20))
	}
}

// TestJournalSource runs the exporter with --postfix.journal and a stand-in
// for journalctl that writes journal JSON, as journalctl --output=json does.
func TestJournalSource(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	script := filepath.Join(dir, "journalctl")
	body := `#!/bin/sh
# Arguments are what the exporter passes to journalctl.
echo "$@" > ` + filepath.Join(dir, "args") + `
cat <<'EOF'
{"SYSLOG_IDENTIFIER":"postfix/submission/smtpd","MESSAGE":"connect from x[192.0.2.1]","_SYSTEMD_UNIT":"postfix.service"}
{"SYSLOG_IDENTIFIER":"postfix/smtpd","MESSAGE":"NOQUEUE: reject: RCPT from x[192.0.2.1]: 554 5.7.1 <a@b.test>: Relay access denied; from=<c@d> to=<a@b.test> proto=ESMTP helo=<h>"}
{"SYSLOG_IDENTIFIER":"postfix/smtpd","MESSAGE":[108,111,115,116,32,99,111,110,110,101,99,116,105,111,110,32,97,102,116,101,114,32,255,32,102,114,111,109,32,120]}
EOF
exec sleep 600
`
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	e := startExporter(t, nil, "--postfix.journal", "--postfix.journal.unit=postfix.service",
		"--postfix.journal.unit=postfix@-out.service", "--postfix.journal.journalctl="+script, "--postfix.showq-path=")
	e.waitMetrics(t, 10*time.Second,
		expectation{"postfix_log_source_up", []string{"source=journal"}, 1},
		expectation{"postfix_smtpd_connects_total", []string{"service=submission"}, 1},
		expectation{"postfix_smtpd_messages_rejected_total", []string{"reason=relay_denied", "code=554"}, 1},
		expectation{"postfix_smtpd_connections_lost_total", []string{"after_stage=other"}, 1})
	args, err := os.ReadFile(filepath.Join(dir, "args"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "--follow --output=json --lines=0 --quiet --output-fields=SYSLOG_IDENTIFIER,MESSAGE --unit=postfix.service --unit=postfix@-out.service"; strings.TrimSpace(string(args)) != want {
		t.Errorf("journalctl args %q, want %q", args, want)
	}
}

func TestBadFlags(t *testing.T) {
	t.Parallel()
	bin := proc.Exporter(t, "postfix_exporter")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--postfix.journal", "--postfix.logfile=/var/log/mail.log"}, "--postfix.journal and --postfix.logfile exclude each other"},
		{[]string{"--postfix.timeout=0s"}, "--postfix.timeout=0s"},
		{[]string{"--postfix.journal", "--postfix.journal.unit="}, "--postfix.journal.unit"},
	} {
		out, err := exec.Command(bin, append([]string{fmt.Sprintf("--web.listen-address=127.0.0.1:%d", proc.FreePort(t))}, tt.args...)...).CombinedOutput()
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if err == nil || !strings.HasPrefix(lines[len(lines)-1], "postfix_exporter: error: ") || !strings.Contains(lines[len(lines)-1], tt.want) {
			t.Errorf("%v: err %v, output:\n%s", tt.args, err, out)
		}
	}
}

// TestLMTPDeferredAndErrorBounce: lmtp to a missing socket defers; error(8)
// bounces a message submitted with sendmail (pickup), whose null sender
// gets no notification.
func TestLMTPDeferredAndErrorBounce(t *testing.T) {
	t.Parallel()
	pf := postfix.Start(t, postfix.Options{})
	e := startExporter(t, nil, "--postfix.logfile="+pf.LogFile, "--postfix.logfile.from-start",
		"--postfix.showq-path="+pf.ShowqPath)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if out, err := postfix.Swaks(ctx, pf.SMTPAddr, sender, "x@"+postfix.LMTPDomain); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// smtpd refuses recipients whose transport is error(8); local
	// submission takes them.
	if err := pf.Sendmail(ctx, "", "x@"+postfix.BounceDomain); err != nil {
		t.Fatal(err)
	}
	exps := []expectation{
		{"postfix_deliveries_total", []string{"daemon=lmtp", "status=deferred"}, 1},
		{"postfix_deliveries_total", []string{"daemon=error", "status=bounced"}, 1},
		{"postfix_deliveries_total", nil, 2},
		{"postfix_qmgr_messages_removed_total", nil, 1},
		{"postfix_pickup_messages_total", nil, 1},
		{"postfix_showq_messages", []string{"queue=deferred"}, 1},
		{"postfix_unsupported_log_entries_total", nil, 0},
	}
	for _, st := range []string{"before_queue_manager", "queue_manager", "connection_setup", "transmission"} {
		exps = append(exps, expectation{"postfix_lmtp_delivery_delay_seconds_count", []string{"stage=" + st}, 1})
	}
	e.waitMetrics(t, 30*time.Second, exps...)
	compareWithPostqueue(t, ctx, pf, e)
}
