#!/usr/bin/env bash
# Copyright 2026 The downwatch Authors
# SPDX-License-Identifier: Apache-2.0
#
# Recomputes the vendorHash of every Go module the overlay builds and writes
# nix/vendor-hashes.json (run by `make vendor-hashes`). With --check it
# writes nothing and exits 1 when a stored hash is stale. It hashes the work
# tree, or the commit named by $REV (REV=HEAD).
#
# buildGoModule's goModules derivation runs `go mod vendor` in the module
# and installs the vendor directory as its output, a fixed-output derivation
# with outputHashMode = "recursive": vendorHash is the SHA-256 of the NAR
# serialisation of that directory, which is what `nix-hash --type sha256
# --sri DIR` prints. A module without dependencies has no vendor directory,
# and buildGoModule then wants vendorHash = null.
set -euo pipefail

check=false
case "${1:-}" in
	--check) check=true ;;
	"") ;;
	*) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/nix/vendor-hashes.json"
modules=(dovecot_exporter gitea_runner_exporter openldap_exporter postfix_exporter scrapegen wireguard_exporter)

for tool in go nix-hash; do
	command -v "$tool" >/dev/null || { echo "$0: $tool not found (Debian: apt-get install golang nix-bin)" >&2; exit 2; }
done

# The SRI form (sha256-<base64>) of the NAR hash. nix-hash learnt --sri
# after Nix 2.8 (Debian 12's); older ones print hex, converted here.
sri_nar_hash() {
	if nix-hash --type sha256 --sri "$1" 2>/dev/null; then
		return
	fi
	local hex
	hex=$(nix-hash --type sha256 "$1")
	printf 'sha256-%s\n' "$(printf "$(printf '%s' "$hex" | sed 's/../\\x&/g')" | base64 -w0)"
}

tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT

json="{"
sep=""
for m in "${modules[@]}"; do
	# A copy of the module alone, as buildGoModule sees it: no go.work above
	# it, no vendor directory of a developer's, nothing written back here.
	mkdir -p "$tmp/$m"
	if [ -n "${REV:-}" ]; then
		# REV=HEAD (or any commit) hashes the committed state instead of the
		# work tree, e.g. while others have unfinished changes in it.
		git -C "$root" archive "$REV" "$m" | tar -C "$tmp" -xf -
		rm -rf "$tmp/$m/vendor"
	else
		(cd "$root/$m" && tar --exclude=./vendor -cf - .) | (cd "$tmp/$m" && tar -xf -)
	fi
	if ! (cd "$tmp/$m" && GOWORK=off GOFLAGS=-mod=mod GOTOOLCHAIN=local go mod vendor) >&2; then
		echo "$0: go mod vendor failed in $m (is its go.mod tidy? cd $m && GOWORK=off go mod tidy)" >&2
		exit 1
	fi
	if [ -d "$tmp/$m/vendor" ] && [ -n "$(ls -A "$tmp/$m/vendor")" ]; then
		hash="\"$(sri_nar_hash "$tmp/$m/vendor")\""
	else
		hash=null
	fi
	json+="$sep"$'\n'"  \"$m\": $hash"
	sep=","
done
json+=$'\n'"}"

if $check; then
	if ! diff -u "$out" <(printf '%s\n' "$json") >&2; then
		echo "$0: nix/vendor-hashes.json is stale; run 'make vendor-hashes' and commit it" >&2
		exit 1
	fi
	echo "vendor hashes are current" >&2
	exit 0
fi
printf '%s\n' "$json" >"$out"
echo "wrote $out" >&2
