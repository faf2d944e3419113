// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Command openldap_exporter serves slapd health, cn=Monitor statistics and
// replication state as Prometheus metrics.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/exporter-toolkit/bootstrap"

	"github.com/downwatch/downwatch/openldap_exporter/monitor"
)

const (
	name           = "openldap_exporter"
	defaultAddress = ":9330"
)

var (
	ldapURI = kingpin.Flag("ldap.uri",
		"slapd to read: ldap://host:port, ldaps://host:port, or ldapi://<percent-encoded socket path> (ldapi:/// is slapd's default socket).").
		Default("ldapi:///").String()
	bindDN = kingpin.Flag("ldap.bind-dn",
		"DN for a simple bind. Without it: SASL EXTERNAL over ldapi:// or with --ldap.cert-file, anonymous otherwise.").String()
	passwordFile = kingpin.Flag("ldap.password-file", "File holding the password for --ldap.bind-dn.").String()
	startTLS     = kingpin.Flag("ldap.start-tls", "Upgrade ldap:// connections with StartTLS (ldapi:// ignores it).").Bool()
	caFile       = kingpin.Flag("ldap.ca-file", "PEM file of CA certificates to verify slapd's certificate (default: the system's).").String()
	certFile     = kingpin.Flag("ldap.cert-file", "PEM client certificate for TLS (with --ldap.key-file).").String()
	keyFile      = kingpin.Flag("ldap.key-file", "PEM key of --ldap.cert-file.").String()
	serverName   = kingpin.Flag("ldap.server-name", "Name to verify slapd's certificate against (default: the URI's host).").String()
	timeout      = kingpin.Flag("ldap.timeout",
		"Longest a scrape may take; the scraper's X-Prometheus-Scrape-Timeout-Seconds lowers it.").Default("5s").Duration()
	providerURI = kingpin.Flag("replication.provider-uri",
		"Provider to compare contextCSNs with, for openldap_replication_lag_seconds. Uses the same bind and TLS flags.").String()
)

func main() {
	runner := bootstrap.New(bootstrap.Config{
		Name:           name,
		Description:    "Prometheus exporter for OpenLDAP (slapd) health, cn=Monitor statistics and replication",
		DefaultAddress: defaultAddress,
		MetricsHandlerFactory: func(b *bootstrap.Bootstrap) (http.Handler, error) {
			if err := checkWebConfig(b); err != nil {
				return nil, err
			}
			exp, err := newExporter(b)
			if err != nil {
				return nil, err
			}
			return newMetricsHandler(b, *timeout, func(ctx context.Context) prometheus.Collector {
				return exp.Collector(ctx)
			}), nil
		},
	})
	if err := runner.Run(); err != nil {
		// One line, so that systemd's journal and a shell show what is wrong.
		fmt.Fprintf(os.Stderr, "%s: error: %v\n", name, err)
		os.Exit(1)
	}
}

// newExporter checks the service flags before anything listens.
func newExporter(b *bootstrap.Bootstrap) (*monitor.Exporter, error) {
	tlsOpts := monitor.TLSOptions{CAFile: *caFile, CertFile: *certFile, KeyFile: *keyFile, ServerName: *serverName}
	local, err := monitor.NewConfig("ldap.uri", *ldapURI, *bindDN, *passwordFile, *startTLS, tlsOpts, *timeout)
	if err != nil {
		return nil, err
	}
	var provider monitor.Searcher
	if *providerURI != "" {
		pc, err := monitor.NewConfig("replication.provider-uri", *providerURI, *bindDN, *passwordFile, *startTLS, tlsOpts, *timeout)
		if err != nil {
			return nil, err
		}
		provider = monitor.NewClient(pc)
	}
	b.Logger.Info("reading slapd", "uri", *ldapURI, "provider", *providerURI, "timeout", timeout.String())
	return monitor.NewExporter(monitor.NewClient(local), provider, b.Logger), nil
}
