#!/usr/bin/env bash
# bench.sh: throughput and peak memory of wsdump on a large capture.
#
# Usage: scripts/bench.sh            (from anywhere inside the repository)
#
# Environment:
#   WSDUMP_BENCH_MB   size of the capture in MiB (default 1024)
#   WSDUMP_BENCH_DIR  directory for the binary and the capture (default
#                     bench/ at the repository root, ignored by git)
#   WSDUMP_BENCH_NO_TIME  when set, use bash's time even if /usr/bin/time
#                     exists (no peak RSS then)
#   WSDUMP_BENCH_RUNS how many times each wsdump mode runs (default 3; the
#                     modes take turns); the table shows the fastest run,
#                     and the peak RSS of all
#
# What it does:
#   1. builds wsdump into the bench directory;
#   2. writes bench/bulk-<MB>-deflate25-v2.pcap with
#      internal/pcaptest/cmd/benchcap if it is not there yet
#      (pcaptest.WriteBulk: 200 interleaved WebSocket connections, a quarter
#      of them with permessage-deflate and context takeover, seed 1, so the
#      same size always gives the same file);
#   3. runs wsdump in each mode: -q (summaries), text to /dev/null,
#      --jsonl /dev/null and --json /dev/null (each with -q so that only the
#      machine-readable output is written besides the summaries);
#      when tcpdump is installed, tcpdump -r FILE -w /dev/null takes its
#      turn with them: the speed of copying the file, a yardstick of how
#      fast the machine is during the run;
#   4. when tshark is installed, runs
#      tshark -r FILE -Y websocket -T fields -e websocket.opcode >/dev/null
#      and prints how many times faster wsdump -q is.
#
# The table gives wall seconds, file MiB/s and MB/s (2^20 and 10^6 bytes),
# packets/s and
# messages/s (counts from wsdump's own summary on stderr; the tshark row
# uses wsdump's counts of the same file), and peak RSS in MiB. Times and
# RSS come from /usr/bin/time when present (the table also shows user+sys
# CPU seconds, steadier than wall time on a busy machine); without it, from
# bash's time (no RSS: shown as "-").
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
mb=${WSDUMP_BENCH_MB:-1024}
runs=${WSDUMP_BENCH_RUNS:-3}
case $runs in
'' | *[!0-9]* | 0) echo "bench.sh: WSDUMP_BENCH_RUNS=$runs: want a positive whole number" >&2; exit 2 ;;
esac
case $mb in
'' | *[!0-9]*) echo "bench.sh: WSDUMP_BENCH_MB=$mb: want a whole number of MiB" >&2; exit 2 ;;
esac
if [ "$mb" -le 0 ]; then
	echo "bench.sh: WSDUMP_BENCH_MB must be positive" >&2
	exit 2
fi
dir=${WSDUMP_BENCH_DIR:-$root/bench}
mkdir -p "$dir"
bin=$dir/wsdump
# The name says what the generator was asked for, so a capture made with
# other options (or by an older generator) is never reused by mistake.
cap=$dir/bulk-$mb-deflate25-v2.pcap

echo "building wsdump into $bin" >&2
(cd "$root" && go build -o "$bin" ./cmd/wsdump)
if [ ! -f "$cap" ]; then
	echo "writing $cap" >&2
	(cd "$root" && go run ./internal/pcaptest/cmd/benchcap -mb "$mb" -o "$cap") >&2
fi
size=$(wc -c <"$cap" | tr -d ' ')

timetool=
if [ -x /usr/bin/time ] && [ -z "${WSDUMP_BENCH_NO_TIME:-}" ]; then
	timetool=/usr/bin/time
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# keep NAME: fold the run just measured ($tmp/NAME.time) into the best so
# far ($tmp/NAME.best: the fastest run's times, the largest peak RSS).
keep() {
	local name=$1 w u s r bw bu bs br
	read -r w u s r <"$tmp/$name.time"
	if [ ! -f "$tmp/$name.best" ]; then
		echo "$w $u $s $r" >"$tmp/$name.best"
		return
	fi
	read -r bw bu bs br <"$tmp/$name.best"
	if awk -v a="$w" -v b="$bw" 'BEGIN { exit !(a < b) }'; then
		bw=$w bu=$u bs=$s
	fi
	if [ "$r" != "-" ] && [ "$br" != "-" ] && [ "$r" -gt "$br" ]; then
		br=$r
	fi
	echo "$bw $bu $bs $br" >"$tmp/$name.best"
}

# measure NAME CMD...: runs CMD with stdout to /dev/null and its stderr in
# $tmp/NAME.err; leaves "wall user sys maxrss_kib" in $tmp/NAME.time.
measure() {
	local name=$1
	shift
	local status=0
	if [ -n "$timetool" ]; then
		"$timetool" -o "$tmp/$name.time" -f '%e %U %S %M' "$@" >/dev/null 2>"$tmp/$name.err" || status=$?
	else
		local TIMEFORMAT='%R %U %S -'
		{ time "$@" >/dev/null 2>"$tmp/$name.err"; } 2>"$tmp/$name.time" || status=$?
	fi
	if [ "$status" -ne 0 ]; then
		echo "bench.sh: $name failed (exit $status):" >&2
		cat "$tmp/$name.err" >&2
		exit 1
	fi
	# /usr/bin/time -o keeps only its own line; take the last one anyway.
	tail -n 1 "$tmp/$name.time" >"$tmp/$name.t"
	mv "$tmp/$name.t" "$tmp/$name.time"
}

# counts NAME: "packets messages" from wsdump's summary in $tmp/NAME.err.
counts() {
	local p m
	p=$(sed -n 's/^\([0-9][0-9]*\) packets read.*/\1/p' "$tmp/$1.err" | tail -n 1)
	m=$(sed -n 's/.* handshakes, \([0-9][0-9]*\) messages,.*/\1/p' "$tmp/$1.err" | tail -n 1)
	if [ -z "$p" ] || [ -z "$m" ]; then
		echo "bench.sh: no summary from wsdump in mode $1:" >&2
		cat "$tmp/$1.err" >&2
		exit 1
	fi
	echo "$p $m"
}

# row LABEL NAME PACKETS MESSAGES: one line of the table.
row() {
	read -r wall user sys rss <"$tmp/$2.time"
	awk -v label="$1" -v wall="$wall" -v user="$user" -v sys="$sys" -v rss="$rss" \
		-v size="$size" -v p="$3" -v m="$4" 'BEGIN {
		w = wall + 0; if (w <= 0) w = 0.01
		r = (rss == "-") ? "-" : sprintf("%.1f", rss / 1024)
		ms = (m == "-") ? "-" : sprintf("%.0f", m / w)
		printf "%-16s %8.2f %8.2f %9.1f %9.1f %12.0f %12s %9s\n", label, wall, user + sys, size / 1048576 / w, size / 1e6 / w, p / w, ms, r
	}'
}

echo "capture: $cap ($(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1048576 }') MiB)"
echo "each wsdump mode: fastest of $runs runs (WSDUMP_BENCH_RUNS); tshark: one run"
printf '%-16s %8s %8s %9s %9s %12s %12s %9s\n' mode "wall s" "cpu s" "MiB/s" "MB/s" packets/s messages/s "RSS MiB"

modes="quiet text jsonl json"
# tcpdump copying the capture (read, parse the records, write) is the
# yardstick of a run that does nothing with the packets: it is taken in
# turn with the modes, so that the table says how fast the machine is at
# that moment.
if command -v tcpdump >/dev/null 2>&1; then
	modes="$modes tcpdump"
fi
# The modes take turns, run after run, so that a slower spell of the
# machine does not fall on one mode only.
for ((run = 0; run < runs; run++)); do
	for mode in $modes; do
		case $mode in
		quiet) measure quiet "$bin" -q -r "$cap" ;;
		text) measure text "$bin" -r "$cap" ;;
		jsonl) measure jsonl "$bin" -q --jsonl /dev/null -r "$cap" ;;
		json) measure json "$bin" -q --json /dev/null -r "$cap" ;;
		tcpdump) measure tcpdump tcpdump -r "$cap" -w /dev/null ;;
		esac
		keep "$mode"
	done
done
for mode in $modes; do
	mv "$tmp/$mode.best" "$tmp/$mode.time"
	if [ "$mode" = tcpdump ]; then
		continue
	fi
	pm=$(counts "$mode")
	read -r p m <<<"$pm"
	label=$mode
	case $mode in
	quiet) label="wsdump -q" ;;
	text) label="wsdump text" ;;
	jsonl) label="wsdump --jsonl" ;;
	json) label="wsdump --json" ;;
	esac
	row "$label" "$mode" "$p" "$m"
done

if [ -f "$tmp/tcpdump.time" ]; then
	pm=$(counts quiet)
	read -r p _ <<<"$pm"
	row "tcpdump -w null" tcpdump "$p" -
	read -r jwall _ <"$tmp/jsonl.time"
	read -r cwall _ <"$tmp/tcpdump.time"
	awk -v j="$jwall" -v c="$cwall" 'BEGIN {
		if (j <= 0) j = 0.01
		printf "wsdump --jsonl runs at %.0f%% of the speed of tcpdump copying the file\n", 100 * c / j
	}'
fi

if command -v tshark >/dev/null 2>&1; then
	pm=$(counts quiet)
	read -r p m <<<"$pm"
	measure tshark tshark -r "$cap" -Y websocket -T fields -e websocket.opcode
	row "tshark" tshark "$p" "$m"
	read -r qwall qu qs _ <"$tmp/quiet.time"
	read -r twall tu ts _ <"$tmp/tshark.time"
	awk -v qw="$qwall" -v tw="$twall" -v qc="$(awk -v a="$qu" -v b="$qs" 'BEGIN{print a+b}')" \
		-v tc="$(awk -v a="$tu" -v b="$ts" 'BEGIN{print a+b}')" 'BEGIN {
		if (qw <= 0) qw = 0.01; if (qc <= 0) qc = 0.01
		printf "wsdump -q is %.1fx as fast as tshark (wall), %.1fx (cpu)\n", tw / qw, tc / qc
	}'
else
	echo "tshark not installed: no comparison"
fi
