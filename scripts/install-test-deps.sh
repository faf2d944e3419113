#!/usr/bin/env bash
# Installs the Debian packages that the tests and the demo need, and only
# those that are missing. `make test` and `make demo` call it, so that their
# command alone works on a fresh Debian machine. Needs root to install.
set -euo pipefail

packages=(
  slapd ldap-utils
  postfix swaks
  dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd
  wireguard-go wireguard-tools iproute2
  victoria-metrics prometheus
  nix-bin systemd
  openssl procps ca-certificates curl
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = installed ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-deps: missing packages: ${missing[*]}; run this script as root to install them" >&2
  exit 1
fi

echo "install-test-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Debian's packages would otherwise configure and start system-wide daemons;
# the tests start their own, on loopback, with their own configuration.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
# Stop whatever the packages started anyway: the tests want the ports free.
for svc in slapd postfix dovecot; do
  pkill -x "$svc" 2>/dev/null || true
done
pkill -f '/usr/lib/postfix/sbin/master' 2>/dev/null || true
exit 0
