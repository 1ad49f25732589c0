#!/usr/bin/env bash
# machvm load benchmark: the packaged service side by side with its anchors, in one run, reported as ratios.
#
#   bench/run.sh [--quick] [--no-build] [--jfr] [--out DIR]
#
#   --quick     short durations (about 4 minutes instead of about 10, builds included) for iterating; rougher numbers
#   --no-build  reuse target/machvm-*.jar and bench/baseline/target/*.jar
#   --jfr       record a JFR profile of machvm during the whole run (DIR/machvm.jfr)
#   --out DIR   where raw outputs, results.env and results.md go (default bench/results/<timestamp>)
#
# Environment: MACHVM_PORT, BASELINE_PORT, REDIS_PORT (defaults 28480, 28481, 6399); JAVA_HOME_25 (default
# /usr/lib/jvm/temurin-25-jdk-amd64); MACHVM_ARGS: extra Spring arguments for machvm (for experiments only).
#
# What it does (BENCHMARKS.md explains each part and the targets):
#   1. installs wrk, redis-server and redis-tools with apt-get when missing; builds machvm
#      (./mvnw -q -DskipTests package) and the empty-endpoint baseline (./mvnw -q -f bench/baseline/pom.xml package)
#   2. starts machvm, the baseline app (same JVM flags) and redis-server on 127.0.0.1
#   3. wrk: vm_write 4 KiB, vm_read 4 KiB, vm_copy 4 KiB, vm_write 1 MiB, vm_read 1 MiB against machvm and against
#      the baseline, interleaved, after a warm-up; server CPU time per request from /proc/PID/stat; then batches
#      of 16 vm_write / vm_read calls of 4 KiB (POST /tasks/{task}/batch) against machvm
#   4. redis-benchmark SETRANGE / GETRANGE of 4 KiB at the same concurrency, Redis CPU per request
#   5. 256 MiB streamed vm_write / vm_read with curl (machvm and the baseline), then machvm's heap sampled with jstat
#      during extra transfers
#   6. vm_copy of 256 MiB page-aligned (copy-on-write) vs misaligned by one byte
#   7. vm_region, vm_copy and vm_allocate ANYWHERE latency with 10, 1,000 and 100,000 map entries
#   8. writes DIR/results.md (the table with ratios and PASS/FAIL), stops every process it started by its pid
#
# All traffic goes to 127.0.0.1; every loop is bounded. Exit status: 0 when every step ran (targets may FAIL;
# see results.md), non-zero when a step could not run.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

QUICK=0
BUILD=1
JFR=0
OUT=""
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --no-build) BUILD=0 ;;
        --jfr) JFR=1 ;;
        --out) OUT="$2"; shift ;;
        -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
        *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

export JAVA_HOME=${JAVA_HOME_25:-/usr/lib/jvm/temurin-25-jdk-amd64}
JAVA="$JAVA_HOME/bin/java"
JSTAT="$JAVA_HOME/bin/jstat"
HOST=127.0.0.1
MACHVM_PORT=${MACHVM_PORT:-28480}
BASELINE_PORT=${BASELINE_PORT:-28481}
REDIS_PORT=${REDIS_PORT:-6399}
JVM_FLAGS="-Xmx1g -XX:MaxDirectMemorySize=3g"
WRK_THREADS=2
WRK_CONNECTIONS=32
if [ "$QUICK" = 1 ]; then
    WARMUP=4; DURATION=5; REDIS_REQUESTS=100000; LARGE_WARMUP=2; LARGE_REPS=2; HEAP_REPS=1; COW_REPS=5
    SCALING_SIZES=10,1000,100000; SCALING_ITER=100; SCALING_ROUNDS=1
else
    WARMUP=8; DURATION=20; REDIS_REQUESTS=600000; LARGE_WARMUP=4; LARGE_REPS=5; HEAP_REPS=2; COW_REPS=15
    SCALING_SIZES=10,1000,100000; SCALING_ITER=300; SCALING_ROUNDS=3
fi
LARGE=$((256 * 1024 * 1024))
OUT=${OUT:-$ROOT/bench/results/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
RESULTS="$OUT/results.env"
: > "$RESULTS"
LARGE_FILE=$(mktemp /dev/shm/machvm-bench-256m.XXXXXX 2>/dev/null || mktemp "$OUT/machvm-bench-256m.XXXXXX")

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
put() { echo "$1=$2" >> "$RESULTS"; }

# ------------------------------------------------------------------------------------------------ processes
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
        fi
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
    done
    rm -f "$LARGE_FILE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# utime + stime of a process, in clock ticks
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
CLK_TCK=$(getconf CLK_TCK)

port_free() { ! ss -ltn 2>/dev/null | awk '{ print $4 }' | grep -qE "[:.]$1\$"; }

wait_http() { # URL PID NAME: up to 180 s
    for _ in $(seq 1 360); do
        kill -0 "$2" 2>/dev/null || die "$3 exited during start-up (see $OUT/$3.log)"
        if curl -sf -o /dev/null "$1"; then return 0; fi
        sleep 0.5
    done
    die "$3 did not answer $1 within 180 s"
}

# ------------------------------------------------------------------------------------------------ 1. tools, build
install_missing() {
    local need=()
    command -v wrk >/dev/null || need+=(wrk)
    command -v redis-server >/dev/null || need+=(redis-server)
    command -v redis-benchmark >/dev/null || need+=(redis-tools)
    command -v curl >/dev/null || need+=(curl)
    command -v ss >/dev/null || need+=(iproute2)
    if [ ${#need[@]} -gt 0 ]; then
        log "installing ${need[*]} with apt-get"
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
    fi
    [ -x "$JAVA" ] || die "no Java 25 at $JAVA_HOME (set JAVA_HOME_25)"
}
install_missing

if [ "$BUILD" = 1 ]; then
    log "building machvm (./mvnw -q -DskipTests package)"
    ./mvnw -q -DskipTests package
    log "building the baseline (./mvnw -q -f bench/baseline/pom.xml package)"
    ./mvnw -q -f bench/baseline/pom.xml package
fi
first_jar() { local f; for f in "$@"; do [ -f "$f" ] && { echo "$f"; return 0; }; done; }
MACHVM_JAR=$(first_jar target/machvm-*.jar)
BASELINE_JAR=$(first_jar bench/baseline/target/machvm-bench-baseline-*.jar)
[ -n "$MACHVM_JAR" ] || die "no target/machvm-*.jar (run without --no-build)"
[ -n "$BASELINE_JAR" ] || die "no bench/baseline/target/machvm-bench-baseline-*.jar (run without --no-build)"

# ------------------------------------------------------------------------------------------------ 2. servers
for p in "$MACHVM_PORT" "$BASELINE_PORT" "$REDIS_PORT"; do
    port_free "$p" || die "port $p is in use (set MACHVM_PORT / BASELINE_PORT / REDIS_PORT)"
done
put run.date "$(date -u +%Y-%m-%dT%H:%MZ)"
put run.mode "$([ "$QUICK" = 1 ] && echo quick || echo full)"
put run.commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src 2>/dev/null || echo '+local changes')"
put run.cpus "$(nproc)"
put run.loadavg "$(cut -d' ' -f1-3 /proc/loadavg)"
put run.wrk_threads "$WRK_THREADS"
put run.wrk_connections "$WRK_CONNECTIONS"
put run.warmup_s "$WARMUP"
put run.duration_s "$DURATION"
put run.jvm_flags "$JVM_FLAGS"
put run.redis_version "$(redis-server --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p')"

MACHVM_EXTRA=()
if [ "$JFR" = 1 ]; then
    MACHVM_EXTRA+=("-XX:StartFlightRecording=filename=$OUT/machvm.jfr,settings=profile,dumponexit=true")
fi
log "starting machvm ($MACHVM_JAR) on $HOST:$MACHVM_PORT"
# shellcheck disable=SC2086
"$JAVA" $JVM_FLAGS "${MACHVM_EXTRA[@]}" -jar "$MACHVM_JAR" --server.address=$HOST --server.port="$MACHVM_PORT" \
    --machvm.store.capacity=2GB ${MACHVM_ARGS:-} > "$OUT/machvm.log" 2>&1 &
MACHVM_PID=$!
PIDS+=("$MACHVM_PID")
log "starting the baseline ($BASELINE_JAR) on $HOST:$BASELINE_PORT"
# shellcheck disable=SC2086
"$JAVA" $JVM_FLAGS -jar "$BASELINE_JAR" --server.address=$HOST --server.port="$BASELINE_PORT" \
    > "$OUT/baseline.log" 2>&1 &
BASELINE_PID=$!
PIDS+=("$BASELINE_PID")
log "starting redis-server on $HOST:$REDIS_PORT"
redis-server --bind $HOST --port "$REDIS_PORT" --save '' --appendonly no --daemonize no \
    --dir "$OUT" --logfile "$OUT/redis.log" &
REDIS_PID=$!
PIDS+=("$REDIS_PID")

MACHVM="http://$HOST:$MACHVM_PORT"
BASELINE="http://$HOST:$BASELINE_PORT"
wait_http "$MACHVM/actuator/health/readiness" "$MACHVM_PID" machvm
wait_http "$BASELINE/tasks/t/memory/0?size=1" "$BASELINE_PID" baseline
for _ in $(seq 1 100); do
    [ "$(redis-cli -h $HOST -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && break
    sleep 0.2
done
[ "$(redis-cli -h $HOST -p "$REDIS_PORT" ping)" = PONG ] || die "redis-server did not start"
log "servers up: machvm pid $MACHVM_PID, baseline pid $BASELINE_PID, redis pid $REDIS_PID"

# ------------------------------------------------------------------------------------------------ machvm set-up
json_field() { sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\{0,1\}\([^\",}]*\)\"\{0,1\}.*/\1/p" | head -n1; }
http_ok() { # EXPECTED_STATUS curl-args...: runs curl, fails unless the status matches; prints the body
    local want=$1 body status
    shift
    body=$(curl -s -w '\n%{http_code}' "$@") || die "curl $* failed"
    status=${body##*$'\n'}
    body=${body%$'\n'*}
    [ "$status" = "$want" ] || die "curl $* -> $status (want $want): $body"
    printf '%s' "$body"
}
create_task() { http_ok 201 -X POST -H 'Content-Type: application/json' -d "{\"name\":\"$1\"}" "$MACHVM/tasks" | json_field id; }
allocate() { # TASK SIZE -> decimal address
    local hex
    hex=$(http_ok 201 -X POST -H 'Content-Type: application/json' -d "{\"size\":\"$2\",\"anywhere\":true}" \
        "$MACHVM/tasks/$1/allocate" | json_field address)
    printf '%d' "$hex"
}
write_file() { # TASK ADDRESS FILE -> "seconds"
    http_ok 204 -T "$3" -H 'Content-Type: application/octet-stream' -H 'Expect:' -o /dev/null \
        "$MACHVM/tasks/$1/memory/$2" >/dev/null
}

log "generating 256 MiB of test data in $LARGE_FILE"
head -c "$LARGE" /dev/urandom > "$LARGE_FILE"
REGION=$((64 * 1024 * 1024))
LOAD_TASK=$(create_task bench-load)
SMALL_BASE=$(allocate "$LOAD_TASK" $REGION)
BIG_BASE=$(allocate "$LOAD_TASK" $REGION)
head -c $REGION "$LARGE_FILE" > "$OUT/region.bin"
write_file "$LOAD_TASK" "$SMALL_BASE" "$OUT/region.bin"
write_file "$LOAD_TASK" "$BIG_BASE" "$OUT/region.bin"
rm -f "$OUT/region.bin"
log "load task $LOAD_TASK: 4 KiB slots at $SMALL_BASE, 1 MiB slots at $BIG_BASE (both written)"

# ------------------------------------------------------------------------------------------------ 3. wrk
# SHAPE -> "mode size slots base-variable"
shape_args() {
    case "$1" in
        write4k) echo "write 4096 $((REGION / 4096)) SMALL_BASE" ;;
        read4k) echo "read 4096 $((REGION / 4096)) SMALL_BASE" ;;
        copy) echo "copy 4096 $((REGION / 4096)) SMALL_BASE" ;;
        write1m) echo "write 1048576 $((REGION / 1048576)) BIG_BASE" ;;
        read1m) echo "read 1048576 $((REGION / 1048576)) BIG_BASE" ;;
        batchwrite4k) echo "batchwrite 4096 $((REGION / 4096)) SMALL_BASE" ;;
        batchread4k) echo "batchread 4096 $((REGION / 4096)) SMALL_BASE" ;;
    esac
}
SHAPES="write4k read4k copy write1m read1m"
# The batch endpoint, machvm only (the empty-endpoint app has no batch): BATCH_CALLS calls of 4 KiB per request.
BATCH_SHAPES="batchwrite4k batchread4k"
BATCH_CALLS=16

wrk_run() { # SERVER SHAPE SECONDS [measure]
    local server=$1 shape=$2 secs=$3 url pid task mode size slots basevar base out c0 c1 j
    if [ "$server" = machvm ]; then url=$MACHVM; pid=$MACHVM_PID; task=$LOAD_TASK
    else url=$BASELINE; pid=$BASELINE_PID; task=t; fi
    read -r mode size slots basevar <<< "$(shape_args "$shape")"
    base=${!basevar}
    out="$OUT/wrk-$server-$shape-$([ "${4:-}" = measure ] && echo run || echo warmup).txt"
    c0=$(cpu_ticks "$pid")
    wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"${secs}s" --timeout 10s -s bench/wrk/memory.lua "$url" \
        -- "$mode" "$task" "$base" "$size" "$slots" "$BATCH_CALLS" > "$out" 2>&1 || die "wrk failed: $(tail -3 "$out")"
    c1=$(cpu_ticks "$pid")
    [ "${4:-}" = measure ] || return 0
    j=$(grep '^WRKJSON ' "$out" | sed 's/^WRKJSON //')
    [ -n "$j" ] || die "no WRKJSON in $out"
    awk -v j="$j" -v c0="$c0" -v c1="$c1" -v hz="$CLK_TCK" -v size="$size" -v p="wrk.$server.$shape" '
        function f(k,   m) { if (match(j, "\"" k "\":[0-9.]+")) { m = substr(j, RSTART, RLENGTH); sub(/.*:/, "", m); return m + 0 } return 0 }
        BEGIN {
            n = f("requests"); s = f("duration_us") / 1e6
            errs = f("err_connect") + f("err_read") + f("err_write") + f("err_status") + f("err_timeout")
            printf "%s.requests=%d\n%s.rps=%.1f\n%s.p50_ms=%.3f\n%s.p99_ms=%.3f\n", p, n, p, n / s, p, f("p50_us") / 1e3, p, f("p99_us") / 1e3
            printf "%s.mbps=%.1f\n%s.cpu_us=%.2f\n%s.errors=%d\n", p, n * size / s / 1e6, p, (c1 - c0) / hz * 1e6 / (n > 0 ? n : 1), p, errs
        }' >> "$RESULTS"
    log "  $server $shape: $(grep "^wrk.$server.$shape.rps=" "$RESULTS" | cut -d= -f2) req/s, $(grep "^wrk.$server.$shape.cpu_us=" "$RESULTS" | cut -d= -f2) µs CPU/req"
}

log "wrk warm-up: ${WARMUP} s per shape per server"
for server in machvm baseline; do
    for shape in $SHAPES; do
        wrk_run "$server" "$shape" "$WARMUP"
    done
done
log "wrk measurement: ${DURATION} s per shape, machvm and baseline interleaved"
for shape in $SHAPES; do
    for server in machvm baseline; do
        wrk_run "$server" "$shape" "$DURATION" measure
    done
done
log "wrk, batches of $BATCH_CALLS calls (machvm only): ${WARMUP} s warm-up, ${DURATION} s measured per shape"
put wrk.batch_calls "$BATCH_CALLS"
for shape in $BATCH_SHAPES; do
    wrk_run machvm "$shape" "$WARMUP"
    wrk_run machvm "$shape" "$DURATION" measure
done

# ------------------------------------------------------------------------------------------------ 4. Redis
log "redis-benchmark: SETRANGE / GETRANGE 4 KiB, $WRK_CONNECTIONS clients, $REDIS_REQUESTS requests each"
KEYS=10000
redis-cli -h $HOST -p "$REDIS_PORT" eval \
    "for i = 0, $((KEYS - 1)) do redis.call('SET', string.format('key:%012d', i), string.rep('r', 4096)) end return 1" 0 >/dev/null
VALUE=$(head -c 4096 /dev/zero | tr '\0' 'v')
redis_run() { # NAME command...
    local name=$1 c0 c1 line
    shift
    c0=$(cpu_ticks "$REDIS_PID")
    redis-benchmark -h $HOST -p "$REDIS_PORT" -c "$WRK_CONNECTIONS" --threads "$WRK_THREADS" -n "$REDIS_REQUESTS" \
        -r "$KEYS" --csv "$@" > "$OUT/redis-$name.csv" 2>&1 || die "redis-benchmark $name failed"
    c1=$(cpu_ticks "$REDIS_PID")
    line=$(grep -v '^"test"' "$OUT/redis-$name.csv" | tail -n1)
    echo "$line" | awk -F'","' -v c0="$c0" -v c1="$c1" -v hz="$CLK_TCK" -v n="$REDIS_REQUESTS" -v p="redis.$name" '{
        gsub(/"/, "", $0); split($0, a, ",")
        printf "%s.rps=%s\n%s.p50_ms=%s\n%s.p99_ms=%s\n%s.cpu_us=%.2f\n", p, a[2], p, a[5], p, a[7], p, (c1 - c0) / hz * 1e6 / n
    }' >> "$RESULTS"
    log "  redis $name: $(grep "^redis.$name.rps=" "$RESULTS" | cut -d= -f2) req/s"
}
redis_run setrange SETRANGE key:__rand_int__ 0 "$VALUE"
redis_run getrange GETRANGE key:__rand_int__ 0 4095

# ------------------------------------------------------------------------------------------------ 5. large transfers
log "256 MiB streamed vm_write / vm_read: $LARGE_WARMUP untimed + $LARGE_REPS timed each, then $HEAP_REPS with machvm's heap sampled"
LARGE_TASK=$(create_task bench-large)
LARGE_BASE=$(allocate "$LARGE_TASK" $LARGE)
heap_used_kib() { # jstat -gc samples in FILE -> "first max young-GCs", used = S0U+S1U+EU+OU in KiB (columns by name)
    awk 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
         $1 ~ /^[0-9.]+$/ { u = $col["S0U"] + $col["S1U"] + $col["EU"] + $col["OU"]; n++
                            if (n == 1) { first = u; ygc0 = $col["YGC"] } if (u > max) max = u; ygc = $col["YGC"] }
         END { printf "%.0f %.0f %d\n", first, max, ygc - ygc0 }' "$1"
}
transfer() { # SERVER DIRECTION -> prints "http-code seconds bytes"
    local url task base
    if [ "$1" = machvm ]; then url=$MACHVM task=$LARGE_TASK base=$LARGE_BASE; else url=$BASELINE task=t base=0; fi
    if [ "$2" = write ]; then
        curl -s -o /dev/null -w '%{http_code} %{time_total} %{size_upload}' -T "$LARGE_FILE" -H 'Expect:' \
            -H 'Content-Type: application/octet-stream' "$url/tasks/$task/memory/$base"
    else
        curl -s -o /dev/null -w '%{http_code} %{time_total} %{size_download}' \
            -H 'Accept: application/octet-stream' "$url/tasks/$task/memory/$base?size=$LARGE"
    fi
}
large_run() { # SERVER DIRECTION REP [heap] -> sets L_SECS L_CPU L_FIRST L_MAX L_YGC
    local server=$1 dir=$2 rep=$3 jpid="" stats want pid c0
    # heap runs (machvm only) start from a full GC and sample the heap with jstat every 10 ms; they are not timed,
    # because jstat is a JVM of its own that competes for the 2 cores
    if [ "${4:-}" = heap ]; then
        "$JAVA_HOME/bin/jcmd" "$MACHVM_PID" GC.run >/dev/null
        "$JSTAT" -gc "$MACHVM_PID" 10 > "$OUT/jstat-$dir-$rep.txt" 2>&1 &
        jpid=$!
        PIDS+=("$jpid")
        sleep 0.3
    fi
    pid=$([ "$server" = machvm ] && echo "$MACHVM_PID" || echo "$BASELINE_PID")
    c0=$(cpu_ticks "$pid")
    stats=$(transfer "$server" "$dir")
    L_CPU=$(awk -v a="$c0" -v b="$(cpu_ticks "$pid")" -v hz="$CLK_TCK" 'BEGIN { printf "%.3f", (b - a) / hz }')
    want=$([ "$dir" = write ] && echo 204 || echo 200)
    [ "${stats%% *}" = "$want" ] || die "256 MiB $dir on $server -> $stats"
    [ "${stats##* }" = "$LARGE" ] || die "256 MiB $dir on $server moved ${stats##* } bytes"
    L_SECS=$(echo "$stats" | cut -d' ' -f2)
    L_FIRST=0 L_MAX=0 L_YGC=0
    if [ -n "$jpid" ]; then
        sleep 0.1
        kill "$jpid" 2>/dev/null || true
        wait "$jpid" 2>/dev/null || true
        read -r L_FIRST L_MAX L_YGC <<< "$(heap_used_kib "$OUT/jstat-$dir-$rep.txt")"
    fi
}
median() { tr '/' '\n' | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
for dir in write read; do
    for server in machvm baseline; do
        for _ in $(seq 1 "$LARGE_WARMUP"); do
            transfer "$server" "$dir" > /dev/null
        done
    done
    for server in machvm baseline; do
        all="" cpu=""
        for rep in $(seq 1 "$LARGE_REPS"); do
            large_run "$server" "$dir" "$rep"
            gbps=$(awk -v s="$L_SECS" -v b="$LARGE" 'BEGIN { printf "%.3f", b / s / 1e9 }')
            all="$all${all:+/}$gbps"
            cpu="$cpu${cpu:+/}$(awk -v s="$L_CPU" 'BEGIN { printf "%.0f", s * 1000 }')"
            log "  $server $dir #$rep: $gbps GB/s, $L_CPU s server CPU"
        done
        put "large.$server.$dir.gbps" "$(echo "$all" | median)"
        put "large.$server.$dir.all_gbps" "$all"
        put "large.$server.$dir.cpu_ms" "$(echo "$cpu" | median)"
    done
    growth=0 gcs=0
    for rep in $(seq 1 "$HEAP_REPS"); do
        large_run machvm "$dir" "heap$rep" heap
        g=$(awk -v a="$L_FIRST" -v b="$L_MAX" 'BEGIN { printf "%.1f", (b - a) / 1024 }')
        growth=$(awk -v a="$growth" -v b="$g" 'BEGIN { print (b > a ? b : a) }')
        gcs=$((gcs + L_YGC))
        log "  machvm $dir, heap sampled: heap +$g MiB, $L_YGC young GC(s)"
    done
    put "large.$dir.heap_growth_mib" "$growth"
    put "large.$dir.young_gcs" "$gcs"
done
put large.reps "$LARGE_REPS"

# ------------------------------------------------------------------------------------------------ 6. COW
log "vm_copy 256 MiB aligned vs misaligned by one byte, $COW_REPS time(s) each"
"$JAVA" bench/MapProbe.java cow "$MACHVM" "$LARGE_TASK" "$LARGE_BASE" "$LARGE" "$COW_REPS" >> "$RESULTS" \
    2> "$OUT/cow.log" || die "COW step failed: $(tail -5 "$OUT/cow.log")"
put cow.reps "$COW_REPS"
curl -s -o /dev/null -X DELETE "$MACHVM/tasks/$LARGE_TASK"

# ------------------------------------------------------------------------------------------------ 7. scaling
log "map scaling: $SCALING_SIZES entries, $SCALING_ITER calls x $SCALING_ROUNDS rounds per cell"
"$JAVA" bench/MapProbe.java scaling "$MACHVM" "$SCALING_SIZES" "$SCALING_ITER" "$SCALING_ROUNDS" >> "$RESULTS" \
    2> "$OUT/scaling.log" || die "scaling step failed: $(tail -5 "$OUT/scaling.log")"
put scaling.sizes "$SCALING_SIZES"
put scaling.iterations "$SCALING_ITER"
put scaling.rounds "$SCALING_ROUNDS"
put run.end "$(date -u +%Y-%m-%dT%H:%MZ)"

# ------------------------------------------------------------------------------------------------ 8. report
"$JAVA" bench/MapProbe.java report "$RESULTS" "$OUT/results.md" > /dev/null
mkdir -p bench/results
cp "$OUT/results.md" bench/results/latest.md
log "done: $OUT/results.md (copied to bench/results/latest.md)"
cat "$OUT/results.md"
