// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Command postfix_exporter serves Postfix log events (from a file or the
// systemd journal) and queue state (from showq) as Prometheus metrics.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/exporter-toolkit/bootstrap"

	"github.com/downwatch/downwatch/postfix_exporter/logsource"
	"github.com/downwatch/downwatch/postfix_exporter/maillog"
	"github.com/downwatch/downwatch/postfix_exporter/showq"
)

const (
	name           = "postfix_exporter"
	defaultAddress = ":9154"
)

var (
	logfileSet bool
	logfile    = kingpin.Flag("postfix.logfile",
		"Log file to follow across rotation (rename-and-create and copytruncate); empty: no log file.").
		Default("/var/log/mail.log").IsSetByUser(&logfileSet).String()
	fromStart = kingpin.Flag("postfix.logfile.from-start",
		"Read what the log file already holds when starting, instead of starting at its end.").Bool()
	pollInterval = kingpin.Flag("postfix.logfile.poll-interval",
		"How often the log file is checked for new lines and rotation.").Default("250ms").Duration()
	journal = kingpin.Flag("postfix.journal",
		"Read the systemd journal (journalctl --follow --output=json) instead of a log file.").Bool()
	journalUnits = kingpin.Flag("postfix.journal.unit",
		"systemd unit whose messages are read (repeatable).").Default("postfix.service").Strings()
	journalctl = kingpin.Flag("postfix.journal.journalctl",
		"journalctl program to run.").Default("journalctl").String()
	showqPath = kingpin.Flag("postfix.showq-path",
		"showq socket path, or host:port of a showq inet service; empty: no queue metrics.").
		Default("/var/spool/postfix/public/showq").String()
	timeout = kingpin.Flag("postfix.timeout",
		"Longest a read of showq may take; the scraper's X-Prometheus-Scrape-Timeout-Seconds lowers it.").
		Default("5s").Duration()
)

func main() {
	runner := bootstrap.New(bootstrap.Config{
		Name:           name,
		Description:    "Prometheus exporter for Postfix log events and queue state",
		DefaultAddress: defaultAddress,
		MetricsHandlerFactory: func(b *bootstrap.Bootstrap) (http.Handler, error) {
			if err := checkWebConfig(b); err != nil {
				return nil, err
			}
			if err := validateFlags(); err != nil {
				return nil, err
			}
			logs := startLogSource(b)
			var scrape scrapeFunc
			if *showqPath != "" {
				src := showq.NewSource(*showqPath, b.Logger.With("collector", "showq"))
				scrape = func(ctx context.Context) prometheus.Collector { return src.Collector(ctx) }
			}
			return newMetricsHandler(b, *timeout, scrape, logs), nil
		},
	})
	if err := runner.Run(); err != nil {
		// One line, so that systemd's journal and a shell show what is wrong.
		fmt.Fprintf(os.Stderr, "%s: error: %v\n", name, err)
		os.Exit(1)
	}
}

// validateFlags checks the service flags before anything listens.
func validateFlags() error {
	switch {
	case *journal && logfileSet && *logfile != "":
		return errors.New("--postfix.journal and --postfix.logfile exclude each other")
	case *journal && len(*journalUnits) == 0:
		return errors.New("--postfix.journal.unit: at least one unit is needed")
	case *timeout <= 0:
		return fmt.Errorf("--postfix.timeout=%v: must be positive", *timeout)
	case *pollInterval < time.Millisecond:
		return fmt.Errorf("--postfix.logfile.poll-interval=%v: must be at least 1ms", *pollInterval)
	}
	for _, u := range *journalUnits {
		if u == "" {
			return errors.New("--postfix.journal.unit: empty unit name")
		}
	}
	return nil
}

// startLogSource starts the follower of the file or the journal; its
// counters live as long as the process. It returns nil without a source.
func startLogSource(b *bootstrap.Bootstrap) prometheus.Collector {
	if !*journal && *logfile == "" {
		return nil
	}
	logger := b.Logger.With("collector", "maillog")
	c := maillog.New(logger)
	ctx := context.Background()
	if *journal {
		c.SetSourceUp("journal", false)
		j := &logsource.Journal{
			Units:  *journalUnits,
			Logger: logger,
			State:  func(up bool) { c.SetSourceUp("journal", up) },
		}
		if *journalctl != "journalctl" {
			j.Command = append([]string{*journalctl}, j.Args()[1:]...)
		}
		go func() { _ = j.Run(ctx, c.ProcessMessage) }()
		return c
	}
	c.SetSourceUp("file", false)
	f := &logsource.File{
		Path:      *logfile,
		FromStart: *fromStart,
		Poll:      *pollInterval,
		Logger:    logger,
		State:     func(up bool) { c.SetSourceUp("file", up) },
	}
	go func() { _ = f.Run(ctx, c.ProcessLine) }()
	return c
}
