# Copyright 2026 The downwatch Authors
# SPDX-License-Identifier: Apache-2.0
#
# Every downwatch NixOS module. Import this (and add ../overlay.nix to
# nixpkgs.overlays) to get services.{openldap,postfix,dovecot,wireguard,
# gitea-runner}-exporter, services.vmagent.scrapeJobs, services.gitea-metrics
# and services.downwatch (inventory, Grafana alerting).
{
  imports = [
    ./vmagent.nix
    ./openldap-exporter.nix
    ./postfix-exporter.nix
    ./dovecot-exporter.nix
    ./wireguard-exporter.nix
    ./gitea-runner-exporter.nix
    ./gitea-metrics.nix
    ./downwatch.nix
  ];
}
