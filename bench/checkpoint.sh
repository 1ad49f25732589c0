#!/usr/bin/env bash
# What checkpointing costs 4 KiB vm_write throughput: two copies of the packaged service side by side in one run,
# one without persistence and one checkpointing every machvm.persistence.checkpoint-interval (default 1s) to a
# directory, measured with wrk in alternating rounds so that both see the same machine.
#
#   bench/checkpoint.sh [--quick] [--no-build] [--interval 1s] [--out DIR]
#
#   --quick      3 rounds of 8 s instead of 5 rounds of 20 s
#   --no-build   reuse target/machvm-*.jar
#   --interval   the checkpoint interval of the persistent copy (default 1s, the product's default)
#   --out DIR    where raw outputs and results.env go (default bench/results/checkpoint-<timestamp>); the
#                persistent copy's directory is DIR/persistence
#
# Environment: PLAIN_PORT, DURABLE_PORT, BEFORE_PORT (defaults 28490, 28491, 28492); JAVA_HOME_25; BEFORE_JAR: the
# jar of an earlier commit, run as a third copy ("before") to show what the change tracking costs with persistence off.
# Both copies get a 64 MiB region written in full first, so every 4 KiB write lands on a resident page and dirties
# it; wrk walks the region with a prime stride, so each checkpoint pass has thousands of changed pages to write.
# Reports requests/s and server CPU time per request of each, and the ratio. Stops what it started, by pid.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

QUICK=0
BUILD=1
INTERVAL=1s
OUT=""
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --no-build) BUILD=0 ;;
        --interval) INTERVAL="$2"; shift ;;
        --out) OUT="$2"; shift ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
export JAVA_HOME=${JAVA_HOME_25:-/usr/lib/jvm/temurin-25-jdk-amd64}
JAVA="$JAVA_HOME/bin/java"
HOST=127.0.0.1
PLAIN_PORT=${PLAIN_PORT:-28490}
DURABLE_PORT=${DURABLE_PORT:-28491}
BEFORE_PORT=${BEFORE_PORT:-28492}
BEFORE_JAR=${BEFORE_JAR:-}
JVM_FLAGS="-Xmx512m -XX:MaxDirectMemorySize=1g"
if [ "$QUICK" = 1 ]; then ROUNDS=3; WARMUP=8; DURATION=8; else ROUNDS=5; WARMUP=20; DURATION=20; fi
OUT=${OUT:-$ROOT/bench/results/checkpoint-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
RESULTS="$OUT/results.env"
: > "$RESULTS"
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
put() { echo "$1=$2" >> "$RESULTS"; }

PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
CLK_TCK=$(getconf CLK_TCK)
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null || die "wrk is missing"; }

if [ "$BUILD" = 1 ]; then
    log "building machvm (./mvnw -q -DskipTests package)"
    ./mvnw -q -DskipTests package
fi
JAR=$(ls target/machvm-*.jar 2>/dev/null | head -n1)
[ -n "$JAR" ] || die "no target/machvm-*.jar (run without --no-build)"

start() { # JAR PORT extra-args... -> pid
    local jar=$1 port=$2
    shift 2
    # shellcheck disable=SC2086
    "$JAVA" $JVM_FLAGS -jar "$jar" --server.address=$HOST --server.port="$port" --machvm.store.capacity=256MB \
        "$@" > "$OUT/server-$port.log" 2>&1 &
    echo $!
}
rm -rf "$OUT/persistence"
PLAIN_PID=$(start "$JAR" "$PLAIN_PORT")
PIDS+=("$PLAIN_PID")
PORTS="$PLAIN_PORT $DURABLE_PORT"
if [ -n "$BEFORE_JAR" ]; then
    BEFORE_PID=$(start "$BEFORE_JAR" "$BEFORE_PORT")
    PIDS+=("$BEFORE_PID")
    PORTS="$PORTS $BEFORE_PORT"
fi
DURABLE_PID=$(start "$JAR" "$DURABLE_PORT" --machvm.persistence.directory="$OUT/persistence" \
    --machvm.persistence.checkpoint-interval="$INTERVAL")
PIDS+=("$DURABLE_PID")
for port in $PORTS; do
    for _ in $(seq 1 900); do
        curl -sf "http://$HOST:$port/actuator/health/readiness" >/dev/null 2>&1 && break
        sleep 0.2
    done
    curl -sf "http://$HOST:$port/actuator/health/readiness" >/dev/null || die "the server on $port did not start"
done
put run.date "$(date -u +%Y-%m-%dT%H:%MZ)"
put run.commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
put run.cpus "$(nproc)"
put run.loadavg "$(cut -d' ' -f1-3 /proc/loadavg)"
put run.interval "$INTERVAL"
put run.rounds "$ROUNDS"
put run.duration_s "$DURATION"

REGION=$((64 * 1024 * 1024))
head -c $REGION /dev/urandom > "$OUT/region.bin"
declare -A BASE
for port in $PORTS; do
    curl -sf -X PUT -H 'Content-Type: application/json' -d '{}' "http://$HOST:$port/tasks/load" >/dev/null
    addr=$(curl -sf -X POST -H 'Content-Type: application/json' -d "{\"size\":\"$REGION\",\"anywhere\":true}" \
        "http://$HOST:$port/tasks/load/allocate" | sed -n 's/.*"address"[^"]*"\([^"]*\)".*/\1/p')
    curl -sf -T "$OUT/region.bin" -H 'Content-Type: application/octet-stream' -H 'Expect:' \
        "http://$HOST:$port/tasks/load/memory/$addr" >/dev/null || die "cannot fill the region on $port"
    BASE[$port]=$(printf '%d' "$addr")
done
rm -f "$OUT/region.bin"

run() { # NAME PORT PID SECONDS [measure]
    local name=$1 port=$2 pid=$3 secs=$4 out c0 c1 j
    out="$OUT/wrk-$name-$(date +%H%M%S).txt"
    c0=$(cpu_ticks "$pid")
    wrk -t2 -c32 -d"${secs}s" --timeout 10s -s bench/wrk/memory.lua "http://$HOST:$port" \
        -- write load "${BASE[$port]}" 4096 $((REGION / 4096)) 16 > "$out" 2>&1 || die "wrk failed: $(tail -3 "$out")"
    c1=$(cpu_ticks "$pid")
    [ "${5:-}" = measure ] || return 0
    j=$(grep '^WRKJSON ' "$out" | sed 's/^WRKJSON //')
    awk -v j="$j" -v c0="$c0" -v c1="$c1" -v hz="$CLK_TCK" -v p="$name" '
        function f(k,   m) { if (match(j, "\"" k "\":[0-9.]+")) { m = substr(j, RSTART, RLENGTH); sub(/.*:/, "", m); return m + 0 } return 0 }
        BEGIN { n = f("requests"); s = f("duration_us") / 1e6
                printf "%s %.1f %.2f %.3f\n", p, n / s, (c1 - c0) / hz * 1e6 / (n > 0 ? n : 1), f("p99_us") / 1e3 }' \
        >> "$OUT/rounds.txt"
    log "  $(tail -n1 "$OUT/rounds.txt" | awk '{ printf "%s: %s req/s, %s µs CPU/req, p99 %s ms", $1, $2, $3, $4 }')"
}
: > "$OUT/rounds.txt"
log "warm-up: $WARMUP s each"
run plain "$PLAIN_PORT" "$PLAIN_PID" "$WARMUP"
run checkpointing "$DURABLE_PORT" "$DURABLE_PID" "$WARMUP"
[ -z "$BEFORE_JAR" ] || run before "$BEFORE_PORT" "$BEFORE_PID" "$WARMUP"
log "$ROUNDS rounds of $DURATION s each, alternating"
for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then
        run plain "$PLAIN_PORT" "$PLAIN_PID" "$DURATION" measure
        run checkpointing "$DURABLE_PORT" "$DURABLE_PID" "$DURATION" measure
        [ -z "$BEFORE_JAR" ] || run before "$BEFORE_PORT" "$BEFORE_PID" "$DURATION" measure
    else
        [ -z "$BEFORE_JAR" ] || run before "$BEFORE_PORT" "$BEFORE_PID" "$DURATION" measure
        run checkpointing "$DURABLE_PORT" "$DURABLE_PID" "$DURATION" measure
        run plain "$PLAIN_PORT" "$PLAIN_PID" "$DURATION" measure
    fi
done
awk '{ rps[$1] += $2; cpu[$1] += $3; p99[$1] += $4; n[$1]++ }
     END { for (k in n) printf "%s.rps=%.1f\n%s.cpu_us=%.2f\n%s.p99_ms=%.3f\n", k, rps[k] / n[k], k, cpu[k] / n[k], k, p99[k] / n[k]
           printf "ratio.rps=%.3f\nratio.cpu=%.3f\n", rps["checkpointing"] / rps["plain"], cpu["checkpointing"] / cpu["plain"]
           if (n["before"] > 0) printf "ratio.plain_vs_before.rps=%.3f\nratio.plain_vs_before.cpu=%.3f\n", rps["plain"] / rps["before"], cpu["plain"] / cpu["before"] }' \
    "$OUT/rounds.txt" >> "$RESULTS"
put log.bytes "$(stat -c %s "$OUT/persistence/checkpoint.machvm-log" 2>/dev/null || echo 0)"
cat "$RESULTS"
