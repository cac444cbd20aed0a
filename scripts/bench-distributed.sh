#!/usr/bin/env bash
# Distributed-mode timings of `sluice` processes on one machine, printed as figures (not a test):
#   rebalance_1_to_4: one worker runs a verifiable source with 8 tasks; three more start at once;
#                     seconds until the tasks run on all four workers (2 each);
#   failover:         one of the four is killed with SIGKILL; seconds until all 8 tasks run again
#                     on the other three.
# Group settings: session.timeout.ms=6000, heartbeat.interval.ms=1000,
# scheduled.rebalance.max.delay.ms=2000 (override with BENCH_DELAY_MS). On Tansu a join round
# takes a few seconds more than on Kafka (see ../shared/reference/tansu.md).
#
# Usage: scripts/bench-distributed.sh   (BENCH_PROFILE=debug uses a debug build)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
if ! command -v cargo >/dev/null && [[ -x $HOME/.cargo/bin/cargo ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
scripts/install-deps.sh >/dev/null
profile=${BENCH_PROFILE:-release}
cargo_profile=(--release)
[[ $profile == debug ]] && cargo_profile=()
cargo build "${cargo_profile[@]}" --bin sluice 2>/dev/null
sluice="$root/target/$profile/sluice"
delay=${BENCH_DELAY_MS:-2000}
scripts/brokers.sh start >/dev/null
# shellcheck disable=SC1091
source .run/brokers.env
work="$root/.run/bench-distributed"
rm -rf "$work" && mkdir -p "$work"
group="bench-$RANDOM"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    scripts/brokers.sh stop >/dev/null || true
}
trap cleanup EXIT

start_worker() { # $1: index
    local port=$((21000 + RANDOM % 4000))
    cat >"$work/w$1.properties" <<PROPS
bootstrap.servers=$KAFKA_BOOTSTRAP
group.id=$group
key.converter=org.apache.kafka.connect.storage.StringConverter
value.converter=org.apache.kafka.connect.storage.StringConverter
config.storage.topic=$group-configs
offset.storage.topic=$group-offsets
status.storage.topic=$group-status
config.storage.replication.factor=1
offset.storage.replication.factor=1
status.storage.replication.factor=1
offset.storage.partitions=3
status.storage.partitions=2
session.timeout.ms=6000
heartbeat.interval.ms=1000
rebalance.timeout.ms=10000
scheduled.rebalance.max.delay.ms=$delay
offset.flush.interval.ms=1000
listeners=http://127.0.0.1:$port
PROPS
    "$sluice" distributed "$work/w$1.properties" >"$work/w$1.log" 2>&1 &
    pids[$1]=$!
    ports[$1]=$port
}

# Prints how many distinct workers run RUNNING tasks, and how many tasks run, from worker $1's view.
spread() {
    curl -s "http://127.0.0.1:${ports[$1]}/connectors/bench/status" | python3 -c '
import json, sys
try:
    s = json.load(sys.stdin)
except Exception:
    print("0 0"); sys.exit()
t = [x for x in s.get("tasks", []) if x.get("state") == "RUNNING"]
print(len({x["worker_id"] for x in t}), len(t))'
}

wait_for() { # $1: worker index to ask, $2: workers, $3: tasks; prints seconds waited
    local start=$SECONDS_START
    while true; do
        read -r workers tasks < <(spread "$1")
        if [[ $workers == "$2" && $tasks == "$3" ]]; then break; fi
        sleep 0.1
    done
    python3 -c "import time; print(f'{time.time() - $start:.1f}')"
}

declare -a ports
start_worker 1
until curl -sf "http://127.0.0.1:${ports[1]}/health" >/dev/null; do sleep 0.2; done
curl -s -X POST -H 'content-type: application/json' "http://127.0.0.1:${ports[1]}/connectors" \
    -d '{"name":"bench","config":{"connector.class":"VerifiableSource","tasks.max":"8","topic":"bench-out","throughput":"50"}}' >/dev/null
SECONDS_START=$(python3 -c 'import time; print(time.time())')
wait_for 1 1 8 >/dev/null

SECONDS_START=$(python3 -c 'import time; print(time.time())')
start_worker 2; start_worker 3; start_worker 4
rebalance=$(wait_for 1 4 8)

victim=${pids[4]}
kill -9 "$victim"
SECONDS_START=$(python3 -c 'import time; print(time.time())')
failover=$(wait_for 1 3 8)

echo "settings: session.timeout.ms=6000 heartbeat.interval.ms=1000 scheduled.rebalance.max.delay.ms=$delay, 8 tasks"
echo "rebalance_1_to_4_seconds: $rebalance"
echo "failover_seconds: $failover"
