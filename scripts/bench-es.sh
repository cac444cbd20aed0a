#!/usr/bin/env bash
# Kafka -> Elasticsearch throughput of a release `sluice` (the ES sink) beside a raw bulk loader
# writing the same documents into the same es-standin (the Elasticsearch TEST DOUBLE), in the same
# run. Figures, not a test. The sink's rate is timed from its first indexed document until all
# are in (consumer-group joins excluded); the records are in Kafka before the sink starts.
# ratio = sluice / raw; the issue's target is >= 0.8. The raw loader uses the same batch size and
# the sink's effective concurrency (max.in.flight.requests - 1).
#
# Usage: scripts/bench-es.sh [records, default 200000] [batch.size, default 2000]
#        [max.in.flight.requests, default 5]   (BENCH_PROFILE=debug for a quick check)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
count=${1:-200000}
batch=${2:-2000}
inflight=${3:-5}
concurrency=$((inflight > 1 ? inflight - 1 : 1))
if ! command -v cargo >/dev/null && [[ -x $HOME/.cargo/bin/cargo ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
profile=${BENCH_PROFILE:-release}
cargo_profile=(--release)
[[ $profile == debug ]] && cargo_profile=()
target=${CARGO_TARGET_DIR:-$root/target}
# The classifier transform (tract) is not needed here: leave it out for a faster build.
# BENCH_NO_BUILD=1 uses the binaries already built (while another build holds cargo's lock).
if [[ ${BENCH_NO_BUILD:-0} != 1 ]]; then
    cargo build "${cargo_profile[@]}" -p sluice-worker --no-default-features --bin sluice 2>/dev/null
    cargo build "${cargo_profile[@]}" -p sluice-es-standin --bin es-standin 2>/dev/null
    cargo build "${cargo_profile[@]}" -p sluice-tests --example es_bench 2>/dev/null
fi
bench="$target/$profile/examples/es_bench"
scripts/brokers.sh start >/dev/null
# shellcheck disable=SC1091
source .run/brokers.env
work="$root/.run/bench-es"
rm -rf "$work" && mkdir -p "$work"
rest_port=$((20000 + RANDOM % 5000))
pid=
es_pid=
cleanup() {
    [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    [[ -n $es_pid ]] && kill "$es_pid" 2>/dev/null && wait "$es_pid" 2>/dev/null || true
    scripts/brokers.sh stop >/dev/null || true
}
trap cleanup EXIT

"$target/$profile/es-standin" --port 0 --port-file "$work/es.port" > "$work/es.log" 2>&1 &
es_pid=$!
until [[ -s $work/es.port ]]; do sleep 0.05; done
es_url="http://127.0.0.1:$(cat "$work/es.port")"
topic="bench-es-$RANDOM"
"$bench" produce "$KAFKA_BOOTSTRAP" "$topic" "$count"

cat > "$work/worker.properties" <<PROPS
bootstrap.servers=$KAFKA_BOOTSTRAP
listeners=http://127.0.0.1:$rest_port
offset.storage.file.filename=$work/connect.offsets
key.converter=org.apache.kafka.connect.storage.StringConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
value.converter.schemas.enable=false
consumer.session.timeout.ms=6000
consumer.heartbeat.interval.ms=1000
consumer.max.poll.interval.ms=10000
consumer.partition.assignment.strategy=range
PROPS
cat > "$work/es.properties" <<PROPS
name=bench-es
connector.class=io.confluent.connect.elasticsearch.ElasticsearchSinkConnector
topics=$topic
connection.url=$es_url
key.ignore=true
schema.ignore=true
batch.size=$batch
max.in.flight.requests=$inflight
max.buffered.records=$((batch * inflight * 4))
linger.ms=5
PROPS
"$target/$profile/sluice" standalone "$work/worker.properties" "$work/es.properties" > "$work/worker.log" 2>&1 &
pid=$!
sink_rate=$("$bench" wait "$es_url" "$topic" "$count" | sed 's/docs_per_s=//')
# CPU the worker used for the whole run (start-up and group join included): a figure that does
# not depend on what else the machine is doing.
read -r utime stime < <(awk '{print $14, $15}' "/proc/$pid/stat")
worker_cpu=$(python3 -c "print(f'{($utime + $stime) / $(getconf CLK_TCK):.2f}')")
kill "$pid" && wait "$pid" 2>/dev/null || true
pid=
raw_rate=$("$bench" raw "$es_url" raw-loader "$count" "$batch" "$concurrency" | sed 's/docs_per_s=//')
echo "records=$count batch.size=$batch max.in.flight.requests=$inflight (bulks in flight: $concurrency) linger.ms=5 profile=$profile"
echo "sluice_es_sink_docs_per_s=$sink_rate"
echo "raw_bulk_loader_docs_per_s=$raw_rate"
echo "sluice_worker_cpu_s=$worker_cpu ($(python3 -c "print(f'{$worker_cpu * 1e6 / $count:.1f}')") us per document)"
python3 -c "print(f'ratio={$sink_rate / $raw_rate:.2f} (target >= 0.8)')"
