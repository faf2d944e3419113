// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Command genlog writes the deterministic Postfix log of internal/loggen to
// stdout, for scripts/compare.sh: genlog -n 1000000 > mail.log
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/downwatch/downwatch/postfix_exporter/internal/loggen"
)

func main() {
	n := flag.Int("n", 1000000, "number of lines (whole sessions, so slightly more)")
	seed := flag.Uint64("seed", 1, "seed")
	counts := flag.String("counts", "", "write the expected counts as JSON to this file")
	flag.Parse()
	c, err := loggen.Write(os.Stdout, *n, *seed)
	if err != nil {
		fmt.Fprintln(os.Stderr, "genlog:", err)
		os.Exit(1)
	}
	if *counts != "" {
		b, _ := json.Marshal(c)
		if err := os.WriteFile(*counts, b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "genlog:", err)
			os.Exit(1)
		}
	}
}
