#!/usr/bin/env bash
#  interleave.sh — one publish workload (256 B, 1 connection, 3 nodes) on a
#  fresh cluster per run, interleaved over variants: each round runs every
#  variant once, in an order rotated by one from the round before, so that
#  a drift of the machine's load and the place in a round (the run just
#  after another cluster's teardown) touch all alike. On a shared 2-vCPU VM
#  four rounds in a fixed order showed a +10% that six rotated rounds did
#  not (README, Performance): use six or more, and trust CPU per operation
#  before writes/s. Prints every run, then the medians and each variant's
#  median over the first variant's.
#
#  usage: tools/bench/interleave.sh [--rounds R] [--duration S] [--in-flight M]
#             [--port-offset N] [--out DIR] [--set KEY=VALUE]... VARIANT...
#    VARIANT           NAME=DIR[,ARGUMENT...]: DIR is a build directory
#                      (raftqd, raftq-bench) or holds one as build/ (a
#                      checkout, or a copy of one); each ARGUMENT goes to
#                      raftq-bench (e.g. --json)
#    --rounds R        rounds (6)
#    --duration S      measured seconds of each run, after 1 s warm-up (10)
#    --in-flight M     publishes in flight: 64 is W1, 1 is W2 (64)
#    --port-offset N   added to every port of config.json (17600: 23101-23903)
#    --out DIR         config copy, data, each run's report
#                      (/tmp/raftq-interleave-<offset>)
#    --set KEY=VALUE   a top-level config setting for every run (VALUE in
#                      JSON), e.g. --set snapshot_log_bytes=1073741824
#  Each run takes the benchmark lock (/tmp/raftq-bench.lock) for itself.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROUNDS=6
DURATION=10
IN_FLIGHT=64
PORT_OFFSET=17600
OUT=
SETTINGS=()
while [ $# -gt 0 ]; do
    case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --in-flight) IN_FLIGHT=$2; shift 2 ;;
    --port-offset) PORT_OFFSET=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --set) SETTINGS+=("$2"); shift 2 ;;
    -h | --help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^#  \{0,1\}//'; exit 0 ;;
    -*) echo "interleave: unknown argument $1" >&2; exit 2 ;;
    *) break ;;
    esac
done
[ $# -gt 0 ] || { echo "interleave: no variant (try --help)" >&2; exit 2; }
#  The build directory of a variant's DIR (printed), or nothing.
build_of() {
    if [ -x "$1/build/raftqd" ]; then
        (cd "$1/build" && pwd)
    elif [ -x "$1/raftqd" ]; then
        (cd "$1" && pwd)
    fi
}

NAMES=()
for variant in "$@"; do
    name=${variant%%=*}
    directory=${variant#*=}
    if [ "$name" = "$variant" ] || [ -z "$name" ] || [ -z "$(build_of "${directory%%,*}")" ]; then
        echo "interleave: $variant is not NAME=DIR with a raftqd in DIR or DIR/build" >&2
        exit 2
    fi
    NAMES+=("$name")
done
OUT=${OUT:-/tmp/raftq-interleave-$PORT_OFFSET}
CONFIG=$OUT/raftq3.json
mkdir -p "$OUT"
/usr/bin/python3 "$ROOT/tools/bench/config_copy.py" "$ROOT/config.json" "$CONFIG" "$OUT/data" 3 \
    "$PORT_OFFSET" "${SETTINGS[@]}" || exit 1

#  One run of a variant on a fresh cluster: $1 the variant, $2 the round.
#  Prints "ops/s p50 p99 cpu_us_per_op errors" and keeps the report.
run() {
    local name=${1%%=*} rest=${1#*=}
    local directory=${rest%%,*} arguments=
    [ "$rest" != "$directory" ] && arguments=${rest#*,}
    local build
    build=$(build_of "$directory")
    local report=$OUT/$name-$2.txt
    local cluster="$ROOT/tools/raftq-cluster --config $CONFIG --bin $build"
    $cluster stop >/dev/null 2>&1
    rm -rf "$OUT/data"
    $cluster start >/dev/null 2>&1 || { echo "interleave: $name's cluster did not start" >&2; exit 1; }
    # shellcheck disable=SC2086  # the arguments are words on purpose
    flock /tmp/raftq-bench.lock "$build/raftq-bench" -c "$CONFIG" -n 1 -m "$IN_FLIGHT" \
        -s 256 -d "$DURATION" -w 1 ${arguments//,/ } >"$report" 2>&1
    $cluster stop >/dev/null 2>&1
    awk '/^  ops\/s/ { ops = $2 } /^  latency p50/ { p50 = $3 } /^  latency p99 / { p99 = $3 }
         /^  errors/ { errors = $2 } /broker CPU/ { cpu = $(NF - 3) }
         END { print ops, p50, p99, cpu, errors }' "$report"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf "%-12s %5s %10s %9s %9s %12s  %s\n" variant round ops/s "p50 ms" "p99 ms" "CPU us/op" errors
: >"$OUT/runs"
variants=("$@")
count=${#variants[@]}
for round in $(seq 1 "$ROUNDS"); do
    for step in $(seq 0 $((count - 1))); do
        variant=${variants[$(((round - 1 + step) % count))]}
        read -r ops p50 p99 cpu errors <<<"$(run "$variant" "$round")"
        [ -n "$ops" ] || { echo "interleave: no result from ${variant%%=*} (see $OUT)" >&2; exit 1; }
        printf "%-12s %5d %10s %9s %9s %12s  %s\n" "${variant%%=*}" "$round" "$ops" "$p50" "$p99" \
            "$cpu" "$errors"
        echo "${variant%%=*} $ops $p50 $p99 $cpu" >>"$OUT/runs"
    done
done

column() { awk -v name="$1" -v c="$2" '$1 == name { print $c }' "$OUT/runs" | median; }
echo "medians of $ROUNDS rounds, and each over ${NAMES[0]}'s:"
for field in "2 ops/s" "3 p50-ms" "4 p99-ms" "5 cpu-us/op"; do
    read -r column_number label <<<"$field"
    first=$(column "${NAMES[0]}" "$column_number")
    line=$(printf "  %-12s" "$label")
    for name in "${NAMES[@]}"; do
        value=$(column "$name" "$column_number")
        ratio=$(awk -v f="$first" -v v="$value" 'BEGIN { if (f == 0) print "-"; else printf "%.2f", v / f }')
        line="$line $(printf "%s %s (%sx)" "$name" "$value" "$ratio")"
    done
    echo "$line"
done
