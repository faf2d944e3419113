# Copyright 2026 The downwatch Authors
# SPDX-License-Identifier: Apache-2.0
#
# NixOS VM test, for users who have nixpkgs (this repository's CI cannot
# fetch it and does not run this): boots the mail example, adds the other
# two exporters, and checks that every exporter answers on loopback with its
# service up, and that vmagent scrapes all jobs with the host label.
#   nix-build nix/tests/mail-vm.nix            (with <nixpkgs> on NIX_PATH)
#   nix build ./nix#checks.x86_64-linux.mail-vm
{ pkgs ? import <nixpkgs> { } }:

pkgs.testers.runNixOSTest {
  name = "downwatch-mail";

  # The example adds this repository's overlay to nixpkgs.overlays.
  node.pkgsReadOnly = false;

  nodes.mail = { lib, ... }: {
    imports = [ ../examples/mail.nix ];

    virtualisation.memorySize = 1536;

    # No central VictoriaMetrics here: vmagent writes to a local one.
    services.victoriametrics = { enable = true; listenAddress = "127.0.0.1:8428"; };
    services.vmagent.remoteWrite.url = lib.mkForce "http://127.0.0.1:8428/api/v1/write";
    services.vmagent.remoteWriteEnvironmentFile = lib.mkForce null;
    services.vmagent.prometheusConfig.global.scrape_interval = "5s";

    # The fw host's exporters, so that all five run in one machine: a
    # kernel WireGuard device, and the runner exporter without a Gitea
    # (it must answer, with gitea_runner_up 0).
    networking.wireguard.interfaces.wg0 = {
      ips = [ "10.100.0.1/24" ];
      listenPort = 51820;
      privateKeyFile = "/var/lib/wireguard/wg0.key";
      generatePrivateKeyFile = true;
    };
    services.wireguard-exporter = { enable = true; interfaces = [ "wg0" ]; };
    services.gitea-runner-exporter = {
      enable = true;
      url = "http://127.0.0.1:3000/";
      expectedRunners = [ "git-runner-1" ];
    };
  };

  testScript = ''
    start_all()
    for unit in ["openldap", "postfix", "dovecot2", "victoriametrics", "vmagent"]:
        mail.wait_for_unit(f"{unit}.service")

    exporters = [
        ("openldap-exporter", 9330, "openldap_up 1"),
        ("postfix-exporter", 9154, "postfix_up 1"),
        ("dovecot-exporter", 9166, "dovecot_up 1"),
        ("wireguard-exporter", 9586, "wireguard_up 1"),
        ("gitea-runner-exporter", 10101, "gitea_runner_up 0"),
    ]
    for unit, port, up in exporters:
        mail.wait_for_unit(f"{unit}.service")
        mail.wait_for_open_port(port)
        mail.wait_until_succeeds(
            f"curl -sf http://127.0.0.1:{port}/metrics | grep -qx '{up}'", timeout=120
        )

    with subtest("exporters listen on loopback only"):
        mail.fail("ss -ltnH | grep -E ':(9330|9154|9166|9586|10101) ' | grep -v '127.0.0.1:'")

    with subtest("the probes answer"):
        mail.succeed("curl -sf http://127.0.0.1:9166/metrics | grep -Eq '^dovecot_probe_success[{]service=\"imap\"[}] 1$'")

    with subtest("units are hardened"):
        for unit, _, _ in exporters:
            props = mail.succeed(f"systemctl show -p ProtectSystem,NoNewPrivileges,CapabilityBoundingSet {unit}.service")
            assert "ProtectSystem=strict" in props, props
            assert "NoNewPrivileges=yes" in props, props
            if unit == "wireguard-exporter":
                assert "cap_net_admin" in props and "cap_sys_admin" not in props, props
            else:
                assert "CapabilityBoundingSet=\n" in props + "\n", props

    with subtest("vmagent scrapes every job with the host label"):
        # node, openldap, postfix, dovecot, wireguard, gitea_runners
        mail.wait_until_succeeds(
            "curl -sf 'http://127.0.0.1:8428/api/v1/query' --data-urlencode 'query=count(up{host=\"mail\"} == 1)'"
            + " | grep -q '\"6\"'",
            timeout=180,
        )
  '';
}
