# Copyright 2026 The downwatch Authors
# SPDX-License-Identifier: Apache-2.0
#
# Builds the NixOS module of one exporter: the options every exporter shares,
# the hardened unit from ../lib.nix, and its scrape job in
# services.vmagent.scrapeJobs. Each exporter's file adds its own options.
{ kind
  # { lib, config, pkgs, cfg } -> attribute set of the exporter's own options
, extraOptions ? _: { }
  # { lib, config, pkgs, cfg } -> NixOS config merged in when enabled
, extraConfig ? _: { }
  # { lib, config, pkgs, cfg } -> the attribute set the flags are made from
  # (cfg with computed values, e.g. a generated names file)
, flagsCfg ? { cfg, ... }: cfg
  # { lib, config, pkgs, cfg } -> unit settings: { supplementaryGroups,
  # dynamicUser, after, path }
, unit ? _: { }
}:

{ config, lib, pkgs, ... }:
let
  dl = import ../lib.nix;
  e = dl.exporters.${kind};
  cfg = config.services.${e.unit};
  args = { inherit lib config pkgs cfg; };
  inherit (lib) mkOption types;
  u = { supplementaryGroups = [ ]; dynamicUser = true; after = [ ]; path = [ ]; } // unit args;

  # Secrets are absolute paths as strings: a Nix path value would be copied
  # into the world-readable store.
  secretPath = types.strMatching "/.+";
in
{
  imports = [ ./vmagent.nix ];

  options.services.${e.unit} = {
    enable = lib.mkEnableOption "the Prometheus exporter for ${e.description}";

    package = mkOption {
      type = types.package;
      default = pkgs.${e.module};
      defaultText = lib.literalExpression "pkgs.${e.module}";
      description = "The ${e.module} package (from this repository's overlay).";
    };

    listenAddress = mkOption {
      type = types.str;
      default = dl.defaultListenAddress;
      description = ''
        Address to listen on. The default keeps the exporter on loopback, where
        the local vmagent scrapes it; use "0.0.0.0" or "::" together with
        webConfigFile (TLS, basic auth) and openFirewall to expose it.
      '';
    };

    port = mkOption {
      type = types.port;
      default = e.port;
      description = "Port to listen on (--web.listen-address).";
    };

    webConfigFile = mkOption {
      type = types.nullOr secretPath;
      default = null;
      example = "/run/secrets/exporter-web.yml";
      description = ''
        exporter-toolkit web configuration (TLS, basic auth), passed as
        --web.config.file through a systemd credential, so it may be readable
        by root only. Relative cert_file/key_file paths in it are resolved in
        the credentials directory: load them with `credentials`.
      '';
    };

    credentials = mkOption {
      type = types.attrsOf secretPath;
      default = { };
      example = { "tls.crt" = "/var/lib/acme/host/cert.pem"; "tls.key" = "/var/lib/acme/host/key.pem"; };
      description = ''
        More files handed to the service with LoadCredential=, by the name it
        finds them under in $CREDENTIALS_DIRECTORY (e.g. the TLS files named
        by webConfigFile).
      '';
    };

    telemetryPath = mkOption {
      type = types.str;
      default = "/metrics";
      description = "Path of the metrics endpoint (--web.telemetry-path).";
    };

    disableExporterMetrics = mkOption {
      type = types.bool;
      default = false;
      description = "Leave out go_* and process_* metrics (--web.disable-exporter-metrics).";
    };

    maxRequests = mkOption {
      type = types.nullOr types.ints.positive;
      default = null;
      description = "Concurrent scrapes before answering 503 (--web.max-requests); null keeps the exporter's default (40).";
    };

    logLevel = mkOption {
      type = types.enum [ "debug" "info" "warn" "error" ];
      default = "info";
      description = "--log.level";
    };

    logFormat = mkOption {
      type = types.enum [ "logfmt" "json" ];
      default = "logfmt";
      description = "--log.format";
    };

    extraFlags = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "More command-line arguments, appended last. Never put secrets here: they would be in the store and in ps.";
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = "Open the port in the firewall (only useful with a non-loopback listenAddress).";
    };

    scrape = {
      enable = mkOption {
        type = types.bool;
        default = config.services.vmagent.enable && !config.services.vmagent.scrapeFromInventory;
        defaultText = lib.literalExpression "config.services.vmagent.enable && !config.services.vmagent.scrapeFromInventory";
        description = "Add this exporter's job to services.vmagent.scrapeJobs.";
      };
      jobName = mkOption {
        type = types.str;
        default = e.job;
        description = "The job label; the alert rules scrapegen generates expect the default.";
      };
      interval = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "30s";
        description = "scrape_interval of the job; null uses vmagent's global one.";
      };
      labels = mkOption {
        type = types.attrsOf types.str;
        default = { };
        description = "Labels added to the target (besides host).";
      };
      extraConfig = mkOption {
        type = types.attrs;
        default = { };
        example = { scheme = "https"; tls_config.ca_file = "/etc/ssl/exporter-ca.pem"; };
        description = "Merged into the job's scrape config as is, e.g. scheme, tls_config or basic_auth when webConfigFile enables them.";
      };
    };
  } // extraOptions args;

  config = lib.mkIf cfg.enable (lib.mkMerge [
    {
      systemd.services.${e.unit} = {
        description = "Prometheus exporter for ${e.description}";
        documentation = [ "https://github.com/downwatch/downwatch/tree/main/${e.module}" ];
        wantedBy = [ "multi-user.target" ];
        wants = [ "network-online.target" ];
        after = [ "network-online.target" ] ++ u.after;
        inherit (u) path;
        serviceConfig =
          dl.toServiceConfig (dl.hardening ((dl.unitNeeds.${kind}) // {
            inherit (u) supplementaryGroups dynamicUser;
          }))
          // {
            Type = "simple";
            ExecStart = dl.execStart (dl.argv kind "${cfg.package}/bin/${e.module}" (flagsCfg args));
            Restart = "on-failure";
            RestartSec = "5s";
            LoadCredential = dl.loadCredential (dl.credentials kind (flagsCfg args));
          };
      };

      networking.firewall.allowedTCPPorts = lib.mkIf cfg.openFirewall [ cfg.port ];

      services.vmagent.scrapeJobs = lib.mkIf cfg.scrape.enable [{
        name = cfg.scrape.jobName;
        targets = [ (dl.scrapeTarget cfg.listenAddress cfg.port) ];
        metricsPath = cfg.telemetryPath;
        inherit (cfg.scrape) interval labels extraConfig;
      }];
    }
    (extraConfig args)
  ]);
}
