#!/usr/bin/env bash
# The runs on a distributed cell whose figures are in loadtest/README.md
# ("The distributed deployment"). Each run starts a cell of its own
# (`chat-load --cell`: one Kafka broker, the store, Redis, gateways and
# processors, every one a process on this machine), drives it, measures its
# components bare (`chatctl baseline all`), and stops it. Release builds.
#
#   loadtest/cell-runs.sh targets      # the issue's targets: direct at 5 000
#                                      # msgs/s for 60 s, 10-member groups at
#                                      # 20 000 deliveries/s; on Cassandra,
#                                      # then on PostgreSQL
#   loadtest/cell-runs.sh scale-out    # one against two processor instances,
#                                      # one against two gateways
#   SCALE=0.2 loadtest/cell-runs.sh …  # the same shape, a fifth of the rate
#   LABEL=before loadtest/cell-runs.sh …  # a label on every results folder
set -euo pipefail
profile=${1:-targets}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
results=${RESULTS:-$root/loadtest/results}
scale=${SCALE:-1}
label=${LABEL:-}
n() { awk -v x="$1" -v s="$scale" 'BEGIN { v = int(x * s); if (v < 2) v = 2; print v }'; }

cargo build -q --release --bin chatctl -p chat-server
cargo build -q --release -p chat-loadtest --bin chat-load
load=$root/target/release/chat-load
ulimit -n "$(ulimit -Hn)"

# A run with violations exits 2: report it and go on with the others.
run() {
  local name=$1
  shift
  "$load" --out "$results" --label "$name${label:+-$label}" \
    --chatctl "$root/target/release/chatctl" "$@" ||
    echo "cell-runs: exit $? from: $name" >&2
}
direct=(direct --pairs "$(n 500)" --rate "$(n 5000)" --duration 60)
groups=(groups --devices "$(n 1000)" --group-size 10 --rate "$(n 2500)" --duration 60)
case $profile in
  targets)
    for store in cassandra postgres; do
      run "cell-$store" --cell "$store" "${direct[@]}"
      run "cell-$store-g10" --cell "$store" "${groups[@]}"
    done
    ;;
  scale-out)
    short=(direct --pairs "$(n 500)" --rate "$(n 3000)" --duration 30)
    run cell-p1-g1 --cell cassandra --cell-processors 1 --cell-gateways 1 "${short[@]}"
    run cell-p2-g1 --cell cassandra --cell-processors 2 --cell-gateways 1 "${short[@]}"
    run cell-p1-g2 --cell cassandra --cell-processors 1 --cell-gateways 2 "${short[@]}"
    ;;
  *)
    echo "cell-runs: unknown profile $profile (targets or scale-out)" >&2
    exit 1
    ;;
esac
