#!/usr/bin/env bash
# bench_compare — raftq beside etcd and NATS JetStream on this machine, through
# the shared side-by-side scripts (../shared/bench, see its README; run its
# peers/setup.sh once). Nothing of theirs is copied here: they are called.
#   1. sidebyside.sh: W1 (64 in flight) and W2 (1 in flight), ROUNDS interleaved
#      rounds, its table of medians and the raftq/etcd and raftq/NATS ratios;
#   2. a sweep of throughput against requests in flight (SWEEP) for the three,
#      SWEEP_S seconds each on a fresh cluster, into $OUT/inflight.dat, plotted
#      by tools/bench/throughput.gp into $OUT/throughput.png with the machine
#      and the date in its title.
# Environment: BENCH_SHARED (default ../shared/bench beside the checkout),
# ROUNDS (3), SWEEP ("1 4 16 64 256"), SWEEP_S (5), OUT (/tmp/peerbench/compare),
# SKIP_SIDEBYSIDE=1 to plot only. Exits 0 without the shared scripts (saying so).
set -uo pipefail
PROJ=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=$(cd "${BENCH_SHARED:-$PROJ/../shared/bench}" 2>/dev/null && pwd) || SHARED=""
ROUNDS=${ROUNDS:-3}; SWEEP=${SWEEP:-"1 4 16 64 256"}; SWEEP_S=${SWEEP_S:-5}
OUT=${OUT:-/tmp/peerbench/compare}
if [ -z "$SHARED" ] || [ ! -f "$SHARED/sidebyside.sh" ]; then
  echo "bench-compare: no side-by-side scripts (sidebyside.sh in ${BENCH_SHARED:-$PROJ/../shared/bench}): nothing to compare with"
  exit 0
fi
PEERS=$SHARED/peers
source "$PEERS/common.sh"          # PB: where the peers keep their state
mkdir -p "$OUT" "$PB/bin"
( cd "$PROJ" && make -s >/dev/null ) || exit 1

if [ "${SKIP_SIDEBYSIDE:-0}" != 1 ]; then
  echo "== side by side, $ROUNDS round(s): W1 64 in flight, W2 1 in flight"
  bash "$SHARED/sidebyside.sh" "$PROJ" "$ROUNDS" | tee "$OUT/sidebyside.txt"
fi

# A 3-node raftq cluster of our own for the sweep, on the ports of config.json
CONFIG=$OUT/raftq3.json
/usr/bin/python3 - "$PROJ/config.json" "$CONFIG" "$OUT/raftq-data" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
config["nodes"] = config["nodes"][:3]
config["data_dir"] = sys.argv[3]
config["admin_secret_file"] = sys.argv[3] + "/admin.secret"
json.dump(config, open(sys.argv[2], "w"), indent=1)
PY
[ -x "$PB/bin/nats_jspub" ] || cc -O2 -Wall -o "$PB/bin/nats_jspub" "$PEERS/nats_jspub.c" -lnats || exit 1

raftq_rate() { # in_flight -> ops/s
  "$PROJ/tools/raftq-cluster" --config "$CONFIG" stop >/dev/null 2>&1
  rm -rf "$OUT/raftq-data"
  "$PROJ/tools/raftq-cluster" --config "$CONFIG" start >/dev/null 2>&1 || return
  "$PROJ/build/raftq-bench" -c "$CONFIG" -n 1 -m "$1" -s 256 -d "$SWEEP_S" -w 1 > "$OUT/raftq_$1.txt" 2>&1
  "$PROJ/tools/raftq-cluster" --config "$CONFIG" stop >/dev/null 2>&1
  awk '$1 == "ops/s" { print $2 }' "$OUT/raftq_$1.txt"
}
etcd_rate() {
  ( cd "$PEERS" && ./etcd_cluster.sh start >/dev/null 2>&1
    leader=$(./etcd_cluster.sh leader)
    wrk -t1 -c"$1" -d"${SWEEP_S}s" -s etcd_put.lua "$leader" > "$OUT/etcd_$1.txt" 2>&1
    ./etcd_cluster.sh stop >/dev/null 2>&1 )
  awk '$1 == "Requests/sec:" { print $2 }' "$OUT/etcd_$1.txt"
}
nats_rate() {
  ( cd "$PEERS" && ./nats_cluster.sh start >/dev/null 2>&1
    port=$(node nats_bench.js setup 24221)
    "$PB/bin/nats_jspub" "nats://127.0.0.1:$port" "$1" "$SWEEP_S" > "$OUT/nats_$1.txt" 2>&1
    ./nats_cluster.sh stop >/dev/null 2>&1 )
  sed -n 's/.*ops_per_s=\([0-9.]*\).*/\1/p' "$OUT/nats_$1.txt"
}

# The plot needs gnuplot: installed when missing, as make test installs its own
command -v gnuplot >/dev/null ||
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnuplot-nox >/dev/null; } ||
  echo "bench-compare: no gnuplot (apt-get install gnuplot-nox): the sweep will not be plotted"

echo "== throughput against requests in flight ($SWEEP), ${SWEEP_S} s each"
{
  echo "# in_flight raftq_ops_s etcd_ops_s nats_ops_s  ($(uname -n), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ))"
  for n in $SWEEP; do
    echo "$n $(raftq_rate "$n" || true) $(etcd_rate "$n" || true) $(nats_rate "$n" || true)" \
      | awk 'NF == 4 { print; next } { printf "%s", $1; for (i = 2; i <= 4; i++) printf " %s", (i <= NF ? $i : "NaN"); print "" }'
  done
} | tee "$OUT/inflight.dat"
gnuplot -e "data='$OUT/inflight.dat'; out='$OUT/throughput.png'; title='$(uname -n), $(nproc) CPUs, $(date -u +%Y-%m-%d)'" \
  "$PROJ/tools/bench/throughput.gp" && echo "plot: $OUT/throughput.png"
