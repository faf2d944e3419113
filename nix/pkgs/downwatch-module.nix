# Copyright 2026 The downwatch Authors
# SPDX-License-Identifier: Apache-2.0
#
# One Go module of this repository (an exporter or scrapegen), built the way
# the Makefile builds it: version ldflags of prometheus/common/version, the
# main package at the module's root.
{ lib
, buildGoModule
, module          # folder name, e.g. "openldap_exporter"
, vendorHash      # from ../vendor-hashes.json
, version ? (import ../lib.nix).version
, revision ? "unknown"
, branch ? "nix"
, description ? module
}:

buildGoModule {
  pname = module;
  inherit version vendorHash;

  # The module's folder alone: buildGoModule runs `go mod vendor` in it,
  # which must not see the repository's go.work (every module builds with
  # GOWORK=off, see the top README).
  src = lib.cleanSourceWith {
    name = "${module}-source";
    src = ../.. + "/${module}";
    filter = path: type: !(type == "directory" && baseNameOf path == "vendor");
  };

  subPackages = [ "." ];

  ldflags = [
    "-s"
    "-w"
    "-X github.com/prometheus/common/version.Version=${version}"
    "-X github.com/prometheus/common/version.Revision=${revision}"
    "-X github.com/prometheus/common/version.Branch=${branch}"
    "-X github.com/prometheus/common/version.BuildUser=nix"
  ];

  # Unit tests only: the integration tests live in itest/ and need daemons.
  checkFlags = [ "-short" ];

  meta = {
    inherit description;
    homepage = "https://github.com/downwatch/downwatch";
    license = lib.licenses.asl20;
    mainProgram = module;
    platforms = lib.platforms.linux;
  };
}
