// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package monitor

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// DefaultLDAPISocket is where Debian's and NixOS's slapd put their ldapi
// socket when the URL names none (ldapi:///).
const DefaultLDAPISocket = "/var/run/slapd/ldapi"

// Endpoint is a parsed LDAP URL: where to dial and whether TLS starts at once.
type Endpoint struct {
	URI     string // as given, for logs and labels
	Scheme  string // ldap, ldaps or ldapi
	Network string // tcp or unix
	Address string // host:port or socket path
	Host    string // host name for certificate checks (TCP only)
}

// ParseURI checks an ldap://, ldaps:// or ldapi:// URL. For ldapi the socket
// path is the percent-encoded host part (ldapi://%2Frun%2Fslapd%2Fldapi);
// an empty one means slapd's default socket.
func ParseURI(s string) (Endpoint, error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return Endpoint{}, errors.New("want ldap://host[:port], ldaps://host[:port] or ldapi://[socket]")
	}
	e := Endpoint{URI: s, Scheme: strings.ToLower(scheme)}
	// Whatever follows the authority would be a DN, attributes or filter;
	// an exporter URL has none of those.
	hostPart, tail, _ := strings.Cut(rest, "/")
	if tail != "" || strings.ContainsAny(hostPart, "?#") {
		return Endpoint{}, errors.New("the URL must not contain a DN, a query or a fragment")
	}
	switch e.Scheme {
	case "ldapi":
		path, err := url.PathUnescape(hostPart)
		if err != nil {
			return Endpoint{}, fmt.Errorf("socket path: %w", err)
		}
		if path == "" {
			path = DefaultLDAPISocket
		}
		if !strings.HasPrefix(path, "/") {
			return Endpoint{}, fmt.Errorf("socket path %q is not absolute (write / as %%2F)", path)
		}
		e.Network, e.Address = "unix", path
	case "ldap", "ldaps":
		if hostPart == "" {
			return Endpoint{}, errors.New("no host")
		}
		host, port, err := net.SplitHostPort(hostPart)
		if err != nil {
			// No port: the scheme's well-known one.
			host, port = strings.Trim(hostPart, "[]"), "389"
			if e.Scheme == "ldaps" {
				port = "636"
			}
		}
		if host == "" {
			return Endpoint{}, errors.New("no host")
		}
		if p, err := net.LookupPort("tcp", port); err != nil || p <= 0 {
			return Endpoint{}, fmt.Errorf("bad port %q", port)
		}
		e.Network, e.Address, e.Host = "tcp", net.JoinHostPort(host, port), host
	default:
		return Endpoint{}, fmt.Errorf("unknown scheme %q (want ldap, ldaps or ldapi)", scheme)
	}
	return e, nil
}

// Config says how to reach and authenticate to one slapd.
type Config struct {
	Endpoint     Endpoint
	BindDN       string
	PasswordFile string // read at every bind, so a rotated secret is picked up
	StartTLS     bool
	TLS          *tls.Config // nil for plain ldap:// and ldapi:// without StartTLS
	Timeout      time.Duration
}

// TLSOptions are the TLS flags shared by the local and the provider
// connection.
type TLSOptions struct {
	CAFile, CertFile, KeyFile, ServerName string
}

// FlagError names the flag that holds a bad value, so that the exporter can
// stop with one line that says which one.
type FlagError struct {
	Flag, Value string
	Err         error
}

func (e *FlagError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("--%s: %v", e.Flag, e.Err)
	}
	return fmt.Sprintf("--%s=%s: %v", e.Flag, e.Value, e.Err)
}

func (e *FlagError) Unwrap() error { return e.Err }

// NewConfig checks the connection flags and loads the files they name
// (except the password, which is read at bind time). uriFlag names the URI
// flag in errors (ldap.uri or replication.provider-uri).
func NewConfig(uriFlag, uri, bindDN, passwordFile string, startTLS bool, t TLSOptions, timeout time.Duration) (Config, error) {
	ep, err := ParseURI(uri)
	if err != nil {
		return Config{}, &FlagError{uriFlag, uri, err}
	}
	c := Config{Endpoint: ep, BindDN: bindDN, PasswordFile: passwordFile, StartTLS: startTLS, Timeout: timeout}
	if timeout <= 0 {
		return Config{}, &FlagError{"ldap.timeout", timeout.String(), errors.New("must be positive")}
	}
	if bindDN != "" && passwordFile == "" {
		return Config{}, &FlagError{"ldap.password-file", "", errors.New("required with --ldap.bind-dn")}
	}
	if passwordFile != "" {
		if bindDN == "" {
			return Config{}, &FlagError{"ldap.bind-dn", "", errors.New("required with --ldap.password-file")}
		}
		if _, err := ReadPassword(passwordFile); err != nil {
			return Config{}, &FlagError{"ldap.password-file", passwordFile, err}
		}
	}
	switch {
	case startTLS && ep.Scheme == "ldaps":
		return Config{}, &FlagError{"ldap.start-tls", "", fmt.Errorf("%s is TLS already; StartTLS is for ldap:// URLs", uri)}
	case startTLS && ep.Scheme == "ldapi":
		// A local socket needs no TLS; ignoring the flag here lets one set
		// of flags serve an ldapi:// server and an ldap:// provider.
		startTLS = false
		c.StartTLS = false
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return Config{}, &FlagError{"ldap.cert-file", t.CertFile, errors.New("--ldap.cert-file and --ldap.key-file go together")}
	}
	if ep.Scheme == "ldaps" || startTLS {
		tc, err := t.load(ep.Host)
		if err != nil {
			return Config{}, err
		}
		c.TLS = tc
	} else if t.CAFile != "" || t.CertFile != "" {
		// Still check the files, so a typo does not wait for the day
		// someone switches to TLS.
		if _, err := t.load(ep.Host); err != nil {
			return Config{}, err
		}
	}
	return c, nil
}

func (t TLSOptions) load(host string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	if t.ServerName != "" {
		tc.ServerName = t.ServerName
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, &FlagError{"ldap.ca-file", t.CAFile, err}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &FlagError{"ldap.ca-file", t.CAFile, errors.New("no PEM certificate in it")}
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, &FlagError{"ldap.cert-file", t.CertFile, err}
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// ReadPassword reads a secret file; one trailing newline is not part of it.
func ReadPassword(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if s == "" {
		return "", errors.New("the file is empty")
	}
	return s, nil
}
