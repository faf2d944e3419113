# Copyright 2026 The downwatch Authors
# SPDX-License-Identifier: Apache-2.0
#
# services.openldap-exporter: cn=Monitor and replication state of slapd.
# On the host of slapd the exporter binds with SASL EXTERNAL over ldapi
# (no password at all); slapd knows it by its uid/gid, so that case needs a
# static user with fixed ids, named in the cn=Monitor ACL (slapdAcl).
import ./mk-exporter.nix {
  kind = "openldap";

  extraOptions = { lib, cfg, ... }:
    let
      inherit (lib) mkOption types;
      dl = import ../lib.nix;
      secretPath = types.strMatching "/.+";
    in
    {
      uri = mkOption {
        type = types.str;
        default = dl.ldapiURI "/run/openldap/ldapi";
        example = "ldaps://ldap.example.org:636";
        description = ''
          --ldap.uri: ldap://, ldaps:// or ldapi:// with the socket path
          percent-encoded. The default is slapd's socket when
          services.openldap.urlList contains "ldapi:///" on NixOS.
        '';
      };
      bindDN = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "cn=monitor,dc=example,dc=org";
        description = "--ldap.bind-dn for a simple bind. null: SASL EXTERNAL over ldapi, anonymous otherwise.";
      };
      passwordFile = mkOption {
        type = types.nullOr secretPath;
        default = null;
        description = "File with the bind password (--ldap.password-file), loaded as a systemd credential.";
      };
      startTLS = mkOption {
        type = types.bool;
        default = false;
        description = "--ldap.start-tls on an ldap:// URI.";
      };
      caFile = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "--ldap.ca-file: CA certificates to verify the server with.";
      };
      certFile = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "--ldap.cert-file: client certificate.";
      };
      keyFile = mkOption {
        type = types.nullOr secretPath;
        default = null;
        description = "--ldap.key-file: client key, loaded as a systemd credential.";
      };
      serverName = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "--ldap.server-name: name expected in the server's certificate.";
      };
      timeout = mkOption {
        type = types.str;
        default = "5s";
        description = "--ldap.timeout: bound of a scrape (the scraper's timeout header lowers it).";
      };
      replicationProviderURI = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "ldaps://ldap1.example.org";
        description = "--replication.provider-uri: the provider whose contextCSN the lag is measured against (same credentials).";
      };

      user = mkOption {
        type = types.nullOr types.str;
        default = if cfg.bindDN == null && lib.hasPrefix "ldapi://" cfg.uri then "openldap-exporter" else null;
        defaultText = lib.literalExpression ''"openldap-exporter" for SASL EXTERNAL over ldapi, else null'';
        description = "Static user to run as (created by this module); null runs as a DynamicUser.";
      };
      uid = mkOption {
        type = types.nullOr types.int;
        default = null;
        example = 330;
        description = "uid of the static user; needed for the slapd ACL with SASL EXTERNAL.";
      };
      gid = mkOption {
        type = types.nullOr types.int;
        default = null;
        example = 330;
        description = "gid of the static user's group; needed for the slapd ACL with SASL EXTERNAL.";
      };

      slapdAcl = {
        enable = mkOption {
          type = types.bool;
          default = false;
          description = ''
            Add to services.openldap the ACL that lets the exporter read
            cn=Monitor (and contextCSN of the databases in contextCSN), as
            the first olcAccess of the monitor database. The identity is
            bindDN, or the peercred DN of uid/gid for SASL EXTERNAL.
          '';
        };
        monitorDatabase = mkOption {
          type = types.str;
          default = "olcDatabase={2}monitor";
          description = "Entry of the monitor database under cn=config in services.openldap.settings.children (created if missing).";
        };
        contextCSN = mkOption {
          type = types.listOf (types.submodule {
            options = {
              database = mkOption { type = types.str; example = "olcDatabase={1}mdb"; description = "Entry of the database under cn=config."; };
              suffix = mkOption { type = types.str; example = "dc=example,dc=org"; description = "Its suffix."; };
            };
          });
          default = [ ];
          description = "Replicated databases whose suffix entry's contextCSN the exporter reads.";
        };
      };
    };

  unit = { cfg, config, ... }: {
    dynamicUser = cfg.user == null;
    after = if config.services.openldap.enable then [ "openldap.service" ] else [ ];
  };

  extraConfig = { lib, cfg, config, ... }:
    let
      dl = import ../lib.nix;
      who = if cfg.bindDN != null then cfg.bindDN else dl.peercredDN cfg.uid cfg.gid;
    in
    lib.mkMerge [
      {
        assertions = [
          {
            assertion = !cfg.slapdAcl.enable || cfg.bindDN != null || (cfg.uid != null && cfg.gid != null && cfg.user != null);
            message = "services.openldap-exporter.slapdAcl with SASL EXTERNAL needs a static user with uid and gid set (slapd names it by them)";
          }
          {
            assertion = cfg.passwordFile == null || cfg.bindDN != null;
            message = "services.openldap-exporter.passwordFile needs bindDN";
          }
        ];
      }
      (lib.mkIf (cfg.user != null) {
        systemd.services.openldap-exporter.serviceConfig = { User = cfg.user; Group = cfg.user; };
        users.users.${cfg.user} = { isSystemUser = true; group = cfg.user; uid = cfg.uid; };
        users.groups.${cfg.user} = { gid = cfg.gid; };
      })
      (lib.mkIf cfg.slapdAcl.enable {
        services.openldap.settings.children = {
          ${cfg.slapdAcl.monitorDatabase}.attrs = {
            objectClass = lib.mkDefault [ "olcDatabaseConfig" "olcMonitorConfig" ];
            olcDatabase = lib.mkDefault (lib.removePrefix "olcDatabase=" cfg.slapdAcl.monitorDatabase);
            olcAccess = lib.mkBefore [ (dl.monitorAcl { inherit who; }) ];
          };
        } // lib.listToAttrs (map
          (d: lib.nameValuePair d.database {
            attrs.olcAccess = lib.mkBefore [ (dl.contextCSNAcl { inherit who; inherit (d) suffix; }) ];
          })
          cfg.slapdAcl.contextCSN);
      })
    ];
}
