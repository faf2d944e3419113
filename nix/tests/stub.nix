# Copyright 2026 The downwatch Authors
# SPDX-License-Identifier: Apache-2.0
#
# Just enough of nixpkgs' lib and of a NixOS config to evaluate this
# repository's modules with a bare nix-instantiate (no nixpkgs can be
# fetched where the tests run): option declarations become their defaults,
# mkIf/mkMerge are resolved, types are names. It checks what the modules
# compute (flags, units, scrape jobs) for given option values; the
# NixOS VM test in ./mail-vm.nix checks them against real nixpkgs.
let
  inherit (builtins) isAttrs isList isFunction attrNames mapAttrs foldl' filter concatMap listToAttrs head tail length stringLength substring elem;

  option = attrs: attrs // { _type = "option"; };
  typeName = name: { _type = "type"; inherit name; };

  hasPrefix = p: s: substring 0 (stringLength p) s == p;

  lib = rec {
    mkOption = option;
    mkEnableOption = what: option { default = false; type = types.bool; description = "Whether to enable ${what}."; };
    mkIf = condition: content: { _type = "if"; inherit condition content; };
    mkMerge = contents: { _type = "merge"; inherit contents; };
    mkOverride = priority: content: { _type = "override"; inherit priority content; };
    mkDefault = mkOverride 1000;
    mkForce = mkOverride 50;
    mkOrder = priority: content: { _type = "order"; inherit priority content; };
    mkBefore = mkOrder 500;
    mkAfter = mkOrder 1500;
    literalExpression = s: { _type = "literalExpression"; text = s; };
    types = {
      str = typeName "str";
      bool = typeName "bool";
      int = typeName "int";
      port = typeName "port";
      lines = typeName "lines";
      attrs = typeName "attrs";
      path = typeName "path";
      package = typeName "package";
      ints.positive = typeName "positive int";
      strMatching = re: typeName "string matching ${re}";
      enum = values: typeName "one of ${toString values}";
      nullOr = t: typeName "null or ${t.name}";
      listOf = t: typeName "list of ${t.name}";
      attrsOf = t: typeName "attribute set of ${t.name}";
      submodule = m: typeName "submodule";
    };
    inherit hasPrefix;
    removePrefix = p: s: if hasPrefix p s then substring (stringLength p) (stringLength s) s else s;
    optional = c: x: if c then [ x ] else [ ];
    optionalString = c: s: if c then s else "";
    nameValuePair = name: value: { inherit name value; };
    inherit listToAttrs;
    genAttrs = names: f: listToAttrs (map (n: { name = n; value = f n; }) names);
  };

  isOption = v: isAttrs v && (v._type or null) == "option";

  # Option tree -> values: an option's default unless overridden.
  defaults = opts: overrides:
    mapAttrs
      (n: o:
        if isOption o then (if overrides ? ${n} then overrides.${n} else o.default)
        else if isAttrs o then defaults o (overrides.${n} or { })
        else o)
      opts
    // removeAttrs overrides (attrNames opts);

  # Deep merge of resolved definitions: attribute sets merge, lists concatenate.
  merge2 = a: b:
    if isAttrs a && isAttrs b then
      a // mapAttrs (n: v: if a ? ${n} then merge2 a.${n} v else v) b
    else if isList a && isList b then a ++ b
    else b;

  # What a false mkIf leaves: nothing, unlike a null value.
  skip = { _type = "skip"; };
  isSkip = v: isAttrs v && (v._type or null) == "skip";

  resolve' = v:
    if isAttrs v && (v._type or null) == "if" then (if v.condition then resolve' v.content else skip)
    else if isAttrs v && elem (v._type or null) [ "override" "order" ] then resolve' v.content
    else if isAttrs v && (v._type or null) == "merge" then
      foldl' (acc: x: let r = resolve' x; in if isSkip r then acc else if isSkip acc then r else merge2 acc r) skip v.contents
    else if isAttrs v && !(v ? outPath) && v != { } then
      # An attribute set left empty by false mkIfs is not defined at all.
      let
        r = mapAttrs (n: x: resolve' x) v;
        kept = listToAttrs (filter (p: !isSkip p.value) (map (n: { name = n; value = r.${n}; }) (attrNames r)));
      in
      if kept == { } then skip else kept
    else v;

  resolve = v: let r = resolve' v; in if isSkip r then null else r;

  pkgs = {
    writeText = name: text: "/nix/store/00000000000000000000000000000000-${name}";
    formats.json = { }: { type = typeName "json"; };
    runCommand = name: env: script: "/nix/store/00000000000000000000000000000000-${name}";
    jq = "/nix/store/00000000000000000000000000000000-jq";
    openldap = "/nix/store/00000000000000000000000000000000-openldap";
  } // listToAttrs (map (m: { name = m; value = "/nix/store/00000000000000000000000000000000-${m}"; })
    (import ../lib.nix).goModules);

  # The parts of a NixOS config the modules read.
  baseConfig = {
    networking.hostName = "mail";
    services = {
      vmagent = { enable = true; scrapeFromInventory = false; scrapeJobs = [ ]; };
      openldap.enable = true;
      postfix = { enable = true; setgidGroup = "postdrop"; config.queue_directory = "/var/lib/postfix/queue"; };
      dovecot2.enable = true;
      gitea = { enable = false; settings.server = { ROOT_URL = "http://localhost:3001/"; HTTP_PORT = 3001; }; };
      prometheus.exporters.node = { listenAddress = "0.0.0.0"; port = 9100; };
    };
    systemd.package = "/nix/store/00000000000000000000000000000000-systemd";
  };

  # What nixpkgs would default, for whole hosts (tests/eval-host.nix):
  # nothing enabled.
  nixosDefaults = {
    networking.hostName = "nixos";
    services = {
      vmagent.enable = false;
      openldap.enable = false;
      postfix = { enable = false; setgidGroup = "postdrop"; config.queue_directory = "/var/lib/postfix/queue"; };
      dovecot2.enable = false;
      gitea = { enable = false; settings.server = { ROOT_URL = "http://localhost:3000/"; HTTP_PORT = 3000; }; };
      prometheus.exporters.node = { enable = false; listenAddress = "0.0.0.0"; port = 9100; };
    };
    systemd.package = "/nix/store/00000000000000000000000000000000-systemd";
  };

  # Evaluates one module with option values: returns the options' values
  # (cfg) and the config it defines.
  evalModule = { file, path, values ? { }, config ? { } }:
    let
      modFn = import file;
      getPath = attrs: foldl' (a: n: a.${n}) attrs path;
      setPath = p: v: if p == [ ] then v else { ${head p} = setPath (tail p) v; };
      fullConfig = merge2 (merge2 baseConfig config) (setPath path cfg);
      m = modFn { config = fullConfig; inherit lib pkgs; };
      cfg = defaults (getPath m.options) values;
    in
    { inherit cfg; config = resolve m.config; };
in
{
  inherit lib pkgs baseConfig nixosDefaults evalModule resolve defaults;
}
