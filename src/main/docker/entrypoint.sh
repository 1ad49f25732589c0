#!/bin/sh
# machvm container entrypoint: sizes the JVM from the container's memory limit and the page-store capacity, then
# execs the application (the layered jar extracted in /app).
#
# The arithmetic, in MiB (L = the container's memory limit, from cgroup v2 memory.max or cgroup v1):
#   C  page-store capacity  = MACHVM_STORE_CAPACITY if set (a Spring data size: 512MB, 2GB, ...), otherwise
#                             MACHVM_STORE_PERCENT (50) % of L, exported as MACHVM_STORE_CAPACITY for the application
#   O  JVM overhead         = MACHVM_JVM_OVERHEAD_MIB (256): metaspace, code cache, thread stacks, GC, and D below
#   D  direct headroom      = MACHVM_DIRECT_HEADROOM_MIB (64): NIO/Tomcat buffers beside the store's slabs (in O)
#   heap         -Xmx                     = L - C - O   (must be at least MACHVM_MIN_HEAP_MIB, 128, or start-up stops)
#   off-heap     -XX:MaxDirectMemorySize  = C + D
#   so heap + direct + the rest of the overhead = (L - C - O) + (C + D) + (O - D) = L: everything fits in the limit.
# Without a limit (L unknown) the heap is left to the JVM's default and C defaults to the application's 1GB.
# Flags already given in JAVA_TOOL_OPTIONS, JDK_JAVA_OPTIONS or JAVA_OPTS win: a heap flag (-Xmx, -XX:MaxRAM...)
# skips the heap computation, -XX:MaxDirectMemorySize skips the direct one. JAVA_OPTS is appended to the command line.
#
# MACHVM_ENTRYPOINT_DRY_RUN=1 prints the command instead of running it; MACHVM_CGROUP_ROOT (/sys/fs/cgroup) points
# the limit lookup elsewhere and MACHVM_APP_DIR (/app) the application. They exist for the tests
# (src/test/java/io/machvm/ops/EntrypointScriptTest.java) and for trying the script outside a container.
set -eu

die() {
    echo "machvm entrypoint: $*" >&2
    exit 1
}

# Strips leading zeros so that shell arithmetic does not read the number as octal.
decimal() {
    n=${1#"${1%%[!0]*}"}
    echo "${n:-0}"
}

# to_mib NAME VALUE: a Spring data size (B, KB, MB, GB, TB; 1KB = 1024B; no unit = bytes) in MiB, rounded up.
to_mib() {
    value=$(printf '%s' "$2" | tr -d ' ' | tr '[:lower:]' '[:upper:]')
    case "$value" in
        *TB) number=${value%TB} unit=1099511627776 ;;
        *GB) number=${value%GB} unit=1073741824 ;;
        *MB) number=${value%MB} unit=1048576 ;;
        *KB) number=${value%KB} unit=1024 ;;
        *B) number=${value%B} unit=1 ;;
        *) number=$value unit=1 ;;
    esac
    case "$number" in
        '' | *[!0-9]*) die "$1='$2' is not a data size such as 512MB or 1GB" ;;
    esac
    [ ${#number} -le 15 ] || die "$1='$2' is too large"
    number=$(decimal "$number")
    if [ "$unit" -ge 1048576 ]; then
        echo $((number * (unit / 1048576)))
    else
        echo $(((number * unit + 1048575) / 1048576))
    fi
}

# The container's memory limit in MiB, or nothing when there is none.
memory_limit_mib() {
    root=${MACHVM_CGROUP_ROOT:-/sys/fs/cgroup}
    if [ -r "$root/memory.max" ]; then
        limit=$(cat "$root/memory.max")
    elif [ -r "$root/memory/memory.limit_in_bytes" ]; then
        limit=$(cat "$root/memory/memory.limit_in_bytes")
    else
        return 0
    fi
    # cgroup v2 says "max"; cgroup v1 says a number near 2^63 when unlimited.
    case "$limit" in
        '' | max | *[!0-9]*) return 0 ;;
    esac
    [ ${#limit} -le 15 ] || return 0
    echo $(($(decimal "$limit") / 1048576))
}

# has_flag PATTERN: whether the user's JVM options already contain a flag matching the case pattern.
has_flag() {
    for options in "${JAVA_TOOL_OPTIONS:-}" "${JDK_JAVA_OPTIONS:-}" "${JAVA_OPTS:-}"; do
        for option in $options; do
            # shellcheck disable=SC2254 # the pattern is meant to match
            case "$option" in $1) return 0 ;; esac
        done
    done
    return 1
}

set -f # no globbing when options are split into words below

overhead=$(to_mib MACHVM_JVM_OVERHEAD_MIB "${MACHVM_JVM_OVERHEAD_MIB:-256}MB")
headroom=$(to_mib MACHVM_DIRECT_HEADROOM_MIB "${MACHVM_DIRECT_HEADROOM_MIB:-64}MB")
min_heap=$(to_mib MACHVM_MIN_HEAP_MIB "${MACHVM_MIN_HEAP_MIB:-128}MB")
percent=$(decimal "${MACHVM_STORE_PERCENT:-50}")
case "$percent" in *[!0-9]*) die "MACHVM_STORE_PERCENT='${MACHVM_STORE_PERCENT}' is not a whole number" ;; esac
if [ "$percent" -lt 1 ] || [ "$percent" -gt 90 ]; then
    die "MACHVM_STORE_PERCENT=$percent must be between 1 and 90"
fi
[ "$headroom" -lt "$overhead" ] || die "MACHVM_DIRECT_HEADROOM_MIB ($headroom) must be below MACHVM_JVM_OVERHEAD_MIB ($overhead)"

limit=$(memory_limit_mib)

if [ -n "${MACHVM_STORE_CAPACITY:-}" ]; then
    capacity=$(to_mib MACHVM_STORE_CAPACITY "$MACHVM_STORE_CAPACITY")
elif [ -n "$limit" ]; then
    capacity=$((limit * percent / 100))
    MACHVM_STORE_CAPACITY="${capacity}MB"
    export MACHVM_STORE_CAPACITY
else
    capacity=1024 # the application's default machvm.store.capacity
fi

flags=""
if has_flag '-XX:MaxDirectMemorySize=*'; then
    direct="-XX:MaxDirectMemorySize as given"
else
    flags="-XX:MaxDirectMemorySize=$((capacity + headroom))m"
    direct="-XX:MaxDirectMemorySize=$((capacity + headroom))m (store + ${headroom}MiB headroom)"
fi
if has_flag '-Xmx*' || has_flag '-XX:MaxRAM*' || has_flag '-XX:MaxHeapSize=*'; then
    summary="page store ${capacity}MiB, heap as given; $direct"
elif [ -n "$limit" ]; then
    heap=$((limit - capacity - overhead))
    if [ "$heap" -lt "$min_heap" ]; then
        die "the container memory limit of ${limit}MiB is too small for machvm.store.capacity ${capacity}MiB" \
            "+ JVM overhead ${overhead}MiB + a heap of at least ${min_heap}MiB: raise the limit to" \
            "$((capacity + overhead + min_heap))MiB or more, or lower MACHVM_STORE_CAPACITY"
    fi
    flags="$flags -Xmx${heap}m"
    summary="memory limit ${limit}MiB = page store ${capacity}MiB + heap ${heap}MiB + JVM overhead ${overhead}MiB; $direct"
else
    summary="page store ${capacity}MiB, no container memory limit (heap: the JVM's default); $direct"
fi
flags="$flags -XX:+ExitOnOutOfMemoryError"

echo "machvm entrypoint: $summary" >&2
# shellcheck disable=SC2086 # flags and JAVA_OPTS are lists of options
if [ "${MACHVM_ENTRYPOINT_DRY_RUN:-}" = 1 ]; then
    echo "MACHVM_STORE_CAPACITY=${MACHVM_STORE_CAPACITY:-}"
    echo java $flags ${JAVA_OPTS:-} -cp "${MACHVM_APP_DIR:-/app}" org.springframework.boot.loader.launch.JarLauncher "$@"
else
    exec java $flags ${JAVA_OPTS:-} -cp "${MACHVM_APP_DIR:-/app}" org.springframework.boot.loader.launch.JarLauncher "$@"
fi
