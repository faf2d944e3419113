// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Package dovecot starts a private Dovecot for tests and the demo: its own
// configuration, base_dir and state_dir in a fresh directory, users from a
// passwd-file there, IMAP, POP3 and LMTP on free loopback ports, the
// stats-reader socket with a few `metric` definitions, and optionally the
// old_stats plugin with its old-stats socket. Nothing of the system's
// Dovecot (configuration, sockets, ports) is used.
//
// Dovecot needs root to start; its login processes run as dovenull and its
// internal processes and the test users' mail processes as dovecot, both
// created by the Debian package.
package dovecot

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/downwatch/downwatch/itest/daemon/proc"
)

// User is a login of the test instance.
type User struct {
	Name, Password string
}

// DefaultUsers are the logins when Options.Users is empty.
var DefaultUsers = []User{{"alice", "secret"}, {"bob@example.org", "hunter2"}}

// DefaultMetrics are the `metric` definitions when Options.Metrics is empty
// (Dovecot 2.3 syntax). imap_command is grouped by command name and reply.
const DefaultMetrics = `
metric auth_success {
  filter = event=auth_request_finished AND success=yes
}
metric auth_failures {
  filter = event=auth_request_finished AND NOT success=yes
}
metric imap_command {
  filter = event=imap_command_finished
  group_by = cmd_name tagged_reply_state
}
metric login_finished {
  filter = event=mail_user_session_finished
}
`

// DefaultGroupBy is the exporter flag that matches DefaultMetrics.
const DefaultGroupBy = "imap_command=cmd_name,tagged_reply_state"

// Options configure an instance.
type Options struct {
	// Users default to DefaultUsers.
	Users []User
	// Metrics are the `metric` blocks; default DefaultMetrics.
	Metrics string
	// OldStats loads the old_stats plugins and opens the old-stats socket.
	OldStats bool
	// StatsReaderMode is the stats-reader socket's mode (default 0600,
	// Dovecot's own default: root only).
	StatsReaderMode os.FileMode
	// Extra is appended to the configuration.
	Extra string
}

// Dovecot is a running (or stopped) instance.
type Dovecot struct {
	Dir            string // everything of the instance lives here
	ConfigPath     string
	BaseDir        string
	StatsSocket    string // stats-reader
	OldStatsSocket string // "" without Options.OldStats
	IMAPAddr       string
	POP3Addr       string
	LMTPAddr       string
	Users          []User

	spec    proc.Spec
	process *proc.Process
	ownDir  bool
}

// Start starts an instance for a test and stops it when the test ends. It
// skips (or fails in CI) without root or without Dovecot.
func Start(tb testing.TB, opts Options) *Dovecot {
	tb.Helper()
	proc.RequireBinary(tb, "dovecot")
	proc.RequireBinary(tb, "doveadm")
	proc.RequireRoot(tb)
	d, err := StartProcess("", opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("--- dovecot log (%s):\n%s", d.LogPath(), proc.FileTail(d.LogPath(), 4000))
		}
		d.Close()
	})
	return d
}

// StartProcess starts an instance without a test (for the demo). dir is
// created if needed; with dir empty a short directory under the system's
// temporary directory is made and Close removes it. unix socket paths are
// limited to 107 bytes, so dir should be short.
func StartProcess(dir string, opts Options) (*Dovecot, error) {
	d := &Dovecot{}
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "dv"); err != nil {
			return nil, err
		}
		d.ownDir = true
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := d.configure(dir, opts); err != nil {
		d.Close()
		return nil, err
	}
	if err := d.start(); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

func (d *Dovecot) configure(dir string, opts Options) error {
	d.Dir = dir
	d.BaseDir = filepath.Join(dir, "run")
	d.ConfigPath = filepath.Join(dir, "dovecot.conf")
	d.StatsSocket = filepath.Join(d.BaseDir, "stats-reader")
	if opts.OldStats {
		d.OldStatsSocket = filepath.Join(d.BaseDir, "old-stats")
	}
	d.Users = opts.Users
	if len(d.Users) == 0 {
		d.Users = DefaultUsers
	}
	if opts.Metrics == "" {
		opts.Metrics = DefaultMetrics
	}
	if opts.StatsReaderMode == 0 {
		opts.StatsReaderMode = 0o600
	}
	// The mail processes run as the dovecot user and must reach the mail
	// directories; the directory itself is private to nobody else.
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	mailUser, err := user.Lookup("dovecot")
	if err != nil {
		return fmt.Errorf("dovecot: system user dovecot: %w (is dovecot-core installed?)", err)
	}
	if _, err := user.Lookup("dovenull"); err != nil {
		return fmt.Errorf("dovecot: system user dovenull: %w (is dovecot-core installed?)", err)
	}
	uid, _ := strconv.Atoi(mailUser.Uid)
	gid, _ := strconv.Atoi(mailUser.Gid)
	mailDir := filepath.Join(dir, "mail")
	for _, p := range []string{d.BaseDir, filepath.Join(dir, "state"), mailDir} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			return err
		}
	}
	if err := os.Chown(mailDir, uid, gid); err != nil {
		return err
	}
	var passwd strings.Builder
	for _, u := range d.Users {
		if strings.ContainsAny(u.Name+u.Password, ":\n") {
			return fmt.Errorf("dovecot: user %q: no ':' or newline allowed", u.Name)
		}
		fmt.Fprintf(&passwd, "%s:{PLAIN}%s:%d:%d::%s::\n", u.Name, u.Password, uid, gid, filepath.Join(mailDir, u.Name))
	}
	if err := os.WriteFile(filepath.Join(dir, "passwd"), []byte(passwd.String()), 0o644); err != nil {
		return err
	}
	ports := make([]int, 3)
	for i := range ports {
		if ports[i], err = proc.PickPort(); err != nil {
			return err
		}
	}
	d.IMAPAddr = fmt.Sprintf("127.0.0.1:%d", ports[0])
	d.POP3Addr = fmt.Sprintf("127.0.0.1:%d", ports[1])
	d.LMTPAddr = fmt.Sprintf("127.0.0.1:%d", ports[2])
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	var conf strings.Builder
	err = configTemplate.Execute(&conf, map[string]any{
		"Dir":       dir,
		"Instance":  "dovecot-test-" + hex.EncodeToString(suffix),
		"IMAPPort":  ports[0],
		"POP3Port":  ports[1],
		"LMTPPort":  ports[2],
		"OldStats":  opts.OldStats,
		"Metrics":   opts.Metrics,
		"Extra":     opts.Extra,
		"StatsMode": fmt.Sprintf("%04o", opts.StatsReaderMode),
	})
	if err != nil {
		return err
	}
	if err := os.WriteFile(d.ConfigPath, []byte(conf.String()), 0o644); err != nil {
		return err
	}
	path, err := proc.LookPath("dovecot")
	if err != nil {
		return err
	}
	// -F keeps the master in the foreground, so that it is the process the
	// harness started and stops by PID.
	d.spec = proc.Spec{Name: "dovecot", Path: path, Args: []string{"-F", "-c", d.ConfigPath}, Dir: dir}
	return nil
}

// start runs the master and waits until every socket and listener answers.
func (d *Dovecot) start() error {
	p, err := proc.StartProcess(d.spec)
	if err != nil {
		return err
	}
	d.process = p
	deadline := 20 * time.Second
	check := func() error {
		if exited, err := p.Exited(); exited {
			return fmt.Errorf("dovecot exited: %v: %s", err, proc.FileTail(d.LogPath(), 2000))
		}
		for _, s := range []string{d.StatsSocket, d.OldStatsSocket} {
			if s == "" {
				continue
			}
			c, err := net.DialTimeout("unix", s, time.Second)
			if err != nil {
				return err
			}
			c.Close()
		}
		for _, a := range []string{d.IMAPAddr, d.POP3Addr, d.LMTPAddr} {
			c, err := net.DialTimeout("tcp", a, time.Second)
			if err != nil {
				return err
			}
			c.Close()
		}
		return nil
	}
	if err := proc.WaitFor(deadline, check); err != nil {
		p.Stop()
		return fmt.Errorf("dovecot did not come up: %w", err)
	}
	return nil
}

// LogPath is Dovecot's log file.
func (d *Dovecot) LogPath() string { return filepath.Join(d.Dir, "dovecot.log") }

// PID is the master process's ID.
func (d *Dovecot) PID() int { return d.process.PID() }

// Stop stops the instance (master and children) by PID and waits until
// the listeners are closed.
func (d *Dovecot) Stop() {
	if d.process != nil {
		d.process.Stop()
	}
}

// Restart stops and starts the instance with the same configuration,
// ports and sockets.
func (d *Dovecot) Restart() error {
	d.Stop()
	return d.start()
}

// Freeze stops the master and its children with SIGSTOP: listeners still
// accept connections but nothing answers.
func (d *Dovecot) Freeze() error { return d.process.Signal(syscall.SIGSTOP) }

// Thaw continues a frozen instance.
func (d *Dovecot) Thaw() error { return d.process.Signal(syscall.SIGCONT) }

// Close stops the instance and removes its directory if StartProcess made it.
func (d *Dovecot) Close() {
	d.Stop()
	if d.ownDir && d.Dir != "" {
		_ = os.RemoveAll(d.Dir)
	}
}

// Doveadm runs doveadm against this instance.
func (d *Dovecot) Doveadm(ctx context.Context, args ...string) (string, error) {
	path, err := proc.LookPath("doveadm")
	if err != nil {
		return "", err
	}
	return proc.Run(ctx, path, append([]string{"-c", d.ConfigPath}, args...)...)
}

// StatsDump returns `doveadm stats dump` as metric (or sub-metric) name ->
// count and sum (microseconds) of the duration field.
func (d *Dovecot) StatsDump(ctx context.Context) (map[string][2]uint64, error) {
	out, err := d.Doveadm(ctx, "stats", "dump")
	if err != nil {
		return nil, err
	}
	res := map[string][2]uint64{}
	for i, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "\t")
		if i == 0 || len(f) < 4 || f[1] != "duration" {
			continue
		}
		c, err1 := strconv.ParseUint(f[2], 10, 64)
		s, err2 := strconv.ParseUint(f[3], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("doveadm stats dump: line %q", line)
		}
		res[f[0]] = [2]uint64{c, s}
	}
	return res, nil
}

// IMAPLogin logs in over IMAP, selects INBOX and logs out. It reports
// whether the login was accepted; err is for anything else going wrong.
func (d *Dovecot) IMAPLogin(name, password string) (bool, error) {
	return converse(d.IMAPAddr, func(w *bufio.Writer, r *bufio.Reader) (bool, error) {
		if line, err := readLine(r); err != nil || !strings.HasPrefix(line, "* OK") {
			return false, fmt.Errorf("IMAP greeting %q: %v", line, err)
		}
		fmt.Fprintf(w, "a LOGIN %s %s\r\n", imapQuote(name), imapQuote(password))
		w.Flush()
		line, err := tagged(r, "a")
		if err != nil {
			return false, err
		}
		if !strings.HasPrefix(line, "a OK") {
			return false, nil
		}
		fmt.Fprint(w, "b SELECT INBOX\r\nc NOOP\r\nd LOGOUT\r\n")
		w.Flush()
		line, err = tagged(r, "d")
		if err == nil && !strings.HasPrefix(line, "d OK") {
			err = fmt.Errorf("LOGOUT: %q", line)
		}
		return true, err
	})
}

// POP3Login logs in over POP3, asks STAT and quits.
func (d *Dovecot) POP3Login(name, password string) (bool, error) {
	return converse(d.POP3Addr, func(w *bufio.Writer, r *bufio.Reader) (bool, error) {
		ok := func(what string) error {
			line, err := readLine(r)
			if err == nil && !strings.HasPrefix(line, "+OK") {
				err = fmt.Errorf("POP3 %s: %q", what, line)
			}
			return err
		}
		if err := ok("greeting"); err != nil {
			return false, err
		}
		fmt.Fprintf(w, "USER %s\r\n", name)
		w.Flush()
		if err := ok("USER"); err != nil {
			return false, err
		}
		fmt.Fprintf(w, "PASS %s\r\n", password)
		w.Flush()
		line, err := readLine(r)
		if err != nil {
			return false, err
		}
		if !strings.HasPrefix(line, "+OK") {
			return false, nil
		}
		fmt.Fprint(w, "STAT\r\nQUIT\r\n")
		w.Flush()
		if err := ok("STAT"); err != nil {
			return true, err
		}
		return true, ok("QUIT")
	})
}

func converse(addr string, f func(*bufio.Writer, *bufio.Reader) (bool, error)) (bool, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return false, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	return f(bufio.NewWriter(c), bufio.NewReader(c))
}

func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	return strings.TrimRight(line, "\r\n"), err
}

// tagged reads lines until the reply tagged tag, skipping untagged ones.
func tagged(r *bufio.Reader, tag string) (string, error) {
	for {
		line, err := readLine(r)
		if err != nil {
			return line, fmt.Errorf("waiting for the reply to %s: %w", tag, err)
		}
		if strings.HasPrefix(line, tag+" ") {
			return line, nil
		}
	}
}

func imapQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

var configTemplate = template.Must(template.New("dovecot.conf").Parse(`# Written by itest/daemon/dovecot for one test instance.
base_dir = {{.Dir}}/run
state_dir = {{.Dir}}/state
instance_name = {{.Instance}}
listen = 127.0.0.1
protocols = imap pop3 lmtp
default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
log_path = {{.Dir}}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# Failed logins are answered at once, so that tests need not wait.
auth_failure_delay = 0
first_valid_uid = 1
mail_location = maildir:~/Maildir
{{- if .OldStats}}
mail_plugins = $mail_plugins old_stats
{{- end}}

passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {{.Dir}}/passwd
}
userdb {
  driver = passwd-file
  args = username_format=%u {{.Dir}}/passwd
}

service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = {{.IMAPPort}}
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = {{.POP3Port}}
  }
  inet_listener pop3s {
    port = 0
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = {{.LMTPPort}}
  }
}
# No auth penalty: tests log in wrongly on purpose, from the same address.
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service stats {
  unix_listener stats-reader {
    mode = {{.StatsMode}}
  }
}
{{- if .OldStats}}
service old-stats {
  unix_listener old-stats {
    mode = 0600
  }
  fifo_listener old-stats-mail {
    mode = 0600
    user = dovecot
  }
  fifo_listener old-stats-user {
    mode = 0600
    user = dovecot
  }
}
protocol imap {
  mail_plugins = $mail_plugins imap_old_stats
}
plugin {
  old_stats_refresh = 1s
  old_stats_track_cmds = yes
}
{{- end}}
{{.Metrics}}
{{.Extra}}
`))
