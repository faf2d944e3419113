#!/usr/bin/env bash
# Copyright 2026 The downwatch Authors
# SPDX-License-Identifier: Apache-2.0
#
# Side-by-side scrape measurement at 10,000 peers: sets up one wireguard-go
# device (in its own network namespace, interface left down) with 10,000
# peers through `wg setconf`, starts this exporter (and, when given, another
# exporter binary such as mdlayher's), scrapes each SCRAPES times with gzip
# as Prometheus asks, and prints median/p90 scrape time, bytes on the wire
# and uncompressed, and RSS (current and peak) of each exporter.
#
# Usage (root): scripts/bench-10k.sh [--peers N] [--scrapes N] [--other /path/to/exporter] [--other-flag -metrics.addr]
#   --other is started as: <exporter> <other-flag>=127.0.0.1:<port>, reading every device.
# Needs: wireguard-go, wg, ip, curl, python3, go. Everything it creates is
# removed at exit (processes by PID, the namespace by name).
set -euo pipefail

PEERS=10000
SCRAPES=30
OTHER=""
OTHER_FLAG="-metrics.addr"
while [ $# -gt 0 ]; do
	case "$1" in
	--peers) PEERS=$2; shift 2 ;;
	--scrapes) SCRAPES=$2; shift 2 ;;
	--other) OTHER=$2; shift 2 ;;
	--other-flag) OTHER_FLAG=$2; shift 2 ;;
	*) echo "unknown argument $1" >&2; exit 2 ;;
	esac
done

[ "$(id -u)" = 0 ] || { echo "needs root (network namespace, wireguard-go)" >&2; exit 1; }
for b in wireguard-go wg ip curl python3 go; do
	command -v "$b" >/dev/null || { echo "missing $b" >&2; exit 1; }
done

here=$(cd "$(dirname "$0")/.." && pwd)
suffix=$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')
ns="wgbench-$suffix"
dev="wgb$suffix"        # at most 15 characters
work=$(mktemp -d /tmp/wgbench.XXXXXX)
pids=()

cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	ip netns delete "$ns" 2>/dev/null || true
	rm -f "/var/run/wireguard/$dev.sock"
	rm -rf "$work"
}
trap cleanup EXIT

echo ">> building the exporter"
(cd "$here" && go build -o "$work/ours" .)

echo ">> wireguard-go $dev in namespace $ns with $PEERS peers"
ip netns add "$ns"
WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 ip netns exec "$ns" wireguard-go -f "$dev" >"$work/wireguard-go.log" 2>&1 &
wgpid=$!
pids+=("$wgpid")
for _ in $(seq 100); do [ -S "/var/run/wireguard/$dev.sock" ] && break; sleep 0.05; done
[ -S "/var/run/wireguard/$dev.sock" ] || { echo "wireguard-go did not start:"; cat "$work/wireguard-go.log"; exit 1; }

# Random 32-byte public keys are fine: the device never talks to them.
python3 - "$PEERS" "$(wg genkey)" >"$work/wg.conf" <<'PY'
import base64, os, sys
n, priv = int(sys.argv[1]), sys.argv[2]
print("[Interface]\nPrivateKey = %s\nListenPort = 51820\n" % priv)
for i in range(n):
    k = base64.b64encode(os.urandom(32)).decode()
    print("[Peer]\nPublicKey = %s\nAllowedIPs = 10.%d.%d.%d/32, fd00::%x/128\nEndpoint = 192.0.2.%d:51820\n"
          % (k, i >> 16 & 255, i >> 8 & 255, i & 255, i, i % 250 + 1))
PY
start=$(date +%s.%N)
wg setconf "$dev" "$work/wg.conf"
echo "   wg setconf took $(echo "$(date +%s.%N) - $start" | bc 2>/dev/null || echo '?') s"
echo "   wg show $dev peers: $(wg show "$dev" peers | wc -l)"

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The Accept header Prometheus 3 sends by default.
ACCEPT='application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1'

# cputicks PID: user+system CPU time of a process, in clock ticks.
cputicks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

measure() { # name url pid
	local name=$1 url=$2 pid=$3
	for _ in 1 2 3; do curl -s -o /dev/null -H "Accept: $ACCEPT" -H 'Accept-Encoding: gzip' "$url"; done
	: >"$work/times"
	local c0 w0
	c0=$(cputicks "$pid")
	w0=$(cputicks "$wgpid")
	for _ in $(seq "$SCRAPES"); do
		curl -s -o /dev/null -H "Accept: $ACCEPT" -H 'Accept-Encoding: gzip' \
			-w '%{time_total} %{size_download}\n' "$url" >>"$work/times"
	done
	# CPU time per scrape does not grow with other load on the machine as
	# wall time does, so it is the steadier figure on a shared machine.
	local cpu wgcpu
	cpu=$(( ($(cputicks "$pid") - c0) * 1000 / HZ / SCRAPES ))
	wgcpu=$(( ($(cputicks "$wgpid") - w0) * 1000 / HZ / SCRAPES ))
	local plain
	plain=$(curl -s -H "Accept: $ACCEPT" "$url" | wc -c)
	local series
	series=$(curl -s -H "Accept: $ACCEPT" "$url" | grep -c '^wireguard_' || true)
	local rss hwm
	rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
	hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
	sort -n "$work/times" | awk -v name="$name" -v plain="$plain" -v series="$series" -v rss="$rss" -v hwm="$hwm" -v cpu="$cpu" -v wgcpu="$wgcpu" '
		{ t[NR] = $1; b = $2 }
		END {
			med = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
			p90 = t[int(NR * 0.9 + 0.5)]
			printf "%-12s scrapes=%d median=%.1fms p90=%.1fms min=%.1fms gzip_bytes=%d plain_bytes=%d wireguard_series=%d rss=%.1fMB peak_rss=%.1fMB cpu_per_scrape=%dms wireguard_go_cpu_per_scrape=%dms\n",
				name, NR, med * 1000, p90 * 1000, t[1] * 1000, b, plain, series, rss / 1024, hwm / 1024, cpu, wgcpu
		}'
}

port=$(freeport)
"$work/ours" --web.listen-address="127.0.0.1:$port" --wireguard.interface="$dev" >"$work/ours.log" 2>&1 &
ours=$!
pids+=("$ours")
if [ -n "$OTHER" ]; then
	oport=$(freeport)
	"$OTHER" "$OTHER_FLAG=127.0.0.1:$oport" >"$work/other.log" 2>&1 &
	other=$!
	pids+=("$other")
fi
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.05; done

# The floor: wireguard-go answering the same request to wg(8), which parses
# it in C and prints it. No exporter can answer faster than this.
: >"$work/wgtimes"
for _ in $(seq "$SCRAPES"); do
	s=$(date +%s%N)
	wg show "$dev" dump >/dev/null
	echo $(( ($(date +%s%N) - s) / 1000 )) >>"$work/wgtimes"
done
sort -n "$work/wgtimes" | awk '{ t[NR] = $1 } END { printf "wg show dump (floor) runs=%d median=%.1fms min=%.1fms\n", NR, t[int((NR + 1) / 2)] / 1000, t[1] / 1000 }'

echo ">> scraping (gzip, Prometheus' Accept header), $SCRAPES times each after 3 warm-ups"
measure ours "http://127.0.0.1:$port/metrics" "$ours"
if [ -n "$OTHER" ]; then
	for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$oport/" && break; sleep 0.05; done
	measure other "http://127.0.0.1:$oport/metrics" "$other"
fi
echo ">> load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
