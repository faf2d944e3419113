# Copyright 2026 The downwatch Authors
# SPDX-License-Identifier: Apache-2.0
#
# Adds the exporters and scrapegen to pkgs:
#   pkgs.openldap_exporter pkgs.postfix_exporter pkgs.dovecot_exporter
#   pkgs.wireguard_exporter pkgs.gitea_runner_exporter pkgs.scrapegen
# The vendor hashes come from vendor-hashes.json (`make vendor-hashes`).
# A package's revision stamp can be set with .override { revision = ...; }.
final: prev:
let
  dl = import ./lib.nix;
  hashes = builtins.fromJSON (builtins.readFile ./vendor-hashes.json);
  descriptions = builtins.listToAttrs (map
    (kind: { name = dl.exporters.${kind}.module; value = "Prometheus exporter for ${dl.exporters.${kind}.description}"; })
    (builtins.attrNames dl.exporters)) // {
    scrapegen = "Generates vmagent scrape configs, Grafana alert provisioning and vmalert rules from one host inventory";
  };
  # The modules say `go 1.26.0` and buildGoModule builds with
  # GOTOOLCHAIN=local, so a nixpkgs whose default Go is older needs Go 1.26
  # explicitly.
  buildGoModule = final.buildGo126Module or final.buildGoModule;
  build = module: final.callPackage ./pkgs/downwatch-module.nix {
    inherit module buildGoModule;
    vendorHash = hashes.${module};
    description = descriptions.${module};
  };
in
builtins.listToAttrs (map (module: { name = module; value = build module; }) dl.goModules)
