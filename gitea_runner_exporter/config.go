// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/prometheus/common/version"

	"github.com/downwatch/downwatch/gitea_runner_exporter/runners"
)

// options are the service flags as given.
type options struct {
	url, tokenFile, scope, caFile string
	// timeout is parsed here rather than by kingpin, whose duration
	// error does not name the flag.
	timeout string
	expect  []string
}

// config is what the flags amount to once checked.
type config struct {
	client  *runners.Client
	timeout time.Duration
	expect  []string
}

// newConfig checks the flags; every error names its flag, so that the
// exporter's one-line exit message says what to fix.
func newConfig(o options) (*config, error) {
	u, err := parseGiteaURL(o.url)
	if err != nil {
		return nil, fmt.Errorf("--gitea.url=%s: %w", o.url, err)
	}
	scope, err := runners.ParseScope(o.scope)
	if err != nil {
		return nil, fmt.Errorf("--gitea.scope=%s: %w", o.scope, err)
	}
	timeout, err := time.ParseDuration(o.timeout)
	if err != nil {
		return nil, fmt.Errorf("--gitea.timeout=%s: want a duration such as 10s", o.timeout)
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("--gitea.timeout=%s: must be positive", o.timeout)
	}
	var token func() (string, error)
	if o.tokenFile != "" {
		// Read once now so that a wrong path stops the exporter at start,
		// then at every scrape so that a rotated token needs no restart.
		if _, err := readToken(o.tokenFile); err != nil {
			return nil, err
		}
		path := o.tokenFile
		token = func() (string, error) { return readToken(path) }
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if o.caFile != "" {
		pool, err := loadCAs(o.caFile)
		if err != nil {
			return nil, fmt.Errorf("--gitea.ca-file=%s: %w", o.caFile, err)
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	expect, err := checkExpected(o.expect)
	if err != nil {
		return nil, err
	}
	return &config{
		client: &runners.Client{
			BaseURL:   u,
			Scope:     scope,
			HTTP:      &http.Client{Transport: transport},
			Token:     token,
			UserAgent: name + "/" + version.Version,
		},
		timeout: timeout,
		expect:  expect,
	}, nil
}

func parseGiteaURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, errors.New("want an http:// or https:// URL")
	}
	if u.Host == "" {
		return nil, errors.New("no host in the URL")
	}
	if u.User != nil {
		return nil, errors.New("credentials in the URL: put the token in --gitea.token-file")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("want Gitea's root URL without query or fragment")
	}
	return u, nil
}

// readToken returns the token in path: the whole file without surrounding
// white space, as `echo TOKEN > file` or a secrets manager writes it.
func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--gitea.token-file=%s: %w", path, err)
	}
	t := strings.TrimSpace(string(b))
	switch {
	case t == "":
		return "", fmt.Errorf("--gitea.token-file=%s: the file is empty", path)
	case strings.ContainsAny(t, " \t\r\n"):
		return "", fmt.Errorf("--gitea.token-file=%s: want one token, found white space inside", path)
	}
	return t, nil
}

func loadCAs(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, errors.New("no PEM certificate in the file")
	}
	return pool, nil
}

// checkExpected drops duplicates and refuses empty names, which would
// otherwise be a runner that can never show up.
func checkExpected(names []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		if strings.TrimSpace(n) == "" {
			return nil, errors.New("--runner.expect: empty runner name")
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
}
