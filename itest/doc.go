// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Package itest holds the integration tests that run the exporters against
// real daemons (slapd, Postfix, Dovecot, wireguard-go, VictoriaMetrics) on
// loopback. The daemon harnesses live in daemon/, one package per daemon, so
// that every test and the demo start a daemon the same way. The exporter
// modules themselves never import this module: each stays buildable alone.
package itest
