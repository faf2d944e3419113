// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Command scrapegen turns one host inventory into vmagent scrape configs,
// Grafana alert provisioning and vmalert rules, and checks them.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/version"

	"github.com/downwatch/downwatch/scrapegen/check"
)

const name = "scrapegen"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: tests call it with their own arguments
// and buffers and look at the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	app := kingpin.New(name, "Generates vmagent scrape configs, Grafana alert provisioning and vmalert rules from one host inventory, and checks them.")
	app.Version(version.Print(name))
	app.HelpFlag.Short('h')
	app.Writer(stdout)
	app.ErrorWriter(stderr)
	// --help and --version end the program through Terminate; run must
	// return instead, so that tests can call it.
	exited := false
	app.Terminate(func(int) { exited = true })

	gen := app.Command("generate", "Write every output of an inventory into a directory (after checking them).")
	genInv := gen.Flag("inventory", "Inventory file (YAML, or JSON as Nix writes it).").Required().String()
	genOut := gen.Flag("out", "Directory to write into; created if missing.").Required().String()

	chk := app.Command("check", "Check an inventory and its outputs; with --dir, the files in a generated directory. Exit 1 with one line per problem.")
	chkInv := chk.Flag("inventory", "Inventory file (YAML, or JSON as Nix writes it).").Required().String()
	chkDir := chk.Flag("dir", "Generated directory to check against the inventory.").String()

	cmd, err := app.Parse(args)
	if exited {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: error: %v\n", name, err)
		return 2
	}
	var problems []check.Problem
	var summary string
	switch cmd {
	case gen.FullCommand():
		problems, summary, err = check.GenerateDir(*genInv, *genOut)
	case chk.FullCommand():
		problems, summary, err = check.Run(*chkInv, *chkDir)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: error: %v\n", name, err)
		return 2
	}
	for _, p := range problems {
		fmt.Fprintln(stderr, p)
	}
	if len(problems) > 0 {
		return 1
	}
	fmt.Fprintln(stdout, summary)
	return 0
}
