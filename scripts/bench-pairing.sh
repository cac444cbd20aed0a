#!/usr/bin/env bash
# Figures for the pairing job (not a test), against a Tansu broker started here on a free port:
#   latency:    from a window's end + grace (event time = wall clock) to the pair record it
#               decides, read by a read_committed consumer; p50 and p99 (target <= 200 ms).
#               One run per rate in LATENCY_RATES (frames per second; default "3.5 20": the
#               camera's rate, then a busy one). With the default stream.time.advance=wall-clock
#               a sighting is decided when the clock reaches its window end + grace; with
#               LATENCY_SETS="--set stream.time.advance=records" only when the next frame
#               arrives (up to ~290 ms later at 3.5 frames/s).
#   throughput: records/s of one job pinned to one core (taskset -c 0) over COUNT preloaded
#               frames, from its first record to its last (group join excluded).
# Sighting mode, the default window (5 s) and grace (1 s); the latency run uses a 500 ms merge
# gap so that a minute holds many socks.
#
# Usage: scripts/bench-pairing.sh [COUNT, default 300000] [LATENCY_SECONDS, default 60]
# (BENCH_PROFILE=debug runs debug builds, to check the script quickly; figures need release.
# BENCH_NO_BUILD=1 skips the build.)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
count=${1:-300000}
seconds=${2:-60}
rates=${LATENCY_RATES:-${LATENCY_RATE:-3.5 20}}
if ! command -v cargo >/dev/null && [[ -x $HOME/.cargo/bin/cargo ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
profile=${BENCH_PROFILE:-release}
cargo_profile=(--release)
[[ $profile == debug ]] && cargo_profile=()
target=${CARGO_TARGET_DIR:-$root/target}
# BENCH_NO_BUILD=1 uses the binaries already built (while another build holds cargo's lock).
if [[ ${BENCH_NO_BUILD:-0} != 1 ]]; then
    cargo build "${cargo_profile[@]}" -p sluice-pairing --bin sluice-pairing --example bench-pairing 2>/dev/null
fi
job_bin="$target/$profile/sluice-pairing"
bench="$target/$profile/examples/bench-pairing"

work="$root/.run/bench-pairing"
rm -rf "$work" && mkdir -p "$work"
source scripts/lib/bench-brokers.sh
kafka_port=$(bench_free_port)
bootstrap=127.0.0.1:$kafka_port
BENCH_TANSU_PID=
job_pid=
cleanup() {
    bench_stop "$job_pid" "$BENCH_TANSU_PID"
}
trap cleanup EXIT
bench_start_tansu "$work" "$kafka_port"

# Starts the job: $1 = name, then --set arguments; waits until it owns its partition.
start_job() {
    local name=$1
    shift
    local http_port
    http_port=$(bench_free_port)
    cat >"$work/$name.properties" <<PROPS
bootstrap.servers=$bootstrap
application.id=$name
input.topic=$name-in
sightings.topic=$name-sightings
pairs.topic=$name-pairs
http.address=127.0.0.1:$http_port
consumer.session.timeout.ms=6000
consumer.heartbeat.interval.ms=1000
consumer.max.poll.interval.ms=10000
consumer.partition.assignment.strategy=range
PROPS
    taskset -c 0 "$job_bin" "$work/$name.properties" --no-table "$@" >"$work/$name.log" 2>&1 &
    job_pid=$!
    job_http=http://127.0.0.1:$http_port
    for _ in $(seq 600); do
        if curl -sf "$job_http/health" 2>/dev/null | grep -q '"assigned_partitions":[1-9]'; then
            return 0
        fi
        kill -0 "$job_pid" 2>/dev/null || { tail -20 "$work/$name.log"; return 1; }
        sleep 0.1
    done
    echo "the job did not get its partition; see $work/$name.log" >&2
    return 1
}
stop_job() {
    kill "$job_pid" && wait "$job_pid" || true
    job_pid=
}
metric() { curl -sf "$job_http/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

for rate in $rates; do
    echo "== latency (${seconds} s of socks at $rate frames/s)"
    name=latency-${rate//./-}
    start_job "$name" --set sighting.merge.gap.ms=500 ${LATENCY_SETS:-}
    GAP_MS=500 "$bench" latency "$bootstrap" "$name-in" "$name-pairs" "$rate" "$seconds"
    stop_job
done

echo "== throughput ($count frames, one core)"
"$bench" preload "$bootstrap" throughput-in "$count"
start_job throughput
first=
while :; do
    seen=$(metric sluice_pairing_records_in_total)
    now=$(date +%s.%N)
    if [[ -z $first && ${seen:-0} != 0 ]]; then
        first=$now
        first_seen=$seen
    fi
    if [[ ${seen:-0} -ge $count ]]; then
        break
    fi
    kill -0 "$job_pid" 2>/dev/null || { tail -20 "$work/throughput.log"; exit 1; }
    sleep 0.05
done
awk -v n="$count" -v s="$first_seen" -v a="$first" -v b="$now" \
    'BEGIN { printf "throughput: %d records in %.2f s = %.0f records/s on one core\n", n - s, b - a, (n - s) / (b - a) }'
echo "pair records: $(metric sluice_pairing_pair_records_total), late dropped: $(metric sluice_pairing_records_late_dropped_total)"
stop_job
