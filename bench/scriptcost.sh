#!/usr/bin/env bash
# scriptcost.sh: what one call of a Lua script costs Redis, in instructions,
# counted by valgrind's callgrind: unlike time, the count does not move with
# the machine's load, so two versions of a script can be compared on a busy
# machine, a few hundred instructions apart.
#
#   bench/scriptcost.sh [-n calls] [-r keyspace] SCRIPT.lua NUMKEYS KEY... ARG...
#
# It starts its own redis-server (the one on PATH) under callgrind on a free
# loopback port, loads SCRIPT, sends `calls` EVALSHA calls with
# redis-benchmark (pipelined by 16; __rand_int__ in a key or argument is
# replaced by a number below `keyspace`) unmeasured, then as many again
# measured, and prints the user-space instructions of the whole server
# (protocol, dispatch, the script, its redis.calls) per measured call.
# Kernel time (the socket) is not counted. Defaults: 20000 calls, 5000 keys.
#
# Example, the rate limiter's GCRA for one limit (1 per call, an interval of
# 5000 us, a burst of 2000):
#
#   bench/scriptcost.sh core/ratelimit/gcra1.lua 1 'rl:__rand_int__' 1 5000 2000
set -euo pipefail

calls=20000
keyspace=5000
while getopts "n:r:" o; do
	case $o in
	n) calls=$OPTARG ;;
	r) keyspace=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
if [ $# -lt 2 ]; then
	echo "usage: $0 [-n calls] [-r keyspace] SCRIPT.lua NUMKEYS KEY... ARG..." >&2
	exit 2
fi
script=$1
shift
for tool in valgrind callgrind_control callgrind_annotate redis-server redis-cli redis-benchmark; do
	command -v "$tool" >/dev/null || {
		echo "$0: $tool is not installed" >&2
		exit 1
	}
done
[ -r "$script" ] || {
	echo "$0: cannot read $script" >&2
	exit 1
}

work=$(mktemp -d)
port=""
for p in $(seq 17900 17999); do
	if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
		port=$p
		break
	fi
done
[ -n "$port" ] || {
	echo "$0: no free port in 17900-17999" >&2
	exit 1
}
pid=""
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/cg" \
	redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" >"$work/log" 2>&1 &
pid=$!
for _ in $(seq 1 150); do
	[ "$(redis-cli -p "$port" ping 2>/dev/null || true)" = PONG ] && break
	sleep 0.2
done
[ "$(redis-cli -p "$port" ping 2>/dev/null || true)" = PONG ] || {
	echo "$0: redis-server under valgrind did not start; its log:" >&2
	cat "$work/log" >&2
	exit 1
}
sha=$(redis-cli -p "$port" script load "$(cat "$script")")
bench() { redis-benchmark -p "$port" -q -n "$calls" -r "$keyspace" -P 16 evalsha "$sha" "$@" >/dev/null; }
# a call that fails is counted as a call: make sure the script runs first
if ! out=$(redis-cli -p "$port" evalsha "$sha" "${@//__rand_int__/1}" 2>&1) || [[ $out == ERR* ]]; then
	echo "$0: the script failed: $out" >&2
	exit 1
fi
bench "$@" # warm-up: keys, script cache, allocator
callgrind_control -i on "$pid" >/dev/null 2>&1
bench "$@"
callgrind_control -i off "$pid" >/dev/null 2>&1
callgrind_control -d "$pid" >/dev/null 2>&1
dump=$(ls "$work"/cg.* 2>/dev/null | tail -1)
total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ && !done {gsub(",", "", $1); print $1; done = 1}')
[ -n "$total" ] || {
	echo "$0: callgrind recorded nothing" >&2
	exit 1
}
awk -v t="$total" -v n="$calls" -v s="$script" 'BEGIN { printf "%s: %.0f instructions per call (%d calls)\n", s, t / n, n }'
