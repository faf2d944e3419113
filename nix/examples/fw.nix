# Copyright 2026 The downwatch Authors
# SPDX-License-Identifier: Apache-2.0
#
# fw: WireGuard, Gitea in a NixOS container (reached from the host on
# localhost:3001), two Gitea Actions runners in microVMs. Monitored by
# wireguard_exporter, Gitea's own /metrics (token), gitea_runner_exporter
# and node_exporter's systemd collector for the runners' units.
{ lib, ... }:
{
  imports = [ ./common.nix ./vmagent-remote-write.nix ];

  networking.hostName = "fw";

  networking.wireguard.interfaces.wg0 = {
    ips = [ "10.100.0.1/24" ];
    listenPort = 51820;
    privateKeyFile = "/run/secrets/wg0.key";
    peers = [
      { publicKey = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="; allowedIPs = [ "10.100.0.2/32" ]; }
      { publicKey = "TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0="; allowedIPs = [ "10.100.0.3/32" ]; }
    ];
  };

  services.wireguard-exporter = {
    enable = true;
    interfaces = [ "wg0" ];
    peerNames = {
      "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=" = "laptop";
      "TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=" = "phone";
    };
  };

  # Gitea shares the host's network; its metrics token is bind-mounted in
  # (readable by the container's gitea user).
  containers.gitea = {
    autoStart = true;
    bindMounts."/run/secrets/gitea-metrics-token" = {
      hostPath = "/run/secrets/gitea-metrics-token";
      isReadOnly = true;
    };
    config = { ... }: {
      imports = [ ../modules/gitea-metrics.nix ];
      services.gitea = {
        enable = true;
        settings.server = { HTTP_PORT = 3001; ROOT_URL = "http://localhost:3001/"; };
      };
      # Sets [metrics] ENABLED and metricsTokenFile inside the container.
      services.gitea-metrics = { enable = true; tokenFile = "/run/secrets/gitea-metrics-token"; };
      system.stateVersion = "25.05";
    };
  };

  # On the host: only the scrape job, with the token as vmagent's credential.
  services.gitea-metrics = {
    enable = true;
    tokenFile = "/run/secrets/gitea-metrics-token";
    configureGitea = false;
    scrape.target = "localhost:3001";
  };

  services.gitea-runner-exporter = {
    enable = true;
    url = "http://localhost:3001/";
    tokenFile = "/run/secrets/gitea-runner-exporter-token";
    expectedRunners = [ "git-runner-1" "git-runner-2" ];
  };

  # The runners' microVM units, for the "runner unit failed" rule on any
  # Gitea version.
  services.prometheus.exporters.node = {
    enabledCollectors = [ "systemd" ];
    extraFlags = [ "--collector.systemd.unit-include=microvm@git-runner-.*\\.service" ];
  };
}
