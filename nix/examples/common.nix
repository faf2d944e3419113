# Copyright 2026 The downwatch Authors
# SPDX-License-Identifier: Apache-2.0
#
# What the three example hosts share: the overlay and modules, node_exporter
# on loopback (every host has it, scraped by vmagent's node job), and
# stand-ins for the hardware configuration so that each example evaluates
# on its own. A real host keeps its own boot and fileSystems settings.
{ lib, ... }:
{
  imports = [ ../modules ];

  nixpkgs.overlays = [ (import ../overlay.nix) ];

  # nixpkgs' exporters listen on 0.0.0.0 by default; the local vmagent is
  # the only reader.
  services.prometheus.exporters.node = {
    enable = true;
    listenAddress = "127.0.0.1";
    port = 9100;
  };

  boot.loader.grub.device = lib.mkDefault "nodev";
  fileSystems."/" = lib.mkDefault { device = "/dev/disk/by-label/nixos"; fsType = "ext4"; };
  system.stateVersion = lib.mkDefault "25.05";
}
