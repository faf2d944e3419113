// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Package postfix runs Debian's Postfix for tests and the demo: its own
// config_directory, queue_directory and data_directory in a temporary
// directory, smtpd (and a submission service) on free loopback ports, and
// postlogd writing the log to a file (maillog_file). The instance accepts
// mail for alice@example.test (virtual delivery into a maildir), rejects
// other recipients of example.test, relays mail for remote.test to a
// loopback port where nothing listens and mail for lmtp.test to a missing
// LMTP socket (both deferred), and bounces mail for bounce.test (error(8)).
package postfix

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/downwatch/downwatch/itest/daemon/proc"
)

// Options configure an instance. The zero value is usable.
type Options struct {
	// Dir holds everything; Start uses t.TempDir() when empty,
	// StartProcess requires it.
	Dir string
	// Main is appended to main.cf ("name = value" lines).
	Main []string
	// Master is appended to master.cf.
	Master []string
}

// Postfix is a running instance.
type Postfix struct {
	Dir       string
	ConfigDir string
	QueueDir  string
	// LogFile is postlogd's maillog_file.
	LogFile string
	// ShowqPath is the showq socket.
	ShowqPath string
	// SMTPAddr and SubmissionAddr are host:port of the two smtpd services;
	// the second logs as postfix/submission/smtpd.
	SMTPAddr, SubmissionAddr string
	// ClosedPort is where mail for remote.test is relayed; nothing listens.
	ClosedPort int

	master *proc.Process
}

// Domains and addresses the instance knows.
const (
	Domain       = "example.test"
	Mailbox      = "alice@example.test"
	RemoteDomain = "remote.test"
	// LMTPDomain goes to an LMTP socket that does not exist: deferred.
	LMTPDomain = "lmtp.test"
	// BounceDomain goes to error(8): bounced at once.
	BounceDomain   = "bounce.test"
	sbinDir        = "/usr/sbin"
	daemonDir      = "/usr/lib/postfix/sbin"
	startupTimeout = 20 * time.Second
)

// Start starts an instance for a test and stops it when the test ends. It
// skips (or in CI fails) when Postfix is not installed.
func Start(t testing.TB, opts Options) *Postfix {
	t.Helper()
	proc.RequireBinary(t, "postfix")
	proc.RequireBinary(t, "master")
	proc.RequireRoot(t)
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	p, err := StartProcess(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- %s:\n%s", p.LogFile, proc.FileTail(p.LogFile, 6000))
		}
		p.Stop()
	})
	return p
}

// StartProcess starts an instance without a test, for the demo. Stop it
// with Stop.
func StartProcess(opts Options) (*Postfix, error) {
	if opts.Dir == "" {
		return nil, errors.New("postfix: Options.Dir is required")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	p := &Postfix{
		Dir:       dir,
		ConfigDir: filepath.Join(dir, "etc"),
		QueueDir:  filepath.Join(dir, "spool"),
		LogFile:   filepath.Join(dir, "maillog"),
	}
	p.ShowqPath = filepath.Join(p.QueueDir, "public", "showq")
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	p.SMTPAddr = fmt.Sprintf("127.0.0.1:%d", ports[0])
	p.SubmissionAddr = fmt.Sprintf("127.0.0.1:%d", ports[1])
	p.ClosedPort = ports[2]
	if err := p.writeConfig(opts); err != nil {
		return nil, err
	}
	if out, err := exec.Command(filepath.Join(sbinDir, "postfix"), "-c", p.ConfigDir, "check").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("postfix check: %w: %s", err, out)
	}
	if err := p.startMaster(); err != nil {
		return nil, err
	}
	return p, nil
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func (p *Postfix) writeConfig(opts Options) error {
	for _, d := range []string{p.ConfigDir, p.QueueDir, filepath.Join(p.Dir, "data"), filepath.Join(p.Dir, "mail")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	// The test directory may be private (t.TempDir is 0700): Postfix's
	// daemons run as user postfix and must reach their queue.
	for d := p.Dir; d != "/" && d != "."; d = filepath.Dir(d) {
		if st, err := os.Stat(d); err == nil && st.Mode().Perm()&0o005 != 0o005 {
			_ = os.Chmod(d, st.Mode().Perm()|0o005)
		}
	}
	uid, gid := 65534, 65534 // nobody/nogroup own the delivered mail
	if err := os.Chown(filepath.Join(p.Dir, "mail"), uid, gid); err != nil {
		return err
	}
	pf, err := lookupUID("postfix")
	if err != nil {
		return err
	}
	if err := os.Chown(filepath.Join(p.Dir, "data"), pf, -1); err != nil {
		return err
	}
	main := []string{
		"compatibility_level = 3.6",
		"queue_directory = " + p.QueueDir,
		"data_directory = " + filepath.Join(p.Dir, "data"),
		"mail_owner = postfix",
		"setgid_group = postdrop",
		"inet_interfaces = 127.0.0.1",
		"inet_protocols = ipv4",
		"myhostname = mx.example.test",
		"mydomain = example.test",
		"mydestination =",
		"alias_maps =",
		"alias_database =",
		"maillog_file = " + p.LogFile,
		"maillog_file_prefixes = " + p.Dir,
		"smtpd_peername_lookup = no",
		"smtp_host_lookup = native",
		"disable_dns_lookups = yes",
		"mynetworks = 127.0.0.0/8",
		"virtual_mailbox_domains = " + Domain,
		"virtual_mailbox_maps = inline:{ {" + Mailbox + "=" + Domain + "/alice/} }",
		"virtual_mailbox_base = " + filepath.Join(p.Dir, "mail"),
		fmt.Sprintf("virtual_uid_maps = static:%d", uid),
		fmt.Sprintf("virtual_gid_maps = static:%d", gid),
		fmt.Sprintf("transport_maps = inline:{ {%s=smtp:[127.0.0.1]:%d}, {%s=lmtp:unix:%s}, {%s=error:5.1.1 no such user here} }",
			RemoteDomain, p.ClosedPort, LMTPDomain, filepath.Join(p.Dir, "no-lmtp-socket"), BounceDomain),
		// Retry deferred mail soon, so that tests see the queue move.
		"queue_run_delay = 300s",
		"minimal_backoff_time = 300s",
		"smtp_connect_timeout = 5s",
	}
	main = append(main, opts.Main...)
	master := []string{
		p.SMTPAddr + " inet n - n - - smtpd",
		p.SubmissionAddr + " inet n - n - - smtpd -o syslog_name=postfix/submission",
		"postlog unix-dgram n - n - 1 postlogd",
		"pickup unix n - n 60 1 pickup",
		"cleanup unix n - n - 0 cleanup",
		"qmgr unix n - n 300 1 qmgr",
		"rewrite unix - - n - - trivial-rewrite",
		"bounce unix - - n - 0 bounce",
		"defer unix - - n - 0 bounce",
		"trace unix - - n - 0 bounce",
		"verify unix - - n - 1 verify",
		"flush unix n - n 1000? 0 flush",
		"proxymap unix - - n - - proxymap",
		"smtp unix - - n - - smtp",
		"relay unix - - n - - smtp -o syslog_name=postfix/relay",
		"showq unix n - n - - showq",
		"error unix - - n - - error",
		"retry unix - - n - - error",
		"discard unix - - n - - discard",
		"local unix - n n - - local",
		"virtual unix - n n - - virtual",
		"lmtp unix - - n - - lmtp",
		"anvil unix - - n - 1 anvil",
		"scache unix - - n - 1 scache",
	}
	master = append(master, opts.Master...)
	if err := os.WriteFile(filepath.Join(p.ConfigDir, "main.cf"), []byte(strings.Join(main, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(p.ConfigDir, "master.cf"), []byte(strings.Join(master, "\n")+"\n"), 0o644)
}

func lookupUID(user string) (int, error) {
	b, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return 0, err
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		f := strings.Split(l, ":")
		if len(f) > 3 && f[0] == user {
			return strconv.Atoi(f[2])
		}
	}
	return 0, fmt.Errorf("user %s not found in /etc/passwd", user)
}

// startMaster runs master(8) in the foreground (-d), in its own process
// group, so that stopping the group stops every Postfix daemon.
func (p *Postfix) startMaster() error {
	m, err := proc.StartProcess(proc.Spec{
		Name: "postfix-master",
		Path: filepath.Join(daemonDir, "master"),
		Args: []string{"-c", p.ConfigDir, "-d"},
		Dir:  p.Dir,
	})
	if err != nil {
		return err
	}
	p.master = m
	// Wait without connecting: a probe connection would show up in the
	// log as an smtpd connect that tests would have to discount.
	err = proc.WaitFor(startupTimeout, func() error {
		if ok, _ := m.Exited(); ok {
			return errors.New("master exited")
		}
		for _, addr := range []string{p.SMTPAddr, p.SubmissionAddr} {
			if !listening(addr) {
				return fmt.Errorf("nothing listens on %s", addr)
			}
		}
		return nil
	})
	if err != nil {
		m.Stop()
		return fmt.Errorf("postfix: %w\n%s\n%s", err, m.LogTail(2000), proc.FileTail(p.LogFile, 2000))
	}
	if err := proc.WaitUnix(p.ShowqPath, startupTimeout); err != nil {
		m.Stop()
		return fmt.Errorf("postfix: showq: %w", err)
	}
	return nil
}

// Stop stops master and every daemon it started.
func (p *Postfix) Stop() {
	if p.master != nil {
		p.master.Stop()
	}
}

// Restart stops and starts master with the same configuration.
func (p *Postfix) Restart() error {
	p.Stop()
	// master removes its pid lock on exit; a new one may start now.
	return p.startMaster()
}

// PID is master's PID, which is also the process group of every Postfix
// daemon of the instance; 0 when it is not running.
func (p *Postfix) PID() int {
	if p.master == nil {
		return 0
	}
	if done, _ := p.master.Exited(); done {
		return 0
	}
	return p.master.PID()
}

// Freeze stops every Postfix process with SIGSTOP; Thaw resumes them.
func (p *Postfix) Freeze() error { return p.master.Signal(syscall.SIGSTOP) }

// Thaw resumes a frozen instance.
func (p *Postfix) Thaw() error { return p.master.Signal(syscall.SIGCONT) }

// QueueMessage is one message of `postqueue -j`.
type QueueMessage struct {
	QueueName   string `json:"queue_name"`
	QueueID     string `json:"queue_id"`
	ArrivalTime int64  `json:"arrival_time"`
	MessageSize int64  `json:"message_size"`
	Sender      string `json:"sender"`
	Recipients  []struct {
		Address     string `json:"address"`
		DelayReason string `json:"delay_reason"`
	} `json:"recipients"`
}

// Queue lists the queue with `postqueue -c DIR -j`.
func (p *Postfix) Queue(ctx context.Context) ([]QueueMessage, error) {
	out, err := exec.CommandContext(ctx, filepath.Join(sbinDir, "postqueue"), "-c", p.ConfigDir, "-j").Output()
	if err != nil {
		return nil, fmt.Errorf("postqueue -j: %w", err)
	}
	var msgs []QueueMessage
	for l := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		if l == "" {
			continue
		}
		var m QueueMessage
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			return nil, fmt.Errorf("postqueue -j: %w: %q", err, l)
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// Postsuper runs postsuper with the instance's configuration, e.g. "-h",
// "ALL" to put every message on hold.
func (p *Postfix) Postsuper(ctx context.Context, args ...string) error {
	_, err := proc.Run(ctx, filepath.Join(sbinDir, "postsuper"), append([]string{"-c", p.ConfigDir}, args...)...)
	return err
}

// Swaks sends one message with swaks to addr and returns its output; a
// rejected message is an error.
func Swaks(ctx context.Context, addr, from, to string, extra ...string) (string, error) {
	path, err := proc.LookPath("swaks")
	if err != nil {
		return "", err
	}
	args := append([]string{"--server", addr, "--from", from, "--to", to, "--helo", "client.test", "--silent", "2"}, extra...)
	return proc.Run(ctx, path, args...)
}

// listening reports whether a TCP socket listens on the IPv4 addr, from
// /proc/net/tcp.
func listening(addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host).To4()
	pn, err := strconv.Atoi(port)
	if ip == nil || err != nil {
		return false
	}
	// /proc/net/tcp prints the address as a little-endian hex word.
	want := fmt.Sprintf("%02X%02X%02X%02X:%04X", ip[3], ip[2], ip[1], ip[0], pn)
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return false
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 3 && f[1] == want && f[3] == "0A" {
			return true
		}
	}
	return false
}

// Sendmail submits one message with sendmail(1), through postdrop and
// pickup; from "" is the null sender.
func (p *Postfix) Sendmail(ctx context.Context, from, to string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(sbinDir, "sendmail"), "-C", p.ConfigDir, "-f", from, to)
	cmd.Stdin = strings.NewReader("Subject: test\n\nbody\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("sendmail: %w: %s", err, out)
	}
	return nil
}
