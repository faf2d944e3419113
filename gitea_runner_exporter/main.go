// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Command gitea_runner_exporter serves the status of Gitea Actions runners,
// read from Gitea's REST API, as Prometheus metrics.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/exporter-toolkit/bootstrap"

	"github.com/downwatch/downwatch/gitea_runner_exporter/runners"
)

const (
	name = "gitea_runner_exporter"
	// defaultAddress is not on Prometheus' default port allocations list;
	// see README.md, "Default port".
	defaultAddress = ":10101"
)

var (
	giteaURL = kingpin.Flag("gitea.url",
		"Gitea's root URL (its ROOT_URL), http:// or https://.").
		Default("http://localhost:3000/").String()
	tokenFile = kingpin.Flag("gitea.token-file",
		"File holding a Gitea API token that may read the runner list, sent as \"Authorization: token <t>\". Read again at every scrape.").
		PlaceHolder("FILE").String()
	scopeFlag = kingpin.Flag("gitea.scope",
		"Runner list to read: admin (every runner; a site administrator's token), org:NAME or repo:OWNER/NAME.").
		Default("admin").String()
	caFile = kingpin.Flag("gitea.ca-file",
		"PEM file of CA certificates trusted for an https:// --gitea.url, in addition to the system's.").
		PlaceHolder("FILE").String()
	timeout = kingpin.Flag("gitea.timeout",
		"Longest time a scrape waits for Gitea (all pages together); the scraper's X-Prometheus-Scrape-Timeout-Seconds lowers it.").
		Default("10s").String()
	expect = kingpin.Flag("runner.expect",
		"Name of a runner that must be registered (repeatable). One missing from Gitea's list is reported offline.").
		PlaceHolder("NAME").Strings()
)

func main() {
	runner := bootstrap.New(bootstrap.Config{
		Name:           name,
		Description:    "Prometheus exporter for Gitea Actions runner status",
		DefaultAddress: defaultAddress,
		MetricsHandlerFactory: func(b *bootstrap.Bootstrap) (http.Handler, error) {
			if err := checkWebConfig(b); err != nil {
				return nil, err
			}
			cfg, err := newConfig(options{
				url: *giteaURL, tokenFile: *tokenFile, scope: *scopeFlag, caFile: *caFile,
				timeout: *timeout, expect: *expect,
			})
			if err != nil {
				return nil, err
			}
			if *tokenFile == "" {
				b.Logger.Warn("No --gitea.token-file: Gitea answers the runner list only with a token, so gitea_runner_up will stay 0")
			}
			b.Logger.Info("Reading runners", "url", cfg.client.BaseURL.Redacted(), "scope", cfg.client.Scope.String(), "expected", len(cfg.expect))
			logger := b.Logger.With("scope", cfg.client.Scope.String())
			return newMetricsHandler(b, cfg.timeout, func(ctx context.Context) prometheus.Collector {
				return runners.NewCollector(ctx, cfg.client, cfg.expect, logger)
			}), nil
		},
	})
	if err := runner.Run(); err != nil {
		// One line, so that systemd's journal and a shell show what is wrong.
		fmt.Fprintf(os.Stderr, "%s: error: %v\n", name, err)
		os.Exit(1)
	}
}
