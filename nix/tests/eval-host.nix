# Copyright 2026 The downwatch Authors
# SPDX-License-Identifier: Apache-2.0
#
# A small stand-in for nixpkgs' module system, to evaluate the example hosts
# with a bare nix-instantiate: modules are collected through their imports,
# options declared by this repository get their defaults, every other
# option (those of nixpkgs) is merged freely from the definitions. Like the
# real one it pushes mkIf and mkMerge down to the leaves before it looks at
# a condition, so that modules may read config in their conditions; it
# knows priorities (mkDefault, mkForce) and order (mkBefore), concatenates
# lists and refuses two different values for one leaf. Types are not
# checked: tests/mail-vm.nix does that against real nixpkgs.
{ modules, baseConfig ? (import ./stub.nix).nixosDefaults }:
let
  stub = import ./stub.nix;
  inherit (stub) lib pkgs;
  inherit (builtins)
    attrNames concatMap elem filter foldl' genericClosure genList head isAttrs isFunction
    isList isPath isString length listToAttrs map sort tail;

  typeOf = v: if isAttrs v then v._type or null else null;
  isOption = v: typeOf v == "option";
  isPlainAttrs = v: isAttrs v && typeOf v == null && !(v ? outPath);

  # Loads one module: calls it if it is a function, and splits the result.
  load = m:
    let
      f = if isPath m || isString m then import m else m;
      r = if isFunction f then f { config = raw; inherit lib pkgs; options = { }; } else f;
      structured = r ? options || r ? config;
    in
    {
      imports = r.imports or [ ];
      options = r.options or { };
      config = if structured then r.config or { } else removeAttrs r [ "imports" "_file" "key" "meta" "disabledModules" ];
    };

  keyOf = parent: i: m: if isPath m || isString m then toString m else "${parent}#${toString i}";
  closure = genericClosure {
    startSet = genList (i: { key = keyOf "root" i (builtins.elemAt modules i); module = builtins.elemAt modules i; }) (length modules);
    operator = item:
      let imps = (load item.module).imports; in
      genList (i: { key = keyOf item.key i (builtins.elemAt imps i); module = builtins.elemAt imps i; }) (length imps);
  };
  loaded = map (item: load item.module) closure;

  # Declared options of all modules, merged into one tree.
  mergeOptionTrees = a: b:
    a // builtins.mapAttrs (n: v: if a ? ${n} && !isOption v && !isOption a.${n} then mergeOptionTrees a.${n} v else v) b;
  options = foldl' mergeOptionTrees { } (map (l: l.options) loaded);

  # baseConfig holds what nixpkgs would default: lowest priority.
  baseDefs = let wrap = v: if isPlainAttrs v then builtins.mapAttrs (n: wrap) v else lib.mkOverride 1500 v; in wrap baseConfig;
  defs = [ baseDefs ] ++ map (l: l.config) loaded;

  # Structure of a definition, without evaluating any condition.
  strip = d: if elem (typeOf d) [ "if" "override" "order" ] then strip d.content else d;
  namesOf = d:
    let s = strip d; in
    if typeOf s == "merge" then concatMap namesOf s.contents
    else if isPlainAttrs s then attrNames s
    else [ ];
  isNode = d: let s = strip d; in if typeOf s == "merge" then builtins.all isNode s.contents else isPlainAttrs s;
  # The part of a definition below name n, keeping its properties.
  sub = n: d:
    let t = typeOf d; in
    if t == "if" then lib.mkIf d.condition (sub n d.content)
    else if elem t [ "override" "order" ] then d // { content = sub n d.content; }
    else if t == "merge" then lib.mkMerge (map (sub n) (filter (x: elem n (namesOf x)) d.contents))
    else d.${n};

  # Definitions at a leaf, conditions evaluated: [{ value, priority, order }].
  peel = priority: order: d:
    let t = typeOf d; in
    if t == "if" then (if d.condition then peel priority order d.content else [ ])
    else if t == "merge" then concatMap (peel priority order) d.contents
    else if t == "override" then peel d.priority order d.content
    else if t == "order" then peel priority d.priority d.content
    else [{ value = d; inherit priority order; }];

  mergeLeaf = path: option: ds:
    let
      all = concatMap (peel 100 1000) ds;
      best = foldl' (m: x: if x.priority < m then x.priority else m) 9999 all;
      chosen = sort (a: b: a.order < b.order) (filter (x: x.priority == best) all);
      values = map (x: x.value) chosen;
      where = builtins.concatStringsSep "." path;
    in
    if values == [ ] then
      (if option != null && option ? default then option.default else { _type = "undefined"; inherit where; })
    else if length values == 1 then head values
    else if builtins.all isList values then builtins.concatLists values
    else if builtins.all isPlainAttrs values then evalAt path null (map (x: x.value) chosen)
    else if builtins.all (v: v == head values) values then head values
    else throw "${where} has conflicting definitions";

  # The value at path from its definitions ds; opts is the declared option
  # tree there (null when undeclared).
  evalAt = path: opts: ds:
    if isOption opts then mergeLeaf path opts ds
    else
      let
        nodes = filter (d: namesOf d != [ ] || isNode d) ds;
        leafy = filter (d: !isNode d) ds;
        names = attrNames (listToAttrs (map (n: { name = n; value = null; })
          (concatMap namesOf nodes ++ (if isAttrs opts then attrNames opts else [ ]))));
      in
      if leafy != [ ] && opts == null then mergeLeaf path null ds
      else listToAttrs (map
        (n: {
          name = n;
          value = evalAt (path ++ [ n ]) (if isAttrs opts && opts ? ${n} then opts.${n} else null)
            (map (sub n) (filter (d: elem n (namesOf d)) nodes));
        })
        (if elem path attrsOfPaths then filter (n: builtins.any active (map (sub n) (filter (d: elem n (namesOf d)) nodes))) names else names));

  # Collections (attrsOf in nixpkgs) in which an entry whose definitions
  # are all switched off by mkIf does not exist at all.
  attrsOfPaths = [ [ "systemd" "services" ] [ "users" "users" ] [ "users" "groups" ] [ "services" "openldap" "settings" "children" ] ];
  active = d:
    let t = typeOf d; in
    if t == "if" then d.condition && active d.content
    else if t == "merge" then builtins.any active d.contents
    else if elem t [ "override" "order" ] then active d.content
    else true;

  raw = evalAt [ ] options defs;

  # The config as NixOS would show it: leaves whose every definition is
  # switched off are left out (nixpkgs would use its option's default).
  clean = v:
    if isPlainAttrs v && v != { } then
      let kept = listToAttrs (filter (p: typeOf p.value != "undefined") (map (n: { name = n; value = clean v.${n}; }) (attrNames v))); in
      if kept == { } then { _type = "undefined"; } else kept
    else v;

  config = let c = clean raw; in if typeOf c == "undefined" then { } else c;

  failed = map (a: a.message) (filter (a: !a.assertion) (raw.assertions or [ ]));
in
{
  inherit config failed;
}
