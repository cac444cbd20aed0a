#!/usr/bin/env bash
# The main job on local defaults: the sock pipeline.
#
#   camera simulator --MQTT--> Mosquitto --> Sluice (distributed worker, MQTT source)
#     --> Kafka topic data_mqtt --> sluice-pairing --> sock_pairs / sock_sightings
#     --> Sluice (Elasticsearch sink) --> Elasticsearch (the es-standin test double, or a real
#         Elasticsearch when ES_URL is set)
#
# It installs what is missing, builds release binaries, starts Tansu and Mosquitto on local ports,
# one distributed worker (DEMO_WORKERS=N starts more), submits both connectors over REST (the MQTT
# credentials come from a ${file:...} secret resolved only inside the worker), starts the pairing
# job with its live pair table, and runs the camera simulator. Ctrl-C stops everything cleanly.
# DEMO_SECONDS=N stops after N seconds and prints what reached Elasticsearch (used to check the
# script itself); CAMERA_ARGS passes options to the simulator (e.g. "--images ../shared/socks").
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
if ! command -v cargo >/dev/null && [[ -x $HOME/.cargo/bin/cargo ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
profile=${DEMO_PROFILE:-release}
cargo_profile=(--release)
[[ $profile == debug ]] && cargo_profile=()
bin="$root/target/$profile"

scripts/install-deps.sh
cargo build "${cargo_profile[@]}" --bin sluice --bin sluice-pairing --bin sluice-camera --bin es-standin
scripts/brokers.sh start
# shellcheck disable=SC1091
source .run/brokers.env

work="$root/.run/demo"
rm -rf "$work" && mkdir -p "$work"
pids=()
cleanup() {
    trap - EXIT INT TERM
    echo
    echo "demo: stopping"
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    scripts/brokers.sh stop >/dev/null || true
}
trap cleanup EXIT
trap 'exit 0' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 300); do curl -sf "$1" >/dev/null && return 0; sleep 0.2; done; echo "demo: $1 did not answer" >&2; return 1; }

# Elasticsearch: a real one when ES_URL is given, else the stand-in.
if [[ -z ${ES_URL:-} ]]; then
    "$bin/es-standin" --port 0 --port-file "$work/es.port" >"$work/es.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do [[ -s $work/es.port ]] && break; sleep 0.1; done
    ES_URL="http://127.0.0.1:$(cat "$work/es.port")"
fi
echo "demo: Elasticsearch at $ES_URL"

# The MQTT credentials live in a file the worker reads through its file config provider.
cat >"$work/credentials.properties" <<PROPS
MQTT_URI=tcp://127.0.0.1:$MQTT_PORT
MQTT_USERNAME=camera
MQTT_PASSWORD=not-needed-by-the-local-anonymous-broker
PROPS

workers=${DEMO_WORKERS:-1}
group="sock-demo-$RANDOM"
first_port=
for i in $(seq 1 "$workers"); do
    port=$(free_port)
    [[ -z $first_port ]] && first_port=$port
    (
        CONNECT_BOOTSTRAP_SERVERS="$KAFKA_BOOTSTRAP" \
        CONNECT_LISTENERS="http://127.0.0.1:$port" \
        CONNECT_GROUP_ID="$group" \
        CONNECT_CONFIG_STORAGE_TOPIC="$group-configs" \
        CONNECT_OFFSET_STORAGE_TOPIC="$group-offsets" \
        CONNECT_STATUS_STORAGE_TOPIC="$group-status" \
        CONNECT_OFFSET_STORAGE_PARTITIONS=5 \
        CONNECT_STATUS_STORAGE_PARTITIONS=2 \
        CONNECT_OFFSET_FLUSH_INTERVAL_MS=1000 \
        CONNECT_SESSION_TIMEOUT_MS=6000 \
        CONNECT_HEARTBEAT_INTERVAL_MS=1000 \
        CONNECT_CONFIG_PROVIDERS=file \
        CONNECT_CONFIG_PROVIDERS_FILE_CLASS=org.apache.kafka.common.config.provider.FileConfigProvider \
            exec "$bin/sluice" distributed "$root/configs/connect-distributed.properties"
    ) >"$work/worker-$i.log" 2>&1 &
    pids+=($!)
done
rest="http://127.0.0.1:$first_port"
wait_http "$rest/health"
echo "demo: $workers distributed worker(s) ready: $rest"

# The pairing job first: it creates the topics the Elasticsearch sink subscribes to.
"$bin/sluice-pairing" "$root/configs/pairing.properties" \
    --set "bootstrap.servers=$KAFKA_BOOTSTRAP" --set "application.id=$group-pairing" \
    --http 127.0.0.1:0 --table 2>"$work/pairing.log" &
pids+=($!)
for _ in $(seq 100); do grep -q 'consuming input' "$work/pairing.log" 2>/dev/null && break; sleep 0.2; done

post() { # $1: JSON body
    local answer
    answer=$(curl -s -w '\n%{http_code}' -X POST -H 'content-type: application/json' "$rest/connectors" -d "$1")
    [[ ${answer##*$'\n'} == 201 ]] || { echo "demo: creating a connector failed: $answer" >&2; exit 1; }
}
# Real photos need the classifier SMT to become the camera's {"image","probability"} messages.
classifier=
value_converter=org.apache.kafka.connect.converters.ByteArrayConverter
if [[ " ${CAMERA_ARGS:-} " == *" --images "* ]]; then
    [[ -f models/sock-classifier/build/sock-classifier.onnx ]] || models/sock-classifier/build.sh
    classifier=$(cat <<JSON
  "transforms": "classify",
  "transforms.classify.type": "ImageClassifier",
  "transforms.classify.model.path": "$root/models/sock-classifier/build/sock-classifier.onnx",
  "transforms.classify.labels.path": "$root/models/sock-classifier/labels.txt",
  "value.converter.schemas.enable": "false",
JSON
)
    # The SMT's {"image","probability"} value is written as plain JSON, like the camera's.
    value_converter=org.apache.kafka.connect.json.JsonConverter
fi
# The original demo's MQTT source, with its ${file:} credentials, unchanged but for the path.
post "$(cat <<JSON
{"name": "mqtt-socks", "config": {$classifier
  "connector.class": "io.confluent.connect.mqtt.MqttSourceConnector",
  "mqtt.server.uri": "\${file:$work/credentials.properties:MQTT_URI}",
  "mqtt.username": "\${file:$work/credentials.properties:MQTT_USERNAME}",
  "mqtt.password": "\${file:$work/credentials.properties:MQTT_PASSWORD}",
  "mqtt.topics": "sockfound",
  "kafka.topic": "data_mqtt",
  "key.converter": "org.apache.kafka.connect.storage.StringConverter",
  "value.converter": "$value_converter",
  "tasks.max": "1",
  "confluent.topic.bootstrap.servers": "$KAFKA_BOOTSTRAP",
  "confluent.topic.replication.factor": "1"}}
JSON
)"
# Pairs and sightings into Elasticsearch: one document per key (the image), updated in place.
post "$(cat <<JSON
{"name": "es-socks", "config": {
  "connector.class": "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
  "key.converter": "org.apache.kafka.connect.storage.StringConverter",
  "value.converter": "org.apache.kafka.connect.json.JsonConverter",
  "value.converter.schemas.enable": "false",
  "topics": "sock_pairs,sock_sightings",
  "key.ignore": "false",
  "schema.ignore": "true",
  "behavior.on.null.values": "delete",
  "connection.url": "$ES_URL"}}
JSON
)"
echo "demo: connectors submitted: $(curl -s "$rest/connectors")"


# shellcheck disable=SC2086
"$bin/sluice-camera" --broker "tcp://127.0.0.1:$MQTT_PORT" --topic sockfound --loop ${CAMERA_ARGS:-} \
    >"$work/camera.log" 2>&1 &
pids+=($!)
echo "demo: camera simulator publishing to sockfound; the pair table follows (Ctrl-C stops)"

if [[ -n ${DEMO_SECONDS:-} ]]; then
    sleep "$DEMO_SECONDS"
    echo
    echo "demo: connector status: $(curl -s "$rest/connectors?expand=status")"
    curl -s -X POST "$ES_URL/sock_pairs/_refresh" >/dev/null || true
    echo "demo: pair documents in Elasticsearch: $(curl -s "$ES_URL/sock_pairs/_search")"
else
    while true; do sleep 3600; done
fi
