#!/usr/bin/env bash
#  json_w1.sh — W1 (1 connection x 64 publishes in flight, 256 B, 3 nodes)
#  in protobuf and in the JSON dialect (raftq-bench --json) of one build,
#  interleaved by tools/bench/interleave.sh: every run, then the medians,
#  JSON's over protobuf's (issue 12 aims at JSON within 1.3x of protobuf).
#
#  usage: tools/bench/json_w1.sh [--rounds R] [--duration S] [--port-offset N]
#             [--out DIR]
#    as interleave.sh's, but --out defaults to /tmp/raftq-json-w1-<offset>
#  The build is $RAFTQ_BUILD, else this checkout's build/.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${RAFTQ_BUILD:-$ROOT/build}
PORT_OFFSET=17600
OPTIONS=()
OUT=
while [ $# -gt 0 ]; do
    case "$1" in
    --rounds | --duration) OPTIONS+=("$1" "$2"); shift 2 ;;
    --port-offset) PORT_OFFSET=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^#  \{0,1\}//'; exit 0 ;;
    *) echo "json_w1: unknown argument $1" >&2; exit 2 ;;
    esac
done
exec "$ROOT/tools/bench/interleave.sh" "${OPTIONS[@]}" --in-flight 64 \
    --port-offset "$PORT_OFFSET" --out "${OUT:-/tmp/raftq-json-w1-$PORT_OFFSET}" \
    "protobuf=$BUILD" "json=$BUILD,--json"
