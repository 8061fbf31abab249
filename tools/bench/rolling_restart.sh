#!/usr/bin/env bash
#  rolling_restart.sh — a rolling restart of every node of a cluster under
#  W1-like load (issue 12's aim: no failed request, longest gap without a
#  committed reply under 100 ms).
#
#  It copies config.json with every port shifted by --port-offset (data and
#  keys under --out), starts a fresh cluster of --nodes nodes, runs
#  `raftq-bench --mode stall --timeline` (1 connection x --inflight
#  publishes of 256 B; the bench follows NOT_LEADER hints and resends what
#  a node refused without proposing) and, once the warm-up is over,
#  restarts the nodes 1..N one at a time with `tools/raftq-cluster restart
#  N` (SIGTERM: a leader hands over by TimeoutNow before it exits). After
#  each restart it waits until the leader reports the node back as a voter
#  at most --lag entries behind, then --settle seconds, then restarts the
#  next. It prints, per restart, which node led before it and after it,
#  and at the end the bench's report: failed requests (errors, unanswered,
#  send failures), the longest gap and when it ended, every gap of 50 ms or
#  more with its end, and every window.
#  Restart times are given in seconds since the bench's measured phase
#  began (as the script guesses it: to within the bench's start, some ms)
#  and on the wall clock, which the bench's "measured from" and the node
#  logs (<out>/data/node-N/raftqd.log) use too.
#
#  usage: tools/bench/rolling_restart.sh [--port-offset N] [--nodes N]
#             [--inflight M] [--duration S] [--lag ENTRIES] [--settle S]
#             [--snapshot-log-bytes B] [--out DIR] [--keep] [--control]
#    --port-offset N   added to every port of config.json (default 17500:
#                      23001-23805, the measure helper's range)
#    --nodes N         cluster size, the first N nodes of config.json (5)
#    --inflight M      publishes in flight on the one connection (64)
#    --duration S      the bench's measured seconds (55); restarts that do
#                      not fit are reported as such
#    --lag ENTRIES     a restarted node counts as caught up this close to
#                      the leader's last index (2000: well under 0.2 s of W1)
#    --settle S        pause after a node caught up before the next (1)
#    --snapshot-log-bytes B   the cluster's snapshot_log_bytes (1 GiB, the
#                      most allowed): with the default 64 MiB every node
#                      reaches it at the same index some 30 s into W1 and
#                      all fork a snapshot at once, a stall of its own
#                      (measured apart, see README); 0: config.json's
#    --out DIR         config copy, data, node logs, bench output
#                      (/tmp/raftq-rolling-<offset>)
#    --keep            leave the cluster running at the end
#    --control         restart nothing: the same load and report, for the
#                      gaps the machine makes by itself
#  Run it under flock /tmp/raftq-bench.lock on a shared machine. The exit
#  status is 0 when the run completed (whatever it measured), 1 otherwise.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${RAFTQ_BUILD:-$ROOT/build}
PORT_OFFSET=17500
NODES=5
INFLIGHT=64
DURATION=55
LAG=2000
SETTLE=1
SNAPSHOT_LOG_BYTES=1073741824
OUT=
KEEP=0
CONTROL=0
WARMUP=1
while [ $# -gt 0 ]; do
    case "$1" in
    --port-offset) PORT_OFFSET=$2; shift 2 ;;
    --nodes) NODES=$2; shift 2 ;;
    --inflight) INFLIGHT=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --lag) LAG=$2; shift 2 ;;
    --settle) SETTLE=$2; shift 2 ;;
    --snapshot-log-bytes) SNAPSHOT_LOG_BYTES=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --control) CONTROL=1; shift ;;
    -h | --help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^#  \{0,1\}//'; exit 0 ;;
    *) echo "rolling_restart: unknown argument $1" >&2; exit 2 ;;
    esac
done
OUT=${OUT:-/tmp/raftq-rolling-$PORT_OFFSET}
CONFIG=$OUT/raftq.json
CLUSTER="$ROOT/tools/raftq-cluster --config $CONFIG --bin $BUILD"
mkdir -p "$OUT"

/usr/bin/python3 "$ROOT/tools/bench/config_copy.py" "$ROOT/config.json" "$CONFIG" "$OUT/data" "$NODES" \
    "$PORT_OFFSET" $([ "$SNAPSHOT_LOG_BYTES" != 0 ] && echo "snapshot_log_bytes=$SNAPSHOT_LOG_BYTES") ||
    exit 1

#  Seconds since the epoch, to the ms.
now() { date +%s.%3N; }

#  The leader (the node in the highest term that says it leads), node $1's
#  lag as the leader reports it, and whether it votes: "LEADER LAG yes|no",
#  "-" for what is unknown. `raftq status` (C) rather than raftq-cluster
#  (Python): polling must not load the 2 CPUs the cluster runs on.
leader_view() {
    "$BUILD/raftq" -c "$CONFIG" status 2>/dev/null | awk -v node="$1" '
        NR > 1 && $3 == "leader" && $5 >= term { term = $5; leader = $1 }
        NR > 1 && $1 == node { lag = $11; voter = $4 == "voter" ? "yes" : "no" }
        END { print (leader ? leader : "-"), (lag != "" ? lag : "-"), (voter ? voter : "-") }'
}

$CLUSTER stop >/dev/null 2>&1
rm -rf "$OUT/data"
if ! $CLUSTER start >"$OUT/start.log" 2>&1; then
    echo "rolling_restart: the cluster did not start (see $OUT/start.log)"
    exit 1
fi

"$BUILD/raftq-bench" -c "$CONFIG" --mode stall -n 1 -m "$INFLIGHT" -s 256 -d "$DURATION" \
    -w "$WARMUP" --timeline >"$OUT/bench.txt" 2>&1 &
BENCH=$!
START=$(now)
MEASURED=$(echo "$START + $WARMUP" | bc)
sleep "$WARMUP"
sleep 1

echo "rolling restart: $NODES nodes, 1 x $INFLIGHT in flight, 256 B, ports +$PORT_OFFSET, out $OUT"
COMPLETE=1
RESTARTED=$(seq 1 "$NODES")
[ "$CONTROL" = 1 ] && RESTARTED= && echo "  control run: no restarts"
for node in $RESTARTED; do
    read -r before _ _ <<<"$(leader_view "$node")"
    began=$(now)
    $CLUSTER restart "$node" >>"$OUT/restart.log" 2>&1 || echo "  node $node: restart failed"
    started=$(now)
    caught=
    deadline=$(echo "$started + 20" | bc)
    while [ "$(echo "$(now) < $deadline" | bc)" = 1 ]; do
        read -r leader lag voter <<<"$(leader_view "$node")"
        if [ "$voter" = yes ] && [ "$lag" != - ] && [ "$lag" -le "$LAG" ]; then
            caught=$(now)
            break
        fi
        sleep 0.2
    done
    printf "  node %d restarted at %6.2f s, %s UTC (leader before: %s%s), up after %.2f s, " \
        "$node" "$(echo "$began - $MEASURED" | bc)" "$(date -u -d "@$began" +%H:%M:%S.%3N)" "$before" \
        "$([ "$before" = "$node" ] && echo ', itself')" "$(echo "$started - $began" | bc)"
    if [ -n "$caught" ]; then
        printf "caught up after %.2f s (leader now: %s)\n" "$(echo "$caught - $began" | bc)" "$leader"
    else
        printf "NOT caught up within 20 s\n"
        COMPLETE=0
    fi
    sleep "$SETTLE"
done
last=$(now)
if ! kill -0 "$BENCH" 2>/dev/null; then
    echo "  the bench ended before the last restart was done: raise --duration"
    COMPLETE=0
fi
wait "$BENCH"
[ "$CONTROL" = 1 ] || printf "  restarts done %.2f s into the measured phase of %s s\n" \
    "$(echo "$last - $MEASURED" | bc)" "$DURATION"
grep -E "^  (ops/s|errors|latency p99 |latency max|measured from|longest gap|long gaps|late replies|resent|slow windows)" \
    "$OUT/bench.txt" | sed 's/^/  /'
echo "  timeline and the whole report: $OUT/bench.txt; node logs: $OUT/data/*/raftqd.log"
[ "$KEEP" = 1 ] || $CLUSTER stop >/dev/null 2>&1
[ "$COMPLETE" = 1 ]
