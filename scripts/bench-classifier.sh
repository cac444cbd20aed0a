#!/usr/bin/env bash
# Images per second of the ImageClassifier on one core (batch 1: JPEG decode + resize + tract
# inference), beside onnxruntime (Python, one thread) doing the same steps on the same model and
# photos, in one run. Both sides are pinned to the same core (BENCH_CPU, default 0) and run in
# turns (TURNS, default 3, of ROUNDS passes over the photos each): on a shared machine the load
# changes from minute to minute, so each side's best turn is compared with the other's.
# Prints each side's split (decode / resize / tensor / inference, ms per image) and the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo >/dev/null && [[ -x $HOME/.cargo/bin/cargo ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
models/sock-classifier/build.sh >/dev/null
model=models/sock-classifier/build/sock-classifier.onnx
labels=models/sock-classifier/labels.txt
photos=${SOCK_PHOTOS:-../shared/socks}
rounds=${ROUNDS:-10}
turns=${TURNS:-3}
cpu=${BENCH_CPU:-0}
cargo build --release -p sluice-transform-image-classifier --example bench 2>/dev/null
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for turn in $(seq "$turns"); do
    echo "turn $turn/$turns"
    # One core, as the target is stated per core.
    taskset -c "$cpu" target/release/examples/bench "$model" "$labels" "$photos" "$rounds" | tee -a "$out"
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 taskset -c "$cpu" models/sock-classifier/.venv/bin/python - "$model" "$photos" "$rounds" <<'PY' | tee -a "$out"
import io, pathlib, sys, time
import numpy as np, onnxruntime as ort
from PIL import Image
model, photos, rounds = sys.argv[1], pathlib.Path(sys.argv[2]), int(sys.argv[3])
options = ort.SessionOptions()
options.intra_op_num_threads = 1
options.inter_op_num_threads = 1
session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
name = session.get_inputs()[0].name
frames = [p.read_bytes() for p in sorted(photos.rglob("*.jpg"))]
split = [0.0, 0.0, 0.0, 0.0]
def run(b):
    # The same steps as the SMT: decode to RGB, resize to 224x224 (bilinear; Pillow returns a copy
    # when the size already matches), pixels to a float NCHW tensor, inference.
    t0 = time.perf_counter()
    img = Image.open(io.BytesIO(b)).convert("RGB")
    t1 = time.perf_counter()
    if img.size != (224, 224):
        img = img.resize((224, 224), Image.BILINEAR)
    t2 = time.perf_counter()
    x = np.asarray(img, dtype=np.float32).transpose(2, 0, 1)[None]
    t3 = time.perf_counter()
    out = session.run(None, {name: x})
    t4 = time.perf_counter()
    for i, d in enumerate((t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
        split[i] += d
    return out
run(frames[0])
split = [0.0, 0.0, 0.0, 0.0]
t = time.perf_counter()
for _ in range(rounds):
    for f in frames:
        run(f)
n = rounds * len(frames)
secs = time.perf_counter() - t
ms = [1000 * s / n for s in split]
print(f"onnxruntime_split_ms: decode {ms[0]:.2f} resize {ms[1]:.2f} tensor {ms[2]:.2f} inference {ms[3]:.2f}")
print(f"onnxruntime_ms_per_image: {secs * 1000 / n:.2f}")
print(f"onnxruntime_images_per_second: {n / secs:.1f}")
PY
done
# Each turn's own ratio too: the two sides of one turn ran under about the same load.
awk '/sluice_images_per_second/ {t = $2; if ($2 > s) s = $2}
     /onnxruntime_images_per_second/ {turns = turns sprintf(" %.2f", t / $2); if ($2 > o) o = $2}
     END {printf "best_sluice_images_per_second: %.1f\nbest_onnxruntime_images_per_second: %.1f\nratio_sluice_to_onnxruntime: %.2f\nratio_per_turn:%s\n", s, o, s / o, turns}' "$out"

# The pipeline's real throughput through a connector: a release `sluice` worker (standalone) runs
# the MQTT source with the ImageClassifier SMT into Kafka (Tansu, in-memory) from Mosquitto, both
# started here on their own ports under .run/bench-classifier; PIPELINE_FRAMES photos (default
# 600) are published at QoS 1 and counted in the topic. PIPELINE=0 skips this part.
[[ ${PIPELINE:-1} == 1 ]] || exit 0
root=$PWD
scripts/install-deps.sh >/dev/null
cargo build --release --bin sluice 2>/dev/null
cargo build --release -p sluice-tests --example classifier_pipeline_bench 2>/dev/null
work="$root/.run/bench-classifier"
rm -rf "$work" && mkdir -p "$work"
source scripts/lib/bench-brokers.sh
rest_port=$(bench_free_port)
mqtt_port=$(bench_free_port)
kafka_port=$(bench_free_port)
bootstrap=127.0.0.1:$kafka_port
pids=()
cleanup() {
    bench_stop "${pids[@]}"
    rm -f "$out"
}
trap cleanup EXIT
bench_start_tansu "$work" "$kafka_port"
pids+=("$BENCH_TANSU_PID")
bench_start_mosquitto "$work" "$mqtt_port"
pids+=("$BENCH_MOSQUITTO_PID")
cat > "$work/worker.properties" <<PROPS
bootstrap.servers=$bootstrap
key.converter=org.apache.kafka.connect.storage.StringConverter
value.converter=org.apache.kafka.connect.converters.ByteArrayConverter
offset.storage.file.filename=$work/connect.offsets
listeners=http://127.0.0.1:$rest_port
PROPS
cat > "$work/camera.properties" <<PROPS
name=camera
connector.class=io.confluent.connect.mqtt.MqttSourceConnector
tasks.max=1
mqtt.server.uri=tcp://127.0.0.1:$mqtt_port
mqtt.topics=sockfound/#
mqtt.qos=1
mqtt.clean.session.enabled=false
kafka.topic=data_mqtt
value.converter=org.apache.kafka.connect.json.JsonConverter
value.converter.schemas.enable=false
transforms=classify
transforms.classify.type=ImageClassifier
transforms.classify.model.path=$root/$model
transforms.classify.labels.path=$root/$labels
PROPS
taskset -c "$cpu" target/release/sluice standalone "$work/worker.properties" "$work/camera.properties" > "$work/worker.log" 2>&1 &
pids+=($!)
until curl -sf "http://127.0.0.1:$rest_port/connectors/camera/status" 2>/dev/null |
    python3 -c 'import json, sys; s = json.load(sys.stdin); sys.exit(0 if [t["state"] for t in s["tasks"]] == ["RUNNING"] else 1)' 2>/dev/null; do
    kill -0 "${pids[-1]}" || { echo "bench-classifier: the worker exited; see $work/worker.log" >&2; exit 1; }
    sleep 0.1
done
sleep 2 # the subscription follows the connection
photos_abs=$(cd "$photos" && pwd)
# A warm-up (one pass over the photos) creates the topic and the producer's connections.
target/release/examples/classifier_pipeline_bench "$mqtt_port" 12 "$bootstrap" data_mqtt "$photos_abs" warmup >/dev/null
echo "pipeline (MQTT source + ImageClassifier -> Kafka, worker pinned to CPU $cpu):"
target/release/examples/classifier_pipeline_bench "$mqtt_port" "${PIPELINE_FRAMES:-600}" "$bootstrap" data_mqtt "$photos_abs"
