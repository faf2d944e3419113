// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Command wireguard_exporter serves WireGuard device and peer state, read
// through wgctrl, as Prometheus metrics.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/exporter-toolkit/bootstrap"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/downwatch/downwatch/wireguard_exporter/collector"
	"github.com/downwatch/downwatch/wireguard_exporter/names"
)

const (
	name           = "wireguard_exporter"
	defaultAddress = ":9586"
)

var (
	interfaces = kingpin.Flag("wireguard.interface",
		"Only report this device (repeatable); a missing one shows as wireguard_device_present 0. Default: every device.").
		PlaceHolder("wg0").Strings()
	configFiles = kingpin.Flag("wireguard.config",
		"wg-quick configuration file whose [Peer] comments '# Name = x' or '# friendly_name = x' name peers (repeatable). Re-read when it changes.").
		PlaceHolder("/etc/wireguard/wg0.conf").Strings()
	namesFile = kingpin.Flag("wireguard.peer-names-file",
		"YAML or JSON file mapping peer public keys to names; overrides names from --wireguard.config. Re-read when it changes.").
		PlaceHolder("/etc/wireguard/peer-names.yaml").String()
	compat = kingpin.Flag("metrics.compat",
		"Also emit the metrics of another exporter: 'mindflavor' (wireguard_sent_bytes_total, ... of MindFlavor/prometheus_wireguard_exporter) or 'none'.").
		Default(string(collector.CompatNone)).String()
	timeout = kingpin.Flag("wireguard.timeout",
		"Longest time to read the devices in one scrape; a scraper's X-Prometheus-Scrape-Timeout-Seconds may lower it.").
		Default("5s").Duration()
)

func main() {
	runner := bootstrap.New(bootstrap.Config{
		Name:           name,
		Description:    "Prometheus exporter for WireGuard devices and peers",
		DefaultAddress: defaultAddress,
		MetricsHandlerFactory: func(b *bootstrap.Bootstrap) (http.Handler, error) {
			if err := checkWebConfig(b); err != nil {
				return nil, err
			}
			if *timeout <= 0 {
				return nil, fmt.Errorf("--wireguard.timeout=%v: must be positive", *timeout)
			}
			switch collector.Compat(*compat) {
			case collector.CompatNone, collector.CompatMindflavor:
			default:
				return nil, fmt.Errorf("--metrics.compat=%s: want %s or %s", *compat, collector.CompatNone, collector.CompatMindflavor)
			}
			resolver, err := names.NewResolver(*configFiles, *namesFile, b.Logger.With("component", "names"))
			if err != nil {
				return nil, err
			}
			c := collector.New(collector.Options{
				Devices:    collector.Source{Interfaces: *interfaces, Timeout: *timeout}.Devices,
				Names:      func() map[wgtypes.Key]string { return resolver.Names() },
				Interfaces: *interfaces,
				Compat:     collector.Compat(*compat),
				Timeout:    *timeout,
				Logger:     b.Logger.With("collector", "wireguard"),
			})
			return newMetricsHandler(b, *timeout, func(ctx context.Context) *collector.Snapshot {
				return c.Read(ctx)
			}), nil
		},
	})
	if err := runner.Run(); err != nil {
		// One line, so that systemd's journal and a shell show what is wrong.
		fmt.Fprintf(os.Stderr, "%s: error: %v\n", name, err)
		os.Exit(1)
	}
}
