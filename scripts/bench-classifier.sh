#!/usr/bin/env bash
# Images per second of the ImageClassifier on one core (batch 1, JPEG decode + resize + tract
# inference), beside onnxruntime (Python, one thread) on the same model and photos, in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo >/dev/null && [[ -x $HOME/.cargo/bin/cargo ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
models/sock-classifier/build.sh >/dev/null
model=models/sock-classifier/build/sock-classifier.onnx
labels=models/sock-classifier/labels.txt
photos=${SOCK_PHOTOS:-../shared/socks}
cargo build --release -p sluice-transform-image-classifier --example bench 2>/dev/null
# One core, as the target is stated per core.
taskset -c 0 target/release/examples/bench "$model" "$labels" "$photos" "${ROUNDS:-10}" | tee .run-bench-classifier.txt
models/sock-classifier/.venv/bin/python - "$model" "$photos" "${ROUNDS:-10}" <<'PY' | tee -a .run-bench-classifier.txt
import pathlib, sys, time
import numpy as np, onnxruntime as ort
from PIL import Image
model, photos, rounds = sys.argv[1], pathlib.Path(sys.argv[2]), int(sys.argv[3])
options = ort.SessionOptions()
options.intra_op_num_threads = 1
options.inter_op_num_threads = 1
session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
name = session.get_inputs()[0].name
frames = [p.read_bytes() for p in sorted(photos.rglob("*.jpg"))]
def run(b):
    import io
    img = Image.open(io.BytesIO(b)).convert("RGB").resize((224, 224), Image.BILINEAR)
    x = np.asarray(img, dtype=np.float32).transpose(2, 0, 1)[None]
    return session.run(None, {name: x})
run(frames[0])
t = time.perf_counter()
for _ in range(rounds):
    for f in frames:
        run(f)
n = rounds * len(frames)
secs = time.perf_counter() - t
print(f"onnxruntime_ms_per_image: {secs * 1000 / n:.2f}")
print(f"onnxruntime_images_per_second: {n / secs:.1f}")
PY
awk '/sluice_images_per_second/ {s=$2} /onnxruntime_images_per_second/ {o=$2} END {printf "ratio_sluice_to_onnxruntime: %.2f\n", s/o}' .run-bench-classifier.txt
rm -f .run-bench-classifier.txt
