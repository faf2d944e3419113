# Copyright 2026 The downwatch Authors
# SPDX-License-Identifier: Apache-2.0
#
# Option values that make every flag of every exporter appear, for
# itest/nix's check that each flag the Nix side renders exists in the
# binary's -h output.
let
  common = {
    listenAddress = "::";
    port = 1234;
    webConfigFile = "/run/secrets/web.yml";
    credentials = { "tls.key" = "/run/secrets/tls.key"; };
    telemetryPath = "/m";
    disableExporterMetrics = true;
    maxRequests = 3;
    logLevel = "debug";
    logFormat = "json";
    extraFlags = [ ];
  };
in
{
  openldap = common // {
    uri = "ldaps://ldap.example.org";
    bindDN = "cn=monitor,dc=example,dc=org";
    passwordFile = "/run/secrets/ldap-password";
    startTLS = true;
    caFile = "/etc/ssl/ca.pem";
    certFile = "/etc/ssl/client.pem";
    keyFile = "/run/secrets/client.key";
    serverName = "ldap.example.org";
    timeout = "3s";
    replicationProviderURI = "ldaps://ldap1.example.org";
  };
  postfix-file = common // {
    logSource = "file";
    journalUnits = [ ];
    logFile = "/var/log/mail.log";
    logFileFromStart = true;
    logFilePollInterval = "1s";
    journalctl = null;
    showqPath = "/var/spool/postfix/public/showq";
    timeout = "3s";
  };
  postfix-journal = common // {
    logSource = "journal";
    journalUnits = [ "postfix.service" "postfix-out.service" ];
    logFile = "/var/log/mail.log";
    logFileFromStart = false;
    logFilePollInterval = null;
    journalctl = "/run/current-system/sw/bin/journalctl";
    showqPath = "127.0.0.1:10025";
    timeout = "3s";
  };
  dovecot = common // {
    statsSocket = "/run/dovecot2/stats-reader";
    oldStatsSocket = "/run/dovecot2/old-stats";
    statsGroupBy = { imap_command = [ "cmd_name" "tagged_reply_state" ]; };
    scopes = [ "user" "global" ];
    probes = { imap = "127.0.0.1:143"; pop3s = "127.0.0.1:995"; };
    probeTLS = { caFile = "/etc/ssl/ca.pem"; serverName = "mail.example.org"; insecureSkipVerify = true; };
    timeout = "3s";
  };
  wireguard = common // {
    interfaces = [ "wg0" "wg1" ];
    configFiles = [ "/etc/wireguard/wg0.conf" ];
    peerNamesFile = "/etc/wireguard/names.json";
    compat = "mindflavor";
    timeout = "3s";
  };
  gitea-runner = common // {
    url = "https://git.example.org/";
    tokenFile = "/run/secrets/gitea-token";
    scope = "org:infra";
    caFile = "/etc/ssl/ca.pem";
    timeout = "3s";
    expectedRunners = [ "git-runner-1" "git-runner-2" ];
  };
}
