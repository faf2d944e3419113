# Copyright 2026 The downwatch Authors
# SPDX-License-Identifier: Apache-2.0
#
# Entry point for configurations without flakes:
#   let downwatch = import /path/to/downwatch/nix; in {
#     imports = [ downwatch.nixosModules.default ];
#     nixpkgs.overlays = [ downwatch.overlay ];
#   }
{
  overlay = import ./overlay.nix;
  lib = import ./lib.nix;
  nixosModules = {
    default = ./modules;
    vmagent = ./modules/vmagent.nix;
    openldap-exporter = ./modules/openldap-exporter.nix;
    postfix-exporter = ./modules/postfix-exporter.nix;
    dovecot-exporter = ./modules/dovecot-exporter.nix;
    wireguard-exporter = ./modules/wireguard-exporter.nix;
    gitea-runner-exporter = ./modules/gitea-runner-exporter.nix;
    gitea-metrics = ./modules/gitea-metrics.nix;
    downwatch = ./modules/downwatch.nix;
  };
  examples = {
    fw = ./examples/fw.nix;
    mail = ./examples/mail.nix;
    web-arm = ./examples/web-arm.nix;
    inventory = import ./examples/inventory.nix;
  };
}
