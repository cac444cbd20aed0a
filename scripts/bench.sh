#!/usr/bin/env bash
# Start-up time and memory of a release `sluice` worker, printed as figures (not a test):
#   1. start-up: from exec to the first 200 from GET / (REST ready), idle RSS;
#   2. a file source -> Kafka -> file sink pipeline moving N lines: throughput and peak RSS.
# Uses local brokers from scripts/brokers.sh. Usage: scripts/bench.sh [lines, default 200000]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
lines=${1:-200000}
if ! command -v cargo >/dev/null && [[ -x $HOME/.cargo/bin/cargo ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
scripts/install-deps.sh >/dev/null
cargo build --release --bin sluice 2>/dev/null
scripts/brokers.sh start >/dev/null
# shellcheck disable=SC1091
source .run/brokers.env
work="$root/.run/bench"
rm -rf "$work" && mkdir -p "$work"
port=$((20000 + RANDOM % 10000))
pid=
cleanup() {
    [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    scripts/brokers.sh stop >/dev/null || true
}
trap cleanup EXIT

now_ms() { date +%s%3N; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

cat > "$work/worker.properties" <<PROPS
bootstrap.servers=$KAFKA_BOOTSTRAP
key.converter=org.apache.kafka.connect.storage.StringConverter
value.converter=org.apache.kafka.connect.storage.StringConverter
offset.storage.file.filename=$work/connect.offsets
offset.flush.interval.ms=1000
listeners=http://127.0.0.1:$port
consumer.session.timeout.ms=6000
consumer.heartbeat.interval.ms=1000
consumer.max.poll.interval.ms=10000
consumer.partition.assignment.strategy=range
PROPS

# 1. Start-up.
start=$(now_ms)
"$root/target/release/sluice" standalone "$work/worker.properties" > "$work/startup.log" 2>&1 &
pid=$!
until curl -sf "http://127.0.0.1:$port/" >/dev/null; do sleep 0.005; done
ready=$(now_ms)
sleep 1
echo "startup_ms_to_rest_ready: $((ready - start))"
echo "idle_rss_mib: $(awk "BEGIN {printf \"%.1f\", $(rss_kib "$pid")/1024}")"
kill "$pid"; wait "$pid" || true; pid=

# 2. Pipeline.
seq 1 "$lines" | sed 's/^/bench line /' > "$work/in.txt"
cat > "$work/source.properties" <<PROPS
name=bench-source
connector.class=FileStreamSource
file=$work/in.txt
topic=bench
PROPS
cat > "$work/sink.properties" <<PROPS
name=bench-sink
connector.class=FileStreamSink
file=$work/out.txt
topics=bench
PROPS
start=$(now_ms)
"$root/target/release/sluice" standalone "$work/worker.properties" "$work/source.properties" "$work/sink.properties" > "$work/pipeline.log" 2>&1 &
pid=$!
until [[ -f $work/out.txt ]] && (( $(wc -l < "$work/out.txt") >= lines )); do
    sleep 0.1
    if (( $(now_ms) - start > 300000 )); then echo "bench: timed out" >&2; exit 1; fi
done
done_ms=$(now_ms)
secs=$(awk "BEGIN {print ($done_ms - $start) / 1000}")
echo "pipeline_lines: $lines"
echo "pipeline_seconds_end_to_end: $secs (includes start-up and the sink's group join)"
echo "pipeline_records_per_second: $(awk "BEGIN {printf \"%.0f\", $lines / $secs}")"
echo "pipeline_peak_rss_mib: $(awk "BEGIN {printf \"%.1f\", $(hwm_kib "$pid")/1024}")"
