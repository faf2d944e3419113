// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Package slapd starts a real OpenLDAP server (Debian's slapd) for tests and
// the demo: its own slapd.conf in a temp dir, an mdb database with a suffix,
// the monitor backend, ldap:// on a free loopback port, an ldapi:// socket in
// the temp dir, optionally ldaps:// and StartTLS with a generated certificate,
// and optionally a syncrepl consumer of another instance.
package slapd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/downwatch/downwatch/itest/daemon/proc"
)

// Options configure one slapd.
type Options struct {
	// Dir holds the configuration, data, sockets and log. Start uses
	// t.TempDir() when empty; StartProcess requires it.
	Dir string
	// Suffix of the mdb database; default dc=example,dc=org.
	Suffix string
	// ServerID goes into contextCSNs written here; default 1. A consumer
	// does not need one.
	ServerID int
	// TLS adds an ldaps:// listener and StartTLS with a CA and server
	// certificate generated for 127.0.0.1/localhost, and accepts client
	// certificates signed by the same CA (for SASL EXTERNAL over TLS).
	TLS bool
	// Provider makes this server a syncrepl consumer of that server's
	// suffix; ProviderURI overrides the address it connects to (for
	// example a proxy that a test can cut).
	Provider    *Server
	ProviderURI string
	// Name prefixes the log file; default "slapd".
	Name string
}

// Server is a running (or stopped) slapd.
type Server struct {
	Name   string // log file prefix
	Dir    string // configuration, data, TLS files and log
	Config string // slapd.conf
	Suffix string
	Port   int // ldap://
	// TLSPort is the ldaps:// port when Options.TLS is set.
	TLSPort int

	URI       string // ldap://127.0.0.1:Port
	LDAPSURI  string // ldaps://127.0.0.1:TLSPort, or ""
	LDAPIURI  string // ldapi://<percent-encoded Socket>
	Socket    string // the ldapi socket, in a short temp dir of its own
	ServerID  int
	IsShadow  bool   // a syncrepl consumer
	AdminDN   string // rootdn of the mdb database
	AdminPass string

	// MonitorDN may read cn=Monitor and the suffix's contextCSN, nothing
	// else: the ACL the README recommends. Its password is in
	// MonitorPasswordFile.
	MonitorDN           string
	MonitorPassword     string
	MonitorPasswordFile string

	// TLS material when Options.TLS is set; the client certificate's
	// subject is ClientDN, allowed to read cn=Monitor via SASL EXTERNAL.
	CAFile, CertFile, KeyFile     string
	ClientCertFile, ClientKeyFile string
	ClientDN                      string

	args             []string
	cleanupSocketDir string
	mu               sync.Mutex
	proc             *proc.Process // nil while stopped
}

const confTemplate = `# Written by the downwatch test harness.
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
{{- if not .Shadow}}
moduleload syncprov
{{- end}}
pidfile {{.Dir}}/slapd.pid
argsfile {{.Dir}}/slapd.args
{{- if .ServerID}}
serverID {{.ServerID}}
{{- end}}
{{- if .TLS}}
TLSCACertificateFile {{.CAFile}}
TLSCertificateFile {{.CertFile}}
TLSCertificateKeyFile {{.KeyFile}}
TLSVerifyClient allow
authz-regexp "^cn=([^,]+),o=downwatch-test$" "cn=$1,{{.Suffix}}"
{{- end}}

database mdb
suffix "{{.Suffix}}"
rootdn "{{.AdminDN}}"
rootpw {{.AdminPass}}
directory {{.Dir}}/data
maxsize 33554432
index objectClass eq
index entryCSN,entryUUID eq
{{- if .Shadow}}
syncrepl rid=001 provider={{.ProviderURI}} bindmethod=simple binddn="{{.ProviderAdminDN}}" credentials={{.ProviderAdminPass}} searchbase="{{.Suffix}}" type=refreshAndPersist retry="1 +" timeout=3 network-timeout=3
{{- else}}
overlay syncprov
syncprov-checkpoint 1 1
{{- end}}
# The exporter's identities read the suffix entry's contextCSN and nothing
# else (the rule the README recommends); local root over ldapi manages
# everything; other users read entries but not passwords.
access to dn.base="{{.Suffix}}" attrs=entry,contextCSN
	by dn.exact="{{.MonitorDN}}" read
	by dn.exact="{{.ClientDN}}" read
	by * break
access to attrs=userPassword
	by dn.exact="gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth" manage
	by anonymous auth
	by * none
access to *
	by dn.exact="gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth" manage
	by dn.exact="{{.MonitorDN}}" none
	by dn.exact="{{.ClientDN}}" none
	by users read
	by * none

database monitor
access to dn.subtree="cn=Monitor"
	by dn.exact="gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth" read
	by dn.exact="{{.MonitorDN}}" read
	by dn.exact="{{.ClientDN}}" read
	by * none
`

type confData struct {
	*Server
	TLS, Shadow                        bool
	ProviderURI                        string
	ProviderAdminDN, ProviderAdminPass string
}

// Start starts slapd for a test and stops it when the test ends. Without the
// slapd binary the test is skipped (failed when CI=true).
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	proc.RequireBinary(tb, "slapd")
	proc.RequireBinary(tb, "slapadd")
	proc.RequireBinary(tb, "ldapsearch") // ldap-utils, for Ldapsearch and Modify
	if opts.Dir == "" {
		opts.Dir = tb.TempDir()
	}
	s, err := StartProcess(opts)
	if s != nil {
		tb.Cleanup(func() {
			if tb.Failed() {
				tb.Logf("--- log of %s (%s):\n%s", s.Name, s.LogPath(), proc.FileTail(s.LogPath(), 3000))
			}
			s.Close()
		})
	}
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// StartProcess starts slapd without a test, for the demo. Call Close to stop
// it and remove what it made outside opts.Dir. On error the returned server
// (if not nil) still needs Close.
func StartProcess(opts Options) (*Server, error) {
	if opts.Dir == "" {
		return nil, errors.New("slapd: Options.Dir is required")
	}
	bin, err := proc.LookPath("slapd")
	if err != nil {
		return nil, err
	}
	if opts.Suffix == "" {
		opts.Suffix = "dc=example,dc=org"
	}
	if opts.Name == "" {
		opts.Name = "slapd"
	}
	if opts.ServerID == 0 && opts.Provider == nil {
		opts.ServerID = 1
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	s := &Server{
		Name: opts.Name, Dir: dir, Config: filepath.Join(dir, "slapd.conf"), Suffix: opts.Suffix,
		ServerID: opts.ServerID, IsShadow: opts.Provider != nil,
		AdminDN: "cn=admin," + opts.Suffix, AdminPass: randomHex(12),
		MonitorDN: "cn=exporter," + opts.Suffix, MonitorPassword: randomHex(12),
		ClientDN: "cn=exporter-cert," + opts.Suffix,
	}
	s.MonitorPasswordFile = filepath.Join(dir, "exporter.password")
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(s.MonitorPasswordFile, []byte(s.MonitorPassword+"\n"), 0o600); err != nil {
		return nil, err
	}
	// A unix socket path must fit in 108 bytes; test temp dirs named after
	// long test names do not, so the socket gets a short dir of its own.
	sockDir, err := os.MkdirTemp("", "slapd-")
	if err != nil {
		return nil, err
	}
	s.cleanupSocketDir = sockDir
	s.Socket = filepath.Join(sockDir, "ldapi")
	s.LDAPIURI = "ldapi://" + strings.ReplaceAll(s.Socket, "/", "%2F")

	if s.Port, err = proc.PickPort(); err != nil {
		return s, err
	}
	s.URI = fmt.Sprintf("ldap://127.0.0.1:%d", s.Port)
	urls := []string{s.URI + "/", s.LDAPIURI}
	if opts.TLS {
		if s.TLSPort, err = proc.PickPort(); err != nil {
			return s, err
		}
		s.LDAPSURI = fmt.Sprintf("ldaps://127.0.0.1:%d", s.TLSPort)
		urls = append(urls, s.LDAPSURI+"/")
		if err := s.writeCerts(); err != nil {
			return s, err
		}
	}
	cd := confData{Server: s, TLS: opts.TLS, Shadow: opts.Provider != nil}
	if p := opts.Provider; p != nil {
		cd.ProviderURI = p.URI
		if opts.ProviderURI != "" {
			cd.ProviderURI = opts.ProviderURI
		}
		cd.ProviderAdminDN, cd.ProviderAdminPass = p.AdminDN, p.AdminPass
	}
	var conf strings.Builder
	if err := template.Must(template.New("conf").Parse(confTemplate)).Execute(&conf, cd); err != nil {
		return s, err
	}
	if err := os.WriteFile(s.Config, []byte(conf.String()), 0o600); err != nil {
		return s, err
	}
	if !cd.Shadow {
		// Load the base entries offline: the suffix, and the exporter's
		// account. -w writes the contextCSN as a provider would,
		// -S with this server's ID.
		ldif := filepath.Join(dir, "base.ldif")
		if err := os.WriteFile(ldif, []byte(s.baseLDIF()), 0o600); err != nil {
			return s, err
		}
		if out, err := exec.Command(filepath.Join(filepath.Dir(bin), "slapadd"), "-f", s.Config, "-w", "-S", strconv.Itoa(s.ServerID), "-l", ldif).CombinedOutput(); err != nil {
			return s, fmt.Errorf("slapadd: %w: %s", err, out)
		}
	}
	// -d 0 keeps slapd in the foreground (so the harness owns its PID)
	// with no debug output; the log level stays at stats-free default.
	s.args = []string{"-f", s.Config, "-h", strings.Join(urls, " "), "-d", "0"}
	return s, s.start()
}

func (s *Server) baseLDIF() string {
	rdn, _, _ := strings.Cut(s.Suffix, ",")
	attr, val, _ := strings.Cut(rdn, "=")
	top := fmt.Sprintf("dn: %s\nobjectClass: top\nobjectClass: organization\n", s.Suffix)
	if strings.EqualFold(attr, "dc") {
		top = fmt.Sprintf("dn: %s\nobjectClass: top\nobjectClass: dcObject\nobjectClass: organization\ndc: %s\n", s.Suffix, val)
	}
	top += "o: downwatch test\n"
	return top + fmt.Sprintf("\ndn: %s\nobjectClass: person\ncn: exporter\nsn: exporter\nuserPassword: %s\n",
		s.MonitorDN, s.MonitorPassword)
}

func (s *Server) start() error {
	bin, err := proc.LookPath("slapd")
	if err != nil {
		return err
	}
	p, err := proc.StartProcess(proc.Spec{Name: s.Name, Path: bin, Args: s.args, Dir: s.Dir})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	ready := func() error {
		if done, _ := p.Exited(); done {
			return fmt.Errorf("%s exited: %s", s.Name, p.LogTail(2000))
		}
		return s.ping()
	}
	if err := proc.WaitFor(15*time.Second, ready); err != nil {
		return fmt.Errorf("%s did not start: %w", s.Name, err)
	}
	return nil
}

// ping checks both the TCP listener and the ldapi socket answer.
func (s *Server) ping() error {
	for _, a := range [][2]string{{"tcp", fmt.Sprintf("127.0.0.1:%d", s.Port)}, {"unix", s.Socket}} {
		c, err := net.DialTimeout(a[0], a[1], time.Second)
		if err != nil {
			return err
		}
		c.Close()
	}
	return nil
}

// LogPath is slapd's output (stderr; -d 0 logs little).
func (s *Server) LogPath() string { return filepath.Join(s.Dir, s.Name+".log") }

// PID is the running slapd's process ID, or 0.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return 0
	}
	return s.proc.PID()
}

// Stop ends slapd (SIGTERM, SIGKILL after 5s) and keeps its data, ports and
// configuration for Restart.
func (s *Server) Stop() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p != nil {
		p.Stop()
	}
}

// Restart stops slapd if it runs and starts it again on the same ports with
// the same data.
func (s *Server) Restart() error {
	s.Stop()
	// The ports were ours a moment ago; slapd sets SO_REUSEADDR, but the
	// ldapi socket file must go.
	_ = os.Remove(s.Socket)
	return s.start()
}

// Freeze stops slapd with SIGSTOP: connections stay open and nothing
// answers, as with a hung server.
func (s *Server) Freeze() error { return s.signal(syscall.SIGSTOP) }

// Thaw resumes a frozen slapd with SIGCONT.
func (s *Server) Thaw() error { return s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return fmt.Errorf("%s is not running", s.Name)
	}
	return s.proc.Signal(sig)
}

// Close stops slapd for good and removes the socket directory.
func (s *Server) Close() {
	s.Stop()
	if s.cleanupSocketDir != "" {
		_ = os.RemoveAll(s.cleanupSocketDir)
	}
}

// Ldapsearch runs ldapsearch as root over ldapi (SASL EXTERNAL) and returns
// its LDIF output, unwrapped.
func (s *Server) Ldapsearch(ctx context.Context, args ...string) (string, error) {
	base := []string{"-LLL", "-o", "ldif-wrap=no", "-Q", "-Y", "EXTERNAL", "-H", s.LDAPIURI}
	return proc.Run(ctx, "ldapsearch", append(base, args...)...)
}

// Modify applies LDIF changes (changetype records) as root over ldapi.
func (s *Server) Modify(ctx context.Context, ldif string) error {
	f, err := os.CreateTemp(s.Dir, "change-*.ldif")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(ldif); err != nil {
		f.Close()
		return err
	}
	f.Close()
	_, err = proc.Run(ctx, "ldapmodify", "-Q", "-Y", "EXTERNAL", "-H", s.LDAPIURI, "-f", f.Name())
	return err
}

// Touch writes one change to the suffix entry, which moves this server's
// contextCSN forward.
func (s *Server) Touch(ctx context.Context) error {
	return s.Modify(ctx, fmt.Sprintf("dn: %s\nchangetype: modify\nreplace: description\ndescription: touched %d\n",
		s.Suffix, time.Now().UnixNano()))
}

// ContextCSN returns the contextCSN values of the suffix entry.
func (s *Server) ContextCSN(ctx context.Context) ([]string, error) {
	out, err := s.Ldapsearch(ctx, "-s", "base", "-b", s.Suffix, "(objectClass=*)", "contextCSN")
	if err != nil {
		return nil, err
	}
	var csns []string
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "contextCSN: "); ok {
			csns = append(csns, v)
		}
	}
	return csns, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
