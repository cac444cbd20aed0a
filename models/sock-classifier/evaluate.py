#!/usr/bin/env python3
"""Checks build/sock-classifier.onnx with onnxruntime: every photo must get its brand, and frames
with no sock (plain surfaces, lighting gradients, noise; made here, not seen in training) must be
Blank. Prints one line per frame; exits 1 on any miss. Run with the build venv:
    models/sock-classifier/.venv/bin/python models/sock-classifier/evaluate.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

HERE = Path(__file__).resolve().parent
FOLDER_LABELS = {
    "class-confluent": "Confluent",
    "class-databricks": "Databricks",
    "class-github": "Github",
    "class-google": "Google",
    "class-mongo": "Mongo",
    "class-streamset": "Streamsets",
}


def to_input(img: Image.Image) -> np.ndarray:
    """The model's contract: whole frame resized to 224x224, RGB 0..255 float32, NCHW."""
    img = img.convert("RGB").resize((224, 224), Image.BILINEAR)
    return np.asarray(img, dtype=np.float32).transpose(2, 0, 1)[None]


def blank_frames() -> list[tuple[str, Image.Image]]:
    rng = np.random.default_rng(7)
    frames = []
    for name, rgb in [("white", (250, 250, 250)), ("black", (5, 5, 5)), ("grey", (128, 128, 128)),
                      ("table beige", (196, 170, 135)), ("wall white", (225, 220, 212)), ("blue", (40, 70, 160))]:
        frames.append((f"plain {name}", Image.new("RGB", (224, 224), rgb)))
    ramp = np.linspace(0.55, 1.1, 224, dtype=np.float32)[None, :, None]
    frames.append(("beige with a lighting gradient", Image.fromarray(np.clip(np.array([205, 180, 145]) * ramp * np.ones((224, 1, 1)), 0, 255).astype(np.uint8))))
    noise = np.clip(128 + rng.normal(0, 40, (224, 224, 3)), 0, 255).astype(np.uint8)
    frames.append(("grey sensor noise", Image.fromarray(noise)))
    dim = np.clip(np.array([60, 52, 40]) + rng.normal(0, 8, (224, 224, 3)), 0, 255).astype(np.uint8)
    frames.append(("dim noisy table", Image.fromarray(dim)))
    return frames


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=HERE / "build" / "sock-classifier.onnx")
    parser.add_argument("--labels", type=Path, default=HERE / "build" / "labels.txt")
    parser.add_argument("--photos", type=Path, default=(HERE / "../../../shared/socks").resolve())
    args = parser.parse_args()

    labels = [line.strip() for line in args.labels.read_text().splitlines() if line.strip()]
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(args.model), options, providers=["CPUExecutionProvider"])
    (inp,), (out,) = sess.get_inputs(), sess.get_outputs()
    if out.shape[-1] != len(labels):
        print(f"{args.model} has {out.shape[-1]} outputs but {args.labels} has {len(labels)} labels")
        return 1

    def classify(img: Image.Image) -> tuple[str, float]:
        p = sess.run([out.name], {inp.name: to_input(img)})[0][0]
        i = int(np.argmax(p))
        return labels[i], float(100 * p[i])

    failures = 0
    photos = 0
    for folder in sorted(args.photos.iterdir()):
        for path in sorted(folder.glob("*.jp*g")) + sorted(folder.glob("*.png")):
            expected = FOLDER_LABELS[folder.name]
            got, prob = classify(Image.open(path))
            ok = got == expected
            failures += not ok
            photos += 1
            print(f"{'ok  ' if ok else 'MISS'} {folder.name}/{path.name:<13} expected {expected:<11} got {got:<11} {prob:5.1f} %")
    blanks = blank_frames()
    for name, img in blanks:
        got, prob = classify(img)
        ok = got == "Blank"
        failures += not ok
        print(f"{'ok  ' if ok else 'MISS'} {name:<40} expected Blank       got {got:<11} {prob:5.1f} %")
    total = photos + len(blanks)
    print(f"{total - failures} passed, {failures} failed")
    return 1 if failures or photos == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
