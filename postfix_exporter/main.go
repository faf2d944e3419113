// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Command postfix_exporter serves Postfix log events (from a file or the
// systemd journal) and queue state (from showq) as Prometheus metrics.
package main

import (
	"fmt"
	"net/http"
	"os"

	"github.com/prometheus/exporter-toolkit/bootstrap"
)

const (
	name           = "postfix_exporter"
	defaultAddress = ":9154"
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
			return newMetricsHandler(b, 0, nil), nil
		},
	})
	if err := runner.Run(); err != nil {
		// One line, so that systemd's journal and a shell show what is wrong.
		fmt.Fprintf(os.Stderr, "%s: error: %v\n", name, err)
		os.Exit(1)
	}
}
