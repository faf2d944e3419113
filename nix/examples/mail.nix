# Copyright 2026 The downwatch Authors
# SPDX-License-Identifier: Apache-2.0
#
# mail: OpenLDAP, Postfix and Dovecot, each with its exporter on loopback,
# scraped by the local vmagent.
{ lib, pkgs, ... }:
let
  suffix = "dc=example,dc=org";
in
{
  imports = [ ./common.nix ./vmagent-remote-write.nix ];

  networking.hostName = "mail";
  networking.domain = "example.org";

  services.openldap = {
    enable = true;
    urlList = [ "ldap://127.0.0.1/" "ldapi://%2Frun%2Fopenldap%2Fldapi" ];
    settings.children = {
      "cn=schema".includes = map (s: "${pkgs.openldap}/etc/schema/${s}.ldif") [ "core" "cosine" "inetorgperson" ];
      "olcDatabase={1}mdb".attrs = {
        objectClass = [ "olcDatabaseConfig" "olcMdbConfig" ];
        olcDatabase = "{1}mdb";
        olcDbDirectory = "/var/lib/openldap/data";
        olcSuffix = suffix;
        olcAccess = [ "{1}to * by users read by * none" ];
      };
    };
  };
  # The ldapi socket's directory (recent nixpkgs creates it already).
  systemd.services.openldap.serviceConfig.RuntimeDirectory = lib.mkDefault "openldap";

  # SASL EXTERNAL over ldapi: slapd knows the exporter as uid/gid 330, and
  # the module adds the ACL for cn=Monitor and the suffix's contextCSN.
  services.openldap-exporter = {
    enable = true;
    uri = "ldapi://%2Frun%2Fopenldap%2Fldapi";
    uid = 330;
    gid = 330;
    slapdAcl = {
      enable = true;
      contextCSN = [{ database = "olcDatabase={1}mdb"; inherit suffix; }];
    };
  };

  services.postfix = {
    enable = true;
    hostname = "mail.example.org";
    domain = "example.org";
  };

  # Postfix logs to the journal on NixOS; showq through the postdrop group.
  services.postfix-exporter = {
    enable = true;
    logSource = "journal";
  };

  services.dovecot2 = {
    enable = true;
    enableImap = true;
    enablePop3 = true;
  };

  services.dovecot-exporter = {
    enable = true;
    probes = { imap = "127.0.0.1:143"; pop3 = "127.0.0.1:110"; };
    # Dovecot 2.3 syntax (system.stateVersion below 25.11 selects
    # dovecot_2_3 in nixpkgs; 2.4 writes group_by as blocks). The group_by
    # fields are told to the exporter too.
    statsGroupBy.imap_command = [ "cmd_name" "tagged_reply_state" ];
    metricDefinitions = ''
      metric auth_success {
        filter = event=auth_request_finished AND success=yes
      }
      metric auth_failure {
        filter = event=auth_request_finished AND NOT success=yes
      }
      metric imap_command {
        filter = event=imap_command_finished
        group_by = cmd_name tagged_reply_state
      }
    '';
  };
}
