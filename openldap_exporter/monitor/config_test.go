// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package monitor

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseURI(t *testing.T) {
	tests := []struct {
		in      string
		want    Endpoint
		wantErr string
	}{
		{in: "ldap://127.0.0.1:3389", want: Endpoint{Scheme: "ldap", Network: "tcp", Address: "127.0.0.1:3389", Host: "127.0.0.1"}},
		{in: "ldap://ldap.example.org/", want: Endpoint{Scheme: "ldap", Network: "tcp", Address: "ldap.example.org:389", Host: "ldap.example.org"}},
		{in: "LDAPS://ldap.example.org", want: Endpoint{Scheme: "ldaps", Network: "tcp", Address: "ldap.example.org:636", Host: "ldap.example.org"}},
		{in: "ldaps://[::1]:6360", want: Endpoint{Scheme: "ldaps", Network: "tcp", Address: "[::1]:6360", Host: "::1"}},
		{in: "ldapi://%2Frun%2Fslapd%2Fldapi", want: Endpoint{Scheme: "ldapi", Network: "unix", Address: "/run/slapd/ldapi"}},
		{in: "ldapi:///", want: Endpoint{Scheme: "ldapi", Network: "unix", Address: DefaultLDAPISocket}},
		{in: "ldapi://", want: Endpoint{Scheme: "ldapi", Network: "unix", Address: DefaultLDAPISocket}},
		{in: "http://example.org", wantErr: `unknown scheme "http"`},
		{in: "localhost:389", wantErr: "want ldap://"},
		{in: "ldap://", wantErr: "no host"},
		{in: "ldap://host:99999", wantErr: "bad port"},
		{in: "ldap://host/dc=example", wantErr: "must not contain a DN"},
		{in: "ldapi://run%2Fslapd", wantErr: "not absolute"},
		{in: "ldapi://%zz", wantErr: "socket path"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseURI(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.want.URI = tt.in
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewConfigNamesTheFlag(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name     string
		uri      string
		bindDN   string
		pwFile   string
		startTLS bool
		tls      TLSOptions
		timeout  time.Duration
		wantFlag string
	}{
		{name: "bad uri", uri: "ldpa://x", wantFlag: "ldap.uri"},
		{name: "missing password file", uri: "ldap://x", bindDN: "cn=a", pwFile: missing, wantFlag: "ldap.password-file"},
		{name: "bind dn without password", uri: "ldap://x", bindDN: "cn=a", wantFlag: "ldap.password-file"},
		{name: "password without bind dn", uri: "ldap://x", pwFile: pw, wantFlag: "ldap.bind-dn"},
		{name: "missing ca file", uri: "ldaps://x", tls: TLSOptions{CAFile: missing}, wantFlag: "ldap.ca-file"},
		{name: "ca file without PEM", uri: "ldap://x", startTLS: true, tls: TLSOptions{CAFile: notPEM}, wantFlag: "ldap.ca-file"},
		{name: "ca file checked without TLS too", uri: "ldap://x", tls: TLSOptions{CAFile: missing}, wantFlag: "ldap.ca-file"},
		{name: "cert without key", uri: "ldaps://x", tls: TLSOptions{CertFile: pw}, wantFlag: "ldap.cert-file"},
		{name: "start-tls on ldaps", uri: "ldaps://x", startTLS: true, wantFlag: "ldap.start-tls"},
		{name: "zero timeout", uri: "ldap://x", timeout: -1, wantFlag: "ldap.timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			timeout := tt.timeout
			if timeout == 0 {
				timeout = time.Second
			}
			_, err := NewConfig("ldap.uri", tt.uri, tt.bindDN, tt.pwFile, tt.startTLS, tt.tls, timeout)
			var fe *FlagError
			if !errors.As(err, &fe) || fe.Flag != tt.wantFlag {
				t.Fatalf("err = %v, want one about --%s", err, tt.wantFlag)
			}
			if !strings.HasPrefix(err.Error(), "--"+tt.wantFlag) || strings.Contains(err.Error(), "\n") {
				t.Errorf("message %q should start with the flag and be one line", err)
			}
		})
	}
	c, err := NewConfig("ldap.uri", "ldapi:///", "", "", true, TLSOptions{}, time.Second)
	if err != nil || c.StartTLS || c.TLS != nil {
		t.Errorf("ldapi with --ldap.start-tls: %+v, %v; want StartTLS ignored", c, err)
	}
	c, err = NewConfig("ldap.uri", "ldap://x", "cn=a", pw, true, TLSOptions{ServerName: "ldap.example.org"}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if c.TLS == nil || c.TLS.ServerName != "ldap.example.org" {
		t.Errorf("TLS config = %+v", c.TLS)
	}
	if p, err := ReadPassword(pw); err != nil || p != "secret" {
		t.Errorf("ReadPassword = %q, %v", p, err)
	}
}
