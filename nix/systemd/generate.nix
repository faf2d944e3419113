# Copyright 2026 The downwatch Authors
# SPDX-License-Identifier: Apache-2.0
#
# The plain systemd units in this folder, for hosts without NixOS (written
# for Debian's paths), rendered by ../lib.nix with the same flags and
# hardening as the NixOS modules. itest/nix checks that the committed files
# match; `go test ./itest/nix -run TestUnitFiles -update` rewrites them.
let
  dl = import ../lib.nix;

  common = {
    listenAddress = "127.0.0.1";
    webConfigFile = null;
    credentials = { };
    telemetryPath = "/metrics";
    disableExporterMetrics = false;
    maxRequests = null;
    logLevel = "info";
    logFormat = "logfmt";
    extraFlags = [ ];
  };

  unit = kind: args: dl.unitFile ({
    inherit kind;
    binary = "/usr/local/bin/${dl.exporters.${kind}.module}";
  } // args // {
    cfg = common // { port = dl.exporters.${kind}.port; } // args.cfg;
  });
in
{
  # A dynamic user has no fixed uid for slapd's peercred DN, so this unit
  # binds with a DN and a password (simple bind over ldapi, no network).
  "openldap_exporter.service" = unit "openldap" {
    after = [ "network-online.target" "slapd.service" ];
    cfg = {
      uri = dl.ldapiURI "/var/run/slapd/ldapi";
      bindDN = "cn=monitor,dc=example,dc=org";
      passwordFile = "/etc/downwatch/openldap_exporter.password";
      startTLS = false;
      caFile = null;
      certFile = null;
      keyFile = null;
      serverName = null;
      timeout = "5s";
      replicationProviderURI = null;
    };
  };

  # Debian runs Postfix as the instance postfix@-.service, logging to the
  # journal; public/ (showq) is open to the postdrop group.
  "postfix_exporter.service" = unit "postfix" {
    after = [ "network-online.target" "postfix.service" ];
    groups = [ "systemd-journal" "postdrop" ];
    cfg = {
      logSource = "journal";
      journalUnits = [ "postfix@-.service" ];
      logFile = "/var/log/mail.log";
      logFileFromStart = false;
      logFilePollInterval = null;
      journalctl = null;
      showqPath = "/var/spool/postfix/public/showq";
      timeout = "5s";
    };
  };

  # Dovecot opens stats-reader to this group with
  #   service stats { unix_listener stats-reader { group = dovecot-exporter
  #   mode = 0660 } }   (and `groupadd --system dovecot-exporter`).
  "dovecot_exporter.service" = unit "dovecot" {
    after = [ "network-online.target" "dovecot.service" ];
    groups = [ "dovecot-exporter" ];
    cfg = {
      statsSocket = "/run/dovecot/stats-reader";
      statsGroupBy = { };
      probeTLS = { caFile = null; serverName = null; insecureSkipVerify = false; };
      oldStatsSocket = null;
      scopes = [ "user" ];
      probes = { imap = "127.0.0.1:143"; };
      timeout = "5s";
    };
  };

  "wireguard_exporter.service" = unit "wireguard" {
    cfg = {
      interfaces = [ ];
      configFiles = [ ];
      peerNamesFile = null;
      compat = "none";
      timeout = "5s";
    };
  };

  "gitea_runner_exporter.service" = unit "gitea-runner" {
    after = [ "network-online.target" "gitea.service" ];
    cfg = {
      url = "http://localhost:3000/";
      tokenFile = "/etc/downwatch/gitea_runner_exporter.token";
      scope = "admin";
      caFile = null;
      timeout = "10s";
      expectedRunners = [ ];
    };
  };
}
