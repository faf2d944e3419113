# Copyright 2026 The downwatch Authors
# SPDX-License-Identifier: Apache-2.0
#
# vmagent on fw and mail: remote write to the central VictoriaMetrics, the
# basic-auth credentials in an environment file kept as a secret (e.g.
# sops-nix's config.sops.secrets."vmagent.env".path), never in the store:
#   remoteWrite_basicAuth_username=fw
#   remoteWrite_basicAuth_password=...
{
  services.vmagent = {
    enable = true;
    remoteWrite.url = "https://victoria-server.cloonar.com/api/v1/write";
    remoteWriteEnvironmentFile = "/run/secrets/vmagent.env";
  };
}
