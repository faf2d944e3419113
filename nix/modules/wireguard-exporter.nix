# Copyright 2026 The downwatch Authors
# SPDX-License-Identifier: Apache-2.0
#
# services.wireguard-exporter: devices and peers over wgctrl. Kernel devices
# are read over generic netlink, which needs CAP_NET_ADMIN: the only
# capability any of these units gets. Userspace (wireguard-go) devices are
# reached through root-only sockets in /run/wireguard, hence `userspace`.
import ./mk-exporter.nix {
  kind = "wireguard";

  extraOptions = { lib, ... }:
    let inherit (lib) mkOption types; in
    {
      interfaces = mkOption {
        type = types.listOf types.str;
        default = [ ];
        example = [ "wg0" ];
        description = "--wireguard.interface (repeated): only these devices; a missing one is reported. Empty: every device.";
      };
      configFiles = mkOption {
        type = types.listOf (types.strMatching "/.+");
        default = [ ];
        example = [ "/etc/wireguard/wg0.conf" ];
        description = ''
          wg-quick files whose [Peer] comments (# Name = x, # friendly_name = x)
          name peers (--wireguard.config). They hold private keys and are
          handed over as systemd credentials, read-only to the exporter alone.
        '';
      };
      peerNames = mkOption {
        type = types.attrsOf types.str;
        default = { };
        example = { "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=" = "laptop"; };
        description = "Public key to name, written to a JSON names file (--wireguard.peer-names-file). Public keys only: this ends up in the store.";
      };
      peerNamesFile = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "A names file of your own (YAML or JSON) instead of peerNames.";
      };
      compat = mkOption {
        type = types.enum [ "none" "mindflavor" ];
        default = "none";
        description = "--metrics.compat: also emit the Rust exporter's metric names, for its dashboards.";
      };
      timeout = mkOption {
        type = types.str;
        default = "5s";
        description = "--wireguard.timeout: bound of a scrape.";
      };
      userspace = mkOption {
        type = types.bool;
        default = false;
        description = "Run as root so that wireguard-go's sockets in /run/wireguard can be read (the unit stays otherwise hardened).";
      };
    };

  flagsCfg = { cfg, pkgs, ... }: cfg // {
    peerNamesFile =
      if cfg.peerNames != { }
      then toString (pkgs.writeText "wireguard-peer-names.json" (builtins.toJSON cfg.peerNames))
      else cfg.peerNamesFile;
  };

  unit = { cfg, ... }: { dynamicUser = !cfg.userspace; };

  extraConfig = { cfg, ... }: {
    assertions = [{
      assertion = cfg.peerNames == { } || cfg.peerNamesFile == null;
      message = "services.wireguard-exporter: set peerNames or peerNamesFile, not both";
    }];
  };
}
