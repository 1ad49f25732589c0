#!/usr/bin/env bash
# A machvm cluster on this machine: shards of the packaged jar behind HAProxy, all on 127.0.0.1.
#
#   local-cluster.sh up N DIR          start shards 0..N-1 and the entry point; prints the lines below
#   local-cluster.sh scale M DIR       change the shard count to M, handing tasks off to their new owners (every
#                                      shard must be running; a scale that stopped half-way: run it again)
#   local-cluster.sh stop I DIR [--kill]   SIGTERM (or SIGKILL) shard I; returns when it has exited
#   local-cluster.sh start I DIR       start shard I again on its own persistence directory; returns when ready
#   local-cluster.sh down DIR          stop everything this script started, by PID
#
# up, scale and start print
#   PROXY=http://127.0.0.1:PORT        the entry point (HAProxy: to the owner for the default tenant, else any shard,
#                                      which forwards to the owner)
#   SHARD i http://127.0.0.1:PORT      one line per shard
#
# State, logs and persistence live under DIR: DIR/cluster.env, DIR/shard-I/{data,log,pid}, DIR/haproxy.*.
# up makes the cluster secret (machvm.cluster.secret) in DIR/secret, and DIR/secret.header ("Machvm-Cluster-Secret:
# ...", for curl -H @DIR/secret.header), both readable by this user only; every shard gets it as
# MACHVM_CLUSTER_SECRET, and the /cluster steps of scale send it.
# Environment: MACHVM_JAR (default: target/machvm-*.jar of this checkout), MACHVM_STORE_MIB (page store per shard,
# default 64), MACHVM_HEAP_MIB (default 256), MACHVM_ARGS (more --machvm.* arguments for every shard),
# MACHVM_READY_SECONDS (default 120).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STORE_MIB="${MACHVM_STORE_MIB:-64}"
HEAP_MIB="${MACHVM_HEAP_MIB:-256}"
READY_SECONDS="${MACHVM_READY_SECONDS:-120}"

die() { echo "local-cluster.sh: $*" >&2; exit 1; }
usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

jar() {
    if [ -n "${MACHVM_JAR:-}" ]; then echo "$MACHVM_JAR"; return; fi
    local found
    found="$(ls "$ROOT"/target/machvm-*.jar 2>/dev/null | grep -v -- '-plain\|-sources\|-javadoc' | head -n1 || true)"
    [ -n "$found" ] || die "no jar in $ROOT/target: build it with ./mvnw -B -ntp package -DskipTests (or set MACHVM_JAR)"
    echo "$found"
}

java_bin() {
    if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then echo "$JAVA_HOME/bin/java"
    elif [ -x /usr/lib/jvm/temurin-25-jdk-amd64/bin/java ]; then echo /usr/lib/jvm/temurin-25-jdk-amd64/bin/java
    else command -v java || die "no java"; fi
}

ensure_haproxy() {
    command -v haproxy >/dev/null 2>&1 && return
    echo "local-cluster.sh: installing haproxy (Debian package)" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
    $sudo apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq haproxy >&2 \
        || die "cannot install haproxy: install it (apt-get install haproxy) and run again"
}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Whether any TCP socket on this machine is bound to port $1 (listening, connected or closing).
port_in_use() {
    local hex
    hex="$(printf ':%04X' "$1")"
    awk -v h="$hex" 'FNR > 1 && substr($2, length($2) - 4) == h { found = 1 } END { exit !found }' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# A port no socket uses, below the kernel's ephemeral range: a port in that range can be taken at any moment as the
# local port of an outgoing connection (the shards call each other), and a shard started later on it would not bind.
free_port() {
    local port taken low
    low="$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)"
    [ "$low" -gt 12000 ] || low=32768
    while :; do
        port=$(( 10000 + RANDOM % (low - 10000) ))
        listening "$port" && continue
        port_in_use "$port" && continue
        taken=0
        for p in ${USED_PORTS:-}; do [ "$p" = "$port" ] && taken=1; done
        [ "$taken" = 0 ] || continue
        USED_PORTS="${USED_PORTS:-} $port"
        echo "$port"
        return
    done
}

# A live process (not a zombie) with this PID.
alive() {
    local pid="$1" state
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo Z)"
    [ "$state" != Z ]
}

load_state() {
    [ -f "$DIR/cluster.env" ] || die "$DIR has no cluster (run: $0 up N $DIR)"
    # shellcheck disable=SC1091
    . "$DIR/cluster.env"
}

# The cluster secret, made once per DIR: 64 hex digits from the kernel's random source.
make_secret() {
    [ -s "$DIR/secret" ] && return
    ( umask 077
      od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > "$DIR/secret.partial"
      printf 'Machvm-Cluster-Secret: %s\n' "$(cat "$DIR/secret.partial")" > "$DIR/secret.header"
      mv "$DIR/secret.partial" "$DIR/secret" )
}

save_state() {
    {
        echo "SHARDS=$SHARDS"
        echo "PROXY_PORT=$PROXY_PORT"
        local i
        for i in $(seq 0 $(( ${MAX_SHARDS:-$SHARDS} - 1 ))); do
            local var="PORT_$i"
            [ -n "${!var:-}" ] && echo "PORT_$i=${!var}"
        done
        echo "MAX_SHARDS=${MAX_SHARDS:-$SHARDS}"
    } > "$DIR/cluster.env.partial"
    mv "$DIR/cluster.env.partial" "$DIR/cluster.env"
}

port_of() { local var="PORT_$1"; echo "${!var:?shard $1 has no port}"; }
url_of() { echo "http://127.0.0.1:$(port_of "$1")"; }

# start_shard I ARGS...: launches shard I with its saved or given cluster arguments, in the background.
launch() {
    local i="$1"; shift
    local sdir="$DIR/shard-$i" port
    port="$(port_of "$i")"
    mkdir -p "$sdir/data"
    [ -s "$DIR/secret" ] || die "$DIR has no cluster secret ($DIR/secret)"
    if [ "$#" -gt 0 ]; then printf '%s\n' "$@" > "$sdir/args"; fi
    local -a args=()
    mapfile -t args < "$sdir/args"
    # the secret goes by the environment (readable by this user only), not on the command line
    # On SIGTERM a shard keeps serving for the drain while its readiness fails, so that HAProxy's check (every
    # 500 ms, down after 2 failures) stops sending it requests before it closes its connections.
    # shellcheck disable=SC2086
    MACHVM_CLUSTER_SECRET="$(cat "$DIR/secret")" nohup "$(java_bin)" -Xmx"${HEAP_MIB}"m -XX:MaxDirectMemorySize=$(( STORE_MIB + 64 ))m -XX:+ExitOnOutOfMemoryError \
        -jar "$(jar)" --server.address=127.0.0.1 --server.port="$port" \
        --machvm.store.capacity="${STORE_MIB}MB" --machvm.persistence.directory="$sdir/data" \
        --machvm.cluster.enabled=true --machvm.cluster.shard="$i" --machvm.shutdown.drain=1500ms \
        "${args[@]}" ${MACHVM_ARGS:-} \
        >> "$sdir/log" 2>&1 < /dev/null &
    echo $! > "$sdir/pid"
}

await_ready() {
    local i="$1" pid url deadline
    pid="$(cat "$DIR/shard-$i/pid")"
    url="$(url_of "$i")"
    deadline=$(( $(date +%s) + READY_SECONDS ))
    until curl -fsS -o /dev/null "$url/actuator/health/readiness" 2>/dev/null; do
        if ! alive "$pid"; then
            tail -n 30 "$DIR/shard-$i/log" >&2
            die "shard $i exited while starting (log: $DIR/shard-$i/log)"
        fi
        [ "$(date +%s)" -lt "$deadline" ] || die "shard $i not ready after ${READY_SECONDS}s (log: $DIR/shard-$i/log)"
        sleep 0.2
    done
}

await_exit() {
    local pid="$1" deadline=$(( $(date +%s) + 300 ))
    while alive "$pid"; do
        [ "$(date +%s)" -lt "$deadline" ] || die "process $pid did not exit"
        sleep 0.1
    done
}

# The tenants' API keys of api-key mode, from MACHVM_ARGS (--machvm.security.api-keys.<tenant>=<key>) and the
# environment (MACHVM_SECURITY_APIKEYS_<TENANT>): one line "<sha256 of the key> <tenant>" each, for the entry point.
tenant_keys() {
    local arg tenant key var
    for arg in ${MACHVM_ARGS:-}; do
        case "$arg" in
            --machvm.security.api-keys.*=*)
                tenant="${arg#--machvm.security.api-keys.}"; tenant="${tenant%%=*}"; key="${arg#*=}"
                key_line "$tenant" "$key" ;;
        esac
    done
    for var in $(compgen -e | grep '^MACHVM_SECURITY_APIKEYS_' || true); do
        tenant="$(printf '%s' "${var#MACHVM_SECURITY_APIKEYS_}" | tr 'A-Z_' 'a-z.')"
        key_line "$tenant" "${!var}"
    done
}

# jwt mode's tenant claim (machvm.security.tenant-claim, default sub), from MACHVM_ARGS or the environment
# (MACHVM_SECURITY_MODE, MACHVM_SECURITY_TENANTCLAIM); nothing in other modes, or for a claim name HAProxy's JSON path
# could not hold.
jwt_claim() {
    local arg mode="${MACHVM_SECURITY_MODE:-}" claim="${MACHVM_SECURITY_TENANTCLAIM:-sub}"
    for arg in ${MACHVM_ARGS:-}; do
        case "$arg" in
            --machvm.security.mode=*) mode="${arg#*=}" ;;
            --machvm.security.tenant-claim=*) claim="${arg#*=}" ;;
        esac
    done
    if [ "$mode" = jwt ] && printf '%s' "$claim" | grep -Eq '^[A-Za-z0-9_-]+$'; then
        printf '%s' "$claim"
    fi
}

key_line() {
    case "$2" in
        "{sha256}"*) printf '%s %s\n' "$(printf '%s' "${2#"{sha256}"}" | tr 'A-F' 'a-f')" "$1" ;;
        *) printf '%s %s\n' "$(printf '%s' "$2" | sha256sum | cut -d' ' -f1)" "$1" ;;
    esac
}

# The entry point: HAProxy computes each task's slot as the shards do, CRC-32(tenant ":" placement key) & 16383, and
# sends the request to the slot's owner in shard 0's table (DIR/slots.map), so a request takes no forwarding hop.
# The tenant is "default", the tenant of an API key (DIR/tenants.map, made from the keys the shards are given), or
# the one an admin's tenant~id names. A wrong guess (a scale under way, an owner that is down, a tenant it cannot
# tell) lands on a shard that forwards, or answers 503 for the owner: it costs a hop, never a wrong answer.
# Measured against other configurations (BENCHMARKS.md, "Cluster"): per request it spends what a bare HAProxy does.
write_haproxy() {
    local cfg="$DIR/haproxy.cfg" i ranges tenant_rule=""
    ranges="$(curl -fsS -H @"$DIR/secret.header" "$(url_of 0)/cluster" | tr -d ' \n' | sed 's/.*"table":{[^}]*"slots":\[\(\[[^]]*\]\(,\[[^]]*\]\)*\)\].*/\1/' \
        | tr -d '[' | tr ']' '\n' | sed 's/^,//' | grep -E '^[0-9]+,[0-9]+,[0-9]+$' || true)"
    [ -n "$ranges" ] || die "cannot read the ownership table from shard 0"
    # a shard that stops in the middle of a call: HAProxy's 502, answered as a shard that forwards it would
    local broken='{"type":"/problems/MACH_SEND_TIMED_OUT","title":"Send timed out","status":503,"detail":"the shard that owns this task stopped during the call, which may or may not have taken effect there; retry","kern":"MACH_SEND_TIMED_OUT","kernReturn":268435460}'
    printf 'HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\nContent-Length: %s\r\nRetry-After: 1\r\nCache-Control: no-cache\r\n\r\n%s' \
        "${#broken}" "$broken" > "$DIR/haproxy.502.http"
    echo "$ranges" | while IFS=, read -r from to shard; do
        [ "$shard" -lt "$SHARDS" ] && echo "$from:$to shard-$shard"
    done > "$DIR/slots.map.partial"
    mv "$DIR/slots.map.partial" "$DIR/slots.map"
    ( umask 077; tenant_keys > "$DIR/tenants.map" )
    if [ -s "$DIR/tenants.map" ]; then
        tenant_rule="    http-request set-var(txn.tenant) http_auth_bearer,digest(sha256),hex,lower,map($DIR/tenants.map) if { var(txn.key) -m found } !{ var(txn.tenant) -m found } { http_auth_bearer -m found }"
    elif [ -n "$(jwt_claim)" ]; then
        # the tenant claim of the bearer token, read but not verified: it only picks the shard, which verifies the
        # token (a forged one is refused there, wherever it is sent)
        tenant_rule="    http-request set-var(txn.tenant) http_auth_bearer,jwt_payload_query('\$.$(jwt_claim)') if { var(txn.key) -m found } !{ var(txn.tenant) -m found } { http_auth_bearer -m found }"
    fi
    {
        cat <<CFG
global
    maxconn 4096
    # one thread is plenty next to the shards on a small machine, and spends less CPU per request
    nbthread 1
    # a reload (scale, start) leaves the old process serving what it has; it exits when that is done, at the latest
    # when its longest transfer could have timed out
    hard-stop-after 11m

defaults
    mode http
    # no traffic log: building each request's log line costs a system call (getpid) even when no line is sent
    timeout connect 2s
    timeout client 10m
    timeout server 10m
    timeout http-request 10m
    # A shard that refuses the connection is skipped: any shard forwards a request to the task's owner.
    retries 2
    retry-on conn-failure
    option redispatch
    option http-keep-alive
    # On a reload the old process keeps each idle client connection until it carries one more request, and answers
    # that with "Connection: close": closing it at once would race with a request already on its way, which then
    # gets no answer at all (33 of 12,544 keep-alive writes during 30 reloads without this option, none with it).
    option idle-close-on-response
    # any request may take any idle connection to its shard; idle ones are closed after 5 s (pool-purge-delay),
    # long before a shard would close them (server.tomcat.keep-alive-timeout, 30 s)
    http-reuse always
    # when the proxy itself cannot reach the owner (before its health check notices), it answers as a shard would
    errorfile 502 $DIR/haproxy.502.http
    http-error status 503 content-type application/problem+json string "{\\"type\\":\\"/problems/MACH_SEND_TIMED_OUT\\",\\"title\\":\\"Send timed out\\",\\"status\\":503,\\"detail\\":\\"the shard that owns this task is not reachable; retry\\",\\"kern\\":\\"MACH_SEND_TIMED_OUT\\",\\"kernReturn\\":268435460}" hdr Retry-After 1

frontend machvm
    bind 127.0.0.1:$PROXY_PORT
    # the owner of the task's slot, CRC-32(tenant ":" the id up to its first '.') & 16383, with the tenant of a
    # tenant~id, else of the API key, else default (few rules: each costs on every request). POST /tasks/restore (and
    # its form, /tasks/restore/form) is an operation on the collection, no task's: like POST /tasks it goes to any
    # shard, which mints an id it owns.
    http-request set-var(txn.key) path,field(3,/),field(1,.) if { path_beg /tasks/ } !{ method POST } or { path_beg /tasks/ } !{ path /tasks/restore /tasks/restore/form }
    http-request set-var(txn.tenant) path,field(3,/),field(1,~) if { var(txn.key) -m found } { path,field(3,/) -m sub ~ }
    http-request set-var(txn.key) path,field(3,/),field(2,~),field(1,.) if { var(txn.tenant) -m found }
$tenant_rule
    http-request set-var(txn.owner) var(txn.tenant,default),concat(:,txn.key,),crc32,and(16383),map_int($DIR/slots.map) if { var(txn.key) -m found }
    # which shard the entry point chose (the answer's Machvm-Shard says which one answered)
    http-response set-header Machvm-Entry %[srv_name]
    use_backend %[var(txn.owner)] if { var(txn.owner),nbsrv gt 0 }
    default_backend shards

backend shards
    balance roundrobin
    option httpchk GET /actuator/health/readiness
    http-check expect status 200
CFG
        for i in $(seq 0 $(( SHARDS - 1 ))); do
            echo "    server shard-$i 127.0.0.1:$(port_of "$i") check inter 500ms fall 2 rise 1"
        done
        for i in $(seq 0 $(( SHARDS - 1 ))); do
            printf '\nbackend shard-%s\n    option httpchk GET /actuator/health/readiness\n    http-check expect status 200\n' "$i"
            echo "    server shard-$i 127.0.0.1:$(port_of "$i") check inter 500ms fall 2 rise 1"
        done
    } > "$cfg.partial"
    haproxy -c -q -f "$cfg.partial" >&2 || die "invalid HAProxy configuration $cfg.partial"
    mv "$cfg.partial" "$cfg"
}

start_haproxy() {
    ensure_haproxy
    write_haproxy
    local old=""
    [ -f "$DIR/haproxy.pid" ] && old="$(cat "$DIR/haproxy.pid")"
    if [ -n "$old" ] && alive "$old"; then
        # the old process finishes what it has (see idle-close-on-response); down stops it too if it still runs
        echo "$old" >> "$DIR/haproxy.old"
        haproxy -q -f "$DIR/haproxy.cfg" -p "$DIR/haproxy.pid" -D -sf "$old" >> "$DIR/haproxy.log" 2>&1
    else
        haproxy -q -f "$DIR/haproxy.cfg" -p "$DIR/haproxy.pid" -D >> "$DIR/haproxy.log" 2>&1
    fi
    local deadline=$(( $(date +%s) + 20 ))
    until curl -fsS -o /dev/null "http://127.0.0.1:$PROXY_PORT/actuator/health/readiness" 2>/dev/null; do
        [ "$(date +%s)" -lt "$deadline" ] || die "haproxy on port $PROXY_PORT does not answer (log: $DIR/haproxy.log)"
        sleep 0.2
    done
}

print_lines() {
    echo "PROXY=http://127.0.0.1:$PROXY_PORT"
    local i
    for i in $(seq 0 $(( SHARDS - 1 ))); do
        echo "SHARD $i $(url_of "$i")"
    done
}

cmd_up() {
    local n="$1"
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "N must be a positive number, not '$n'"
    [ ! -f "$DIR/cluster.env" ] || die "$DIR already holds a cluster (down it, or use another DIR)"
    mkdir -p "$DIR"
    DIR="$(cd "$DIR" && pwd)"
    ensure_haproxy
    jar > /dev/null
    SHARDS="$n"; MAX_SHARDS="$n"
    make_secret
    PROXY_PORT="$(free_port)"
    local i peers=""
    for i in $(seq 0 $(( n - 1 ))); do
        printf -v "PORT_$i" '%s' "$(free_port)"
        peers="${peers:+$peers,}$(url_of "$i")"
    done
    save_state
    for i in $(seq 0 $(( n - 1 ))); do
        launch "$i" "--machvm.cluster.shards=$n" "--machvm.cluster.peers=$peers"
    done
    for i in $(seq 0 $(( n - 1 ))); do
        if ! ( await_ready "$i" ); then
            # another program took a port between the check and the start: begin again on other ports
            if grep -q 'already in use' "$DIR/shard-$i/log" && [ "${UP_ATTEMPT:-1}" -lt 3 ]; then
                echo "local-cluster.sh: a port was taken meanwhile; starting again on other ports" >&2
                cmd_down
                rm -rf "$DIR"/shard-*
                UP_ATTEMPT=$(( ${UP_ATTEMPT:-1} + 1 )) USED_PORTS="" cmd_up "$n"
                return
            fi
            die "shard $i did not start (log: $DIR/shard-$i/log)"
        fi
    done
    start_haproxy
    print_lines
}

# POST to a shard's /cluster endpoint with the cluster secret; fails on any status but 200.
admin() {
    local url="$1" path="$2" data="${3:-}" out status
    out="$(mktemp)"
    if [ -n "$data" ]; then
        status="$(curl -sS -o "$out" -w '%{http_code}' -X POST -H @"$DIR/secret.header" \
            -H 'Content-Type: application/json' --data-binary "$data" "$url$path")"
    else
        status="$(curl -sS -o "$out" -w '%{http_code}' -X POST -H @"$DIR/secret.header" "$url$path")"
    fi || status="no answer"
    if [ "$status" != 200 ]; then
        echo "local-cluster.sh: $url$path answered $status: $(cat "$out")" >&2
        rm -f "$out"
        return 1
    fi
    cat "$out"
    rm -f "$out"
}

# cluster_state I: shard I's GET /cluster ({"shard":I,"table":{"epoch":E,...},"pending":{...} or null})
cluster_state() {
    curl -fsS -H @"$DIR/secret.header" "$(url_of "$1")/cluster" 2>/dev/null \
        || die "cannot read the state of shard $1 ($(url_of "$1")/cluster)"
}

# Finishes a scale that stopped half-way (a shard failed during its handoff or its commit, so some shards may have
# committed it and others not): its table is begun where it is not yet, its handoffs run again (a shard that has
# nothing left to hand off answers at once), and it is committed everywhere. Sets SHARDS to its shard count.
finish_scale() {
    local i state pending="" epoch count now
    for i in $(seq 0 $(( MAX_SHARDS - 1 ))); do
        alive "$(cat "$DIR/shard-$i/pid" 2>/dev/null || true)" || continue
        state="$(cluster_state "$i")"
        [ -n "$pending" ] || pending="$(printf '%s' "$state" | sed -n 's/.*"pending":\({.*}\)}$/\1/p')"
    done
    [ -n "$pending" ] || return 0
    epoch="$(printf '%s' "$pending" | sed -n 's/^{"epoch":\([0-9]*\).*/\1/p')"
    count="$(printf '%s' "$pending" | sed -n 's/.*"shards":\[\([^]]*\)\].*/\1/p' | tr ',' '\n' | grep -c .)"
    [ -n "$epoch" ] && [ "$count" -gt 0 ] || die "cannot read the scale under way: $pending"
    local top=$(( count > SHARDS ? count : SHARDS ))
    echo "local-cluster.sh: finishing the scale to $count shards (epoch $epoch) that stopped half-way" >&2
    # a shard that the scale added and that stopped since is started again on what it received
    for i in $(seq "$SHARDS" $(( top - 1 ))); do
        alive "$(cat "$DIR/shard-$i/pid" 2>/dev/null || true)" && continue
        launch "$i" "--machvm.cluster.join=$(url_of 0)"
        await_ready "$i"
    done
    for i in $(seq 0 $(( top - 1 ))); do
        now="$(cluster_state "$i" | sed -n 's/^{"shard":[0-9]*,"table":{"epoch":\([0-9]*\).*/\1/p')"
        [ "${now:-0}" -ge "$epoch" ] || admin "$(url_of "$i")" /cluster/begin "$pending" > /dev/null \
            || die "shard $i does not take the scale under way"
    done
    for i in $(seq 0 $(( SHARDS - 1 ))); do
        admin "$(url_of "$i")" /cluster/migrate > "$DIR/shard-$i/migrate.json" \
            || die "handoff from shard $i failed: see $DIR/shard-$i/migrate.json and its log; run scale again"
    done
    commit_scale "$epoch" "$top" "$count"
}

# commit_scale EPOCH TOP M: commits the scale on shards 0..TOP-1, records M shards, points the entry point at the new
# table, then stops the shards the scale took away (they hold no task any more)
commit_scale() {
    local epoch="$1" top="$2" m="$3" i pid
    for i in $(seq 0 $(( top - 1 ))); do admin "$(url_of "$i")" "/cluster/commit?epoch=$epoch" > /dev/null; done
    SHARDS="$m"
    save_state
    start_haproxy
    for i in $(seq "$m" $(( top - 1 ))); do
        pid="$(cat "$DIR/shard-$i/pid" 2>/dev/null || true)"
        if alive "$pid"; then kill -TERM "$pid"; await_exit "$pid"; fi
    done
}

cmd_scale() {
    local m="$1"
    [[ "$m" =~ ^[1-9][0-9]*$ ]] || die "M must be a positive number, not '$m'"
    load_state
    DIR="$(cd "$DIR" && pwd)"
    local n="$SHARDS" i
    local top=$(( m > n ? m : n ))
    # every shard that holds slots takes part in the handoff: refuse before anything changes if one is not serving
    for i in $(seq 0 $(( n - 1 ))); do
        alive "$(cat "$DIR/shard-$i/pid" 2>/dev/null || true)" \
            && curl -fsS -o /dev/null "$(url_of "$i")/actuator/health/readiness" 2>/dev/null \
            || die "shard $i is not running or not ready: start it ($0 start $i $DIR) and scale again; nothing was changed"
    done
    finish_scale
    n="$SHARDS"
    top=$(( m > n ? m : n ))
    # shards being added get ports and start by copying the table of shard 0 (one left running by a scale that
    # failed before it began holds nothing, and is kept)
    for i in $(seq "$n" $(( m - 1 ))); do
        local var="PORT_$i"
        [ -n "${!var:-}" ] || printf -v "PORT_$i" '%s' "$(free_port)"
    done
    MAX_SHARDS=$(( top > ${MAX_SHARDS:-0} ? top : MAX_SHARDS ))
    save_state
    for i in $(seq "$n" $(( m - 1 ))); do
        alive "$(cat "$DIR/shard-$i/pid" 2>/dev/null || true)" && continue
        rm -rf "$DIR/shard-$i/data"
        launch "$i" "--machvm.cluster.join=$(url_of 0)"
    done
    for i in $(seq "$n" $(( m - 1 ))); do await_ready "$i"; done
    local shards="" plan epoch
    for i in $(seq 0 $(( m - 1 ))); do shards="${shards:+$shards,}\"$(url_of "$i")\""; done
    plan="$(admin "$(url_of 0)" /cluster/plan "{\"shards\":[$shards]}")"
    epoch="$(printf '%s' "$plan" | sed -n 's/^{"epoch":\([0-9]*\).*/\1/p')"
    [ -n "$epoch" ] || die "no epoch in the plan: $plan"
    for i in $(seq 0 $(( top - 1 ))); do admin "$(url_of "$i")" /cluster/begin "$plan" > /dev/null; done
    # every shard that held slots hands its moving tasks off (they answer when done)
    local pids=() failed=0
    for i in $(seq 0 $(( n - 1 ))); do
        ( admin "$(url_of "$i")" /cluster/migrate > "$DIR/shard-$i/migrate.json" ) & pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || failed=1; done
    if [ "$failed" != 0 ]; then
        # a handoff that failed left its task on the old owner; one more pass
        for i in $(seq 0 $(( n - 1 ))); do admin "$(url_of "$i")" /cluster/migrate > "$DIR/shard-$i/migrate.json" \
            || die "handoff from shard $i failed: see $DIR/shard-$i/migrate.json and its log; run scale again"; done
    fi
    commit_scale "$epoch" "$top" "$m"
    print_lines
}

cmd_stop() {
    local i="$1" signal=TERM
    [ "${2:-}" = "--kill" ] && signal=KILL
    load_state
    local pid
    pid="$(cat "$DIR/shard-$i/pid" 2>/dev/null || true)"
    alive "$pid" || { echo "shard $i is not running" >&2; return 0; }
    kill -"$signal" "$pid"
    await_exit "$pid"
}

cmd_start() {
    local i="$1"
    load_state
    DIR="$(cd "$DIR" && pwd)"
    [ "$i" -lt "$SHARDS" ] || die "shard $i is not one of the $SHARDS shards"
    local pid
    pid="$(cat "$DIR/shard-$i/pid" 2>/dev/null || true)"
    alive "$pid" && die "shard $i is running (PID $pid)"
    launch "$i"
    await_ready "$i"
    print_lines
}

cmd_down() {
    [ -f "$DIR/cluster.env" ] || return 0
    DIR="$(cd "$DIR" && pwd)"
    load_state
    local pid pids=() i
    # the entry point, and the processes earlier reloads left finishing their connections (only those that run
    # this cluster's configuration: a PID may have been reused)
    for pid in $(cat "$DIR/haproxy.pid" "$DIR/haproxy.old" 2>/dev/null); do
        if alive "$pid" && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$DIR/haproxy.cfg"; then
            kill -TERM "$pid" && pids+=("$pid")
        fi
    done
    rm -f "$DIR/haproxy.old"
    for i in $(seq 0 $(( ${MAX_SHARDS:-$SHARDS} - 1 ))); do
        pid="$(cat "$DIR/shard-$i/pid" 2>/dev/null || true)"
        if alive "$pid"; then kill -TERM "$pid"; pids+=("$pid"); fi
    done
    for pid in "${pids[@]}"; do await_exit "$pid"; done
    rm -f "$DIR/cluster.env"
}

[ "$#" -ge 2 ] || usage
case "$1" in
    up) [ "$#" -eq 3 ] || usage; DIR="$3"; cmd_up "$2" ;;
    scale) [ "$#" -eq 3 ] || usage; DIR="$3"; cmd_scale "$2" ;;
    stop) [ "$#" -ge 3 ] || usage; DIR="$3"; cmd_stop "$2" "${4:-}" ;;
    start) [ "$#" -eq 3 ] || usage; DIR="$3"; cmd_start "$2" ;;
    down) [ "$#" -eq 2 ] || usage; DIR="$2"; cmd_down ;;
    *) usage ;;
esac
