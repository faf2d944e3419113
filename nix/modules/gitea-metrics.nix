# Copyright 2026 The downwatch Authors
# SPDX-License-Identifier: Apache-2.0
#
# services.gitea-metrics: Gitea's own /metrics, protected by a token, and
# its scrape job. Gitea may run on this host or in a NixOS container: in the
# container set configureGitea (the default when services.gitea is on), on
# the host with vmagent set scrape.enable and scrape.target.
{ config, lib, ... }:
let
  dl = import ../lib.nix;
  cfg = config.services.gitea-metrics;
  inherit (lib) mkOption types;
  credential = "gitea-metrics-token";
in
{
  imports = [ ./vmagent.nix ];

  options.services.gitea-metrics = {
    enable = lib.mkEnableOption "Gitea's /metrics with a bearer token, and its scrape job";

    tokenFile = mkOption {
      type = types.strMatching "/.+";
      example = "/run/secrets/gitea-metrics-token";
      description = ''
        File with the token Gitea wants as "Authorization: Bearer <token>".
        Gitea reads it as services.gitea.metricsTokenFile (readable by the
        gitea user); vmagent gets it as a systemd credential.
      '';
    };

    configureGitea = mkOption {
      type = types.bool;
      default = config.services.gitea.enable;
      defaultText = lib.literalExpression "config.services.gitea.enable";
      description = "Set services.gitea.settings.metrics.ENABLED and services.gitea.metricsTokenFile.";
    };

    scrape = {
      enable = mkOption {
        type = types.bool;
        default = config.services.vmagent.enable && !config.services.vmagent.scrapeFromInventory;
        defaultText = lib.literalExpression "config.services.vmagent.enable && !config.services.vmagent.scrapeFromInventory";
        description = "Add Gitea's job to services.vmagent.scrapeJobs, with bearer_token_file.";
      };
      target = mkOption {
        type = types.str;
        default = "localhost:${toString (config.services.gitea.settings.server.HTTP_PORT or 3000)}";
        defaultText = lib.literalExpression ''"localhost:''${toString config.services.gitea.settings.server.HTTP_PORT}"'';
        example = "localhost:3001";
        description = "host:port where vmagent reaches Gitea.";
      };
      scheme = mkOption {
        type = types.enum [ "http" "https" ];
        default = "http";
        description = "scheme of the job.";
      };
      jobName = mkOption {
        type = types.str;
        default = dl.gitea.job;
        description = "The job label; the generated alert rules expect the default.";
      };
    };

    vmagentTokenPath = mkOption {
      type = types.str;
      readOnly = true;
      default = "/run/credentials/vmagent.service/${credential}";
      description = "Where vmagent finds the token (for a bearer_token_file written elsewhere, e.g. scrapegen's inventory).";
    };
  };

  config = lib.mkIf cfg.enable (lib.mkMerge [
    (lib.mkIf cfg.configureGitea {
      services.gitea.settings.metrics.ENABLED = true;
      services.gitea.metricsTokenFile = cfg.tokenFile;
    })
    (lib.mkIf config.services.vmagent.enable {
      systemd.services.vmagent.serviceConfig.LoadCredential = [ "${credential}:${cfg.tokenFile}" ];
    })
    (lib.mkIf cfg.scrape.enable {
      services.vmagent.scrapeJobs = [{
        name = cfg.scrape.jobName;
        targets = [ cfg.scrape.target ];
        inherit (cfg.scrape) scheme;
        bearerTokenFile = cfg.vmagentTokenPath;
      }];
    })
  ]);
}
