#!/bin/sh
# Regenerates the hixie captures of testdata/pcaps from real implementations
# on loopback: websocket-driver (server.js, Node) and Protocol::WebSocket
# (client.pl, Perl). Needs root (tcpdump on lo), node and npm, perl with
# libprotocol-websocket-perl (apt-get install libprotocol-websocket-perl).
#
#   sh testdata/pcaps/hixie/gen.sh
#
# Writes, in testdata/pcaps: hixie-76.pcap and hixie-75.pcap and, for each,
# NAME.messages.json: the messages the applications said they sent.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=$(dirname "$here")
work=$(mktemp -d)
server_pid=
tcpdump_pid=
cleanup() {
	[ -n "$tcpdump_pid" ] && kill "$tcpdump_pid" 2>/dev/null || true
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

perl -MProtocol::WebSocket -e 1 2>/dev/null || apt-get install -y libprotocol-websocket-perl
(cd "$work" && npm install --silent --no-audit --no-fund websocket-driver@0.8.0 >/dev/null)

# capture NAME CONVERSATION...
capture() {
	name=$1
	shift
	NODE_PATH="$work/node_modules" node "$here/server.js" "$work/server.log" >"$work/port" &
	server_pid=$!
	i=0
	until [ -s "$work/port" ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "server did not start" >&2; exit 1; }
		sleep 0.1
	done
	port=$(cat "$work/port")
	tcpdump -i lo -U --immediate-mode -n -s 0 -B 32768 -w "$out/$name.pcap" "tcp port $port" 2>"$work/tcpdump.err" &
	tcpdump_pid=$!
	i=0
	until grep -q "listening on" "$work/tcpdump.err"; do
		i=$((i + 1))
		[ $i -lt 100 ] || { cat "$work/tcpdump.err" >&2; exit 1; }
		sleep 0.1
	done
	perl "$here/client.pl" "$port" "$work/client.log" "$@"
	sleep 0.5
	kill -INT "$tcpdump_pid"
	wait "$tcpdump_pid" || true
	tcpdump_pid=
	kill "$server_pid"
	wait "$server_pid" 2>/dev/null || true
	server_pid=
	node "$here/messages.js" "$work/client.log" "$work/server.log" "$@" >"$out/$name.messages.json"
	rm -f "$work/port" "$work/client.log" "$work/server.log"
}

capture hixie-76 /76-client-close /76-server-close /refused
capture hixie-75 /75
