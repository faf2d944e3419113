# Copyright 2026 The downwatch Authors
# SPDX-License-Identifier: Apache-2.0
#
# The flake lives in nix/ (use it as github:downwatch/downwatch?dir=nix);
# the packages build from the module folders beside it.
{
  description = "downwatch: exporters, NixOS modules and alert provisioning for a mail, git and VPN stack";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      plain = import ./default.nix;
      revision = self.rev or self.dirtyRev or "unknown";
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems
        (system: f (import nixpkgs { inherit system; overlays = [ self.overlays.default ]; }));
      host = system: module: nixpkgs.lib.nixosSystem {
        inherit system;
        modules = [ module { nixpkgs.overlays = [ self.overlays.default ]; } ];
      };
    in
    {
      # The overlay, with the flake's revision stamped into the binaries.
      overlays.default = final: prev:
        builtins.mapAttrs (_: p: p.override { inherit revision; }) (plain.overlay final prev);

      nixosModules = plain.nixosModules // {
        default = { imports = [ ./modules ]; nixpkgs.overlays = [ self.overlays.default ]; };
      };

      packages = forAllSystems (pkgs: {
        inherit (pkgs) openldap_exporter postfix_exporter dovecot_exporter
          wireguard_exporter gitea_runner_exporter scrapegen;
      });

      nixosConfigurations = {
        fw = host "x86_64-linux" ./examples/fw.nix;
        mail = host "x86_64-linux" ./examples/mail.nix;
        web-arm = host "aarch64-linux" ./examples/web-arm.nix;
      };

      checks.x86_64-linux.mail-vm = import ./tests/mail-vm.nix {
        pkgs = import nixpkgs { system = "x86_64-linux"; overlays = [ self.overlays.default ]; };
      };
    };
}
