#!/usr/bin/env bash
# Core JMH benchmarks and heap checks (BENCHMARKS.md, "Core (JMH)").
#   bench/jmh.sh                 build target/benchmarks.jar, run targets 1-4, print ratios and PASS/FAIL
#   SKIP_BUILD=1 bench/jmh.sh    reuse target/benchmarks.jar
#   bench/jmh.sh -wi 2 -i 3      extra arguments go to JMH (targets 1 and 2)
# Output is kept in target/jmh/ (core.txt, core.json, sparse.txt, pagetable.txt). Exit status 1 if a target is missed.
set -uo pipefail
cd "$(dirname "$0")/.."

export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
JAVA="$JAVA_HOME/bin/java"
OUT=target/jmh

if [ -z "${SKIP_BUILD:-}" ]; then
    ./mvnw -q -B -ntp -Pjmh package || exit 2
fi
mkdir -p "$OUT"

status=0
# Targets 1 and 2: JMH, one fork per benchmark (heap and direct memory are set by each class's @Fork).
"$JAVA" -cp target/benchmarks.jar io.machvm.bench.CoreTargets -f 1 -rf json -rff "$OUT/core.json" "$@" \
    2>&1 | grep -v '^WARNING: .*[Uu]nsafe' | tee "$OUT/core.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

# Target 3: 1 TiB allocated, one page touched.
"$JAVA" -Xms512m -Xmx512m -XX:MaxDirectMemorySize=1g -cp target/benchmarks.jar io.machvm.bench.SparseAllocationCheck \
    | tee "$OUT/sparse.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

# Target 4: heap per resident page with 1 GiB resident.
"$JAVA" -Xms1g -Xmx1g -XX:MaxDirectMemorySize=2g -cp target/benchmarks.jar io.machvm.bench.PageTableHeapCheck \
    | tee "$OUT/pagetable.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

exit $status
