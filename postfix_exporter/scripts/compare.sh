#!/usr/bin/env bash
# Copyright 2026 The downwatch Authors
# SPDX-License-Identifier: Apache-2.0
#
# Whole-process comparison of postfix_exporter with Debian's
# prometheus-postfix-exporter (kumina 0.3.0): each follows an empty file to
# which a deterministic, realistic N-line Postfix log (internal/loggen) is
# appended at once. Reported per exporter: CPU seconds (user+system, from
# /proc/PID/stat) from the append to the final count, wall time until the
# final count (postfix_qmgr_messages_removed_total, which both count the
# same way) is scraped, and peak RSS (VmHWM). They run one after the other.
#
# Usage: scripts/compare.sh [lines]      (default 1000000; run from anywhere)
# Needs: go, curl, prometheus-postfix-exporter (apt-get install prometheus-postfix-exporter).
set -euo pipefail

lines=${1:-1000000}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

debian=$(command -v prometheus-postfix-exporter || true)
[ -n "$debian" ] || { echo "prometheus-postfix-exporter not installed" >&2; exit 1; }

(cd "$here" && go build -o "$work/postfix_exporter" . && go build -o "$work/genlog" ./scripts/genlog)
"$work/genlog" -n "$lines" -counts "$work/counts.json" >"$work/mail.log"
want=$(sed -E 's/.*"QmgrRemoved":([0-9]+).*/\1/' "$work/counts.json")
total=$(wc -l <"$work/mail.log")
echo "log: $total lines, $(du -m "$work/mail.log" | cut -f1) MB, expect qmgr removed = $want"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
removed() {
	curl -sf "http://127.0.0.1:$1/metrics" 2>/dev/null |
		awk '/^postfix_qmgr_messages_removed_total/ {s+=$NF} END {printf "%d", s}'
}

run() {
	local name=$1 bin=$2
	shift 2
	local port followed
	port=$(free_port)
	followed="$work/$name.log"
	: >"$followed"
	"$bin" --web.listen-address="127.0.0.1:$port" "$@" --"$LOGFLAG"="$followed" >"$work/$name.out" 2>&1 &
	local pid=$!
	pids+=("$pid")
	for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/metrics" >/dev/null && break; sleep 0.1; done
	sleep 1 # both followers are at the (empty) file's end
	local hz c0 t0 c1 t1 got
	hz=$(getconf CLK_TCK)
	c0=$(cpu_ticks "$pid")
	t0=$(date +%s.%N)
	cat "$work/mail.log" >>"$followed"
	got=0
	while [ "$got" -lt "$want" ]; do
		sleep 0.05
		got=$(removed "$port")
		got=${got:-0}
		if (($(echo "$(date +%s.%N) - $t0 > 600" | bc))); then echo "$name: timed out at $got" >&2; break; fi
	done
	t1=$(date +%s.%N)
	c1=$(cpu_ticks "$pid")
	local hwm
	hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	printf '%-32s cpu %6.2f s   time to final count %6.2f s   peak RSS %6.1f MB   (%.0f lines per CPU second)\n' \
		"$name" "$(echo "($c1 - $c0) / $hz" | bc -l)" "$(echo "$t1 - $t0" | bc -l)" "$(echo "$hwm / 1024" | bc -l)" \
		"$(echo "$total / (($c1 - $c0) / $hz + 0.001)" | bc -l)"
}

LOGFLAG=postfix.logfile_path run prometheus-postfix-exporter "$debian" --postfix.showq_path="$work/noshowq"
LOGFLAG=postfix.logfile run postfix_exporter "$work/postfix_exporter" --postfix.showq-path="$work/noshowq"
