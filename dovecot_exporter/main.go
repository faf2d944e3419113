// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Command dovecot_exporter serves Dovecot statistics (stats-reader and legacy
// old-stats) and service liveness probes as Prometheus metrics.
package main

import (
	"fmt"
	"net/http"
	"os"

	"github.com/prometheus/exporter-toolkit/bootstrap"
)

const (
	name           = "dovecot_exporter"
	defaultAddress = ":9166"
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
			return newMetricsHandler(b, 0, nil), nil
		},
	})
	if err := runner.Run(); err != nil {
		// One line, so that systemd's journal and a shell show what is wrong.
		fmt.Fprintf(os.Stderr, "%s: error: %v\n", name, err)
		os.Exit(1)
	}
}
