# Copyright 2026 The downwatch Authors
# SPDX-License-Identifier: Apache-2.0
#
# services.downwatch: one inventory (a Nix attribute set, scrapegen's format)
# turned by scrapegen, at build time, into the Grafana alerting provisioning
# (rules, optionally the Pushover contact point and the notification
# policy) and into each host's vmagent scrape configs.
{ config, lib, pkgs, ... }:
let
  dl = import ../lib.nix;
  cfg = config.services.downwatch;
  inherit (lib) mkOption types;
  json = pkgs.formats.json { };

  generated = pkgs.runCommand "downwatch-monitoring"
    {
      nativeBuildInputs = [ cfg.scrapegenPackage ];
      inventory = dl.inventoryJSON cfg.inventory;
      passAsFile = [ "inventory" ];
    } ''
    # The file's name shows up in the generated headers.
    cp "$inventoryPath" inventory.json
    scrapegen generate --inventory inventory.json --out "$out"
    scrapegen check --inventory inventory.json --dir "$out"
  '';

  hostScrapeConfigs = host: pkgs.runCommand "vmagent-${host}-scrape-configs.json"
    { nativeBuildInputs = [ pkgs.jq ]; } ''
    # scrape_config_files entries hold a bare list of jobs.
    jq '.scrape_configs' ${cfg.generated}/vmagent/${host}.json > "$out"
  '';

  grafanaSettings = cfg.inventory.grafana or { };
in
{
  imports = [ ./vmagent.nix ];

  options.services.downwatch = {
    inventory = mkOption {
      type = types.nullOr json.type;
      default = null;
      example = lib.literalExpression "import ./inventory.nix";
      description = ''
        The host inventory in scrapegen's format (see scrapegen/README.md),
        as a Nix attribute set; it is passed to scrapegen as JSON. Secrets
        are named by file path, as strings: a Nix path value would copy the
        secret into the store.
      '';
    };

    scrapegenPackage = mkOption {
      type = types.package;
      default = pkgs.scrapegen;
      defaultText = lib.literalExpression "pkgs.scrapegen";
      description = "The scrapegen package (from this repository's overlay).";
    };

    generated = mkOption {
      type = types.package;
      readOnly = true;
      default = generated;
      defaultText = lib.literalExpression "scrapegen generate --inventory <inventory> --out $out";
      description = ''
        scrapegen's output for the inventory, checked by `scrapegen check`:
        vmagent/<host>.{yml,json}, grafana/alert-rules.yaml,
        grafana/contact-points.yaml, grafana/policies.yaml, vmalert/rules.yml.
      '';
    };

    grafanaAlerting = {
      enable = lib.mkEnableOption "provisioning the inventory's alert rules in Grafana (services.grafana.provision.alerting)";
      contactPoints = mkOption {
        type = types.bool;
        default = grafanaSettings ? pushover;
        defaultText = lib.literalExpression "inventory.grafana ? pushover";
        description = ''
          Provision the Pushover contact point of the inventory. Its
          $__file{...} secrets are read by Grafana at start: keep them
          readable by the grafana user.
        '';
      };
      policies = mkOption {
        type = types.bool;
        default = grafanaSettings ? policy;
        defaultText = lib.literalExpression "inventory.grafana ? policy";
        description = "Provision the inventory's notification policy (this replaces Grafana's whole policy tree).";
      };
    };

    vmagent = {
      enable = lib.mkEnableOption ''
        taking this host's scrape jobs from the inventory (scrapegen's
        vmagent/<host>.json, through scrape_config_files) instead of from the
        exporter modules'';
      host = mkOption {
        type = types.str;
        default = config.networking.hostName;
        defaultText = lib.literalExpression "config.networking.hostName";
        description = "This host's name in the inventory.";
      };
    };
  };

  config = lib.mkMerge [
    {
      assertions = [{
        assertion = (cfg.grafanaAlerting.enable || cfg.vmagent.enable) -> cfg.inventory != null;
        message = "services.downwatch needs an inventory";
      }];
    }
    (lib.mkIf cfg.grafanaAlerting.enable {
      # nixpkgs links the provisioning directory only with provision.enable.
      services.grafana.provision.enable = true;
      services.grafana.provision.alerting = {
        rules.path = "${cfg.generated}/grafana/alert-rules.yaml";
        contactPoints.path = lib.mkIf cfg.grafanaAlerting.contactPoints "${cfg.generated}/grafana/contact-points.yaml";
        policies.path = lib.mkIf cfg.grafanaAlerting.policies "${cfg.generated}/grafana/policies.yaml";
      };
    })
    (lib.mkIf cfg.vmagent.enable {
      assertions = [{
        assertion = (cfg.inventory.hosts or { }) ? ${cfg.vmagent.host};
        message = "services.downwatch.vmagent: host ${cfg.vmagent.host} is not in the inventory";
      }];
      services.vmagent.scrapeFromInventory = true;
      services.vmagent.scrapeConfigFiles = [ "${hostScrapeConfigs cfg.vmagent.host}" ];
    })
  ];
}
