// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Command dovecot_exporter serves Dovecot statistics (stats-reader and legacy
// old-stats) and service liveness probes as Prometheus metrics.
package main

import (
	"fmt"
	"net/http"
	"os"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/exporter-toolkit/bootstrap"
)

const (
	name           = "dovecot_exporter"
	defaultAddress = ":9166"
)

var (
	statsSocket = kingpin.Flag("dovecot.stats-socket",
		"Path of Dovecot's stats-reader socket (Dovecot 2.3/2.4 statistics). Empty: do not read it.").
		Default("/run/dovecot/stats-reader").String()
	groupBy = kingpin.Flag("dovecot.stats-group-by",
		"METRIC=FIELD[,FIELD...]: the group_by fields of a Dovecot metric, which become its label names (repeatable).").
		PlaceHolder("METRIC=FIELDS").Strings()
	oldStatsSocket = kingpin.Flag("dovecot.old-stats-socket",
		"Path of the old-stats socket (old_stats plugin, Dovecot 2.2/2.3), e.g. /run/dovecot/old-stats. Empty: do not read it.").
		Default("").String()
	scopes = kingpin.Flag("dovecot.scopes",
		"Comma-separated old-stats scopes to export: command, session, user, domain, ip, global.").
		Default("user").String()
	probes = kingpin.Flag("probe",
		"SERVICE=HOST:PORT: probe a listener's greeting (repeatable). SERVICE: imap, imaps, pop3, pop3s, lmtp, submission, submissions, managesieve, managesieves.").
		PlaceHolder("SERVICE=HOST:PORT").Strings()
	probeCAFile = kingpin.Flag("probe.tls-ca-file",
		"PEM file of the CAs that sign the TLS listeners' certificates (default: the system's).").PlaceHolder("FILE").String()
	probeServerName = kingpin.Flag("probe.tls-server-name",
		"Name to check the TLS listeners' certificates against (default: the probed host).").PlaceHolder("NAME").String()
	probeInsecure = kingpin.Flag("probe.tls-insecure-skip-verify",
		"Do not check the TLS listeners' certificates.").Bool()
	timeout = kingpin.Flag("dovecot.timeout",
		"Longest time a scrape may take; the scraper's X-Prometheus-Scrape-Timeout-Seconds lowers it.").
		Default("5s").Duration()
)

func main() {
	runner := bootstrap.New(bootstrap.Config{
		Name:           name,
		Description:    "Prometheus exporter for Dovecot statistics and liveness",
		DefaultAddress: defaultAddress,
		MetricsHandlerFactory: func(b *bootstrap.Bootstrap) (http.Handler, error) {
			if err := checkWebConfig(b); err != nil {
				return nil, err
			}
			exp, self, err := newExporter(options{
				statsSocket:     *statsSocket,
				groupBy:         *groupBy,
				oldStatsSocket:  *oldStatsSocket,
				scopes:          *scopes,
				probes:          *probes,
				probeCAFile:     *probeCAFile,
				probeServerName: *probeServerName,
				probeInsecure:   *probeInsecure,
				timeout:         *timeout,
			}, b.Logger)
			if err != nil {
				return nil, err
			}
			return newMetricsHandler(b, *timeout, exp.ForScrape, self...), nil
		},
	})
	if err := runner.Run(); err != nil {
		// One line, so that systemd's journal and a shell show what is wrong.
		fmt.Fprintf(os.Stderr, "%s: error: %v\n", name, err)
		os.Exit(1)
	}
}
