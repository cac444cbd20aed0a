#!/usr/bin/env bash
# The main job on local defaults. For now: a standalone Sluice worker moving a file through Kafka
# with the example configs (file source -> topic connect-test -> file sink), exactly as Kafka's
# connect-standalone quickstart does. Later this becomes the sock pipeline.
#
# It installs what is missing, builds sluice (release), starts local brokers, runs the worker,
# writes lines to the input file, waits until every line reached the output file through Kafka,
# shows the connector status, then stops everything.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
if ! command -v cargo >/dev/null && [[ -x $HOME/.cargo/bin/cargo ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi

scripts/install-deps.sh
cargo build --release --bin sluice
scripts/brokers.sh start
# shellcheck disable=SC1091
source .run/brokers.env

work="$root/.run/demo"
rm -rf "$work" && mkdir -p "$work"
port=${SLUICE_REST_PORT:-8083}
worker_pid=
cleanup() {
    [[ -n $worker_pid ]] && kill "$worker_pid" 2>/dev/null && wait "$worker_pid" 2>/dev/null || true
    scripts/brokers.sh stop || true
}
trap cleanup EXIT

# The example files name test.txt and test.sink.txt relative to the worker's directory; the
# environment overrides point the example worker at the local broker (CONNECT_* as in the
# Confluent image).
(
    cd "$work"
    CONNECT_BOOTSTRAP_SERVERS="$KAFKA_BOOTSTRAP" \
    CONNECT_LISTENERS="http://127.0.0.1:$port" \
    CONNECT_OFFSET_STORAGE_FILE_FILENAME="$work/connect.offsets" \
    CONNECT_OFFSET_FLUSH_INTERVAL_MS=1000 \
        exec "$root/target/release/sluice" standalone \
            "$root/configs/connect-standalone.properties" \
            "$root/configs/connect-file-source.properties" \
            "$root/configs/connect-file-sink.properties"
) > "$work/worker.log" 2>&1 &
worker_pid=$!

for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/" >/dev/null && break
    sleep 0.1
done
echo "demo: worker ready: $(curl -s "http://127.0.0.1:$port/")"

lines=20
for i in $(seq 1 "$lines"); do echo "hello from sluice, line $i"; done > "$work/test.txt"
echo "demo: wrote $lines lines to $work/test.txt"

for _ in $(seq 300); do
    [[ -f $work/test.sink.txt ]] && (( $(wc -l < "$work/test.sink.txt") >= lines )) && break
    sleep 0.2
done
if ! [[ -f $work/test.sink.txt ]] || (( $(wc -l < "$work/test.sink.txt") < lines )); then
    echo "demo: FAILED: the lines did not reach $work/test.sink.txt; worker log:" >&2
    tail -n 50 "$work/worker.log" >&2
    exit 1
fi
echo "demo: $work/test.sink.txt now holds:"
cat "$work/test.sink.txt"
echo "demo: connector status:"
curl -s "http://127.0.0.1:$port/connectors?expand=status"; echo
echo "demo: done"
