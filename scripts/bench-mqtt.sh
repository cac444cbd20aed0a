#!/usr/bin/env bash
# MQTT -> Kafka throughput of a release `sluice`, printed as figures (not a test), beside two
# limits measured in the same run on the same brokers:
#   raw_mqtt:  a plain rumqttc subscriber (acks at once) receiving from a concurrent publisher;
#   raw_kafka: a plain rdkafka producer with a source task's producer settings (acks=all,
#              one request in flight, linger.ms=5), 100-byte values and a short key, no headers.
# The sluice figure runs from the first publish until Kafka's high watermarks have grown by the
# message count (QoS 1: persistent session, every PUBACK waits for Kafka's acknowledgement).
# ratio = sluice / min(raw_mqtt, raw_kafka); the issue's target is >= 0.8.
#
# Tansu comes from scripts/brokers.sh. Mosquitto is started here on a free port with unlimited
# in-flight and queued messages: with Mosquitto's defaults (20 in flight, 1000 queued) a
# subscriber that acknowledges only after Kafka is throttled to 20 messages per Kafka round trip
# and a slow one loses messages, which would measure the broker's settings, not the connector.
#
# Usage: scripts/bench-mqtt.sh [messages per run, default 100000] [payload bytes, default 100]
# (BENCH_PROFILE=debug runs debug builds, to check the script quickly; figures need release.)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
count=${1:-100000}
size=${2:-100}
if ! command -v cargo >/dev/null && [[ -x $HOME/.cargo/bin/cargo ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
scripts/install-deps.sh >/dev/null
profile=${BENCH_PROFILE:-release}
cargo_profile=(--release)
[[ $profile == debug ]] && cargo_profile=()
cargo build "${cargo_profile[@]}" --bin sluice 2>/dev/null
cargo build "${cargo_profile[@]}" -p sluice-tests --example mqtt_bench 2>/dev/null
bench="$root/target/$profile/examples/mqtt_bench"
sluice="$root/target/$profile/sluice"
scripts/brokers.sh start >/dev/null
# shellcheck disable=SC1091
source .run/brokers.env
work="$root/.run/bench-mqtt"
rm -rf "$work" && mkdir -p "$work"
rest_port=$((20000 + RANDOM % 5000))
mqtt_port=$((25000 + RANDOM % 5000))
pid=
mosquitto_pid=
cleanup() {
    [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    [[ -n $mosquitto_pid ]] && kill "$mosquitto_pid" 2>/dev/null && wait "$mosquitto_pid" 2>/dev/null || true
    scripts/brokers.sh stop >/dev/null || true
}
trap cleanup EXIT

mosquitto=$(command -v mosquitto || echo /usr/sbin/mosquitto)
cat > "$work/mosquitto.conf" <<CONF
listener $mqtt_port 127.0.0.1
allow_anonymous true
persistence false
max_inflight_messages 0
max_queued_messages 0
CONF
"$mosquitto" -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 &
mosquitto_pid=$!
until (exec 3<>"/dev/tcp/127.0.0.1/$mqtt_port") 2>/dev/null; do sleep 0.05; done

# The connector's topics exist before it starts (one record each), as in a prepared deployment.
for qos in 0 1; do
    "$bench" raw-kafka "$KAFKA_BOOTSTRAP" "bench_mqtt_q$qos" 1 "$size" >/dev/null
done

cat > "$work/worker.properties" <<PROPS
bootstrap.servers=$KAFKA_BOOTSTRAP
key.converter=org.apache.kafka.connect.storage.StringConverter
value.converter=org.apache.kafka.connect.converters.ByteArrayConverter
offset.storage.file.filename=$work/connect.offsets
listeners=http://127.0.0.1:$rest_port
PROPS
for qos in 0 1; do
    cat > "$work/q$qos.properties" <<PROPS
name=bench-q$qos
connector.class=io.confluent.connect.mqtt.MqttSourceConnector
tasks.max=1
mqtt.server.uri=tcp://127.0.0.1:$mqtt_port
mqtt.topics=bench/q$qos
mqtt.qos=$qos
mqtt.clean.session.enabled=$([[ $qos == 1 ]] && echo false || echo true)
kafka.topic=bench_mqtt_q$qos
PROPS
done
"$sluice" standalone "$work/worker.properties" "$work/q0.properties" "$work/q1.properties" > "$work/worker.log" 2>&1 &
pid=$!
for qos in 0 1; do
    until curl -sf "http://127.0.0.1:$rest_port/connectors/bench-q$qos/status" 2>/dev/null |
        python3 -c 'import json, sys; s = json.load(sys.stdin); sys.exit(0 if [t["state"] for t in s["tasks"]] == ["RUNNING"] else 1)' 2>/dev/null; do
        kill -0 "$pid" || { echo "bench-mqtt: the worker exited; see $work/worker.log" >&2; exit 1; }
        sleep 0.1
    done
done
sleep 2 # subscriptions follow the connection

echo "profile: $profile"
echo "messages_per_run: $count"
echo "payload_bytes: $size"
raw_kafka=$("$bench" raw-kafka "$KAFKA_BOOTSTRAP" bench_raw_kafka "$count" "$size" | awk '{print $2}')
echo "raw_kafka_records_per_second: $raw_kafka"
for qos in 0 1; do
    raw_mqtt=$("$bench" raw-mqtt "$mqtt_port" "$qos" "$count" "$size" | awk '{print $2}')
    # A short warm-up creates the Kafka topic and the producer's connections.
    "$bench" sluice "$mqtt_port" "$qos" 1000 "$size" "$KAFKA_BOOTSTRAP" "bench_mqtt_q$qos" >/dev/null
    sluice=$("$bench" sluice "$mqtt_port" "$qos" "$count" "$size" "$KAFKA_BOOTSTRAP" "bench_mqtt_q$qos" | awk '{print $2}')
    limit=$(( raw_mqtt < raw_kafka ? raw_mqtt : raw_kafka ))
    echo "qos${qos}_raw_mqtt_records_per_second: $raw_mqtt"
    echo "qos${qos}_sluice_records_per_second: $sluice"
    echo "qos${qos}_ratio_to_smaller_limit: $(awk "BEGIN {printf \"%.2f\", $sluice / $limit}")"
done
echo "sluice_peak_rss_mib: $(awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$pid/status")"
