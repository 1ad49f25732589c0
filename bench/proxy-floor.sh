#!/usr/bin/env bash
# The floor of an HTTP proxy in front of a shard: CPU per 4 KiB vm_write sent to one node directly, through a bare
# HAProxy and through a bare nginx (each: one upstream, kept-alive connections to it, no rules, no log), ROUNDS
# rounds (default 3) of DURATION seconds (default 10) alternating the order. Each line: the node's and the proxy's
# CPU (/proc/PID/stat) per request, the proxy's own share, p99.
#
#   bench/proxy-floor.sh OUT_DIR        (needs target/machvm-*.jar: ./mvnw -B -ntp package -DskipTests)
set -euo pipefail
cd "$(dirname "$0")/.."
J="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java"
D="${1:?usage: bench/proxy-floor.sh OUT_DIR}"; mkdir -p "$D"; D="$(cd "$D" && pwd)"; HZ=$(getconf CLK_TCK)
SP="${PORT_BASE:-21001}"; HP=$(( SP + 1 )); NP=$(( SP + 2 ))
for pkg in wrk haproxy nginx; do
    command -v "$pkg" >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        "$([ "$pkg" = nginx ] && echo nginx-light || echo "$pkg")"; }
done
$J -Xmx256m -XX:MaxDirectMemorySize=700m -jar "$(ls target/machvm-*.jar | head -n1)" --server.address=127.0.0.1 --server.port=$SP --machvm.store.capacity=640MB > $D/shard.log 2>&1 &
S=$!
trap 'kill $S 2>/dev/null; [ -f $D/haproxy.pid ] && kill $(cat $D/haproxy.pid) 2>/dev/null; [ -f $D/nginx.pid ] && kill $(cat $D/nginx.pid) 2>/dev/null; true' EXIT
cat > $D/haproxy.cfg <<H
global
    nbthread 1
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    option http-keep-alive
frontend f
    bind 127.0.0.1:$HP
    default_backend b
backend b
    http-reuse always
    server s 127.0.0.1:$SP
H
cat > $D/nginx.conf <<N
worker_processes 1;
pid $D/nginx.pid;
error_log $D/nginx.err;
events { worker_connections 1024; }
http {
    access_log off;
    client_max_body_size 0;
    proxy_request_buffering off;
    proxy_buffering off;
    upstream s { server 127.0.0.1:$SP; keepalive 32; }
    server {
        listen 127.0.0.1:$NP;
        location / { proxy_pass http://s; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host \$host; }
    }
}
N
haproxy -q -f $D/haproxy.cfg -p $D/haproxy.pid -D
nginx -c $D/nginx.conf
until curl -fsS -o /dev/null http://127.0.0.1:$SP/actuator/health/readiness 2>/dev/null; do sleep 0.5; done
curl -fsS -o /dev/null -X PUT http://127.0.0.1:$SP/tasks/hop
curl -fsS -o /dev/null -X POST -H 'Content-Type: application/json' -d '{"address":"0x100000000","size":"0x12000000","flags":0}' http://127.0.0.1:$SP/tasks/hop/allocate
NGINX_PIDS="$(pgrep -f "nginx: worker" | tr '\n' ' ') $(cat $D/nginx.pid)"
ticks() { local t=0 p; for p in "$@"; do t=$(( t + $(awk '{ print $14 + $15 }' "/proc/$p/stat") )); done; echo "$t"; }
run() { # name port pids...
    local name=$1 port=$2; shift 2
    local c0 c1 out=$D/wrk-$name.txt
    c0=$(ticks $S "$@"); local p0; p0=$( [ $# -gt 0 ] && ticks "$@" || echo 0)
    wrk -t1 -c8 -d${DURATION:-10}s --timeout 10s -s bench/wrk/memory.lua http://127.0.0.1:$port -- write hop 4294967296 4096 256 > $out 2>&1
    c1=$(ticks $S "$@"); local p1; p1=$( [ $# -gt 0 ] && ticks "$@" || echo 0)
    local req; req=$(sed -n 's/.*"requests":\([0-9]*\).*/\1/p' $out)
    local p99; p99=$(sed -n 's/.*"p99_us":\([0-9]*\).*/\1/p' $out)
    awk -v n=$name -v r=$req -v a=$c0 -v b=$c1 -v pa=$p0 -v pb=$p1 -v hz=$HZ -v p99=$p99 -v pids="$*" 'BEGIN { printf "%s %.1f us/req (proxy %.1f, pids %s) p99 %d us (%d req)\n", n, (b-a)/hz*1e6/r, (pb-pa)/hz*1e6/r, pids, p99, r }'
}
# warm up
DURATION=8 run direct $SP >/dev/null; DURATION=5 run haproxy $HP $(cat $D/haproxy.pid) >/dev/null; DURATION=5 run nginx $NP $NGINX_PIDS >/dev/null
for r in $(seq 1 ${ROUNDS:-3}); do
    if [ $((r % 2)) = 1 ]; then order="direct haproxy nginx"; else order="nginx haproxy direct"; fi
    for t in $order; do
        case $t in
            direct) run direct $SP ;;
            haproxy) run haproxy $HP $(cat $D/haproxy.pid) ;;
            nginx) run nginx $NP $NGINX_PIDS ;;
        esac
    done
done
