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
# the handoff part. BEFORE_SCRIPT=<an older scripts/local-cluster.sh> adds a fourth target, "before": a second
# HAProxy with the configuration that script's write_haproxy makes for the same shards (e.g. git show
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
shard_url() { sed -n "s/^SHARD $1 //p" "$2"; }

DIRS=()
cleanup() { local d; for d in "${DIRS[@]}"; do "$CLUSTER" down "$d" >/dev/null 2>&1 || true; done; }
trap cleanup EXIT

# ---------------------------------------------------------------- 1. routing hop
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
head -c 268435456 /dev/urandom > "$OUT/big.bin"
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
if [ "${HOP_ONLY:-}" = 1 ]; then rm -f "$OUT/big.bin"; exit 0; fi

# ---------------------------------------------------------------- 2. handoff
C="$OUT/handoff-big"; DIRS+=("$C")
log "handoff of a task with 1 GiB resident: up 2 shards (store 1280 MiB each)"
MACHVM_STORE_MIB=1280 MACHVM_HEAP_MIB=256 "$CLUSTER" up 2 "$C" > "$OUT/big-up.txt"
PROXY="$(sed -n 's/^PROXY=//p' "$OUT/big-up.txt")"
S1="$(shard_url 1 "$OUT/big-up.txt")"
ID=""
for i in $(seq 0 200); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Machvm-Direct: 1' "$S1/tasks/big-$i")" = 404 ]; then ID="big-$i"; break; fi
done
curl -fsS -o /dev/null -X PUT "$PROXY/tasks/$ID"
curl -fsS -o /dev/null -X POST -H 'Content-Type: application/json' \
    -d '{"address":"0x100000000","size":"0x40000000","flags":0}' "$PROXY/tasks/$ID/allocate"
for k in 0 1 2 3; do
    curl -fsS -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' -T "$OUT/big.bin" \
        "$PROXY/tasks/$ID/memory/$(( 0x100000000 + k * 268435456 ))"
done
sha_before="$(curl -fsS "$PROXY/tasks/$ID/memory/0x100000000?size=1073741824" | sha256sum)"
start=$(date +%s.%N)
"$CLUSTER" scale 1 "$C" > /dev/null
end=$(date +%s.%N)
sha_after="$(curl -fsS "$PROXY/tasks/$ID/memory/0x100000000?size=1073741824" | sha256sum)"
[ "$sha_before" = "$sha_after" ] || log "1 GiB task changed in the handoff!"
echo "big $(cat "$C/shard-1/migrate.json") scale_seconds=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.2f", b-a}') same_bytes=$([ "$sha_before" = "$sha_after" ] && echo yes || echo no)" \
    | tee "$OUT/handoff.txt" >&2
"$CLUSTER" down "$C"

C="$OUT/handoff-small"; DIRS+=("$C")
log "handoff of 1,000 small tasks: up 2 shards"
MACHVM_STORE_MIB=256 "$CLUSTER" up 2 "$C" > "$OUT/small-up.txt"
PROXY="$(sed -n 's/^PROXY=//p' "$OUT/small-up.txt")"
S1="$(shard_url 1 "$OUT/small-up.txt")"
head -c 4096 /dev/urandom > "$OUT/4k.bin"
# 2,000 tasks of one 16 KiB page each: about 1,000 land on shard 1 and move to shard 0
curl -fsS -o /dev/null -X PUT "$PROXY/tasks/s[1-2000]"
curl -fsS -o /dev/null -X POST -H 'Content-Type: application/json' \
    -d '{"address":"0x100000000","size":"0x4000","flags":0}' "$PROXY/tasks/s[1-2000]/allocate"
curl -fsS -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' --data-binary @"$OUT/4k.bin" \
    "$PROXY/tasks/s[1-2000]/memory/0x100000000"
on1="$(curl -fsS -H 'Machvm-Direct: 1' "$S1/tasks" | grep -o '"id"' | wc -l)"
start=$(date +%s.%N)
"$CLUSTER" scale 1 "$C" > /dev/null
end=$(date +%s.%N)
total="$(curl -fsS "$PROXY/tasks" | grep -o '"id"' | wc -l)"
echo "small on_shard1=$on1 $(cat "$C/shard-1/migrate.json") scale_seconds=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.2f", b-a}') tasks_after=$total" \
    | tee -a "$OUT/handoff.txt" >&2
"$CLUSTER" down "$C"
rm -f "$OUT/big.bin"
log "results in $OUT (hop.tsv: target requests cpu_us/request req/s p50_us p99_us; big.tsv: target put_s get_s)"
