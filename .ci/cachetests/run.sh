#!/usr/bin/env bash
# Runs the public HTTP cache test suite, http-cache-tests (cache-tests.fyi),
# against examples/proxy on a real Redis, scores it the way the suite does,
# and fails below the number of required tests passed stored in
# .ci/cachetests/threshold, so the score can only go up.
#
#   .ci/cachetests/run.sh           run the suite, score it, print the suite's
#                                   published results for Squid, ATS, httpd,
#                                   Varnish, nginx, ... scored the same way, and
#                                   gate on the threshold
#   .ci/cachetests/run.sh --peers   only score the published results: no Redis,
#                                   no proxy
#
# It installs the suite pinned by package-lock.json here (npm ci, exact
# version and integrity) into a temp dir, starts the suite's origin server
# (node server/server.mjs, as `npm run server` does; it takes a port but no
# host, so it listens on every interface, and is reached on 127.0.0.1) and
# the proxy (go build -o, on 127.0.0.1) on free ports, runs the suite's CLI
# (cli.mjs, as `npm run cli --base=URL` does) against the proxy, keeps its
# JSON results in the output dir (.ci/cachetests/out, or $CACHETESTS_OUT),
# and scores them with score.mjs. Every process it starts is stopped when it exits, passed,
# failed or interrupted.
#
# Redis: the real server at $CACHETESTS_REDIS_ADDR (127.0.0.1:6379), db
# $CACHETESTS_REDIS_DB (15), a db of the run's own: it is flushed (FLUSHDB,
# that db only) before and after, and the run refuses to start if that db
# holds a key that redisware did not write. An embedded miniredis is not
# used: under the suite's parallel load it misses the cache's 100 ms
# deadline and the score drops.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

SUITE=http-cache-tests
SUITE_VERSION=0.4.5 # must match package.json and package-lock.json here
REDIS_ADDR=${CACHETESTS_REDIS_ADDR:-127.0.0.1:6379}
REDIS_DB=${CACHETESTS_REDIS_DB:-15}
OUT=${CACHETESTS_OUT:-$HERE/out}
CLI_TIMEOUT=${CACHETESTS_CLI_TIMEOUT:-150} # seconds; the suite takes about 15
NPM_TIMEOUT=${CACHETESTS_NPM_TIMEOUT:-120}

RUN=1
for arg in "$@"; do
	case $arg in
	--peers) RUN=0 ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "run.sh: unknown argument $arg (try --help)" >&2
		exit 2
		;;
	esac
done

log() { printf 'cachetests: %s\n' "$*"; }
die() {
	printf 'cachetests: FATAL: %s\n' "$*" >&2
	exit 1
}

WORK=""
ORIGIN_PID=""
PROXY_PID=""
CLI_PID=""
FLUSH_AFTER=0
REDIS_HOST=${REDIS_ADDR%:*}
REDIS_PORT=${REDIS_ADDR##*:}

rcli() { timeout 10 redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" -n "$REDIS_DB" "$@"; }

# stop PID NAME: TERM, up to 5 s to exit, then KILL. Only our own children.
stop() {
	local pid=$1 name=$2
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "$name (pid $pid) ignored SIGTERM; killing it"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local rc=$?
	set +e
	stop "$CLI_PID" "suite CLI"
	stop "$PROXY_PID" "proxy"
	stop "$ORIGIN_PID" "origin server"
	if [ "$FLUSH_AFTER" = 1 ]; then
		[ "$(rcli flushdb 2>/dev/null)" = "OK" ] ||
			log "WARNING: FLUSHDB of db $REDIS_DB on $REDIS_ADDR failed after the run"
	fi
	[ -n "$WORK" ] && rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# dump NAME FILE: the end of a log, on stderr, to explain a failure.
dump() {
	[ -s "$2" ] || return 0
	printf -- '----- %s (last 40 lines of %s)\n' "$1" "$2" >&2
	tail -n 40 "$2" >&2 || true
}

# free_port: a TCP port free on 127.0.0.1 now, chosen by the kernel.
free_port() {
	node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# wait_http NAME PID URL LOG: wait up to 20 s until URL gives any HTTP
# answer, failing at once if PID exits.
wait_http() {
	local name=$1 pid=$2 url=$3 logf=$4 code
	for _ in $(seq 1 100); do
		if ! kill -0 "$pid" 2>/dev/null; then
			dump "$name" "$logf"
			die "$name exited before answering on $url"
		fi
		code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$url" 2>/dev/null || true)
		if [ -n "$code" ] && [ "$code" != "000" ]; then
			return 0
		fi
		sleep 0.2
	done
	dump "$name" "$logf"
	die "$name did not answer on $url within 20s"
}

for tool in node npm curl; do
	command -v "$tool" >/dev/null || die "$tool is missing (the suite needs Node.js >= 14.8 with npm; .ci/run installs Debian's nodejs and npm)"
done
if [ "$RUN" = 1 ]; then
	for tool in go redis-cli; do
		command -v "$tool" >/dev/null || die "$tool is missing"
	done
fi

# The pin: package.json and the lock must name exactly $SUITE_VERSION.
pinned=$(node -e 'const l=require(process.argv[1]);const p=l.packages&&l.packages["node_modules/http-cache-tests"];console.log(p?p.version:"")' "$HERE/package-lock.json")
[ "$pinned" = "$SUITE_VERSION" ] ||
	die "package-lock.json pins $SUITE ${pinned:-nothing}, not $SUITE_VERSION"

if [ "$RUN" = 1 ]; then
	threshold=$(tr -d '[:space:]' <"$HERE/threshold" 2>/dev/null || true)
	[[ "$threshold" =~ ^[0-9]+$ ]] || die "$HERE/threshold must hold a number of required tests, not '${threshold}'"
	# The db must answer, and hold nothing but what redisware writes: it is
	# flushed before and after.
	[[ "$REDIS_DB" =~ ^[0-9]+$ ]] || die "CACHETESTS_REDIS_DB must be a db number, not '$REDIS_DB'"
	[ "$(rcli ping 2>/dev/null || true)" = "PONG" ] ||
		die "no Redis answers PING on $REDIS_ADDR db $REDIS_DB (the suite needs a real Redis; .ci/run starts one)"
	foreign=$(rcli --scan 2>/dev/null | grep -v -m1 '^redisware:' || true)
	if [ -n "$foreign" ]; then
		die "db $REDIS_DB on $REDIS_ADDR holds keys that redisware did not write (e.g. '$foreign'); not flushing it. Set CACHETESTS_REDIS_DB to an unused db."
	fi
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/redisware-cachetests.XXXXXX")
mkdir -p "$OUT"
started=$SECONDS

# --- install the suite --------------------------------------------------------
mkdir -p "$WORK/suite"
cp "$HERE/package.json" "$HERE/package-lock.json" "$WORK/suite/"
log "installing $SUITE@$SUITE_VERSION (npm ci from .ci/cachetests/package-lock.json)"
if ! (cd "$WORK/suite" && timeout "$NPM_TIMEOUT" npm ci --no-audit --no-fund --ignore-scripts \
	--prefer-offline --loglevel=error) >"$WORK/npm.log" 2>&1; then
	dump "npm ci" "$WORK/npm.log"
	die "could not install $SUITE@$SUITE_VERSION with npm ci (is the npm registry, $(npm config get registry 2>/dev/null), reachable?). This stage is required: it is not skipped."
fi
PKG=$WORK/suite/node_modules/$SUITE
installed=$(node -p 'require(process.argv[1]).version' "$PKG/package.json" 2>/dev/null || true)
[ "$installed" = "$SUITE_VERSION" ] || die "npm ci installed $SUITE ${installed:-nothing}, not $SUITE_VERSION"
log "installed $SUITE@$installed in $((SECONDS - started))s"

if [ "$RUN" = 0 ]; then
	node "$HERE/score.mjs" --suite "$PKG" --peers
	exit 0
fi

# --- Redis: a db of our own on the real server -------------------------------
[ "$(rcli flushdb)" = "OK" ] || die "FLUSHDB of db $REDIS_DB on $REDIS_ADDR failed"
FLUSH_AFTER=1

# --- the proxy ------------------------------------------------------------------
log "building examples/proxy"
(cd "$ROOT" && go build -o "$WORK/proxy" ./examples/proxy) || die "go build ./examples/proxy failed"

# --- start the origin and the proxy -----------------------------------------
ORIGIN_PORT=$(free_port)
# As `npm run server --port=N`: the server reads npm's config variables.
# It serves the test resources (and the package's files) from its cwd.
(cd "$PKG" && exec env npm_package_config_protocol=http npm_package_config_port="$ORIGIN_PORT" \
	npm_package_config_pidfile="$WORK/origin.pid" node server/server.mjs) >"$WORK/origin.log" 2>&1 &
ORIGIN_PID=$!
wait_http "origin server" "$ORIGIN_PID" "http://127.0.0.1:$ORIGIN_PORT/" "$WORK/origin.log"
log "origin server (pid $ORIGIN_PID) on 127.0.0.1:$ORIGIN_PORT"

PROXY_PORT=$(free_port)
env -u REDIS_CLUSTER_ADDRS -u UPSTREAM_URL -u PORT \
	REDIS_URL="redis://$REDIS_ADDR/$REDIS_DB" \
	"$WORK/proxy" -upstream "http://127.0.0.1:$ORIGIN_PORT" -addr "127.0.0.1:$PROXY_PORT" \
	>"$WORK/proxy.log" 2>&1 &
PROXY_PID=$!
wait_http "proxy" "$PROXY_PID" "http://127.0.0.1:$PROXY_PORT/" "$WORK/proxy.log"
log "proxy (pid $PROXY_PID) on 127.0.0.1:$PROXY_PORT, Redis $REDIS_ADDR db $REDIS_DB"

# --- run the suite --------------------------------------------------------------
# As `npm run --silent cli --base=URL`: the JSON results on stdout.
RESULTS=$OUT/results.json
rm -f "$RESULTS" "$OUT/cli.err"
log "running the suite against the proxy (at most ${CLI_TIMEOUT}s)"
suite_start=$SECONDS
(cd "$PKG" && exec env npm_config_base="http://127.0.0.1:$PROXY_PORT" npm_package_config_base="" \
	npm_config_id="" npm_package_config_id="" \
	timeout "$CLI_TIMEOUT" node --no-warnings cli.mjs) >"$RESULTS.part" 2>"$OUT/cli.err" &
CLI_PID=$!
cli_rc=0
wait "$CLI_PID" || cli_rc=$?
CLI_PID=""
if [ "$cli_rc" -eq 124 ]; then
	dump "suite CLI" "$OUT/cli.err"
	die "the suite's CLI did not finish within ${CLI_TIMEOUT}s"
elif [ "$cli_rc" -ne 0 ]; then
	dump "suite CLI" "$OUT/cli.err"
	die "the suite's CLI exited with $cli_rc"
fi
# cli.mjs prints a harness error on stderr and still exits 0: an error
# there, or no JSON, is a failed run, never a score.
if [ -s "$OUT/cli.err" ] || ! node -e 'JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"))' "$RESULTS.part" 2>/dev/null; then
	dump "suite CLI stderr" "$OUT/cli.err"
	dump "suite CLI stdout" "$RESULTS.part"
	dump "proxy" "$WORK/proxy.log"
	die "the suite's CLI did not print its JSON results"
fi
mv "$RESULTS.part" "$RESULTS"
cp "$WORK/proxy.log" "$OUT/proxy.log"
cp "$WORK/origin.log" "$OUT/origin.log"
log "suite ran in $((SECONDS - suite_start))s; results in $RESULTS"

# --- score ---------------------------------------------------------------------
node "$HERE/score.mjs" --suite "$PKG" --results "$RESULTS" | tee "$OUT/score.txt"
passed=$(sed -n '1s#^[^:]*: \([0-9]*\)/[0-9]* required passed.*#\1#p' "$OUT/score.txt")
[[ "$passed" =~ ^[0-9]+$ ]] || die "could not read the score from $OUT/score.txt"
node "$HERE/score.mjs" --suite "$PKG" --results "$RESULTS" --peers | sed -n '/^published/,$p' | tee "$OUT/peers.txt"

log "done in $((SECONDS - started))s"
if [ "$passed" -lt "$threshold" ]; then
	die "$passed required tests passed, below the threshold of $threshold in .ci/cachetests/threshold (see the failing tests above, $RESULTS and $OUT/proxy.log)"
fi
if [ "$passed" -gt "$threshold" ]; then
	log "$passed required tests passed, above the threshold of $threshold: raise .ci/cachetests/threshold to $passed"
else
	log "$passed required tests passed (threshold $threshold)"
fi
