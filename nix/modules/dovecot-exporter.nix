# Copyright 2026 The downwatch Authors
# SPDX-License-Identifier: Apache-2.0
#
# services.dovecot-exporter: Dovecot's statistics (stats-reader, or the
# legacy old-stats) and liveness probes of its listeners. The stats sockets
# are root-only by default; configureDovecot opens them to one group.
import ./mk-exporter.nix {
  kind = "dovecot";

  extraOptions = { lib, config, ... }:
    let inherit (lib) mkOption types; in
    {
      statsSocket = mkOption {
        type = types.nullOr types.str;
        default = "/run/dovecot2/stats-reader";
        description = "--dovecot.stats-socket: the stats-reader socket of Dovecot 2.3/2.4 (NixOS' base_dir is /run/dovecot2). null: do not read it.";
      };
      statsGroupBy = mkOption {
        type = types.attrsOf (types.listOf types.str);
        default = { };
        example = { imap_command = [ "cmd_name" "tagged_reply_state" ]; };
        description = ''
          --dovecot.stats-group-by METRIC=FIELDS (repeated): the group_by
          fields of each Dovecot metric in metricDefinitions, which become the
          label names of its family.
        '';
      };
      oldStatsSocket = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "/run/dovecot2/old-stats";
        description = "--dovecot.old-stats-socket: the legacy old_stats plugin's socket (Dovecot 2.2/2.3 only).";
      };
      scopes = mkOption {
        type = types.listOf (types.enum [ "command" "session" "user" "domain" "ip" "global" ]);
        default = [ "user" ];
        description = "--dovecot.scopes: old-stats scopes to export (with oldStatsSocket).";
      };
      probes = mkOption {
        type = types.attrsOf types.str;
        default = { };
        example = { imap = "127.0.0.1:143"; imaps = "127.0.0.1:993"; lmtp = "127.0.0.1:24"; };
        description = ''
          --probe service=host:port (repeated): listeners whose greeting is read
          at every scrape; service is imap, imaps, pop3, pop3s, lmtp,
          submission, submissions, managesieve or managesieves. A stats socket answers while logins fail; the
          probe is what a "Dovecot is down" alert needs.
        '';
      };
      probeTLS = {
        caFile = mkOption {
          type = types.nullOr types.str;
          default = null;
          description = "--probe.tls-ca-file: CAs of the TLS listeners' certificates (imaps, pop3s ...).";
        };
        serverName = mkOption {
          type = types.nullOr types.str;
          default = null;
          description = "--probe.tls-server-name: name the certificates are checked against.";
        };
        insecureSkipVerify = mkOption {
          type = types.bool;
          default = false;
          description = "--probe.tls-insecure-skip-verify";
        };
      };
      timeout = mkOption {
        type = types.str;
        default = "5s";
        description = "--dovecot.timeout: bound of a scrape.";
      };
      socketGroup = mkOption {
        type = types.str;
        default = "dovecot-exporter";
        description = "Group that may use the stats sockets; the exporter runs with it.";
      };
      configureDovecot = mkOption {
        type = types.bool;
        default = config.services.dovecot2.enable or false;
        defaultText = lib.literalExpression "config.services.dovecot2.enable";
        description = ''
          Append to services.dovecot2.extraConfig the unix_listener settings
          that give socketGroup access to the stats sockets, and
          metricDefinitions. Turn off when you declare `service stats` yourself.
        '';
      };
      metricDefinitions = mkOption {
        type = types.lines;
        default = "";
        example = ''
          metric auth_success {
            filter = event=auth_request_finished AND success=yes
          }
        '';
        description = "Dovecot `metric` blocks (one family each in the exporter), appended with configureDovecot.";
      };
    };

  unit = { cfg, config, lib, ... }: {
    supplementaryGroups = [ cfg.socketGroup ];
    after = lib.optional (config.services.dovecot2.enable or false) "dovecot2.service";
  };

  extraConfig = { lib, cfg, ... }: {
    users.groups.${cfg.socketGroup} = { };
    services.dovecot2.extraConfig = lib.mkIf cfg.configureDovecot (''
      service stats {
        unix_listener stats-reader {
          group = ${cfg.socketGroup}
          mode = 0660
        }
      }
    '' + lib.optionalString (cfg.oldStatsSocket != null) ''
      service old-stats {
        unix_listener old-stats {
          group = ${cfg.socketGroup}
          mode = 0660
        }
      }
    '' + cfg.metricDefinitions);
  };
}
