# Copyright 2026 The downwatch Authors
# SPDX-License-Identifier: Apache-2.0
#
# services.gitea-runner-exporter: Gitea Actions runner status from Gitea's
# admin REST API (Gitea 1.24+), for "runner offline" alerts that Gitea's own
# /metrics cannot give.
import ./mk-exporter.nix {
  kind = "gitea-runner";

  extraOptions = { lib, config, ... }:
    let inherit (lib) mkOption types; in
    {
      url = mkOption {
        type = types.str;
        default = config.services.gitea.settings.server.ROOT_URL or "http://localhost:3000/";
        defaultText = lib.literalExpression "config.services.gitea.settings.server.ROOT_URL";
        example = "http://localhost:3001/";
        description = "--gitea.url: Gitea's root URL.";
      };
      tokenFile = mkOption {
        type = types.nullOr (types.strMatching "/.+");
        default = null;
        example = "/run/secrets/gitea-runner-exporter-token";
        description = ''
          --gitea.token-file: an API token allowed to read the runner list
          (a site administrator's for scope "admin"), loaded as a systemd
          credential. A rotated token needs a restart of the unit.
        '';
      };
      scope = mkOption {
        type = types.strMatching "admin|org:.+|repo:.+/.+";
        default = "admin";
        description = "--gitea.scope: admin, org:NAME or repo:OWNER/NAME.";
      };
      caFile = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "--gitea.ca-file: CA certificates for an https:// url.";
      };
      timeout = mkOption {
        type = types.str;
        default = "10s";
        description = "--gitea.timeout: bound of a scrape, all pages together.";
      };
      expectedRunners = mkOption {
        type = types.listOf types.str;
        default = [ ];
        example = [ "git-runner-1" "git-runner-2" ];
        description = "--runner.expect (repeated): runners reported offline when missing from Gitea's list, so deleting one cannot silence its alert.";
      };
    };

  unit = { config, lib, ... }: {
    after = lib.optional (config.services.gitea.enable or false) "gitea.service";
  };
}
