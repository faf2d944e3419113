# Copyright 2026 The downwatch Authors
# SPDX-License-Identifier: Apache-2.0
#
# The parts of the Nix side that need nothing but builtins: defaults, the
# option-to-flag mapping of every exporter, systemd quoting, scrape jobs and
# the hardening shared by the NixOS modules and the plain unit files.
# Keeping them free of nixpkgs lets itest/nix evaluate and check them with a
# bare nix-instantiate, where nixpkgs cannot be fetched.
let
  inherit (builtins)
    attrNames concatMap concatStringsSep elem filter foldl' genList head
    isList isString length listToAttrs map match replaceStrings sort
    stringLength substring toJSON;

  optional = cond: x: if cond then [ x ] else [ ];
  optionals = cond: xs: if cond then xs else [ ];
  notNull = x: x != null;
  trimNewline = s: let m = match "([^\n]*)\n*" s; in if m == null then s else head m;
in
rec {
  # Version of the repository, stamped into the binaries by the overlay.
  version = trimNewline (builtins.readFile ../VERSION);

  # One entry per exporter: its binary and module folder, the NixOS option
  # and unit name, the default port, and the scrape job name. The job names
  # are the service names of scrapegen's inventory, so that alert rules
  # generated from the inventory match the jobs the modules add.
  exporters = {
    openldap = {
      module = "openldap_exporter";
      unit = "openldap-exporter";
      port = 9330;
      job = "openldap";
      description = "OpenLDAP (slapd) health, cn=Monitor statistics and replication";
    };
    postfix = {
      module = "postfix_exporter";
      unit = "postfix-exporter";
      port = 9154;
      job = "postfix";
      description = "Postfix log events and queue";
    };
    dovecot = {
      module = "dovecot_exporter";
      unit = "dovecot-exporter";
      port = 9166;
      job = "dovecot";
      description = "Dovecot statistics and liveness probes";
    };
    wireguard = {
      module = "wireguard_exporter";
      unit = "wireguard-exporter";
      port = 9586;
      job = "wireguard";
      description = "WireGuard devices and peers";
    };
    gitea-runner = {
      module = "gitea_runner_exporter";
      unit = "gitea-runner-exporter";
      port = 10101;
      job = "gitea_runners";
      description = "Gitea Actions runner status";
    };
  };

  # Go modules the overlay builds: the exporters and scrapegen.
  goModules = map (n: exporters.${n}.module) (attrNames exporters) ++ [ "scrapegen" ];

  nodeExporter = { port = 9100; job = "node"; };
  gitea = { job = "gitea"; };

  defaultListenAddress = "127.0.0.1";

  # host:port, with brackets around an IPv6 address.
  hostPort = addr: port:
    if match ".*:.*" addr != null then "[${addr}]:${toString port}"
    else "${addr}:${toString port}";

  # Where the local vmagent reaches an exporter that listens on addr: a
  # wildcard address is scraped over loopback.
  scrapeHost = addr:
    if addr == "0.0.0.0" || addr == "" then "127.0.0.1"
    else if addr == "::" then "::1"
    else addr;

  scrapeTarget = addr: port: hostPort (scrapeHost addr) port;

  # systemd expands specifiers (%x) and variables ($X) in ExecStart and
  # splits on spaces; values coming from options must stay literal.
  escapeSystemd = s: replaceStrings [ "%" "$" ] [ "%%" "$$" ] s;

  # Quotes one argv element for ExecStart. Elements made by credentialPath
  # keep their %d specifier; everything else is escaped.
  quoteArg = arg:
    let
      s = if isString arg then escapeSystemd arg else arg.raw;
      needsQuotes = match "[]A-Za-z0-9_@%+=:,./[-]+" s == null;
    in
    if needsQuotes
    then "\"" + replaceStrings [ "\\" "\"" ] [ "\\\\" "\\\"" ] s + "\""
    else s;

  # An argv element that refers to a credential loaded with LoadCredential=.
  # systemd replaces %d with the unit's credentials directory, which only the
  # (dynamic) service user can read, so root-only secrets need no chmod.
  credentialPath = name: { raw = "%d/${name}"; };
  credentialFlag = flag: name: { raw = "--${flag}=%d/${name}"; };

  execStart = argv: concatStringsSep " " (map quoteArg argv);

  flag = name: value: "--${name}=${toString value}";
  boolFlag = name: value: optional value "--${name}";
  optFlag = name: value: optional (notNull value) (flag name value);
  listFlag = name: values: map (flag name) values;

  # Flags every exporter shares (exporter-toolkit). cfg is the module's
  # config (or any attribute set with the same names).
  commonFlags = cfg:
    [ (flag "web.listen-address" (hostPort cfg.listenAddress cfg.port)) ]
    ++ optional (notNull cfg.webConfigFile) (credentialFlag "web.config.file" "web-config.yml")
    ++ optionals (cfg.telemetryPath != "/metrics") [ (flag "web.telemetry-path" cfg.telemetryPath) ]
    ++ boolFlag "web.disable-exporter-metrics" cfg.disableExporterMetrics
    ++ optFlag "web.max-requests" cfg.maxRequests
    ++ optionals (cfg.logLevel != "info") [ (flag "log.level" cfg.logLevel) ]
    ++ optionals (cfg.logFormat != "logfmt") [ (flag "log.format" cfg.logFormat) ];

  # Credentials (LoadCredential=name:path) the common options need.
  commonCredentials = cfg:
    optional (notNull cfg.webConfigFile) { name = "web-config.yml"; path = toString cfg.webConfigFile; }
    ++ map (n: { name = n; path = toString cfg.credentials.${n}; }) (attrNames cfg.credentials);

  # Per exporter: the service flags (argv, without the binary) and the
  # credentials they refer to.
  openldap = {
    flags = cfg:
      [ (flag "ldap.uri" cfg.uri) ]
      ++ optFlag "ldap.bind-dn" cfg.bindDN
      ++ optional (notNull cfg.passwordFile) (credentialFlag "ldap.password-file" "ldap-password")
      ++ boolFlag "ldap.start-tls" cfg.startTLS
      ++ optFlag "ldap.ca-file" cfg.caFile
      ++ optFlag "ldap.cert-file" cfg.certFile
      ++ optional (notNull cfg.keyFile) (credentialFlag "ldap.key-file" "ldap-key")
      ++ optFlag "ldap.server-name" cfg.serverName
      ++ [ (flag "ldap.timeout" cfg.timeout) ]
      ++ optFlag "replication.provider-uri" cfg.replicationProviderURI;
    credentials = cfg:
      optional (notNull cfg.passwordFile) { name = "ldap-password"; path = cfg.passwordFile; }
      ++ optional (notNull cfg.keyFile) { name = "ldap-key"; path = cfg.keyFile; };
  };

  postfix = {
    flags = cfg:
      (if cfg.logSource == "journal"
       then [ "--postfix.journal" ] ++ listFlag "postfix.journal.unit" cfg.journalUnits
         ++ optFlag "postfix.journal.journalctl" cfg.journalctl
       else [ (flag "postfix.logfile" cfg.logFile) ] ++ boolFlag "postfix.logfile.from-start" cfg.logFileFromStart
         ++ optFlag "postfix.logfile.poll-interval" cfg.logFilePollInterval)
      # An empty path turns the queue metrics off.
      ++ [ (flag "postfix.showq-path" (if cfg.showqPath == null then "" else cfg.showqPath)) ]
      ++ [ (flag "postfix.timeout" cfg.timeout) ];
    credentials = cfg: [ ];
  };

  dovecot = {
    flags = cfg:
      # The exporter reads /run/dovecot/stats-reader unless told otherwise;
      # an empty value turns the stats source off.
      [ (flag "dovecot.stats-socket" (if cfg.statsSocket == null then "" else cfg.statsSocket)) ]
      ++ map (m: flag "dovecot.stats-group-by" "${m}=${concatStringsSep "," cfg.statsGroupBy.${m}}") (attrNames cfg.statsGroupBy)
      ++ optFlag "dovecot.old-stats-socket" cfg.oldStatsSocket
      ++ optionals (notNull cfg.oldStatsSocket) [ (flag "dovecot.scopes" (concatStringsSep "," cfg.scopes)) ]
      ++ map (n: flag "probe" "${n}=${cfg.probes.${n}}") (attrNames cfg.probes)
      ++ optFlag "probe.tls-ca-file" cfg.probeTLS.caFile
      ++ optFlag "probe.tls-server-name" cfg.probeTLS.serverName
      ++ boolFlag "probe.tls-insecure-skip-verify" cfg.probeTLS.insecureSkipVerify
      ++ [ (flag "dovecot.timeout" cfg.timeout) ];
    credentials = cfg: [ ];
  };

  wireguard = {
    flags = cfg:
      listFlag "wireguard.interface" cfg.interfaces
      ++ genList (i: credentialFlag "wireguard.config" "wg-quick-${toString i}.conf") (length cfg.configFiles)
      ++ optFlag "wireguard.peer-names-file" cfg.peerNamesFile
      ++ optionals (cfg.compat != "none") [ (flag "metrics.compat" cfg.compat) ]
      ++ [ (flag "wireguard.timeout" cfg.timeout) ];
    # wg-quick files hold the interface's private key and are root-only;
    # the exporter reads only their comments, through a credential copy.
    credentials = cfg:
      genList (i: { name = "wg-quick-${toString i}.conf"; path = builtins.elemAt cfg.configFiles i; }) (length cfg.configFiles);
  };

  gitea-runner = {
    flags = cfg:
      [ (flag "gitea.url" cfg.url) ]
      ++ optional (notNull cfg.tokenFile) (credentialFlag "gitea.token-file" "gitea-token")
      ++ optionals (cfg.scope != "admin") [ (flag "gitea.scope" cfg.scope) ]
      ++ optFlag "gitea.ca-file" cfg.caFile
      ++ [ (flag "gitea.timeout" cfg.timeout) ]
      ++ listFlag "runner.expect" cfg.expectedRunners;
    credentials = cfg:
      optional (notNull cfg.tokenFile) { name = "gitea-token"; path = cfg.tokenFile; };
  };

  # The whole argv of an exporter: binary, common flags, service flags,
  # extraFlags last so that they can override.
  argv = kind: binary: cfg:
    [ binary ] ++ commonFlags cfg ++ (builtins.getAttr kind { inherit openldap postfix dovecot wireguard gitea-runner; }).flags cfg
    ++ cfg.extraFlags;

  credentials = kind: cfg:
    commonCredentials cfg
    ++ (builtins.getAttr kind { inherit openldap postfix dovecot wireguard gitea-runner; }).credentials cfg;

  loadCredential = creds: map (c: "${c.name}:${c.path}") creds;

  # The hardening every exporter unit gets, as ordered [name value] pairs so
  # that unit files render stably. extra.capabilities is granted (and is the
  # only thing in the bounding set); extra.addressFamilies is added to the
  # allowed socket families.
  hardening = { capabilities ? [ ], addressFamilies ? [ ], supplementaryGroups ? [ ], dynamicUser ? true }:
    let caps = concatStringsSep " " capabilities; in
    optional dynamicUser [ "DynamicUser" true ]
    ++ optional (supplementaryGroups != [ ]) [ "SupplementaryGroups" (concatStringsSep " " supplementaryGroups) ]
    ++ [
      [ "CapabilityBoundingSet" caps ]
      [ "AmbientCapabilities" caps ]
      [ "NoNewPrivileges" true ]
      [ "ProtectSystem" "strict" ]
      [ "ProtectHome" true ]
      [ "PrivateTmp" true ]
      [ "PrivateDevices" true ]
      [ "DevicePolicy" "closed" ]
      [ "ProtectKernelTunables" true ]
      [ "ProtectKernelModules" true ]
      [ "ProtectKernelLogs" true ]
      [ "ProtectControlGroups" true ]
      [ "ProtectClock" true ]
      [ "ProtectHostname" true ]
      [ "ProtectProc" "invisible" ]
      [ "RestrictAddressFamilies" (concatStringsSep " " ([ "AF_UNIX" "AF_INET" "AF_INET6" ] ++ addressFamilies)) ]
      [ "RestrictNamespaces" true ]
      [ "RestrictRealtime" true ]
      [ "RestrictSUIDSGID" true ]
      [ "LockPersonality" true ]
      [ "MemoryDenyWriteExecute" true ]
      [ "RemoveIPC" true ]
      [ "SystemCallArchitectures" "native" ]
      [ "SystemCallFilter" [ "@system-service" "~@privileged @resources" ] ]
      # A refused call fails with EPERM instead of killing the exporter.
      [ "SystemCallErrorNumber" "EPERM" ]
      [ "UMask" "0077" ]
    ];

  # Per exporter: what the hardened unit additionally needs.
  #  - WireGuard: CAP_NET_ADMIN and AF_NETLINK to read kernel devices.
  #  - Postfix: the journal group (journal source), postdrop for showq
  #    (public/ is postfix:postdrop 0710) and adm for a Debian mail.log.
  unitNeeds = {
    openldap = { };
    postfix = { };
    dovecot = { };
    wireguard = { capabilities = [ "CAP_NET_ADMIN" ]; addressFamilies = [ "AF_NETLINK" ]; };
    gitea-runner = { };
  };

  # Renders [name value] pairs as unit-file lines; a list value becomes one
  # line per element (systemd accumulates them).
  renderUnitValue = v: if v == true then "yes" else if v == false then "no" else toString v;
  renderSection = pairs:
    concatStringsSep "" (concatMap
      (p: let n = builtins.elemAt p 0; v = builtins.elemAt p 1; in
        map (x: "${n}=${renderUnitValue x}\n") (if isList v then v else [ v ]))
      pairs);

  # The same pairs as an attribute set for NixOS' systemd.services.*.serviceConfig.
  toServiceConfig = pairs: listToAttrs (map (p: { name = builtins.elemAt p 0; value = builtins.elemAt p 1; }) pairs);

  # A plain systemd unit for hosts without NixOS. cfg holds the same names
  # as the NixOS module options; binary is where the package installed it.
  unitFile = { kind, binary, cfg, user ? null, groups ? [ ], after ? [ "network-online.target" ], extraService ? [ ] }:
    let
      e = exporters.${kind};
      creds = credentials kind cfg;
    in
    "# Generated from nix/lib.nix by nix/systemd/generate.nix; edit those, then run\n"
    + "# `go test ./itest/nix -run TestUnitFiles -update`.\n"
    + "[Unit]\n"
    + renderSection [
      [ "Description" "Prometheus exporter for ${e.description}" ]
      [ "Documentation" "https://github.com/downwatch/downwatch/tree/main/${e.module}" ]
      [ "Wants" "network-online.target" ]
      [ "After" (concatStringsSep " " after) ]
    ]
    + "\n[Service]\n"
    + renderSection ([
      [ "Type" "simple" ]
      [ "ExecStart" (execStart (argv kind binary cfg)) ]
      [ "Restart" "on-failure" ]
      [ "RestartSec" "5s" ]
    ]
    ++ optional (notNull user) [ "User" user ]
    ++ optional (creds != [ ]) [ "LoadCredential" (loadCredential creds) ]
    ++ hardening ((unitNeeds.${kind}) // { supplementaryGroups = groups; dynamicUser = user == null; })
    ++ extraService)
    + "\n[Install]\nWantedBy=multi-user.target\n";

  # A Prometheus-style scrape config for one job, with a host label on its
  # targets as scrapegen writes it.
  scrapeConfig = host: job:
    let
      labels = (if host == null then { } else { inherit host; }) // (job.labels or { });
      base = {
        job_name = job.name;
        static_configs = [ ({ targets = job.targets; } // (if labels == { } then { } else { inherit labels; })) ];
      };
      opt = name: value: if value == null || value == { } then { } else { ${name} = value; };
    in
    base
    // opt "metrics_path" (if (job.metricsPath or "/metrics") == "/metrics" then null else job.metricsPath)
    // opt "scheme" (if (job.scheme or "http") == "http" then null else job.scheme)
    // opt "scrape_interval" (job.interval or null)
    // opt "scrape_timeout" (job.timeout or null)
    // opt "bearer_token_file" (job.bearerTokenFile or null)
    // opt "tls_config" (job.tlsConfig or null)
    // opt "basic_auth" (job.basicAuth or null)
    // (job.extraConfig or { });

  # vmagent's -promscrape.config: the jobs in the order given, and the
  # scrape_config_files (lists of jobs, e.g. from scrapegen) it includes.
  vmagentConfig = { host ? null, jobs, scrapeConfigFiles ? [ ], global ? { } }:
    (if global == { } then { } else { inherit global; })
    // { scrape_configs = map (scrapeConfig host) jobs; }
    // (if scrapeConfigFiles == [ ] then { } else { scrape_config_files = scrapeConfigFiles; });

  # Job names must be unique: vmagent refuses a config with duplicates.
  duplicateJobs = jobs:
    let
      names = map (j: j.name) jobs;
      count = n: length (filter (x: x == n) names);
    in
    sort (a: b: a < b) (attrNames (listToAttrs (map (n: { name = n; value = null; }) (filter (n: count n > 1) names))));

  # The slapd ACL entry (olcAccess value) that lets the exporter read
  # cn=Monitor. who is the exporter's identity: a bind DN, or the peer
  # credentials DN that SASL EXTERNAL over ldapi gives a local uid/gid.
  peercredDN = uid: gid: "gidNumber=${toString gid}+uidNumber=${toString uid},cn=peercred,cn=external,cn=auth";
  monitorAcl = { who, index ? 0 }:
    "{${toString index}}to dn.subtree=\"cn=Monitor\" by dn.exact=\"${who}\" read by * none break";
  # contextCSN lives on each replicated database's suffix entry.
  contextCSNAcl = { who, suffix, index ? 0 }:
    "{${toString index}}to dn.base=\"${suffix}\" attrs=entry,contextCSN by dn.exact=\"${who}\" read by * none break";

  # The URI encoding of an ldapi socket path (ldapi://%2Frun%2F...).
  ldapiURI = path: "ldapi://" + replaceStrings [ "/" ] [ "%2F" ] path;

  # The inventory as scrapegen reads it. Nix path values would be copied
  # into the world-readable store by toJSON, so secrets must be strings.
  inventoryJSON = inventory: toJSON inventory;
}
