// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Command scrapegen turns one host inventory into vmagent scrape configs,
// Grafana alert provisioning and vmalert rules, and checks them.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "scrapegen: not implemented yet")
	os.Exit(2)
}
