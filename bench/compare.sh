#!/usr/bin/env bash
# Side by side in one run: two machvm jars (before and after a change) and the empty-endpoint baseline app, under
# the same load: 4 KiB vm_write and vm_read (bench/wrk/memory.lua), requests/s and server CPU time per request
# (utime+stime from /proc/PID/stat). Rounds are interleaved so that the machine's noise hits all three alike; compare
# ratios, not absolute numbers. Short by design (about 1 minute with the defaults).
#
#   bench/compare.sh BEFORE_JAR AFTER_JAR BASELINE_JAR [SECONDS] [ROUNDS]
#
# Example (before = the commit the change starts from):
#   git worktree add /tmp/before <commit> && (cd /tmp/before && ./mvnw -q -DskipTests package)
#   ./mvnw -q -DskipTests package && ./mvnw -q -f bench/baseline/pom.xml package
#   bench/compare.sh /tmp/before/target/machvm-0.0.1-SNAPSHOT.jar target/machvm-0.0.1-SNAPSHOT.jar \
#       bench/baseline/target/machvm-bench-baseline-0.0.1-SNAPSHOT.jar
set -euo pipefail
cd "$(dirname "$0")/.."
BEFORE_JAR=$1 AFTER_JAR=$2 BASELINE_JAR=$3 SECS=${4:-5} ROUNDS=${5:-3}
JAVA=${JAVA_HOME_25:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java
JVM_FLAGS="-Xmx1g -XX:MaxDirectMemorySize=3g"
HOST=127.0.0.1
declare -A PORT=([before]=28490 [after]=28491 [baseline]=28492) PID=() TASK=() BASE=()
CLK_TCK=$(getconf CLK_TCK)
REGION=$((16 * 1024 * 1024))
SLOTS=$((REGION / 4096))
OUT=$(mktemp -d)

cleanup() {
    for p in "${PID[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PID[@]}"; do
        for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null || true
    done
}
trap cleanup EXIT

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
start() { # NAME JAR
    "$JAVA" $JVM_FLAGS -jar "$2" --server.port="${PORT[$1]}" --server.address=$HOST > "$OUT/$1.log" 2>&1 &
    PID[$1]=$!
}
up() { # NAME URL
    for _ in $(seq 1 240); do
        curl -sf -o /dev/null "$2" && return 0
        kill -0 "${PID[$1]}" 2>/dev/null || { echo "$1 exited: $(tail -5 "$OUT/$1.log")" >&2; exit 1; }
        sleep 0.5
    done
    echo "$1 did not start" >&2; exit 1
}

start before "$BEFORE_JAR"; start after "$AFTER_JAR"; start baseline "$BASELINE_JAR"
for s in before after; do up $s "http://$HOST:${PORT[$s]}/host/page-size"; done
up baseline "http://$HOST:${PORT[baseline]}/tasks/t/memory/0?size=1"
head -c $REGION /dev/urandom > "$OUT/region.bin"
for s in before after; do
    url="http://$HOST:${PORT[$s]}"
    TASK[$s]=$(curl -sf -X POST -H 'Content-Type: application/json' -d '{"name":"bench"}' "$url/tasks" \
        | sed -E 's/.*"id":"([^"]+)".*/\1/')
    hex=$(curl -sf -X POST -H 'Content-Type: application/json' -d "{\"size\":\"$REGION\",\"anywhere\":true}" \
        "$url/tasks/${TASK[$s]}/allocate" | sed -E 's/.*"address":"([^"]+)".*/\1/')
    BASE[$s]=$(printf '%d' "$hex")
    curl -sf -T "$OUT/region.bin" -H 'Content-Type: application/octet-stream' -H 'Expect:' \
        "$url/tasks/${TASK[$s]}/memory/$hex" > /dev/null
done
TASK[baseline]=t; BASE[baseline]=${BASE[after]}

run() { # NAME MODE SECONDS -> "requests cpu_ticks"
    local c0 c1 out
    c0=$(cpu_ticks "${PID[$1]}")
    out=$(wrk -t2 -c32 -d"${3}s" --timeout 10s -s bench/wrk/memory.lua "http://$HOST:${PORT[$1]}" \
        -- "$2" "${TASK[$1]}" "${BASE[$1]}" 4096 $SLOTS 16)
    c1=$(cpu_ticks "${PID[$1]}")
    echo "$out" | grep '^WRKJSON' | sed -E 's/.*"requests":([0-9]+).*"duration_us":([0-9]+).*/\1 \2/' \
        | awk -v c=$((c1 - c0)) '{ print $1, $2, c }'
}

declare -A REQ=() US=() TICKS=()
for mode in write read; do
    for s in before after baseline; do run $s $mode 3 > /dev/null; done   # warm-up
    for r in $(seq 1 "$ROUNDS"); do
        for s in before after baseline; do
            read -r n us t <<< "$(run $s $mode "$SECS")"
            REQ[$s.$mode]=$(( ${REQ[$s.$mode]:-0} + n ))
            US[$s.$mode]=$(( ${US[$s.$mode]:-0} + us ))
            TICKS[$s.$mode]=$(( ${TICKS[$s.$mode]:-0} + t ))
        done
    done
done

echo "| 4 KiB | server | req/s | CPU µs/req | CPU vs empty endpoint |"
echo "|---|---|---|---|---|"
for mode in write read; do
    base_cpu=$(awk -v t="${TICKS[baseline.$mode]}" -v n="${REQ[baseline.$mode]}" -v hz="$CLK_TCK" \
        'BEGIN { printf "%.2f", t / hz * 1e6 / n }')
    for s in before after baseline; do
        awk -v m="vm_$mode" -v s="$s" -v n="${REQ[$s.$mode]}" -v us="${US[$s.$mode]}" -v t="${TICKS[$s.$mode]}" \
            -v hz="$CLK_TCK" -v b="$base_cpu" 'BEGIN {
                cpu = t / hz * 1e6 / n
                printf "| %s | %s | %.0f | %.1f | %.2f× |\n", m, s, n / (us / 1e6), cpu, cpu / b }'
    done
done
