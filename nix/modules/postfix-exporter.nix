# Copyright 2026 The downwatch Authors
# SPDX-License-Identifier: Apache-2.0
#
# services.postfix-exporter: Postfix log events (journal or file) and the
# queue (showq). NixOS logs Postfix to the journal, so that is the default
# source; the unit joins systemd-journal to read it and postdrop (Postfix's
# setgid group) to reach showq in public/.
import ./mk-exporter.nix {
  kind = "postfix";

  extraOptions = { lib, config, ... }:
    let inherit (lib) mkOption types; in
    {
      logSource = mkOption {
        type = types.enum [ "journal" "file" ];
        default = "journal";
        description = "Where the log lines come from: the systemd journal (--postfix.journal) or a file (--postfix.logfile).";
      };
      journalUnits = mkOption {
        type = types.listOf types.str;
        default = [ "postfix.service" ];
        description = "--postfix.journal.unit (repeated): the units whose journal is followed.";
      };
      logFile = mkOption {
        type = types.str;
        default = "/var/log/mail.log";
        description = "--postfix.logfile, followed across rotation, when logSource is \"file\".";
      };
      logFileFromStart = mkOption {
        type = types.bool;
        default = false;
        description = "--postfix.logfile.from-start: read what the file already holds instead of starting at its end.";
      };
      logFilePollInterval = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "1s";
        description = "--postfix.logfile.poll-interval: how often the file is checked for new lines and rotation; null keeps the exporter's 250ms.";
      };
      logFileGroup = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "adm";
        description = "Group that may read logFile, added to the unit's supplementary groups.";
      };
      showqPath = mkOption {
        type = types.nullOr types.str;
        default = "${config.services.postfix.config.queue_directory or "/var/lib/postfix/queue"}/public/showq";
        defaultText = lib.literalExpression ''"''${services.postfix queue_directory}/public/showq"'';
        description = "--postfix.showq-path: showq's unix socket (or host:port of a showq inet service); null: no queue metrics.";
      };
      showqGroup = mkOption {
        type = types.nullOr types.str;
        default = config.services.postfix.setgidGroup or "postdrop";
        defaultText = lib.literalExpression "config.services.postfix.setgidGroup";
        description = "Group that may enter Postfix's public/ directory (postdrop); null if showq is reached over TCP.";
      };
      timeout = mkOption {
        type = types.str;
        default = "5s";
        description = "--postfix.timeout: bound of a showq read.";
      };
      supplementaryGroups = mkOption {
        type = types.listOf types.str;
        default = [ ];
        description = "More groups for the unit.";
      };
    };

  # journalctl from the system's systemd, by absolute path.
  flagsCfg = { cfg, config, ... }: cfg // {
    journalctl = "${config.systemd.package}/bin/journalctl";
  };

  unit = { cfg, config, lib, ... }: {
    supplementaryGroups =
      lib.optional (cfg.logSource == "journal") "systemd-journal"
      ++ lib.optional (cfg.logSource == "file" && cfg.logFileGroup != null) cfg.logFileGroup
      ++ lib.optional (cfg.showqGroup != null && cfg.showqPath != null) cfg.showqGroup
      ++ cfg.supplementaryGroups;
    after = lib.optional config.services.postfix.enable "postfix.service";
  };
}
