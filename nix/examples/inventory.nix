# Copyright 2026 The downwatch Authors
# SPDX-License-Identifier: Apache-2.0
#
# The plan's inventory (scrapegen/examples/plan.yml) as a Nix attribute set:
# services.downwatch.inventory on web-arm turns it into the Grafana rules,
# and it gives the hosts' vmagent configs when services.downwatch.vmagent is
# on. Job names and host labels match what the exporter modules add to
# services.vmagent.scrapeJobs, so either way the rules find their series.
{
  remote_write_url = "https://victoria-server.cloonar.com/api/v1/write";
  grafana = {
    datasource_uid = "victoriametrics";
    folder = "Infrastructure Services";
  };
  defaults = {
    scrape_interval = "30s";
    evaluation_interval = "1m";
    for = "2m";
    runner_for = "5m";
  };
  hosts = {
    fw = {
      wireguard = { interfaces = [ "wg0" ]; handshake_max_age = "10m"; };
      # vmagent is a dynamic user; services.gitea-metrics hands it the token
      # as a credential at this path.
      gitea = { target = "localhost:3001"; bearer_token_file = "/run/credentials/vmagent.service/gitea-metrics-token"; };
      gitea_runners.runners = [
        { name = "git-runner-1"; unit = "microvm@git-runner-1.service"; }
        { name = "git-runner-2"; unit = "microvm@git-runner-2.service"; }
      ];
    };
    mail = { openldap = { }; postfix = { }; dovecot = { }; };
    web-arm = { };
  };
}
