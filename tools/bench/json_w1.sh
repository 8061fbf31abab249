#!/usr/bin/env bash
#  json_w1.sh — W1 (1 connection x 64 publishes in flight, 256 B, 3 nodes)
#  in protobuf and in the JSON dialect (raftq-bench --json), interleaved:
#  each round runs both on fresh clusters, protobuf first in odd rounds and
#  JSON first in even ones, so that a drift of the machine's load touches
#  both alike. Prints every run (ops/s, p50, p99, broker CPU per
#  operation), then the medians and the JSON / protobuf ratios (issue 12
#  aims at JSON within 1.3x of protobuf).
#
#  usage: tools/bench/json_w1.sh [--rounds R] [--duration S] [--port-offset N]
#             [--out DIR]
#    --rounds R        rounds of both (3)
#    --duration S      measured seconds of each run, after 1 s warm-up (10)
#    --port-offset N   added to every port of config.json (17600: 23101-23903)
#    --out DIR         config copy, data, each run's report
#                      (/tmp/raftq-json-w1-<offset>)
#  Each run takes the benchmark lock (/tmp/raftq-bench.lock) for itself.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${RAFTQ_BUILD:-$ROOT/build}
ROUNDS=3
DURATION=10
PORT_OFFSET=17600
OUT=
while [ $# -gt 0 ]; do
    case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --port-offset) PORT_OFFSET=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^#  \{0,1\}//'; exit 0 ;;
    *) echo "json_w1: unknown argument $1" >&2; exit 2 ;;
    esac
done
OUT=${OUT:-/tmp/raftq-json-w1-$PORT_OFFSET}
CONFIG=$OUT/raftq3.json
CLUSTER="$ROOT/tools/raftq-cluster --config $CONFIG --bin $BUILD"
mkdir -p "$OUT"
/usr/bin/python3 "$ROOT/tools/bench/config_copy.py" "$ROOT/config.json" "$CONFIG" "$OUT/data" 3 \
    "$PORT_OFFSET" || exit 1

#  One run on a fresh cluster: $1 the dialect (protobuf|json), $2 the round.
#  Prints "ops/s p50 p99 cpu_us_per_op" and keeps the report.
run() {
    local report=$OUT/$1-$2.txt
    $CLUSTER stop >/dev/null 2>&1
    rm -rf "$OUT/data"
    $CLUSTER start >/dev/null 2>&1 || { echo "json_w1: the cluster did not start" >&2; exit 1; }
    flock /tmp/raftq-bench.lock "$BUILD/raftq-bench" -c "$CONFIG" -n 1 -m 64 -s 256 \
        -d "$DURATION" -w 1 $([ "$1" = json ] && echo --json) >"$report" 2>&1
    $CLUSTER stop >/dev/null 2>&1
    awk '/^  ops\/s/ { ops = $2 } /^  latency p50/ { p50 = $3 } /^  latency p99 / { p99 = $3 }
         /^  errors/ { errors = $2 } /broker CPU/ { cpu = $(NF - 3) }
         END { print ops, p50, p99, cpu, errors }' "$report"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf "%-9s %5s %10s %9s %9s %12s  %s\n" dialect round ops/s "p50 ms" "p99 ms" "CPU us/op" errors
: >"$OUT/runs"
for round in $(seq 1 "$ROUNDS"); do
    order="protobuf json"
    [ $((round % 2)) = 0 ] && order="json protobuf"
    for dialect in $order; do
        read -r ops p50 p99 cpu errors <<<"$(run "$dialect" "$round")"
        printf "%-9s %5d %10s %9s %9s %12s  %s\n" "$dialect" "$round" "$ops" "$p50" "$p99" "$cpu" \
            "$errors"
        echo "$dialect $ops $p50 $p99 $cpu" >>"$OUT/runs"
    done
done

column() { awk -v d="$1" -v c="$2" '$1 == d { print $c }' "$OUT/runs" | median; }
echo "medians of $ROUNDS rounds:"
for field in "2 ops/s" "3 p50-ms" "4 p99-ms" "5 cpu-us/op"; do
    read -r column_number name <<<"$field"
    protobuf=$(column protobuf "$column_number")
    json=$(column json "$column_number")
    ratio=$(awk -v p="$protobuf" -v j="$json" -v c="$column_number" \
        'BEGIN { if (p == 0 || j == 0) print "-"; else printf "%.2f", c == 2 ? p / j : j / p }')
    printf "  %-12s protobuf %10s  json %10s  json cost %sx protobuf\n" "$name" "$protobuf" "$json" "$ratio"
done
