// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/downwatch/downwatch/scrapegen/check"
	"github.com/downwatch/downwatch/scrapegen/generate"
	"github.com/downwatch/downwatch/scrapegen/inventory"
)

// bigInventory has n hosts with six services each (plus node_exporter):
// OpenLDAP, Postfix, Dovecot, WireGuard with two interfaces, Gitea and two
// Gitea runners.
func bigInventory(n int) []byte {
	var b strings.Builder
	b.WriteString("grafana: {datasource_uid: vm}\nhosts:\n")
	for i := range n {
		fmt.Fprintf(&b, `  host-%04d:
    openldap: {}
    postfix: {}
    dovecot: {}
    wireguard: {interfaces: [wg0, wg1]}
    gitea: {target: "localhost:3001", bearer_token_file: /run/secrets/gitea}
    gitea_runners: {runners: [r1, {name: r2, unit: r2.service}]}
`, i)
	}
	return []byte(b.String())
}

var benchHosts = 1000

// BenchmarkGenerateAndCheck is the whole of `scrapegen generate` for 1,000
// hosts, minus the disk: parse, generate, and check every output.
func BenchmarkGenerateAndCheck(b *testing.B) {
	data := bigInventory(benchHosts)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var files []generate.File
	for b.Loop() {
		inv, err := inventory.Parse("big.yml", data)
		if err != nil {
			b.Fatal(err)
		}
		files, err = generate.Generate(inv)
		if err != nil {
			b.Fatal(err)
		}
		if p := check.Files(files, nil, func(s string) string { return s }); len(p) > 0 {
			b.Fatal(p[0])
		}
	}
	total := 0
	for _, f := range files {
		total += len(f.Data)
	}
	b.ReportMetric(float64(total), "output-bytes")
	b.ReportMetric(float64(len(files)), "files")
}
