# Copyright 2026 The downwatch Authors
# SPDX-License-Identifier: Apache-2.0
#
# web-arm: VictoriaMetrics (victoria-server.cloonar.com; its TLS and
# basic-auth front end is not shown) and Grafana, whose alert rules are
# provisioned from the inventory by services.downwatch. Alerts go to the
# existing Pushover contact point cp_dominik through the default policy, so
# no contact point or policy is provisioned here.
{ ... }:
{
  imports = [ ./common.nix ];

  networking.hostName = "web-arm";

  services.victoriametrics = {
    enable = true;
    listenAddress = "127.0.0.1:8428";
  };

  # web-arm's own node_exporter goes straight into the local VictoriaMetrics.
  services.vmagent = {
    enable = true;
    remoteWrite.url = "http://127.0.0.1:8428/api/v1/write";
  };

  services.grafana = {
    enable = true;
    settings.server = { http_addr = "127.0.0.1"; http_port = 3000; };
    settings.security.secret_key = "$__file{/run/secrets/grafana-secret-key}";
    provision.datasources.settings.datasources = [{
      name = "VictoriaMetrics";
      uid = "victoriametrics"; # the inventory's grafana.datasource_uid
      type = "prometheus";
      url = "http://127.0.0.1:8428";
    }];
  };

  # scrapegen runs at build time: rules in folder "Infrastructure Services",
  # interval 1m, for 2m (services) and 5m (runners), labels severity,
  # service and host; checked before the system is built.
  services.downwatch = {
    inventory = import ./inventory.nix;
    grafanaAlerting.enable = true;
  };
}
