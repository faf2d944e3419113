// Copyright 2026 The downwatch Authors
// SPDX-License-Identifier: Apache-2.0

// Package nix checks the Nix side (nix/) with what runs without nixpkgs:
// Debian's nix-bin (nix-instantiate, nix-hash, nix-build), systemd-analyze,
// vmagent and the exporters and scrapegen built from this workspace. Every
// .nix file parses; the builtins-only library and the modules (through a
// stub of nixpkgs' lib) evaluate to the expected flags, units and scrape
// jobs; every rendered flag exists in its binary; the example inventory
// passes scrapegen; the vendor hashes are current and are what a
// fixed-output derivation (as buildGoModule makes) accepts; the plain unit
// files are up to date and pass systemd-analyze verify.
package nix

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/downwatch/downwatch/itest/daemon/proc"
)

var update = flag.Bool("update", false, "rewrite nix/systemd/*.service from nix/systemd/generate.nix")

// nixTool runs Nix commands against a store and state directory of the
// test's own: as root on a fresh machine, nix-instantiate would otherwise
// create /nix (even with --readonly-mode), and Debian's nix.conf names a
// nixbld group that does not exist.
type nixTool struct {
	root string
	env  []string
}

func newNix(t *testing.T) *nixTool {
	t.Helper()
	proc.RequireBinary(t, "nix-instantiate")
	root, err := proc.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// Store paths are read-only; without root, TempDir's removal needs them
	// writable again (this cleanup runs before it).
	t.Cleanup(func() {
		_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				_ = os.Chmod(p, 0o755)
			}
			return nil
		})
	})
	env := append(os.Environ(),
		"NIX_STORE_DIR="+filepath.Join(dir, "store"),
		"NIX_STATE_DIR="+filepath.Join(dir, "var"),
		"NIX_LOG_DIR="+filepath.Join(dir, "log"),
		"NIX_CONF_DIR="+filepath.Join(dir, "etc"),
		"NIX_CONFIG=build-users-group =",
	)
	return &nixTool{root: root, env: env}
}

func (n *nixTool) run(t *testing.T, name string, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = n.env
	cmd.Dir = n.root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

// eval evaluates expr strictly as JSON. In expr, root is the repository.
func (n *nixTool) eval(t *testing.T, expr string) []byte {
	t.Helper()
	full := fmt.Sprintf("let root = /. + %q; dl = import (root + \"/nix/lib.nix\"); stub = import (root + \"/nix/tests/stub.nix\"); in %s", n.root, expr)
	out, err := n.run(t, "nix-instantiate", "--eval", "--strict", "--json", "-E", full)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (n *nixTool) evalInto(t *testing.T, expr string, v any) {
	t.Helper()
	if err := json.Unmarshal(n.eval(t, expr), v); err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
}

// jsonEqual compares two JSON documents by value and reports both, indented.
func jsonEqual(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: got bad JSON %s: %v", what, got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: want is bad JSON: %v", what, err)
	}
	if !reflect.DeepEqual(g, w) {
		gi, _ := json.MarshalIndent(g, "", "  ")
		wi, _ := json.MarshalIndent(w, "", "  ")
		t.Errorf("%s:\ngot  %s\nwant %s", what, gi, wi)
	}
}

func nixFiles(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(filepath.Join(root, "nix"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".nix") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestNixFilesParse(t *testing.T) {
	n := newNix(t)
	files := nixFiles(t, n.root)
	if len(files) < 20 {
		t.Fatalf("found only %d .nix files under nix/", len(files))
	}
	for _, f := range files {
		rel, _ := filepath.Rel(n.root, f)
		t.Run(rel, func(t *testing.T) {
			if _, err := n.run(t, "nix-instantiate", "--parse", f); err != nil {
				t.Error(err)
			}
		})
	}
}

// Every file starts with the license header, as the Go files do.
func TestNixFilesHaveHeader(t *testing.T) {
	root, err := proc.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range nixFiles(t, root) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("# Copyright 2026 The downwatch Authors\n# SPDX-License-Identifier: Apache-2.0\n")) {
			t.Errorf("%s lacks the license header", f)
		}
	}
}

func TestLib(t *testing.T) {
	n := newNix(t)
	tests := []struct {
		name, expr, want string
	}{
		{"version is VERSION", `dl.version == builtins.head (builtins.match "([^\n]*)\n*" (builtins.readFile (root + "/VERSION")))`, `true`},
		{"ports", `builtins.mapAttrs (n: e: e.port) dl.exporters`,
			`{"openldap":9330,"postfix":9154,"dovecot":9166,"wireguard":9586,"gitea-runner":10101}`},
		{"job names are scrapegen's kinds", `builtins.mapAttrs (n: e: e.job) dl.exporters // { node = dl.nodeExporter.job; gitea = dl.gitea.job; }`,
			`{"openldap":"openldap","postfix":"postfix","dovecot":"dovecot","wireguard":"wireguard","gitea-runner":"gitea_runners","node":"node","gitea":"gitea"}`},
		{"go modules", `builtins.sort builtins.lessThan dl.goModules`,
			`["dovecot_exporter","gitea_runner_exporter","openldap_exporter","postfix_exporter","scrapegen","wireguard_exporter"]`},
		{"default listen address", `dl.defaultListenAddress`, `"127.0.0.1"`},
		{"hostPort", `map (a: dl.hostPort a 9330) ["127.0.0.1" "::1" "localhost"]`, `["127.0.0.1:9330","[::1]:9330","localhost:9330"]`},
		{"wildcards are scraped on loopback", `map (a: dl.scrapeTarget a 1) ["0.0.0.0" "::" "10.0.0.1"]`, `["127.0.0.1:1","[::1]:1","10.0.0.1:1"]`},
		{"execStart escapes specifiers, variables, quotes", `dl.execStart ["/bin/x" "--a=%2F" "--b=$HOME" "--c=a b" "--d=q\"x" (dl.credentialFlag "e" "tok")]`,
			`"/bin/x --a=%%2F \"--b=$$HOME\" \"--c=a b\" \"--d=q\\\"x\" --e=%d/tok"`},
		{"ldapiURI", `dl.ldapiURI "/run/openldap/ldapi"`, `"ldapi://%2Frun%2Fopenldap%2Fldapi"`},
		{"monitor ACL for SASL EXTERNAL", `dl.monitorAcl { who = dl.peercredDN 330 331; }`,
			`"{0}to dn.subtree=\"cn=Monitor\" by dn.exact=\"gidNumber=331+uidNumber=330,cn=peercred,cn=external,cn=auth\" read by * none break"`},
		{"contextCSN ACL", `dl.contextCSNAcl { who = "cn=m,dc=x"; suffix = "dc=x"; index = 2; }`,
			`"{2}to dn.base=\"dc=x\" attrs=entry,contextCSN by dn.exact=\"cn=m,dc=x\" read by * none break"`},
		{"duplicate jobs", `dl.duplicateJobs [ { name = "b"; } { name = "a"; } { name = "b"; } { name = "a"; } { name = "c"; } ]`, `["a","b"]`},
		{"scrape config", `dl.scrapeConfig "mail" { name = "gitea"; targets = ["localhost:3001"]; metricsPath = "/metrics"; scheme = "https"; interval = "30s"; timeout = null; bearerTokenFile = "/run/credentials/vmagent.service/t"; labels = { env = "prod"; }; extraConfig = {}; }`,
			`{"job_name":"gitea","static_configs":[{"targets":["localhost:3001"],"labels":{"host":"mail","env":"prod"}}],"scheme":"https","scrape_interval":"30s","bearer_token_file":"/run/credentials/vmagent.service/t"}`},
		{"vmagent config", `dl.vmagentConfig { host = null; jobs = [ { name = "node"; targets = ["127.0.0.1:9100"]; } ]; scrapeConfigFiles = [ "/x.json" ]; }`,
			`{"scrape_configs":[{"job_name":"node","static_configs":[{"targets":["127.0.0.1:9100"]}]}],"scrape_config_files":["/x.json"]}`},
		{"inventory JSON", `dl.inventoryJSON { hosts.mail.postfix = {}; remote_write_url = "https://vm/api/v1/write"; }`,
			`"{\"hosts\":{\"mail\":{\"postfix\":{}}},\"remote_write_url\":\"https://vm/api/v1/write\"}"`},
		{"WireGuard alone gets CAP_NET_ADMIN", `builtins.mapAttrs (k: v: (dl.toServiceConfig (dl.hardening v)).CapabilityBoundingSet) dl.unitNeeds`,
			`{"openldap":"","postfix":"","dovecot":"","wireguard":"CAP_NET_ADMIN","gitea-runner":""}`},
		{"hardening", `let h = dl.toServiceConfig (dl.hardening {}); in { inherit (h) DynamicUser ProtectSystem NoNewPrivileges AmbientCapabilities RestrictAddressFamilies SystemCallFilter; }`,
			`{"DynamicUser":true,"ProtectSystem":"strict","NoNewPrivileges":true,"AmbientCapabilities":"","RestrictAddressFamilies":"AF_UNIX AF_INET AF_INET6","SystemCallFilter":["@system-service","~@privileged @resources"]}`},
		{"flags of every option", `let c = import (root + "/nix/tests/flag-cases.nix"); k = n: builtins.head (builtins.match "(postfix|[a-z-]+).*" n); in builtins.mapAttrs (n: cfg: dl.execStart (dl.argv (k n) "bin" cfg)) c`,
			`{
			"openldap": "bin --web.listen-address=[::]:1234 --web.config.file=%d/web-config.yml --web.telemetry-path=/m --web.disable-exporter-metrics --web.max-requests=3 --log.level=debug --log.format=json --ldap.uri=ldaps://ldap.example.org --ldap.bind-dn=cn=monitor,dc=example,dc=org --ldap.password-file=%d/ldap-password --ldap.start-tls --ldap.ca-file=/etc/ssl/ca.pem --ldap.cert-file=/etc/ssl/client.pem --ldap.key-file=%d/ldap-key --ldap.server-name=ldap.example.org --ldap.timeout=3s --replication.provider-uri=ldaps://ldap1.example.org",
			"postfix-file": "bin --web.listen-address=[::]:1234 --web.config.file=%d/web-config.yml --web.telemetry-path=/m --web.disable-exporter-metrics --web.max-requests=3 --log.level=debug --log.format=json --postfix.logfile=/var/log/mail.log --postfix.logfile.from-start --postfix.logfile.poll-interval=1s --postfix.showq-path=/var/spool/postfix/public/showq --postfix.timeout=3s",
			"postfix-journal": "bin --web.listen-address=[::]:1234 --web.config.file=%d/web-config.yml --web.telemetry-path=/m --web.disable-exporter-metrics --web.max-requests=3 --log.level=debug --log.format=json --postfix.journal --postfix.journal.unit=postfix.service --postfix.journal.unit=postfix-out.service --postfix.journal.journalctl=/run/current-system/sw/bin/journalctl --postfix.showq-path=127.0.0.1:10025 --postfix.timeout=3s",
			"dovecot": "bin --web.listen-address=[::]:1234 --web.config.file=%d/web-config.yml --web.telemetry-path=/m --web.disable-exporter-metrics --web.max-requests=3 --log.level=debug --log.format=json --dovecot.stats-socket=/run/dovecot2/stats-reader --dovecot.stats-group-by=imap_command=cmd_name,tagged_reply_state --dovecot.old-stats-socket=/run/dovecot2/old-stats --dovecot.scopes=user,global --probe=imap=127.0.0.1:143 --probe=pop3s=127.0.0.1:995 --probe.tls-ca-file=/etc/ssl/ca.pem --probe.tls-server-name=mail.example.org --probe.tls-insecure-skip-verify --dovecot.timeout=3s",
			"wireguard": "bin --web.listen-address=[::]:1234 --web.config.file=%d/web-config.yml --web.telemetry-path=/m --web.disable-exporter-metrics --web.max-requests=3 --log.level=debug --log.format=json --wireguard.interface=wg0 --wireguard.interface=wg1 --wireguard.config=%d/wg-quick-0.conf --wireguard.peer-names-file=/etc/wireguard/names.json --metrics.compat=mindflavor --wireguard.timeout=3s",
			"gitea-runner": "bin --web.listen-address=[::]:1234 --web.config.file=%d/web-config.yml --web.telemetry-path=/m --web.disable-exporter-metrics --web.max-requests=3 --log.level=debug --log.format=json --gitea.url=https://git.example.org/ --gitea.token-file=%d/gitea-token --gitea.scope=org:infra --gitea.ca-file=/etc/ssl/ca.pem --gitea.timeout=3s --runner.expect=git-runner-1 --runner.expect=git-runner-2"
			}`},
		{"credentials of every option", `let c = import (root + "/nix/tests/flag-cases.nix"); in { openldap = dl.loadCredential (dl.credentials "openldap" c.openldap); wireguard = dl.loadCredential (dl.credentials "wireguard" c.wireguard); gitea = dl.loadCredential (dl.credentials "gitea-runner" c.gitea-runner); }`,
			`{"openldap":["web-config.yml:/run/secrets/web.yml","tls.key:/run/secrets/tls.key","ldap-password:/run/secrets/ldap-password","ldap-key:/run/secrets/client.key"],
			  "wireguard":["web-config.yml:/run/secrets/web.yml","tls.key:/run/secrets/tls.key","wg-quick-0.conf:/etc/wireguard/wg0.conf"],
			  "gitea":["web-config.yml:/run/secrets/web.yml","tls.key:/run/secrets/tls.key","gitea-token:/run/secrets/gitea-token"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jsonEqual(t, tt.expr, n.eval(t, tt.expr), tt.want)
		})
	}
}

// TestModules evaluates each NixOS module with nix/tests/stub.nix in place of
// nixpkgs' module system and checks what it makes of given option values.
func TestModules(t *testing.T) {
	n := newNix(t)
	const store = "/nix/store/00000000000000000000000000000000-"
	svc := func(file, unit, values, extraConfig, pick string) string {
		return fmt.Sprintf(`let r = stub.evalModule { file = root + "/nix/modules/%s"; path = ["services" %q]; values = %s; config = %s; }; c = r.config; s = c.systemd.services.%q.serviceConfig or {}; in %s`,
			file, unit, values, extraConfig, unit, pick)
	}
	tests := []struct {
		name, expr, want string
	}{
		{"openldap defaults: SASL EXTERNAL as a static user",
			svc("openldap-exporter.nix", "openldap-exporter", `{ enable = true; }`, `{}`,
				`{ inherit (s) ExecStart User LoadCredential; dyn = s ? DynamicUser; jobs = c.services.vmagent.scrapeJobs; users = c.users.users; }`),
			`{"ExecStart":"` + store + `openldap_exporter/bin/openldap_exporter --web.listen-address=127.0.0.1:9330 --ldap.uri=ldapi://%%2Frun%%2Fopenldap%%2Fldapi --ldap.timeout=5s",
			  "User":"openldap-exporter","LoadCredential":[],"dyn":false,
			  "jobs":[{"name":"openldap","targets":["127.0.0.1:9330"],"metricsPath":"/metrics","interval":null,"labels":{},"extraConfig":{}}],
			  "users":{"openldap-exporter":{"group":"openldap-exporter","isSystemUser":true,"uid":null}}}`},
		{"openldap simple bind: dynamic user, password as credential, ACL names the DN",
			svc("openldap-exporter.nix", "openldap-exporter",
				`{ enable = true; uri = "ldap://127.0.0.1"; bindDN = "cn=mon,dc=x"; passwordFile = "/run/secrets/p"; slapdAcl.enable = true; }`, `{}`,
				`{ inherit (s) ExecStart LoadCredential DynamicUser; acl = c.services.openldap.settings.children."olcDatabase={2}monitor".attrs.olcAccess; ok = builtins.all (a: a.assertion) c.assertions; }`),
			`{"ExecStart":"` + store + `openldap_exporter/bin/openldap_exporter --web.listen-address=127.0.0.1:9330 --ldap.uri=ldap://127.0.0.1 --ldap.bind-dn=cn=mon,dc=x --ldap.password-file=%d/ldap-password --ldap.timeout=5s",
			  "LoadCredential":["ldap-password:/run/secrets/p"],"DynamicUser":true,
			  "acl":["{0}to dn.subtree=\"cn=Monitor\" by dn.exact=\"cn=mon,dc=x\" read by * none break"],"ok":true}`},
		{"openldap ACL with SASL EXTERNAL needs uid and gid",
			svc("openldap-exporter.nix", "openldap-exporter", `{ enable = true; slapdAcl.enable = true; }`, `{}`,
				`builtins.map (a: a.assertion) c.assertions`),
			`[false,true]`},
		{"postfix defaults: journal, showq via postdrop",
			svc("postfix-exporter.nix", "postfix-exporter", `{ enable = true; }`, `{}`,
				`{ inherit (s) ExecStart SupplementaryGroups DynamicUser CapabilityBoundingSet; }`),
			`{"ExecStart":"` + store + `postfix_exporter/bin/postfix_exporter --web.listen-address=127.0.0.1:9154 --postfix.journal --postfix.journal.unit=postfix.service --postfix.journal.journalctl=` + store + `systemd/bin/journalctl --postfix.showq-path=/var/lib/postfix/queue/public/showq --postfix.timeout=5s",
			  "SupplementaryGroups":"systemd-journal postdrop","DynamicUser":true,"CapabilityBoundingSet":""}`},
		{"postfix from a file",
			svc("postfix-exporter.nix", "postfix-exporter", `{ enable = true; logSource = "file"; logFileGroup = "adm"; showqPath = null; }`, `{}`,
				`{ inherit (s) ExecStart SupplementaryGroups; }`),
			`{"ExecStart":"` + store + `postfix_exporter/bin/postfix_exporter --web.listen-address=127.0.0.1:9154 --postfix.logfile=/var/log/mail.log --postfix.showq-path= --postfix.timeout=5s",
			  "SupplementaryGroups":"adm"}`},
		{"dovecot: stats socket group and Dovecot's listener",
			svc("dovecot-exporter.nix", "dovecot-exporter", `{ enable = true; probes.imap = "127.0.0.1:143"; }`, `{}`,
				`{ inherit (s) ExecStart SupplementaryGroups; groups = c.users.groups; dovecot = c.services.dovecot2.extraConfig; }`),
			`{"ExecStart":"` + store + `dovecot_exporter/bin/dovecot_exporter --web.listen-address=127.0.0.1:9166 --dovecot.stats-socket=/run/dovecot2/stats-reader --probe=imap=127.0.0.1:143 --dovecot.timeout=5s",
			  "SupplementaryGroups":"dovecot-exporter","groups":{"dovecot-exporter":{}},
			  "dovecot":"service stats {\n  unix_listener stats-reader {\n    group = dovecot-exporter\n    mode = 0660\n  }\n}\n"}`},
		{"wireguard: CAP_NET_ADMIN, netlink, names file",
			svc("wireguard-exporter.nix", "wireguard-exporter", `{ enable = true; interfaces = ["wg0"]; peerNames = { "k=" = "laptop"; }; configFiles = ["/etc/wireguard/wg0.conf"]; }`, `{}`,
				`{ inherit (s) ExecStart CapabilityBoundingSet AmbientCapabilities RestrictAddressFamilies DynamicUser LoadCredential; }`),
			`{"ExecStart":"` + store + `wireguard_exporter/bin/wireguard_exporter --web.listen-address=127.0.0.1:9586 --wireguard.interface=wg0 --wireguard.config=%d/wg-quick-0.conf --wireguard.peer-names-file=` + store + `wireguard-peer-names.json --wireguard.timeout=5s",
			  "CapabilityBoundingSet":"CAP_NET_ADMIN","AmbientCapabilities":"CAP_NET_ADMIN","RestrictAddressFamilies":"AF_UNIX AF_INET AF_INET6 AF_NETLINK",
			  "DynamicUser":true,"LoadCredential":["wg-quick-0.conf:/etc/wireguard/wg0.conf"]}`},
		{"gitea runner exporter: token as credential",
			svc("gitea-runner-exporter.nix", "gitea-runner-exporter",
				`{ enable = true; url = "http://localhost:3001/"; tokenFile = "/run/secrets/t"; expectedRunners = ["git-runner-1" "git-runner-2"]; }`, `{}`,
				`{ inherit (s) ExecStart LoadCredential; jobs = map (j: j.name) c.services.vmagent.scrapeJobs; }`),
			`{"ExecStart":"` + store + `gitea_runner_exporter/bin/gitea_runner_exporter --web.listen-address=127.0.0.1:10101 --gitea.url=http://localhost:3001/ --gitea.token-file=%d/gitea-token --gitea.timeout=10s --runner.expect=git-runner-1 --runner.expect=git-runner-2",
			  "LoadCredential":["gitea-token:/run/secrets/t"],"jobs":["gitea_runners"]}`},
		{"exporter on a wildcard with TLS: scraped on loopback, web config as credential",
			svc("postfix-exporter.nix", "postfix-exporter",
				`{ enable = true; listenAddress = "::"; openFirewall = true; webConfigFile = "/run/secrets/web.yml"; credentials."tls.key" = "/run/secrets/k"; scrape.extraConfig.scheme = "https"; }`, `{}`,
				`{ inherit (s) LoadCredential; fw = c.networking.firewall.allowedTCPPorts; job = builtins.head c.services.vmagent.scrapeJobs; }`),
			`{"LoadCredential":["web-config.yml:/run/secrets/web.yml","tls.key:/run/secrets/k"],"fw":[9154],
			  "job":{"name":"postfix","targets":["[::1]:9154"],"metricsPath":"/metrics","interval":null,"labels":{},"extraConfig":{"scheme":"https"}}}`},
		{"no scrape job when vmagent is off",
			svc("dovecot-exporter.nix", "dovecot-exporter", `{ enable = true; }`, `{ services.vmagent.enable = false; }`,
				`c.services.vmagent or {}`),
			`{}`},
		{"no scrape job when the inventory gives the jobs",
			svc("dovecot-exporter.nix", "dovecot-exporter", `{ enable = true; }`, `{ services.vmagent.scrapeFromInventory = true; }`,
				`c.services.vmagent or {}`),
			`{}`},
		{"disabled exporter defines nothing",
			svc("wireguard-exporter.nix", "wireguard-exporter", `{ }`, `{}`, `c`),
			`null`},
		{"gitea metrics: Gitea settings, vmagent credential, job with bearer_token_file",
			`let r = stub.evalModule { file = root + "/nix/modules/gitea-metrics.nix"; path = ["services" "gitea-metrics"]; values = { enable = true; tokenFile = "/run/secrets/gm"; }; config = { services.gitea.enable = true; }; }; c = r.config; in
			 { gitea = c.services.gitea; cred = c.systemd.services.vmagent.serviceConfig.LoadCredential; jobs = c.services.vmagent.scrapeJobs; }`,
			`{"gitea":{"settings":{"metrics":{"ENABLED":true}},"metricsTokenFile":"/run/secrets/gm"},
			  "cred":["gitea-metrics-token:/run/secrets/gm"],
			  "jobs":[{"name":"gitea","targets":["localhost:3001"],"scheme":"http","bearerTokenFile":"/run/credentials/vmagent.service/gitea-metrics-token"}]}`},
		{"vmagent: node job, host label, scrape_configs, environment file",
			`let r = stub.evalModule { file = root + "/nix/modules/vmagent.nix"; path = ["services" "vmagent"]; values = { enable = true; remoteWriteEnvironmentFile = "/run/secrets/vm.env"; scrapeJobs = [ { name = "openldap"; targets = ["127.0.0.1:9330"]; metricsPath = "/metrics"; scheme = "http"; interval = null; timeout = null; bearerTokenFile = null; labels = {}; extraConfig = {}; } ]; }; }; c = r.config; in
			 { inherit (c.services.vmagent) prometheusConfig extraArgs; env = c.systemd.services.vmagent.serviceConfig.EnvironmentFile; nodeJob = c.services.vmagent.scrapeJobs; }`,
			`{"prometheusConfig":{"scrape_configs":[{"job_name":"openldap","static_configs":[{"targets":["127.0.0.1:9330"],"labels":{"host":"mail"}}]}]},
			  "extraArgs":["-envflag.enable"],"env":"/run/secrets/vm.env",
			  "nodeJob":[{"name":"node","targets":["127.0.0.1:9100"]}]}`},
		{"downwatch: Grafana provisioning from scrapegen's output",
			`let r = stub.evalModule { file = root + "/nix/modules/downwatch.nix"; path = ["services" "downwatch"]; values = { inventory = import (root + "/nix/examples/inventory.nix"); grafanaAlerting.enable = true; }; }; in r.config.services.grafana.provision`,
			`{"enable":true,"alerting":{"rules":{"path":"` + store + `downwatch-monitoring/grafana/alert-rules.yaml"}}}`},
		{"downwatch: this host's vmagent jobs from the inventory",
			`let r = stub.evalModule { file = root + "/nix/modules/downwatch.nix"; path = ["services" "downwatch"]; values = { inventory = import (root + "/nix/examples/inventory.nix"); vmagent.enable = true; }; }; in { inherit (r.config.services.vmagent) scrapeFromInventory scrapeConfigFiles; ok = builtins.all (a: a.assertion) r.config.assertions; }`,
			`{"scrapeFromInventory":true,"scrapeConfigFiles":["` + store + `vmagent-mail-scrape-configs.json"],"ok":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jsonEqual(t, tt.name, n.eval(t, tt.expr), tt.want)
		})
	}
}

// TestExamples evaluates the example hosts whole, with nix/tests/eval-host.nix
// standing in for nixpkgs' module system, and checks what each host ends up
// running and scraping; vmagent checks each host's scrape config.
func TestExamples(t *testing.T) {
	n := newNix(t)
	const store = "/nix/store/00000000000000000000000000000000-"
	host := func(name, pick string) string {
		return fmt.Sprintf(`let h = import (root + "/nix/tests/eval-host.nix") { modules = [ (root + "/nix/examples/%s.nix") ]; }; c = h.config;
		  exec = u: c.systemd.services.${u}.serviceConfig.ExecStart; in %s`, name, pick)
	}
	tests := []struct {
		name, expr, want string
	}{
		{"no failed assertions", `map (h: (import (root + "/nix/tests/eval-host.nix") { modules = [ (root + "/nix/examples/${h}.nix") ]; }).failed) [ "fw" "mail" "web-arm" ]`,
			`[[],[],[]]`},
		{"mail runs three exporters on loopback",
			host("mail", `{ units = builtins.filter (u: builtins.match ".*-exporter" u != null) (builtins.attrNames c.systemd.services); openldap = exec "openldap-exporter"; postfix = exec "postfix-exporter"; dovecot = exec "dovecot-exporter"; }`),
			`{"units":["dovecot-exporter","openldap-exporter","postfix-exporter"],
			  "openldap":"` + store + `openldap_exporter/bin/openldap_exporter --web.listen-address=127.0.0.1:9330 --ldap.uri=ldapi://%%2Frun%%2Fopenldap%%2Fldapi --ldap.timeout=5s",
			  "postfix":"` + store + `postfix_exporter/bin/postfix_exporter --web.listen-address=127.0.0.1:9154 --postfix.journal --postfix.journal.unit=postfix.service --postfix.journal.journalctl=` + store + `systemd/bin/journalctl --postfix.showq-path=/var/lib/postfix/queue/public/showq --postfix.timeout=5s",
			  "dovecot":"` + store + `dovecot_exporter/bin/dovecot_exporter --web.listen-address=127.0.0.1:9166 --dovecot.stats-socket=/run/dovecot2/stats-reader --dovecot.stats-group-by=imap_command=cmd_name,tagged_reply_state --probe=imap=127.0.0.1:143 --probe=pop3=127.0.0.1:110 --dovecot.timeout=5s"}`},
		{"mail: slapd ACLs first, exporter as uid/gid 330",
			host("mail", `{ mdb = c.services.openldap.settings.children."olcDatabase={1}mdb".attrs.olcAccess; monitor = c.services.openldap.settings.children."olcDatabase={2}monitor".attrs; user = c.users.users.openldap-exporter.uid; gid = c.users.groups.openldap-exporter.gid; }`),
			`{"mdb":["{0}to dn.base=\"dc=example,dc=org\" attrs=entry,contextCSN by dn.exact=\"gidNumber=330+uidNumber=330,cn=peercred,cn=external,cn=auth\" read by * none break","{1}to * by users read by * none"],
			  "monitor":{"objectClass":["olcDatabaseConfig","olcMonitorConfig"],"olcDatabase":"{2}monitor","olcAccess":["{0}to dn.subtree=\"cn=Monitor\" by dn.exact=\"gidNumber=330+uidNumber=330,cn=peercred,cn=external,cn=auth\" read by * none break"]},
			  "user":330,"gid":330}`},
		{"mail: groups for the journal, showq and Dovecot's stats socket",
			host("mail", `{ postfix = c.systemd.services.postfix-exporter.serviceConfig.SupplementaryGroups; dovecot = c.systemd.services.dovecot-exporter.serviceConfig.SupplementaryGroups; listener = builtins.substring 0 98 c.services.dovecot2.extraConfig; }`),
			`{"postfix":"systemd-journal postdrop","dovecot":"dovecot-exporter","listener":"service stats {\n  unix_listener stats-reader {\n    group = dovecot-exporter\n    mode = 0660\n  }\n}\n"}`},
		{"mail: vmagent jobs and remote-write secret",
			host("mail", `{ jobs = map (j: j.job_name) c.services.vmagent.prometheusConfig.scrape_configs; hosts = map (j: (builtins.head j.static_configs).labels.host) c.services.vmagent.prometheusConfig.scrape_configs; env = c.systemd.services.vmagent.serviceConfig.EnvironmentFile; args = c.services.vmagent.extraArgs; url = c.services.vmagent.remoteWrite.url; }`),
			`{"jobs":["node","openldap","postfix","dovecot"],"hosts":["mail","mail","mail","mail"],"env":"/run/secrets/vmagent.env","args":["-envflag.enable"],"url":"https://victoria-server.cloonar.com/api/v1/write"}`},
		{"fw: WireGuard with CAP_NET_ADMIN and names, runner exporter, Gitea job with the token credential",
			host("fw", `{ wg = exec "wireguard-exporter"; caps = c.systemd.services.wireguard-exporter.serviceConfig.AmbientCapabilities; runners = exec "gitea-runner-exporter"; runnerCred = c.systemd.services.gitea-runner-exporter.serviceConfig.LoadCredential; vmagentCred = c.systemd.services.vmagent.serviceConfig.LoadCredential; jobs = map (j: j.job_name) c.services.vmagent.prometheusConfig.scrape_configs; gitea = builtins.elemAt c.services.vmagent.prometheusConfig.scrape_configs 3; node = c.services.prometheus.exporters.node.extraFlags; }`),
			`{"wg":"` + store + `wireguard_exporter/bin/wireguard_exporter --web.listen-address=127.0.0.1:9586 --wireguard.interface=wg0 --wireguard.peer-names-file=` + store + `wireguard-peer-names.json --wireguard.timeout=5s",
			  "caps":"CAP_NET_ADMIN",
			  "runners":"` + store + `gitea_runner_exporter/bin/gitea_runner_exporter --web.listen-address=127.0.0.1:10101 --gitea.url=http://localhost:3001/ --gitea.token-file=%d/gitea-token --gitea.timeout=10s --runner.expect=git-runner-1 --runner.expect=git-runner-2",
			  "runnerCred":["gitea-token:/run/secrets/gitea-runner-exporter-token"],
			  "vmagentCred":["gitea-metrics-token:/run/secrets/gitea-metrics-token"],
			  "jobs":["node","wireguard","gitea_runners","gitea"],
			  "gitea":{"job_name":"gitea","bearer_token_file":"/run/credentials/vmagent.service/gitea-metrics-token","static_configs":[{"targets":["localhost:3001"],"labels":{"host":"fw"}}]},
			  "node":["--collector.systemd.unit-include=microvm@git-runner-.*\\.service"]}`},
		{"fw: the Gitea container enables metrics with the token",
			host("fw", `let g = (import (root + "/nix/tests/eval-host.nix") { modules = [ c.containers.gitea.config ]; }).config; in { gitea = g.services.gitea; vmagent = g.services.vmagent.scrapeJobs or []; }`),
			`{"gitea":{"enable":true,"metricsTokenFile":"/run/secrets/gitea-metrics-token","settings":{"metrics":{"ENABLED":true},"server":{"HTTP_PORT":3001,"ROOT_URL":"http://localhost:3001/"}}},"vmagent":[]}`},
		{"the VM test's machine: five exporters, local remote write",
			`let
			   t = import (root + "/nix/tests/mail-vm.nix") { pkgs = { testers.runNixOSTest = a: a; }; };
			   h = import (root + "/nix/tests/eval-host.nix") { modules = [ t.nodes.mail ]; };
			   c = h.config;
			 in { inherit (h) failed; units = builtins.filter (u: builtins.match ".*-exporter" u != null) (builtins.attrNames c.systemd.services);
			      url = c.services.vmagent.remoteWrite.url; env = c.services.vmagent.remoteWriteEnvironmentFile;
			      jobs = map (j: j.job_name) c.services.vmagent.prometheusConfig.scrape_configs; }`,
			`{"failed":[],"units":["dovecot-exporter","gitea-runner-exporter","openldap-exporter","postfix-exporter","wireguard-exporter"],
			  "url":"http://127.0.0.1:8428/api/v1/write","env":null,
			  "jobs":["node","openldap","postfix","dovecot","wireguard","gitea_runners"]}`},
		{"mail with its jobs from the inventory instead: scrape_config_files only",
			`let h = import (root + "/nix/tests/eval-host.nix") { modules = [ (root + "/nix/examples/mail.nix") { services.downwatch = { inventory = import (root + "/nix/examples/inventory.nix"); vmagent.enable = true; }; } ]; }; in
			 { inherit (h) failed; cfg = h.config.services.vmagent.prometheusConfig; }`,
			`{"failed":[],"cfg":{"scrape_configs":[],"scrape_config_files":["` + store + `vmagent-mail-scrape-configs.json"]}}`},
		{"a host missing from the inventory fails an assertion",
			`(import (root + "/nix/tests/eval-host.nix") { modules = [ (root + "/nix/examples/mail.nix") { networking.hostName = stub.lib.mkForce "mx2"; services.downwatch = { inventory = import (root + "/nix/examples/inventory.nix"); vmagent.enable = true; }; } ]; }).failed`,
			`["services.downwatch.vmagent: host mx2 is not in the inventory"]`},
		{"web-arm: Grafana rules from scrapegen, datasource UID of the inventory, node job",
			host("web-arm", `{ alerting = c.services.grafana.provision.alerting; uid = (builtins.head c.services.grafana.provision.datasources.settings.datasources).uid; inv = c.services.downwatch.inventory.grafana.datasource_uid; jobs = map (j: j.job_name) c.services.vmagent.prometheusConfig.scrape_configs; }`),
			`{"alerting":{"rules":{"path":"` + store + `downwatch-monitoring/grafana/alert-rules.yaml"}},"uid":"victoriametrics","inv":"victoriametrics","jobs":["node"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jsonEqual(t, tt.name, n.eval(t, tt.expr), tt.want)
		})
	}

	vmagent := proc.RequireBinary(t, "vmagent")
	for _, h := range []string{"fw", "mail", "web-arm"} {
		t.Run(h+"/vmagent", func(t *testing.T) {
			cfg := n.eval(t, host(h, `c.services.vmagent.prometheusConfig`))
			// The token is a credential only vmagent's unit has; give the dry
			// run a file to read instead.
			tok := filepath.Join(t.TempDir(), "token")
			must(t, os.WriteFile(tok, []byte("t"), 0o600))
			cfg = bytes.ReplaceAll(cfg, []byte("/run/credentials/vmagent.service/gitea-metrics-token"), []byte(tok))
			f := filepath.Join(t.TempDir(), "vmagent.json")
			must(t, os.WriteFile(f, cfg, 0o644))
			vmagentDryRun(t, vmagent, f)
		})
	}
}

func TestOverlay(t *testing.T) {
	n := newNix(t)
	// The overlay with callPackage and buildGoModule replaced by functions
	// that return their arguments.
	expr := `let
	  stubLib = { cleanSourceWith = a: toString a.src; licenses.asl20 = "asl20"; platforms.linux = ["x86_64-linux"]; };
	  final = { callPackage = f: args: import f ({ lib = stubLib; } // args); buildGoModule = a: a // { builder = "buildGoModule"; }; buildGo126Module = a: a // { builder = "buildGo126Module"; }; };
	  o = import (root + "/nix/overlay.nix") final {};
	  hashes = builtins.fromJSON (builtins.readFile (root + "/nix/vendor-hashes.json"));
	in {
	  names = builtins.attrNames o;
	  hashesFromFile = builtins.all (m: o.${m}.vendorHash == hashes.${m}) (builtins.attrNames o);
	  p = removeAttrs o.openldap_exporter [ "vendorHash" ];
	  fallback = (import (root + "/nix/overlay.nix") (removeAttrs final [ "buildGo126Module" ]) {}).openldap_exporter.builder;
	}`
	var got struct {
		Names          []string
		HashesFromFile bool
		Fallback       string
		P              struct {
			Pname, Version, Src string
			Builder             string
			SubPackages         []string
			Ldflags             []string
			CheckFlags          []string
			Meta                map[string]any
		}
	}
	n.evalInto(t, expr, &got)
	want := []string{"dovecot_exporter", "gitea_runner_exporter", "openldap_exporter", "postfix_exporter", "scrapegen", "wireguard_exporter"}
	if !reflect.DeepEqual(got.Names, want) {
		t.Errorf("overlay attributes = %v, want %v", got.Names, want)
	}
	if !got.HashesFromFile {
		t.Error("vendorHash values are not those of nix/vendor-hashes.json")
	}
	version, _ := os.ReadFile(filepath.Join(n.root, "VERSION"))
	p := got.P
	if p.Pname != "openldap_exporter" || p.Version != strings.TrimSpace(string(version)) {
		t.Errorf("pname, version = %q, %q", p.Pname, p.Version)
	}
	// The module's folder alone, so that go mod vendor never sees go.work.
	if p.Src != filepath.Join(n.root, "openldap_exporter") {
		t.Errorf("src = %q, want the module's folder", p.Src)
	}
	if p.Builder != "buildGo126Module" {
		t.Errorf("built with %s, want buildGo126Module where nixpkgs has it", p.Builder)
	}
	if got.Fallback != "buildGoModule" {
		t.Errorf("without buildGo126Module built with %s, want buildGoModule", got.Fallback)
	}
	if !reflect.DeepEqual(p.SubPackages, []string{"."}) {
		t.Errorf("subPackages = %v", p.SubPackages)
	}
	for _, want := range []string{
		"-X github.com/prometheus/common/version.Version=" + p.Version,
		"-X github.com/prometheus/common/version.Revision=unknown",
		"-X github.com/prometheus/common/version.Branch=nix",
	} {
		if !contains(p.Ldflags, want) {
			t.Errorf("ldflags %v lack %q", p.Ldflags, want)
		}
	}
	if p.Meta["mainProgram"] != "openldap_exporter" {
		t.Errorf("meta.mainProgram = %v", p.Meta["mainProgram"])
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var (
	// A rendered argument: --name or --name=value.
	flagRe = regexp.MustCompile(`^--([a-z0-9][a-z0-9.-]*)`)
	// A flag in kingpin's help: indented by 2 to 6 spaces (descriptions
	// by more), bool flags as --[no-]name; flags named inside help texts
	// do not count.
	helpFlagRe = regexp.MustCompile(`(?m)^ {2,6}(?:-\w, )?--(?:\[no-\])?([a-z0-9][a-z0-9.-]*[a-z0-9])`)
)

// TestFlagsExist checks the option-to-flag mapping against the binaries:
// every flag nix/lib.nix renders for options that set all of them must be in
// the exporter's -h output.
func TestFlagsExist(t *testing.T) {
	n := newNix(t)
	var argv map[string][]any
	n.evalInto(t, `let c = import (root + "/nix/tests/flag-cases.nix"); k = n: builtins.head (builtins.match "(postfix|[a-z-]+).*" n); in builtins.mapAttrs (n: cfg: dl.argv (k n) "bin" cfg) c`, &argv)
	var modules map[string]string
	n.evalInto(t, `builtins.mapAttrs (n: e: e.module) dl.exporters`, &modules)
	cases := make([]string, 0, len(argv))
	for c := range argv {
		cases = append(cases, c)
	}
	sort.Strings(cases)
	kindOf := func(c string) string {
		if strings.HasPrefix(c, "postfix") {
			return "postfix"
		}
		return c
	}
	helpFlags := func(t *testing.T, kind string) map[string]bool {
		bin := proc.Exporter(t, modules[kind])
		help, _ := exec.Command(bin, "-h").CombinedOutput()
		known := map[string]bool{}
		for _, m := range helpFlagRe.FindAllStringSubmatch(string(help), -1) {
			known[m[1]] = true
		}
		return known
	}
	rendered := map[string]map[string]bool{} // kind -> flags the Nix side can render
	for _, c := range cases {
		t.Run(c, func(t *testing.T) {
			kind := kindOf(c)
			known := helpFlags(t, kind)
			if rendered[kind] == nil {
				rendered[kind] = map[string]bool{}
			}
			for _, a := range argv[c][1:] {
				s, ok := a.(string)
				if !ok { // a credential: {"raw": "--flag=%d/name"}
					s, _ = a.(map[string]any)["raw"].(string)
				}
				m := flagRe.FindStringSubmatch(s)
				if m == nil || !strings.HasPrefix(s, "--") {
					t.Errorf("%q is not a long flag", s)
					continue
				}
				rendered[kind][m[1]] = true
				if !known[m[1]] {
					t.Errorf("%s -h has no --%s (rendered %q)", modules[kind], m[1], s)
				}
			}
		})
	}
	// And the other way round: every flag of an exporter has an option,
	// except these on purpose.
	unmapped := map[string]bool{
		"help": true, "help-long": true, "help-man": true, "version": true,
		"web.systemd-socket": true, // the units listen themselves
	}
	for kind := range rendered {
		t.Run(kind+"/every flag has an option", func(t *testing.T) {
			for f := range helpFlags(t, kind) {
				if !rendered[kind][f] && !unmapped[f] {
					t.Errorf("--%s of %s has no option in nix/lib.nix (or is not set in nix/tests/flag-cases.nix)", f, modules[kind])
				}
			}
		})
	}
}

// TestInventory runs scrapegen on the examples' inventory as Nix writes it,
// as services.downwatch does at build time, and checks that the jobs it
// generates per host are the ones the exporter modules add, so that the
// rules find the series either way.
func TestInventory(t *testing.T) {
	n := newNix(t)
	dir := t.TempDir()
	inv := filepath.Join(dir, "inventory.json")
	if err := os.WriteFile(inv, n.eval(t, `import (root + "/nix/examples/inventory.nix")`), 0o644); err != nil {
		t.Fatal(err)
	}
	scrapegen := proc.Exporter(t, "scrapegen")
	out := filepath.Join(dir, "out")
	for _, args := range [][]string{
		{"generate", "--inventory", inv, "--out", out},
		{"check", "--inventory", inv, "--dir", out},
	} {
		if b, err := exec.Command(scrapegen, args...).CombinedOutput(); err != nil {
			t.Fatalf("scrapegen %s: %v\n%s", strings.Join(args, " "), err, b)
		}
	}
	for _, f := range []string{"grafana/alert-rules.yaml", "vmalert/rules.yml", "vmagent/fw.json", "vmagent/mail.json", "vmagent/web-arm.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("services.downwatch reads %s: %v", f, err)
		}
	}
	var jobs map[string]string // kind -> job name, as the modules name them
	n.evalInto(t, `builtins.mapAttrs (n: e: e.job) dl.exporters // { node = dl.nodeExporter.job; gitea = dl.gitea.job; }`, &jobs)
	known := map[string]bool{}
	for _, j := range jobs {
		known[j] = true
	}
	wantJobs := map[string][]string{
		"fw":      {"node", "wireguard", "gitea", "gitea_runners"},
		"mail":    {"node", "openldap", "postfix", "dovecot"},
		"web-arm": {"node"},
	}
	for host, want := range wantJobs {
		b, err := os.ReadFile(filepath.Join(out, "vmagent", host+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var f struct {
			ScrapeConfigs []struct {
				JobName       string `json:"job_name"`
				StaticConfigs []struct {
					Labels map[string]string `json:"labels"`
				} `json:"static_configs"`
			} `json:"scrape_configs"`
		}
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, sc := range f.ScrapeConfigs {
			got = append(got, sc.JobName)
			if !known[sc.JobName] {
				t.Errorf("%s: scrapegen job %q is not a job name of the modules", host, sc.JobName)
			}
			for _, st := range sc.StaticConfigs {
				if st.Labels["host"] != host {
					t.Errorf("%s: job %s has host label %q; the modules use networking.hostName", host, sc.JobName, st.Labels["host"])
				}
			}
		}
		sort.Strings(got)
		sort.Strings(want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: jobs %v, want %v", host, got, want)
		}
	}
	// The scrape_config_files entry services.downwatch.vmagent makes from
	// the same output must satisfy vmagent too.
	vmagent := proc.RequireBinary(t, "vmagent")
	b, err := os.ReadFile(filepath.Join(out, "vmagent", "mail.json"))
	must(t, err)
	var whole struct {
		ScrapeConfigs json.RawMessage `json:"scrape_configs"`
	}
	must(t, json.Unmarshal(b, &whole))
	list := []byte(whole.ScrapeConfigs)
	listFile := filepath.Join(dir, "mail-jobs.json")
	must(t, os.WriteFile(listFile, list, 0o644))
	cfg := filepath.Join(dir, "vmagent.json")
	must(t, os.WriteFile(cfg, fmt.Appendf(nil, `{"scrape_config_files":[%q]}`, listFile), 0o644))
	vmagentDryRun(t, vmagent, cfg)
}

// TestVMAgentConfig renders the mail host's scrape config as the modules do
// (every exporter's job plus the node job) and lets vmagent check it.
func TestVMAgentConfig(t *testing.T) {
	n := newNix(t)
	vmagent := proc.RequireBinary(t, "vmagent")
	cfg := n.eval(t, `let
	  ev = file: unit: values: (stub.evalModule { file = root + "/nix/modules/${file}"; path = ["services" unit]; inherit values; }).config.services.vmagent.scrapeJobs;
	  jobs = ev "openldap-exporter.nix" "openldap-exporter" { enable = true; }
	    ++ ev "postfix-exporter.nix" "postfix-exporter" { enable = true; scrape.interval = "15s"; }
	    ++ ev "dovecot-exporter.nix" "dovecot-exporter" { enable = true; listenAddress = "::"; scrape.extraConfig = { scheme = "https"; tls_config.insecure_skip_verify = true; }; }
	    ++ ev "wireguard-exporter.nix" "wireguard-exporter" { enable = true; }
	    ++ ev "gitea-runner-exporter.nix" "gitea-runner-exporter" { enable = true; }
	    ++ (stub.evalModule { file = root + "/nix/modules/gitea-metrics.nix"; path = ["services" "gitea-metrics"]; values = { enable = true; tokenFile = "/run/secrets/t"; }; }).config.services.vmagent.scrapeJobs;
	  full = map (j: { metricsPath = "/metrics"; scheme = "http"; interval = null; timeout = null; bearerTokenFile = null; labels = {}; extraConfig = {}; } // j) jobs;
	  r = stub.evalModule { file = root + "/nix/modules/vmagent.nix"; path = ["services" "vmagent"]; values = { enable = true; scrapeJobs = full; }; };
	in r.config.services.vmagent.prometheusConfig // { scrape_configs = r.config.services.vmagent.prometheusConfig.scrape_configs ++ map (dl.scrapeConfig "mail") (builtins.map (j: { metricsPath = "/metrics"; } // j) r.config.services.vmagent.scrapeJobs); }`)
	var parsed struct {
		ScrapeConfigs []map[string]any `json:"scrape_configs"`
	}
	if err := json.Unmarshal(cfg, &parsed); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sc := range parsed.ScrapeConfigs {
		names = append(names, sc["job_name"].(string))
	}
	want := []string{"openldap", "postfix", "dovecot", "wireguard", "gitea_runners", "gitea", "node"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("jobs %v, want %v", names, want)
	}
	f := filepath.Join(t.TempDir(), "vmagent.json")
	must(t, os.WriteFile(f, cfg, 0o644))
	vmagentDryRun(t, vmagent, f)
}

func vmagentDryRun(t *testing.T, vmagent, cfg string) {
	t.Helper()
	cmd := exec.Command(vmagent, "-promscrape.config="+cfg, "-promscrape.config.dryRun", "-promscrape.config.strictParse")
	if b, err := cmd.CombinedOutput(); err != nil {
		c, _ := os.ReadFile(cfg)
		t.Errorf("vmagent -promscrape.config.dryRun: %v\n%s\nconfig: %s", err, b, c)
	}
}

// TestVendorHashes fails when nix/vendor-hashes.json is stale (`make
// vendor-hashes` rewrites it), and proves that the hashes are what Nix
// accepts: for each module it builds a fixed-output derivation that runs
// `go mod vendor` and installs the vendor directory, as buildGoModule's
// goModules does, with outputHash set to the stored hash.
func TestVendorHashes(t *testing.T) {
	n := newNix(t)
	for _, b := range []string{"nix-hash", "nix-build", "go"} {
		proc.RequireBinary(t, b)
	}
	if out, err := n.run(t, "bash", filepath.Join(n.root, "nix", "update-vendor-hashes.sh"), "--check"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var hashes map[string]*string
	n.evalInto(t, `builtins.fromJSON (builtins.readFile (root + "/nix/vendor-hashes.json"))`, &hashes)
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	goBin, _ = filepath.EvalSymlinks(goBin)
	modcache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	// The --check above put every module into the cache; the derivations
	// vendor from there instead of downloading (a real build fetches from
	// the proxy: the output, and so its hash, is the same).
	cache := strings.TrimSpace(string(modcache))
	// One derivation per module, built by one nix-build (in parallel).
	var drvs strings.Builder
	drvs.WriteString("{\n")
	for m, h := range hashes {
		if h == nil {
			continue // no dependencies: buildGoModule wants vendorHash = null
		}
		// Only what go mod vendor reads: go.mod, go.sum and the Go files
		// (their imports decide which packages are vendored).
		fmt.Fprintf(&drvs, `  %q = derivation {
    name = "%s-go-modules";
    system = builtins.currentSystem;
    builder = "/bin/sh";
    PATH = "%s:/usr/bin:/bin";
    GOMODCACHE = %q;
    src = builtins.path {
      path = %s;
      name = "%s-source";
      filter = p: t: let b = baseNameOf p; in
        if t == "directory" then b != "testdata" && b != "vendor"
        else b == "go.mod" || b == "go.sum" || builtins.match ".*[.]go" b != null;
    };
    args = [ "-c" ''
      set -e
      cp -r "$src" src; chmod -R u+w src; cd src
      export HOME=$TMPDIR GOPATH=$TMPDIR/go GOCACHE=$TMPDIR/cache GOTOOLCHAIN=local GOWORK=off GOPROXY=off GOSUMDB=off
      go mod vendor
      cp -r vendor $out
    '' ];
    outputHashMode = "recursive";
    outputHash = %q;
  };
`, m, m, filepath.Dir(goBin), cache, filepath.Join(n.root, m), m, *h)
	}
	drvs.WriteString("}\n")
	f := filepath.Join(t.TempDir(), "go-modules.nix")
	must(t, os.WriteFile(f, []byte(drvs.String()), 0o644))
	if out, err := n.run(t, "nix-build", "--no-out-link", "--keep-going", "--max-jobs", "6", "--option", "sandbox", "false", f); err != nil {
		t.Errorf("a fixed-output derivation made as buildGoModule makes goModules rejects a stored hash: %v\n%s", err, out)
	}
}

// TestUnitFiles checks that nix/systemd/*.service are what
// nix/systemd/generate.nix renders (-update rewrites them) and that systemd
// accepts them.
func TestUnitFiles(t *testing.T) {
	n := newNix(t)
	var units map[string]string
	n.evalInto(t, `import (root + "/nix/systemd/generate.nix")`, &units)
	if len(units) != 5 {
		t.Fatalf("generate.nix renders %d units, want 5", len(units))
	}
	dir := filepath.Join(n.root, "nix", "systemd")
	for name, text := range units {
		path := filepath.Join(dir, name)
		if *update {
			must(t, os.WriteFile(path, []byte(text), 0o644))
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil || string(b) != text {
			t.Errorf("%s differs from generate.nix's output (run go test ./itest/nix -run TestUnitFiles -update): %v", path, err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.service"))
	if len(files) != len(units) {
		t.Errorf("nix/systemd has %d unit files, generate.nix renders %d", len(files), len(units))
	}

	analyze := proc.RequireBinary(t, "systemd-analyze")
	// verify wants each ExecStart program to exist: point the copies at
	// the binaries built from this workspace.
	tmp := t.TempDir()
	var names []string
	for name, text := range units {
		module := strings.TrimSuffix(name, ".service")
		bin := proc.Exporter(t, module)
		text = strings.Replace(text, "ExecStart=/usr/local/bin/"+module+" ", "ExecStart="+bin+" ", 1)
		must(t, os.WriteFile(filepath.Join(tmp, name), []byte(text), 0o644))
		names = append(names, filepath.Join(tmp, name))
	}
	sort.Strings(names)
	cmd := exec.Command(analyze, append([]string{"verify"}, names...)...)
	out, err := cmd.CombinedOutput()
	// systemd-analyze verify exits 0 on unknown keys; any line about our
	// files is a problem.
	var problems []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, tmp) || strings.Contains(l, "_exporter.service") {
			problems = append(problems, l)
		}
	}
	if err != nil || len(problems) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	// systemd's own exposure score (0 best, 10 worst): each unit stays
	// "OK", at most 2.0.
	for _, f := range names {
		out, err := exec.Command(analyze, "security", "--offline=yes", "--threshold=20", f).CombinedOutput()
		if err != nil {
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			t.Errorf("%s: exposure above 2.0: %s", filepath.Base(f), lines[len(lines)-1])
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
