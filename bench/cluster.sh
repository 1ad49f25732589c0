#!/usr/bin/env bash
# The cluster's own costs, on a local cluster (scripts/local-cluster.sh) on 127.0.0.1:
#   1. the routing hop: vm_write of 4 KiB with wrk (CPU per request summed over both shards and the target's
#      HAProxy, p99) and vm_write / vm_read of 256 MiB with curl (GB/s), sent to the owner directly, to the other
#      shard (always one forwarding hop) and to the entry point (HAProxy, which sends it to the owner)
#   2. handoff: a task with 1 GiB resident, and 1,000 small tasks, moved by a scale from 2 shards to 1
#
#   bench/cluster.sh [OUT_DIR]          (needs target/machvm-*.jar: ./mvnw -B -ntp package -DskipTests)
#
# Environment: WARMUP and DURATION (seconds per wrk run, default 20 and 20), ROUNDS (default 2); HOP_ONLY=1 skips
# the handoff part, HANDOFF_ONLY=1 the hop part. BEFORE_JAR=/path/to/older/machvm.jar runs each handoff with that
# jar too, alternating with this checkout's, HANDOFF_ROUNDS (default 1) times, so both are measured under the same
# load. BEFORE_SCRIPT=<an older scripts/local-cluster.sh> adds a fourth routing target, "before": a second HAProxy
# with the configuration that script's write_haproxy makes for the same shards (e.g. git show
# main:scripts/local-cluster.sh > /tmp/before.sh), measured in the same rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-bench/results/cluster-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
WARMUP="${WARMUP:-20}"
DURATION="${DURATION:-20}"
ROUNDS="${ROUNDS:-2}"
HZ="$(getconf CLK_TCK)"
CLUSTER=scripts/local-cluster.sh
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }

log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
ticks() { local t=0 p; for p in "$@"; do t=$(( t + $(awk '{ print $14 + $15 }' "/proc/$p/stat") )); done; echo "$t"; }
field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" "$2"; }
# watch_cpu DIR OUT: samples the CPU ticks of shards 0 and 1 of the cluster in DIR every 0.1 s into OUT, in the
# background (a shard that exits keeps its last sample); cpu_seconds OUT: both shards' CPU seconds over the samples
watch_cpu() {
    local p0 p1 t0 t1
    p0="$(cat "$1/shard-0/pid")"; p1="$(cat "$1/shard-1/pid")"
    while :; do
        t0="$(awk '{ print $14 + $15 }' "/proc/$p0/stat" 2>/dev/null || true)"
        t1="$(awk '{ print $14 + $15 }' "/proc/$p1/stat" 2>/dev/null || true)"
        [ -n "$t0" ] && [ -n "$t1" ] && echo "$t0 $t1"
        sleep 0.1
    done > "$2"
}
cpu_seconds() {
    awk -v hz="$HZ" 'NR == 1 { a0 = $1; a1 = $2 } { b0 = $1; b1 = $2 }
        END { printf "cpu_seconds_target=%.2f cpu_seconds_source=%.2f", (b0 - a0) / hz, (b1 - a1) / hz }' "$1"
}
shard_url() { sed -n "s/^SHARD $1 //p" "$2"; }

DIRS=()
cleanup() { local d; for d in "${DIRS[@]}"; do "$CLUSTER" down "$d" >/dev/null 2>&1 || true; done; }
trap cleanup EXIT

head -c 268435456 /dev/urandom > "$OUT/big.bin"

# ---------------------------------------------------------------- 1. routing hop
if [ "${HANDOFF_ONLY:-}" != 1 ]; then
C="$OUT/hop"; DIRS+=("$C")
log "up 2 shards (store 640 MiB each)"
MACHVM_STORE_MIB=640 MACHVM_HEAP_MIB=256 "$CLUSTER" up 2 "$C" > "$OUT/hop-up.txt"
PROXY="$(sed -n 's/^PROXY=//p' "$OUT/hop-up.txt")"
curl -fsS -o /dev/null -X PUT "$PROXY/tasks/hop"
OWNER="$(curl -fsS -D - -o /dev/null "$PROXY/tasks/hop" | tr -d '\r' | sed -n 's/^[Mm]achvm-[Ss]hard: //p')"
OWNER_URL="$(shard_url "$OWNER" "$OUT/hop-up.txt")"
OTHER_URL="$(shard_url $(( 1 - OWNER )) "$OUT/hop-up.txt")"
curl -fsS -o /dev/null -X POST -H 'Content-Type: application/json' \
    -d '{"address":"0x100000000","size":"0x12000000","flags":0}' "$PROXY/tasks/hop/allocate"
SHARD_PIDS=("$(cat "$C/shard-0/pid")" "$(cat "$C/shard-1/pid")")
declare -A PROXY_PID=([proxy]="$(cat "$C/haproxy.pid")")
TARGETS=("direct $OWNER_URL" "hop $OTHER_URL" "proxy $PROXY")
if [ -n "${BEFORE_SCRIPT:-}" ]; then
    # the older script's entry point for the same shards, on a port of its own
    mkdir -p "$C/before"
    cp "$C/cluster.env" "$C/secret" "$C/secret.header" "$C/before/"
    DIR="$C/before" bash -c 'set -euo pipefail; source <(sed "/^\[ \"\$#\" -ge 2 \]/,\$d" "$1"); load_state; write_haproxy' \
        _ "$BEFORE_SCRIPT"
    BEFORE_PORT="$(( 20000 + RANDOM % 40000 ))"
    sed -i "s/bind 127.0.0.1:[0-9]*/bind 127.0.0.1:$BEFORE_PORT/" "$C/before/haproxy.cfg"
    haproxy -q -f "$C/before/haproxy.cfg" -p "$C/before/haproxy.pid" -D
    PROXY_PID[before]="$(cat "$C/before/haproxy.pid")"
    TARGETS+=("before http://127.0.0.1:$BEFORE_PORT")
    sleep 2 # its first health checks
fi

wrk_run() { # name url seconds -> prints "requests cpu_us_per_request p50_us p99_us"
    local name="$1" url="$2" secs="$3" out="$OUT/wrk-$1-$4.txt" c0 c1
    # the shards, and the entry point that this target goes through
    local pids=("${SHARD_PIDS[@]}")
    [ -n "${PROXY_PID[$name]:-}" ] && pids+=("${PROXY_PID[$name]}")
    c0="$(ticks "${pids[@]}")"
    wrk -t1 -c8 -d"${secs}s" --timeout 10s -s bench/wrk/memory.lua "$url" -- write hop 4294967296 4096 256 > "$out" 2>&1
    c1="$(ticks "${pids[@]}")"
    local req p50 p99
    req="$(field requests "$out")"; p50="$(field p50_us "$out")"; p99="$(field p99_us "$out")"
    [ "$(field err_status "$out")" = 0 ] || log "$name: status errors: $(grep -m3 HTTP "$out")"
    awk -v r="$req" -v a="$c0" -v b="$c1" -v hz="$HZ" -v p50="$p50" -v p99="$p99" -v s="$secs" \
        'BEGIN { printf "%d %.1f %.0f %d %d\n", r, (b - a) / hz * 1e6 / r, r / s, p50, p99 }'
}

log "warm-up ${WARMUP}s per target"
for t in "${TARGETS[@]}"; do set -- $t; wrk_run "$1" "$2" "$WARMUP" warm > /dev/null; done
: > "$OUT/hop.tsv"
for r in $(seq 1 "$ROUNDS"); do
    for t in "${TARGETS[@]}"; do
        set -- $t
        echo "$1 $(wrk_run "$1" "$2" "$DURATION" "r$r")" | tee -a "$OUT/hop.tsv" >&2
    done
done

log "256 MiB streams"
: > "$OUT/big.tsv"
for r in 1 2 3; do
    for t in "${TARGETS[@]}"; do
        set -- $t
        w="$(curl -fsS -o /dev/null -w '%{time_total}' -X PUT -H 'Content-Type: application/octet-stream' \
            -T "$OUT/big.bin" "$2/tasks/hop/memory/0x100000000")"
        g="$(curl -fsS -o /dev/null -w '%{time_total}' "$2/tasks/hop/memory/0x100000000?size=268435456")"
        echo "$1 $w $g" | tee -a "$OUT/big.tsv" >&2
    done
done
[ -n "${PROXY_PID[before]:-}" ] && kill "${PROXY_PID[before]}"
"$CLUSTER" down "$C"
fi
if [ "${HOP_ONLY:-}" = 1 ]; then rm -f "$OUT/big.bin"; exit 0; fi

# ---------------------------------------------------------------- 2. handoff
# handoff_big LABEL and handoff_small LABEL, with MACHVM_JAR set to the jar to measure
handoff_big() {
    local label="$1" C="$OUT/handoff-big-$1-$2"
    DIRS+=("$C")
    log "$label: handoff of a task with 1 GiB resident: up 2 shards (store 1280 MiB each)"
    MACHVM_STORE_MIB=1280 MACHVM_HEAP_MIB=256 "$CLUSTER" up 2 "$C" > "$C.up.txt"
    local proxy s1 id="" i k sha_before sha_after start end
    proxy="$(sed -n 's/^PROXY=//p' "$C.up.txt")"
    s1="$(shard_url 1 "$C.up.txt")"
    for i in $(seq 0 200); do
        if [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Machvm-Direct: 1' "$s1/tasks/big-$i")" = 404 ]; then id="big-$i"; break; fi
    done
    curl -fsS -o /dev/null -X PUT "$proxy/tasks/$id"
    curl -fsS -o /dev/null -X POST -H 'Content-Type: application/json' \
        -d '{"address":"0x100000000","size":"0x40000000","flags":0}' "$proxy/tasks/$id/allocate"
    for k in 0 1 2 3; do
        curl -fsS -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' -T "$OUT/big.bin" \
            "$proxy/tasks/$id/memory/$(( 0x100000000 + k * 268435456 ))"
    done
    sha_before="$(curl -fsS "$proxy/tasks/$id/memory/0x100000000?size=1073741824" | sha256sum)"
    sleep 5 # the shard's checkpoint of the written GiB is done
    watch_cpu "$C" "$C.cpu" & local watcher=$!
    start=$(date +%s.%N)
    "$CLUSTER" scale 1 "$C" > /dev/null
    end=$(date +%s.%N)
    kill "$watcher"; wait "$watcher" 2>/dev/null || true
    sha_after="$(curl -fsS "$proxy/tasks/$id/memory/0x100000000?size=1073741824" | sha256sum)"
    [ "$sha_before" = "$sha_after" ] || log "1 GiB task changed in the handoff!"
    echo "big $label $(cat "$C/shard-1/migrate.json") scale_seconds=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.2f", b-a}') same_bytes=$([ "$sha_before" = "$sha_after" ] && echo yes || echo no) $(cpu_seconds "$C.cpu") load=$(cut -d' ' -f1 /proc/loadavg)" \
        | tee -a "$OUT/handoff.txt" >&2
    "$CLUSTER" down "$C"
}

handoff_small() {
    local label="$1" C="$OUT/handoff-small-$1-$2"
    DIRS+=("$C")
    log "$label: handoff of 1,000 small tasks: up 2 shards"
    MACHVM_STORE_MIB=256 "$CLUSTER" up 2 "$C" > "$C.up.txt"
    local proxy s1 on1 total start end
    proxy="$(sed -n 's/^PROXY=//p' "$C.up.txt")"
    s1="$(shard_url 1 "$C.up.txt")"
    # 2,000 tasks of one 16 KiB page each: about 1,000 land on shard 1 and move to shard 0
    curl -fsS -o /dev/null -X PUT "$proxy/tasks/s[1-2000]"
    curl -fsS -o /dev/null -X POST -H 'Content-Type: application/json' \
        -d '{"address":"0x100000000","size":"0x4000","flags":0}' "$proxy/tasks/s[1-2000]/allocate"
    curl -fsS -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' --data-binary @"$OUT/4k.bin" \
        "$proxy/tasks/s[1-2000]/memory/0x100000000"
    on1="$(curl -fsS -H 'Machvm-Direct: 1' "$s1/tasks" | grep -o '"id"' | wc -l)"
    sleep 2
    watch_cpu "$C" "$C.cpu" & local watcher=$!
    start=$(date +%s.%N)
    "$CLUSTER" scale 1 "$C" > /dev/null
    end=$(date +%s.%N)
    kill "$watcher"; wait "$watcher" 2>/dev/null || true
    total="$(curl -fsS "$proxy/tasks" | grep -o '"id"' | wc -l)"
    echo "small $label on_shard1=$on1 $(cat "$C/shard-1/migrate.json") scale_seconds=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.2f", b-a}') tasks_after=$total $(cpu_seconds "$C.cpu") load=$(cut -d' ' -f1 /proc/loadavg)" \
        | tee -a "$OUT/handoff.txt" >&2
    "$CLUSTER" down "$C"
}

head -c 4096 /dev/urandom > "$OUT/4k.bin"
for r in $(seq 1 "${HANDOFF_ROUNDS:-1}"); do
    if [ -n "${BEFORE_JAR:-}" ]; then MACHVM_JAR="$BEFORE_JAR" handoff_big before "$r"; fi
    handoff_big after "$r"
    if [ -n "${BEFORE_JAR:-}" ]; then MACHVM_JAR="$BEFORE_JAR" handoff_small before "$r"; fi
    handoff_small after "$r"
done
rm -f "$OUT/big.bin"
log "results in $OUT (hop.tsv: target requests cpu_us/request req/s p50_us p99_us; big.tsv: target put_s get_s; handoff.txt)"
