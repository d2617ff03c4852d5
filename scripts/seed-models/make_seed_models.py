"""Generate the small, real seed models of Bazaar's demo catalog.

Run from the repository root:

    pip install -r scripts/seed-models/requirements.txt && python3 scripts/seed-models/make_seed_models.py

Everything is written under ``seed/``:

* ``seed/<slug>/model.onnx`` -- the model, exported by hand with ``onnx.helper``
  (opset 17, IR version 8, float32, standard ONNX operators only);
* ``seed/<slug>/demo.onnx`` -- for the priced models, the free demo: a coarser model
  over the same input, so that the license sells something the demo does not give away;
* ``seed/<slug>/README.md``  -- the model card (YAML front matter + markdown);
* ``seed/<slug>/config.json`` -- input/output names, shapes and preprocessing;
* ``seed/<slug>/labels.txt`` / ``vocab.txt`` where relevant;
* ``seed/catalog.toml`` -- the manifest read by ``bazaar seed``;
* ``end2end/fixtures/demos.json``, ``end2end/fixtures/digits/*.png`` and
  ``end2end/fixtures/shapes/*.png`` -- what the in-page demo tests feed each demo model and
  what onnxruntime answers.

Only data sets bundled with scikit-learn are used (nothing is downloaded), plus a
small hand-written sentence list for the text model and shapes drawn procedurally
with Pillow for the convolutional shape model (trained with plain numpy, in shapes.py). All
seeds are fixed, so a re-run produces byte-identical files. Every exported graph
is checked with ``onnx.checker`` and its onnxruntime outputs are compared with
scikit-learn's (or the numpy network's) on the held-out split before anything is
written.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_diabetes, load_digits, load_iris
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, mean_absolute_error, r2_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from shapes import (
    SHAPES,
    SHAPE_BATCH,
    SHAPE_CANVAS,
    SHAPE_EPOCHS,
    SHAPE_LAYERS,
    SHAPE_LEARNING_RATE,
    SHAPE_MIN_ACCURACY,
    SHAPE_SIDE,
    SHAPE_TEST_PER_CLASS,
    SHAPE_TRAIN_PER_CLASS,
    SHAPE_WEIGHT_DECAY,
    ShapeNet,
    box_downscale,
    drawn_samples,
    shape_dataset,
    train_shape_net,
)

SEED = 0
OPSET = 17
IR_VERSION = 8
TOLERANCE = 1e-5
PRODUCER = "bazaar-seed-models"
SEED_DIR = Path(__file__).resolve().parents[2] / "seed"
FIXTURES_DIR = Path(__file__).resolve().parents[2] / "end2end" / "fixtures"

# For the in-page demo tests: per slug, one input row of the demo file and onnxruntime's output.
DEMO_EXPECTATIONS: dict[str, dict] = {}


def expect_demo(slug: str, model: onnx.ModelProto, input_name: str, row: np.ndarray) -> None:
    row = np.asarray(row, dtype=np.float32).reshape(1, -1)
    output = run_onnx(model, input_name, row)
    DEMO_EXPECTATIONS[slug] = {
        "input": [round(float(v), 6) for v in row[0]],
        "output": [round(float(v), 6) for v in output.reshape(-1)],
    }


def write_png_gray(path: Path, pixels: np.ndarray) -> None:
    """An 8-bit grayscale PNG, written with zlib alone."""
    write_png(path, pixels, colour_type=0)


def write_png_rgb(path: Path, pixels: np.ndarray) -> None:
    """An 8-bit RGB PNG (pixels shaped [height, width, 3]), written with zlib alone."""
    write_png(path, pixels, colour_type=2)


def write_png(path: Path, pixels: np.ndarray, colour_type: int) -> None:
    import struct
    import zlib

    height, width = pixels.shape[:2]
    rows = np.ascontiguousarray(pixels, dtype=np.uint8).reshape(height, -1)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))

PUBLISHERS = [
    {
        "username": "sklearn-lab",
        "display_name": "Scikit Lab",
        "bio": "Small, well-documented reference models trained on classic open data sets.",
    },
    {
        "username": "tabular-works",
        "display_name": "Tabular Works",
        "bio": "Compact tabular and text models that run anywhere ONNX Runtime does.",
    },
]


# --------------------------------------------------------------------------
# ONNX export helpers
# --------------------------------------------------------------------------


class GraphBuilder:
    """Collects nodes and float32 initializers for a single-input ONNX graph."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def const(self, name: str, value: np.ndarray, dtype=np.float32) -> str:
        array = np.ascontiguousarray(value, dtype=dtype)
        self.initializers.append(numpy_helper.from_array(array, name=name))
        return name

    def op(self, op_type: str, inputs: list[str], output: str, **attrs) -> str:
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=output, **attrs))
        return output

    def select(self, x: str, columns: list[int]) -> str:
        """The given input columns only (Gather on axis 1): a coarser model's view."""
        indices = self.const("selected.columns", np.array(columns), dtype=np.int64)
        return self.op("Gather", [x, indices], "selected", axis=1)

    def standardise(self, x: str, scaler: StandardScaler) -> str:
        """(x - mean) / scale, i.e. a StandardScaler folded into the graph."""
        centred = self.op("Sub", [x, self.const("scaler.mean", scaler.mean_)], "centred")
        return self.op("Div", [centred, self.const("scaler.scale", scaler.scale_)], "standardised")

    def dense(self, x: str, weight: np.ndarray, bias: np.ndarray, name: str) -> str:
        """Fully connected layer y = x @ weight + bias, weight shaped [in, out]."""
        w = self.const(f"{name}.weight", weight)
        b = self.const(f"{name}.bias", np.asarray(bias).reshape(-1))
        return self.op("Gemm", [x, w, b], name)


def build_model(
    builder: GraphBuilder,
    graph_name: str,
    doc: str,
    input_name: str,
    n_inputs: int | list[int],
    last_node: str,
    output_name: str,
    n_outputs: int,
    metadata: dict[str, str],
) -> onnx.ModelProto:
    """Wrap the collected nodes into a checked opset-17 / IR-8 model.

    The input is ``[N, n_inputs]``, or ``[N, *n_inputs]`` when given a list (an image).
    """
    builder.op("Identity", [last_node], output_name)
    input_dims = ["N", *n_inputs] if isinstance(n_inputs, list) else ["N", n_inputs]
    graph = helper.make_graph(
        builder.nodes,
        graph_name,
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, input_dims)],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["N", n_outputs])],
        initializer=builder.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name=PRODUCER,
        producer_version="1.0.0",
        doc_string=doc,
    )
    model.ir_version = IR_VERSION
    helper.set_model_props(model, metadata)
    onnx.checker.check_model(model, full_check=True)
    return model


def run_onnx(model: onnx.ModelProto, input_name: str, x: np.ndarray) -> np.ndarray:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    (output,) = session.run(None, {input_name: x.astype(np.float32)})
    return output


def assert_matches(slug: str, onnx_out: np.ndarray, sklearn_out: np.ndarray,
                   reference: str = "scikit-learn") -> None:
    sklearn_out = np.asarray(sklearn_out, dtype=np.float64).reshape(onnx_out.shape)
    # Probabilities are compared absolutely; regression values (hundreds) relatively.
    np.testing.assert_allclose(onnx_out, sklearn_out, rtol=TOLERANCE, atol=TOLERANCE)
    worst = float(np.max(np.abs(onnx_out - sklearn_out)))
    print(f"  [{slug}] onnxruntime matches {reference} (max abs diff {worst:.2e})")


# --------------------------------------------------------------------------
# Output helpers
# --------------------------------------------------------------------------


@dataclass
class SeedModel:
    slug: str
    owner: str
    name: str
    summary: str
    task: str
    tags: list[str]
    license: str  # open | gated | paid | subscription
    spdx: str | None
    price_cents: int
    terms: str = ""
    files: list[str] = field(default_factory=list)


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")


def write_lines(path: Path, lines: list[str]) -> None:
    write_text(path, "".join(f"{line}\n" for line in lines))


def write_json(path: Path, data: dict) -> None:
    write_text(path, json.dumps(data, indent=2) + "\n")


def write_onnx(path: Path, model: onnx.ModelProto) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.SerializeToString(deterministic=True))


def yaml_list(items: list[str]) -> str:
    return "\n".join(f"  - {item}" for item in items)


def model_card(
    *,
    card_license: str,
    pipeline_tag: str,
    tags: list[str],
    datasets: list[str],
    metrics: list[str],
    demo_input: str,
    labels: str | None,
    body: str,
    demo_file: str = "model.onnx",
    vocab: str | None = None,
) -> str:
    labels_line = f"  labels: {labels}\n" if labels else ""
    labels_line += f"  vocab: {vocab}\n" if vocab else ""
    front = (
        "---\n"
        f"license: {card_license}\n"
        "library_name: onnx\n"
        f"pipeline_tag: {pipeline_tag}\n"
        f"tags:\n{yaml_list(tags)}\n"
        f"datasets:\n{yaml_list(datasets)}\n"
        f"metrics:\n{yaml_list(metrics)}\n"
        "demo:\n"
        f"  file: {demo_file}\n"
        f"  task: {pipeline_tag}\n"
        f"  input: {demo_input}\n"
        f"{labels_line}"
        "---\n\n"
    )
    return front + body.strip() + "\n"


def demo_section(rows: list[tuple[str, str, str]], header: tuple[str, str], adds: str) -> str:
    """The card's account of what the free demo is and what the license adds."""
    table = "\n".join(f"| {file} | {used} | {score} |" for file, used, score in rows)
    return f"""## Free demo and what the license adds

The page runs `demo.onnx`, a free and coarser model over the same input, so you
can try the model before buying. {adds}

| file | {header[0]} | {header[1]} |
| --- | --- | --- |
{table}
"""


def license_section(seed: SeedModel) -> str:
    if seed.license == "open":
        return f"Released under the `{seed.spdx}` license."
    if seed.license == "gated":
        return (
            f"Released under the `{seed.spdx}` license; on Bazaar, downloads are gated "
            "and need the publisher's approval."
        )
    dollars = f"${seed.price_cents / 100:.2f}"
    if seed.license == "paid":
        return f"Commercial license sold on Bazaar for a one-time {dollars} (USD)."
    return f"Commercial license sold on Bazaar as a {dollars} (USD) monthly subscription."


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------


def digit_classifier(out: Path) -> SeedModel:
    seed = SeedModel(
        slug="digit-classifier",
        owner="sklearn-lab",
        name="Digit Classifier",
        summary="Recognises handwritten digits 0-9 from an 8x8 grayscale image.",
        task="image-classification",
        tags=["onnx", "mlp", "digits", "vision"],
        license="open",
        spdx="MIT",
        price_cents=0,
    )
    data = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.25, stratify=data.target, random_state=SEED
    )
    hidden = 32
    clf = MLPClassifier(
        hidden_layer_sizes=(hidden,),
        activation="relu",
        alpha=1e-3,
        learning_rate_init=1e-3,
        max_iter=600,
        random_state=SEED,
    )
    clf.fit(x_train / 16.0, y_train)
    accuracy = accuracy_score(y_test, clf.predict(x_test / 16.0))
    print(f"  [{seed.slug}] test accuracy {accuracy:.4f} on {len(y_test)} images")

    g = GraphBuilder()
    scaled = g.op("Mul", ["pixels", g.const("pixel_scale", np.array(1.0 / 16.0))], "scaled")
    h = g.op("Relu", [g.dense(scaled, clf.coefs_[0], clf.intercepts_[0], "hidden")], "hidden_relu")
    logits = g.dense(h, clf.coefs_[1], clf.intercepts_[1], "logits")
    probs = g.op("Softmax", [logits], "softmax", axis=1)
    model = build_model(
        g, "digit_classifier", "MLP digit classifier (8x8 grayscale, 0..16 per pixel).",
        "pixels", 64, probs, "probabilities", 10,
        {"bazaar.slug": seed.slug, "bazaar.version": "1.0.0", "license": "mit"},
    )
    assert_matches(seed.slug, run_onnx(model, "pixels", x_test), clf.predict_proba(x_test / 16.0))
    expect_demo(seed.slug, model, "pixels", x_test[0])
    # Sample images for the in-page demo: the first correctly classified test image of each of
    # three digits, drawn as dark ink on white and scaled up 8x (the page scales them back).
    predicted = clf.predict(x_test / 16.0)
    for digit in (0, 3, 7):
        k = next(i for i in range(len(y_test)) if y_test[i] == digit and predicted[i] == digit)
        ink = x_test[k].reshape(8, 8) / 16.0
        gray = np.round(255 * (1 - ink)).astype(np.uint8)
        write_png_gray(FIXTURES_DIR / "digits" / f"{digit}.png", np.kron(gray, np.ones((8, 8), dtype=np.uint8)))

    labels = [str(d) for d in range(10)]
    write_onnx(out / "model.onnx", model)
    write_lines(out / "labels.txt", labels)
    write_json(out / "config.json", {
        "task": seed.task,
        "inputs": [{"name": "pixels", "shape": ["N", 64], "dtype": "float32"}],
        "outputs": [{"name": "probabilities", "shape": ["N", 10], "dtype": "float32"}],
        "preprocessing": {
            "image_size": [8, 8],
            "layout": "row-major, top-left first",
            "value_range": [0, 16],
            "polarity": "0 = background (white), 16 = full ink (black)",
            "note": "the graph divides by 16 itself; feed raw 0..16 values",
        },
        "labels": "labels.txt",
    })
    body = f"""
# Digit Classifier

A small multilayer perceptron that recognises handwritten digits 0-9 in
8x8 grayscale images, exported to ONNX. It is tiny ({hidden} hidden units,
about 2.4k parameters) and runs instantly on a CPU or in the browser.

## Intended use

Demos and tests of image-classification plumbing: draw a digit on an 8x8 grid
and read back ten class probabilities. Not meant for real document processing.

## Input and output

* **Input** `pixels`: float32 `[N, 64]`, one row per image, the 8x8 grid
  flattened row by row from the top-left corner. Each value is the amount of
  ink in the cell, **0 (background) to 16 (fully inked)**, as in the training
  data. The graph divides by 16 itself, so feed the raw 0..16 values.
* **Output** `probabilities`: float32 `[N, 10]`, softmax probabilities for the
  digits 0-9 in the order of `labels.txt`.

## Training data

The scikit-learn `load_digits` data set (1,797 images), a copy of the test part
of the UCI "Optical Recognition of Handwritten Digits" data set (E. Alpaydin and
C. Kaynak, 1998; CC BY 4.0). 32x32 bitmaps of handwritten digits were
divided into 4x4 blocks and the set pixels counted, giving 8x8 images of
values 0..16. A stratified 75/25 split (`random_state=0`) gives 1,347 training
and {len(y_test)} test images.

## Training procedure

`sklearn.neural_network.MLPClassifier` on pixels divided by 16: one hidden
layer of {hidden} ReLU units, softmax output, Adam (learning rate 1e-3),
L2 penalty `alpha=1e-3`, at most 600 epochs, `random_state=0`. The weights were
written to ONNX by hand (Mul, Gemm, Relu, Gemm, Softmax; opset 17).

## Evaluation

| split | images | accuracy |
| --- | --- | --- |
| held-out test | {len(y_test)} | **{accuracy:.4f}** |

onnxruntime outputs match scikit-learn's `predict_proba` on the test split within 1e-5.

## Limitations

Trained on one small data set of carefully centred, size-normalised digits.
Off-centre, thin or very bold drawings, other alphabets and anything that is
not a digit are still forced into one of the ten classes.

## License

{license_section(seed)}

## How to run

```python
import numpy as np
import onnxruntime as ort

session = ort.InferenceSession("model.onnx")
pixels = np.zeros((1, 64), dtype=np.float32)          # 8x8 image, values 0..16
pixels[0, [3, 4, 11, 12, 19, 20, 27, 28, 35, 36, 43, 44, 51, 52, 59, 60]] = 16  # a "1"
(probabilities,) = session.run(["probabilities"], {{"pixels": pixels}})
labels = open("labels.txt").read().split()
print(labels[int(probabilities[0].argmax())])
```
"""
    write_text(out / "README.md", model_card(
        card_license="mit",
        pipeline_tag=seed.task,
        tags=seed.tags,
        datasets=["uci/optical-recognition-of-handwritten-digits"],
        metrics=["accuracy"],
        demo_input='{name: pixels, shape: [1, 64], dtype: float32, '
        'preprocessing: "8x8 grayscale, row-major, 0..16 per pixel (0 = background)"}',
        labels="labels.txt",
        body=body,
    ))
    seed.files = ["model.onnx", "labels.txt", "config.json", "README.md"]
    return seed


def iris_species(out: Path) -> SeedModel:
    seed = SeedModel(
        slug="iris-species",
        owner="sklearn-lab",
        name="Iris Species",
        summary="Predicts the iris species from four flower measurements in centimetres.",
        task="tabular-classification",
        tags=["onnx", "logistic-regression", "iris", "tabular"],
        license="gated",
        spdx="CC-BY-4.0",
        price_cents=0,
        terms="Research and evaluation only. Do not use this model to make decisions about "
        "people. Cite the Iris data set (Fisher, 1936) in any publication.",
    )
    data = load_iris()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.3, stratify=data.target, random_state=SEED
    )
    scaler = StandardScaler().fit(x_train)
    clf = LogisticRegression(C=1.0, max_iter=1000)
    clf.fit(scaler.transform(x_train), y_train)
    accuracy = accuracy_score(y_test, clf.predict(scaler.transform(x_test)))
    print(f"  [{seed.slug}] test accuracy {accuracy:.4f} on {len(y_test)} flowers")

    g = GraphBuilder()
    z = g.standardise("features", scaler)
    logits = g.dense(z, clf.coef_.T, clf.intercept_, "logits")
    probs = g.op("Softmax", [logits], "softmax", axis=1)
    model = build_model(
        g, "iris_species", "Multinomial logistic regression on standardised iris measurements.",
        "features", 4, probs, "probabilities", 3,
        {"bazaar.slug": seed.slug, "bazaar.version": "1.0.0", "license": "cc-by-4.0"},
    )
    assert_matches(
        seed.slug, run_onnx(model, "features", x_test), clf.predict_proba(scaler.transform(x_test))
    )
    expect_demo(seed.slug, model, "features", x_test[0])

    feature_names = ["sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm"]
    labels = [str(name) for name in data.target_names]
    write_onnx(out / "model.onnx", model)
    write_lines(out / "labels.txt", labels)
    write_json(out / "config.json", {
        "task": seed.task,
        "inputs": [{"name": "features", "shape": ["N", 4], "dtype": "float32"}],
        "outputs": [{"name": "probabilities", "shape": ["N", 3], "dtype": "float32"}],
        "feature_names": feature_names,
        "feature_units": "cm",
        "preprocessing": {
            "note": "standardisation is inside the graph; feed raw centimetres",
            "mean": [round(float(v), 6) for v in scaler.mean_],
            "scale": [round(float(v), 6) for v in scaler.scale_],
        },
        "example": [5.1, 3.5, 1.4, 0.2],
        "labels": "labels.txt",
    })
    body = f"""
# Iris Species

A multinomial logistic regression that tells the three iris species apart
(setosa, versicolor, virginica) from four flower measurements. The feature
standardisation is folded into the ONNX graph, so it takes raw centimetres.

## Intended use

A minimal tabular-classification example: fill in four numbers, get three
class probabilities. Useful for testing pipelines, not for botany.

## Input and output

* **Input** `features`: float32 `[N, 4]`, in this order and in centimetres:
  `sepal_length`, `sepal_width`, `petal_length`, `petal_width`
  (e.g. `[5.1, 3.5, 1.4, 0.2]`). The graph subtracts the training mean and
  divides by the training standard deviation (Sub, Div).
* **Output** `probabilities`: float32 `[N, 3]`, softmax probabilities in the
  order of `labels.txt` (setosa, versicolor, virginica).

## Training data

The scikit-learn `load_iris` data set: R. A. Fisher's 1936 iris measurements
(150 flowers, 50 per species), as published in the UCI Machine Learning
Repository (CC BY 4.0). A stratified 70/30 split (`random_state=0`) gives
{len(y_train)} training and {len(y_test)} test flowers.

## Training procedure

`StandardScaler` followed by `sklearn.linear_model.LogisticRegression`
(multinomial, L2 penalty, `C=1.0`, lbfgs, `max_iter=1000`). Exported by hand as
Sub, Div, Gemm, Softmax (opset 17).

## Evaluation

| split | flowers | accuracy |
| --- | --- | --- |
| held-out test | {len(y_test)} | **{accuracy:.4f}** |

onnxruntime outputs match scikit-learn's `predict_proba` on the test split within 1e-5.

## Limitations

150 flowers of three species: any other species, or measurements in other
units, will still be assigned to one of the three classes. Versicolor and
virginica overlap, so borderline flowers get split probabilities.

## License

{license_section(seed)}

## How to run

```python
import numpy as np
import onnxruntime as ort

session = ort.InferenceSession("model.onnx")
features = np.array([[5.1, 3.5, 1.4, 0.2]], dtype=np.float32)  # cm
(probabilities,) = session.run(["probabilities"], {{"features": features}})
labels = open("labels.txt").read().split()
print(labels[int(probabilities[0].argmax())])  # setosa
```
"""
    write_text(out / "README.md", model_card(
        card_license="cc-by-4.0",
        pipeline_tag=seed.task,
        tags=seed.tags,
        datasets=["uci/iris"],
        metrics=["accuracy"],
        demo_input='{name: features, shape: [1, 4], dtype: float32, preprocessing: '
        '"sepal length, sepal width, petal length, petal width in cm (raw, unscaled)"}',
        labels="labels.txt",
        body=body,
    ))
    seed.files = ["model.onnx", "labels.txt", "config.json", "README.md"]
    return seed


def diabetes_progression(out: Path) -> SeedModel:
    seed = SeedModel(
        slug="diabetes-progression",
        owner="tabular-works",
        name="Diabetes Progression",
        summary="Estimates one-year diabetes disease progression from ten baseline measurements.",
        task="tabular-regression",
        tags=["onnx", "ridge", "regression", "tabular", "health"],
        license="paid",
        spdx=None,
        price_cents=900,
        terms="A perpetual license to use the model's weights in one organization's products "
        "and services. You may not redistribute the weights themselves.",
    )
    data = load_diabetes(scaled=False)
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.2, random_state=SEED
    )
    scaler = StandardScaler().fit(x_train)
    reg = Ridge(alpha=1.0)
    reg.fit(scaler.transform(x_train), y_train)
    predicted = reg.predict(scaler.transform(x_test))
    r2 = r2_score(y_test, predicted)
    mae = mean_absolute_error(y_test, predicted)
    print(f"  [{seed.slug}] test R2 {r2:.4f}, MAE {mae:.2f} on {len(y_test)} patients")

    g = GraphBuilder()
    z = g.standardise("features", scaler)
    y = g.dense(z, reg.coef_.reshape(-1, 1), np.array([reg.intercept_]), "regression")
    model = build_model(
        g, "diabetes_progression", "Ridge regression on standardised baseline measurements.",
        "features", 10, y, "progression", 1,
        {"bazaar.slug": seed.slug, "bazaar.version": "1.0.0", "license": "proprietary"},
    )
    assert_matches(seed.slug, run_onnx(model, "features", x_test), predicted)

    # The free demo reads the same ten values but uses only the four taken without a blood
    # test; the licensed model adds the six serum measurements.
    demo_columns = [0, 1, 2, 3]  # age, sex, bmi, bp
    demo_scaler = StandardScaler().fit(x_train[:, demo_columns])
    demo_reg = Ridge(alpha=1.0).fit(demo_scaler.transform(x_train[:, demo_columns]), y_train)
    demo_predicted = demo_reg.predict(demo_scaler.transform(x_test[:, demo_columns]))
    demo_r2 = r2_score(y_test, demo_predicted)
    demo_mae = mean_absolute_error(y_test, demo_predicted)
    print(f"  [{seed.slug}] demo: test R2 {demo_r2:.4f}, MAE {demo_mae:.2f} (4 of 10 features)")
    assert demo_r2 < r2, "the licensed model must be the better one"
    g = GraphBuilder()
    z = g.standardise(g.select("features", demo_columns), demo_scaler)
    y = g.dense(z, demo_reg.coef_.reshape(-1, 1), np.array([demo_reg.intercept_]), "regression")
    demo = build_model(
        g, "diabetes_progression_demo",
        "Free demo: ridge regression on the four baseline measurements that need no blood test.",
        "features", 10, y, "progression", 1,
        {"bazaar.slug": seed.slug, "bazaar.version": "1.0.0", "bazaar.role": "demo"},
    )
    assert_matches(f"{seed.slug} demo", run_onnx(demo, "features", x_test), demo_predicted)
    write_onnx(out / "demo.onnx", demo)
    expect_demo(seed.slug, demo, "features", x_test[0])

    feature_names = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
    descriptions = [
        "age in years",
        "sex, coded 1 or 2 as in the original study",
        "body mass index (kg/m2)",
        "average blood pressure (mm Hg)",
        "s1: total serum cholesterol (tc)",
        "s2: low-density lipoproteins (ldl)",
        "s3: high-density lipoproteins (hdl)",
        "s4: total cholesterol / HDL (tch)",
        "s5: log of serum triglycerides level (ltg)",
        "s6: blood sugar level (glu)",
    ]
    example = [round(float(v), 4) for v in x_test[0]]
    write_onnx(out / "model.onnx", model)
    write_json(out / "config.json", {
        "task": seed.task,
        "inputs": [{"name": "features", "shape": ["N", 10], "dtype": "float32"}],
        "outputs": [{"name": "progression", "shape": ["N", 1], "dtype": "float32"}],
        "feature_names": feature_names,
        "feature_descriptions": descriptions,
        "preprocessing": {
            "note": "standardisation is inside the graph; feed raw (unscaled) values",
            "mean": [round(float(v), 6) for v in scaler.mean_],
            "scale": [round(float(v), 6) for v in scaler.scale_],
        },
        "target": "quantitative measure of disease progression one year after baseline "
        "(training range 25..346)",
        "example": example,
    })
    feature_table = "\n".join(
        f"| {i} | `{name}` | {desc} |"
        for i, (name, desc) in enumerate(zip(feature_names, descriptions))
    )
    body = f"""
# Diabetes Progression

A ridge regression that estimates a quantitative measure of diabetes disease
progression one year after baseline from ten baseline measurements. The feature
standardisation is folded into the ONNX graph, so it takes raw values.

## Intended use

A teaching and demo model for tabular regression. **It is not a medical device
and must not be used for diagnosis or treatment decisions.**

## Input and output

* **Input** `features`: float32 `[N, 10]`, raw (unscaled) values in this order:

| # | name | meaning |
| --- | --- | --- |
{feature_table}

  Example row (a test patient): `{example}`.
* **Output** `progression`: float32 `[N, 1]`, the predicted progression score
  (the training targets range from 25 to 346).

## Training data

The scikit-learn `load_diabetes(scaled=False)` data set: 442 patients from
B. Efron, T. Hastie, I. Johnstone and R. Tibshirani, "Least Angle Regression",
Annals of Statistics (2004), distributed with scikit-learn (BSD-3-Clause).
A 80/20 split (`random_state=0`) gives {len(y_train)} training and
{len(y_test)} test patients.

## Training procedure

`StandardScaler` followed by `sklearn.linear_model.Ridge(alpha=1.0)`. Exported
by hand as Sub, Div, Gemm (opset 17).

## Evaluation

| split | patients | R² | mean absolute error |
| --- | --- | --- | --- |
| held-out test | {len(y_test)} | **{r2:.4f}** | {mae:.2f} |

onnxruntime outputs match scikit-learn's `predict` on the test split within a
relative 1e-5.

{demo_section(
    [
        ("`demo.onnx` (free)", "age, sex, bmi, bp", f"{demo_r2:.4f}"),
        ("`model.onnx` (licensed)", "all ten", f"**{r2:.4f}**"),
    ],
    ("measurements used", "R² on the test split"),
    f"The license adds `model.onnx`, which also uses the six blood serum measurements "
    f"(mean absolute error {mae:.2f} against the demo's {demo_mae:.2f}), and "
    "`config.json` with the feature descriptions and scaling.",
)}
## Limitations

A linear model on 442 patients from one study explains only part of the
variance (see R² above); individual predictions are rough. Values far outside
the training ranges extrapolate linearly and become meaningless.

## License

{license_section(seed)}

## How to run

```python
import numpy as np
import onnxruntime as ort

session = ort.InferenceSession("model.onnx")
features = np.array([{example}], dtype=np.float32)
(progression,) = session.run(["progression"], {{"features": features}})
print(float(progression[0, 0]))
```
"""
    write_text(out / "README.md", model_card(
        card_license="other",
        pipeline_tag=seed.task,
        tags=seed.tags,
        datasets=["sklearn/diabetes"],
        metrics=["r2", "mae"],
        demo_input='{name: features, shape: [1, 10], dtype: float32, preprocessing: '
        '"age, sex (1/2), bmi, bp, s1..s6 as raw unscaled values"}',
        labels=None,
        body=body,
        demo_file="demo.onnx",
    ))
    seed.files = ["model.onnx", "demo.onnx", "config.json", "README.md"]
    return seed


# A fixed vocabulary: the text model only sees counts of these words.
SENTIMENT_VOCAB = [
    "amazing", "awesome", "bad", "beautiful", "boring", "broke", "broken", "brilliant",
    "cheap", "clean", "confusing", "crashed", "crashes", "delighted", "disappointed",
    "disappointing", "easy", "enjoyed", "excellent", "fantastic", "fast", "fine", "flawless",
    "friendly", "frustrating", "glad", "good", "great", "happy", "hard", "hate", "helpful",
    "horrible", "impressed", "love", "loved", "mess", "never", "nice", "no", "not",
    "perfect", "pleasant", "poor", "recommend", "refund", "reliable", "rude", "sad",
    "slow", "smooth", "solid", "terrible", "ugly", "unhappy", "useless", "waste", "well",
    "wonderful", "worse", "worst", "wrong",
]

# How many of the most frequent words the free demo of the text model knows.
DEMO_VOCAB_SIZE = 12

# Hand-written training sentences: (text, 1 = positive / 0 = negative).
SENTIMENT_SENTENCES = [
    ("I love this app, it is fast and easy to use.", 1),
    ("Excellent service and a friendly team.", 1),
    ("The model works great and the results are solid.", 1),
    ("Really happy with the purchase, I would recommend it.", 1),
    ("A wonderful experience from start to finish.", 1),
    ("Setup was smooth and the docs are clean and helpful.", 1),
    ("Fantastic quality, I am impressed.", 1),
    ("The delivery was fast and the product is perfect.", 1),
    ("I enjoyed every minute, brilliant work.", 1),
    ("Reliable, fast and well made.", 1),
    ("Such a nice and pleasant surprise.", 1),
    ("Great value, it works well every day.", 1),
    ("Amazing support, they were helpful and friendly.", 1),
    ("The interface is beautiful and easy to learn.", 1),
    ("I am glad I bought it, everything is fine.", 1),
    ("Awesome tool, I loved it.", 1),
    ("Flawless install, great documentation.", 1),
    ("Very good predictions and a clean API.", 1),
    ("Delighted with the results, highly recommend.", 1),
    ("Solid, reliable and pleasant to use.", 1),
    ("The staff were wonderful and very helpful.", 1),
    ("Good price and excellent quality.", 1),
    ("It runs smooth and fast on my laptop.", 1),
    ("Perfect for my project, I love it.", 1),
    ("Brilliant idea and well executed.", 1),
    ("Nice design, works well, happy customer.", 1),
    ("I would recommend this to anyone, great job.", 1),
    ("Impressed by how easy and fast it was.", 1),
    ("The new version is amazing.", 1),
    ("Friendly people and a good experience overall.", 1),
    ("Everything worked the first time, fantastic.", 1),
    ("A pleasant, smooth and reliable service.", 1),
    ("Beautiful results, I am very happy.", 1),
    ("Well documented and easy to extend, excellent.", 1),
    ("Great support and fast answers.", 1),
    ("I enjoyed using it, nice work.", 1),
    ("This is the best tool I have used, awesome.", 1),
    ("The accuracy is good and the speed is great.", 1),
    ("Clean code, helpful examples, I love it.", 1),
    ("Wonderful product, would buy again.", 1),
    ("This app is terrible and slow.", 0),
    ("The worst purchase I have ever made.", 0),
    ("It crashed twice and I lost my work, useless.", 0),
    ("Rude staff and a horrible experience.", 0),
    ("Very disappointed, it broke after one day.", 0),
    ("A waste of money, I want a refund.", 0),
    ("The documentation is confusing and wrong.", 0),
    ("Slow, ugly and hard to use.", 0),
    ("I hate the new interface, it is a mess.", 0),
    ("Poor quality and bad support.", 0),
    ("It never works and the team is not helpful.", 0),
    ("Frustrating setup, nothing worked.", 0),
    ("The results are bad and getting worse.", 0),
    ("Cheap materials, it arrived broken.", 0),
    ("Boring and disappointing, I am unhappy.", 0),
    ("It crashes all the time, terrible.", 0),
    ("Useless predictions, a complete waste.", 0),
    ("Not good, not fast, not worth it.", 0),
    ("The support was rude and slow.", 0),
    ("Horrible design and confusing menus.", 0),
    ("I am sad to say it is the worst version yet.", 0),
    ("Bad experience, I would not recommend it.", 0),
    ("The update broke everything, what a mess.", 0),
    ("Poor accuracy and wrong answers.", 0),
    ("Hard to install and it crashed.", 0),
    ("Disappointing quality for the price.", 0),
    ("Terrible service, no answer for weeks.", 0),
    ("Ugly, slow and frustrating.", 0),
    ("It was broken out of the box, I want a refund.", 0),
    ("The app is useless and the docs are wrong.", 0),
    ("Never again, worst support ever.", 0),
    ("Boring results and a confusing API.", 0),
    ("I hate how slow it is.", 0),
    ("It got worse after the update, unhappy.", 0),
    ("Cheap and poorly made, it broke.", 0),
    ("No documentation and bad examples.", 0),
    ("A frustrating mess from start to finish.", 0),
    ("Disappointed by the slow and rude support.", 0),
    ("Terrible accuracy, a waste of time.", 0),
    ("Not reliable, it crashes every day.", 0),
]

TOKEN_PATTERN = re.compile(r"[a-z']+")


def bag_of_words(texts: list[str]) -> np.ndarray:
    index = {word: i for i, word in enumerate(SENTIMENT_VOCAB)}
    counts = np.zeros((len(texts), len(SENTIMENT_VOCAB)), dtype=np.float64)
    for row, text in enumerate(texts):
        for token in TOKEN_PATTERN.findall(text.lower()):
            if token in index:
                counts[row, index[token]] += 1.0
    return counts


def sentiment_mini(out: Path) -> SeedModel:
    seed = SeedModel(
        slug="sentiment-mini",
        owner="tabular-works",
        name="Sentiment Mini",
        summary="Tells positive from negative short English reviews with a bag-of-words model.",
        task="text-classification",
        tags=["onnx", "logistic-regression", "sentiment", "bag-of-words", "text"],
        license="subscription",
        spdx=None,
        price_cents=300,
        terms="Use of the model in your products while the subscription is active. Updates "
        "published during the subscription are included.",
    )
    texts = [text for text, _ in SENTIMENT_SENTENCES]
    target = np.array([label for _, label in SENTIMENT_SENTENCES])
    x = bag_of_words(texts)
    x_train, x_test, y_train, y_test = train_test_split(
        x, target, test_size=0.25, stratify=target, random_state=SEED
    )
    clf = LogisticRegression(C=10.0, max_iter=1000)
    clf.fit(x_train, y_train)
    accuracy = accuracy_score(y_test, clf.predict(x_test))
    print(f"  [{seed.slug}] test accuracy {accuracy:.4f} on {len(y_test)} sentences")

    # Binary logistic regression as a 2-way softmax: logits [0, w.x + b].
    weight = np.concatenate([np.zeros((len(SENTIMENT_VOCAB), 1)), clf.coef_.T], axis=1)
    bias = np.array([0.0, clf.intercept_[0]])
    g = GraphBuilder()
    logits = g.dense("token_counts", weight, bias, "logits")
    probs = g.op("Softmax", [logits], "softmax", axis=1)
    model = build_model(
        g, "sentiment_mini", "Bag-of-words logistic regression over a fixed vocabulary.",
        "token_counts", len(SENTIMENT_VOCAB), probs, "probabilities", 2,
        {"bazaar.slug": seed.slug, "bazaar.version": "1.0.0", "license": "proprietary"},
    )
    assert_matches(seed.slug, run_onnx(model, "token_counts", x_test), clf.predict_proba(x_test))

    # The free demo reads the same counts but knows only the most frequent words.
    frequency = x_train.sum(axis=0)
    demo_columns = sorted(np.argsort(-frequency, kind="stable")[:DEMO_VOCAB_SIZE].tolist())
    demo_clf = LogisticRegression(C=10.0, max_iter=1000).fit(x_train[:, demo_columns], y_train)
    demo_accuracy = accuracy_score(y_test, demo_clf.predict(x_test[:, demo_columns]))
    print(f"  [{seed.slug}] demo: test accuracy {demo_accuracy:.4f} ({DEMO_VOCAB_SIZE} words)")
    weight = np.concatenate([np.zeros((DEMO_VOCAB_SIZE, 1)), demo_clf.coef_.T], axis=1)
    g = GraphBuilder()
    logits = g.dense(g.select("token_counts", demo_columns), weight,
                     np.array([0.0, demo_clf.intercept_[0]]), "logits")
    demo = build_model(
        g, "sentiment_mini_demo",
        f"Free demo: logistic regression over the {DEMO_VOCAB_SIZE} most frequent words.",
        "token_counts", len(SENTIMENT_VOCAB), g.op("Softmax", [logits], "softmax", axis=1),
        "probabilities", 2,
        {"bazaar.slug": seed.slug, "bazaar.version": "1.0.0", "bazaar.role": "demo"},
    )
    assert_matches(f"{seed.slug} demo", run_onnx(demo, "token_counts", x_test),
                   demo_clf.predict_proba(x_test[:, demo_columns]))
    write_onnx(out / "demo.onnx", demo)
    sample = "Great app, fast and reliable!"
    expect_demo(seed.slug, demo, "token_counts", bag_of_words([sample])[0])
    DEMO_EXPECTATIONS[seed.slug]["text"] = sample
    demo_words = ", ".join(f"`{SENTIMENT_VOCAB[i]}`" for i in demo_columns)

    vocab_size = len(SENTIMENT_VOCAB)
    write_onnx(out / "model.onnx", model)
    write_lines(out / "labels.txt", ["negative", "positive"])
    write_lines(out / "vocab.txt", SENTIMENT_VOCAB)
    write_json(out / "config.json", {
        "task": seed.task,
        "inputs": [{"name": "token_counts", "shape": ["N", vocab_size], "dtype": "float32"}],
        "outputs": [{"name": "probabilities", "shape": ["N", 2], "dtype": "float32"}],
        "preprocessing": {
            "vocab": "vocab.txt",
            "lowercase": True,
            "token_pattern": TOKEN_PATTERN.pattern,
            "note": "lowercase the text, take every match of token_pattern, and for each "
            "token found in vocab.txt add 1 at its (0-based) line index; other tokens are ignored",
        },
        "labels": "labels.txt",
    })
    body = f"""
# Sentiment Mini

A very small sentiment classifier for short English reviews: a logistic
regression over counts of {vocab_size} fixed sentiment words. Tokenisation is
trivial and happens outside the graph, so it is easy to reproduce in any
language, including JavaScript in the browser.

## Intended use

Demos of text classification: type a one-line review, get
`negative`/`positive` probabilities. It is a toy: it only knows the words in
`vocab.txt` and has no notion of word order.

## Input and output

* **Input** `token_counts`: float32 `[N, {vocab_size}]`. To build a row:
  lowercase the text, split it into tokens with the regular expression
  `{TOKEN_PATTERN.pattern}`, and for each token that is a line of `vocab.txt`
  add 1 at that line's 0-based index. Other tokens are ignored; a text with no
  known word gives an all-zero row (and the bias decides).
* **Output** `probabilities`: float32 `[N, 2]`, softmax probabilities in the
  order of `labels.txt` (`negative`, `positive`).

## Training data

{len(SENTIMENT_SENTENCES)} short product and service reviews written for Bazaar
(half positive, half negative), released with the model. A stratified 75/25
split (`random_state=0`) gives {len(y_train)} training and {len(y_test)} test
sentences.

## Training procedure

Word counts over the fixed vocabulary, then
`sklearn.linear_model.LogisticRegression(C=10.0)` (lbfgs). The binary model is
exported as a two-class softmax whose logits are `[0, w·x + b]`, which equals
the logistic sigmoid (Gemm, Softmax; opset 17).

## Evaluation

| split | sentences | accuracy |
| --- | --- | --- |
| held-out test | {len(y_test)} | **{accuracy:.4f}** |

With only {len(y_test)} test sentences this figure is very noisy.
onnxruntime outputs match scikit-learn's `predict_proba` on the test split within 1e-5.

{demo_section(
    [
        ("`demo.onnx` (free)", f"{DEMO_VOCAB_SIZE} most frequent", f"{demo_accuracy:.4f}"),
        ("`model.onnx` (licensed)", f"all {vocab_size}", f"**{accuracy:.4f}**"),
    ],
    ("words known", "accuracy on the test split"),
    f"The demo only knows {demo_words}; the license adds `model.onnx`, which "
    f"knows all {vocab_size} words of `vocab.txt`, and `config.json` with the "
    "tokenisation rules.",
)}
## Limitations

Tiny hand-written training set, English only, {vocab_size}-word vocabulary, no
word order: "not bad" counts as "not" plus "bad". Sarcasm, domain jargon and
longer texts are out of reach.

## License

{license_section(seed)}

## How to run

```python
import re
import numpy as np
import onnxruntime as ort

vocab = open("vocab.txt").read().split()
index = {{word: i for i, word in enumerate(vocab)}}

def encode(text):
    row = np.zeros((1, len(vocab)), dtype=np.float32)
    for token in re.findall(r"{TOKEN_PATTERN.pattern}", text.lower()):
        if token in index:
            row[0, index[token]] += 1
    return row

session = ort.InferenceSession("model.onnx")
(probabilities,) = session.run(["probabilities"], {{"token_counts": encode("Great app, fast and reliable!")}})
print(dict(zip(open("labels.txt").read().split(), probabilities[0].tolist())))
```
"""
    write_text(out / "README.md", model_card(
        card_license="other",
        pipeline_tag=seed.task,
        tags=seed.tags,
        datasets=["bazaar/sentiment-mini-sentences"],
        metrics=["accuracy"],
        demo_input=f'{{name: token_counts, shape: [1, {vocab_size}], dtype: float32, '
        'preprocessing: "lowercase, tokens matching [a-z\']+, counts over vocab.txt"}',
        labels="labels.txt",
        body=body,
        demo_file="demo.onnx",
        vocab="vocab.txt",
    ))
    seed.files = ["model.onnx", "demo.onnx", "labels.txt", "vocab.txt", "config.json", "README.md"]
    return seed


# --------------------------------------------------------------------------
# Shape classifier: shapes drawn procedurally, a small CNN trained with numpy
# --------------------------------------------------------------------------

def shape_graph(net: ShapeNet, seed: SeedModel) -> onnx.ModelProto:
    g = GraphBuilder()
    h = "image"
    for i, (conv, pool) in enumerate(zip(net.convs, net.pools), start=1):
        k = conv.kernel
        weight = g.const(f"conv{i}.weight", conv.onnx_weight())
        bias = g.const(f"conv{i}.bias", conv.bias)
        h = g.op("Conv", [h, weight, bias], f"conv{i}",
                 kernel_shape=[k, k], pads=[k // 2] * 4, strides=[1, 1])
        h = g.op("Relu", [h], f"relu{i}")
        if pool:
            h = g.op("MaxPool", [h], f"pool{i}", kernel_shape=[2, 2], strides=[2, 2])
    h = g.op("GlobalMaxPool", [h], "global_pool")
    h = g.op("Flatten", [h], "features", axis=1)
    logits = g.dense(h, net.fc_weight, net.fc_bias, "logits")
    probs = g.op("Softmax", [logits], "softmax", axis=1)
    return build_model(
        g, "shape_classifier",
        "Convolutional shape classifier (32x32 RGB, NCHW, 0..1 per channel).",
        "image", [3, SHAPE_SIDE, SHAPE_SIDE], probs, "probabilities", len(SHAPES),
        {"bazaar.slug": seed.slug, "bazaar.version": "1.0.0", "license": "apache-2.0"},
    )


def shape_classifier(out: Path) -> SeedModel:
    seed = SeedModel(
        slug="shape-classifier",
        owner="sklearn-lab",
        name="Shape Classifier",
        summary="Names the shape in a small colour image: circle, square, triangle, star, "
        "cross or heart.",
        task="image-classification",
        tags=["onnx", "cnn", "shapes", "vision"],
        license="open",
        spdx="Apache-2.0",
        price_cents=0,
    )
    # One BLAS thread: modest on shared machines, and the same sums in the same order each run.
    with threadpool_limits(limits=1):
        x_train, y_train, _ = shape_dataset(SHAPE_TRAIN_PER_CLASS, SEED + 1)
        x_test, y_test, test_styles = shape_dataset(SHAPE_TEST_PER_CLASS, SEED + 2)
        print(f"  [{seed.slug}] drew {len(x_train)} training and {len(x_test)} test images")
        net = train_shape_net(x_train, y_train, np.random.default_rng(SEED))
        probabilities = net.predict_proba(x_test)
    predicted = probabilities.argmax(1)
    accuracy = accuracy_score(y_test, predicted)
    print(f"  [{seed.slug}] test accuracy {accuracy:.4f} on {len(y_test)} images")
    assert accuracy >= SHAPE_MIN_ACCURACY, f"accuracy {accuracy:.4f} < {SHAPE_MIN_ACCURACY}"
    per_class = [accuracy_score(y_test[y_test == c], predicted[y_test == c])
                 for c in range(len(SHAPES))]
    styles = {
        "filled": "filled shape, any two colours",
        "outline": "outline, any two colours",
        "pen": "dark pen outline on white paper",
    }
    per_style = {}
    for style in styles:
        chosen = test_styles == style
        per_style[style] = (int(chosen.sum()), accuracy_score(y_test[chosen], predicted[chosen]))
    confusion = np.zeros((len(SHAPES), len(SHAPES)), dtype=int)
    for truth, guess in zip(y_test, predicted):
        confusion[truth, guess] += 1

    model = shape_graph(net, seed)
    assert_matches(seed.slug, run_onnx(model, "image", x_test), probabilities, "the numpy network")
    n_params = net.parameter_count()
    onnx_bytes = len(model.SerializeToString(deterministic=True))
    assert onnx_bytes < 1_000_000, onnx_bytes

    # Sample images for the in-page demo: each drawn on a 160x160 canvas, averaged down to the
    # model's 32x32 and written back scaled up 5x, so that the page's own downscale to 32x32
    # gets exactly the pixels checked here. Each must be named correctly, also when the
    # drawing is point-sampled instead of averaged.
    samples = []
    factor = SHAPE_CANVAS // SHAPE_SIDE
    for label, drawing in drawn_samples().items():
        small = np.round(box_downscale(drawing.transpose(2, 0, 1).astype(np.float64), factor))
        small = small.astype(np.uint8)
        write_png_rgb(FIXTURES_DIR / "shapes" / f"{label}.png",
                      np.repeat(np.repeat(small.transpose(1, 2, 0), factor, 0), factor, 1))
        pixels = (small.astype(np.float32) / 255.0)[None]
        output = run_onnx(model, "image", pixels)[0]
        sampled = drawing[factor // 2::factor, factor // 2::factor].transpose(2, 0, 1)[None] / 255.0
        point_sampled = run_onnx(model, "image", sampled.astype(np.float32))[0]
        for name, probs in (("averaged", output), ("point-sampled", point_sampled)):
            guess = SHAPES[int(probs.argmax())]
            assert guess == label, f"sample {label} ({name}) classified as {guess}: {probs}"
        print(f"  [{seed.slug}] sample {label}.png: {label} ({output.max():.3f})")
        samples.append((label, pixels, output))
    _, first_pixels, first_output = samples[0]
    DEMO_EXPECTATIONS[seed.slug] = {
        "input": [round(float(v), 6) for v in first_pixels.reshape(-1)],
        "output": [round(float(v), 6) for v in first_output],
        "images": [
            {"file": f"shapes/{label}.png", "label": label,
             "output": [round(float(v), 6) for v in output]}
            for label, _, output in samples
        ],
    }

    write_onnx(out / "model.onnx", model)
    write_lines(out / "labels.txt", SHAPES)
    write_json(out / "config.json", {
        "task": seed.task,
        "inputs": [
            {"name": "image", "shape": ["N", 3, SHAPE_SIDE, SHAPE_SIDE], "dtype": "float32"}
        ],
        "outputs": [{"name": "probabilities", "shape": ["N", len(SHAPES)], "dtype": "float32"}],
        "preprocessing": {
            "image_size": [SHAPE_SIDE, SHAPE_SIDE],
            "layout": "NCHW: channels R, G, B; rows top to bottom; columns left to right",
            "value_range": [0, 1],
            "resize": "scale the whole image to 32x32 (area averaging is best); no crop",
            "note": "each channel's 8-bit value divided by 255; no mean or standard deviation "
            "normalisation; any background and ink colours",
        },
        "labels": "labels.txt",
    })
    arch_rows = []
    side = SHAPE_SIDE
    channels = 3
    for i, (out_channels, kernel, pool) in enumerate(SHAPE_LAYERS, start=1):
        params = kernel * kernel * channels * out_channels + out_channels
        shape_after = f"{out_channels}x{side // 2 if pool else side}x{side // 2 if pool else side}"
        block = f"Conv {kernel}x{kernel}, {out_channels} filters, pad {kernel // 2} + Relu"
        block += " + MaxPool 2x2" if pool else ""
        arch_rows.append(f"| {block} | {shape_after} | {params:,} |")
        side = side // 2 if pool else side
        channels = out_channels
    arch_rows.append(f"| GlobalMaxPool + Flatten | {channels} | 0 |")
    fc_params = channels * len(SHAPES) + len(SHAPES)
    arch_rows.append(f"| Gemm + Softmax | {len(SHAPES)} | {fc_params:,} |")
    arch_table = "\n".join(arch_rows)
    class_table = "\n".join(f"| {name} | {SHAPE_TEST_PER_CLASS} | {acc:.4f} |"
                            for name, acc in zip(SHAPES, per_class))
    style_table = "\n".join(f"| {styles[s]} | {n} | {acc:.4f} |"
                            for s, (n, acc) in per_style.items())
    off = confusion - np.diag(np.diag(confusion))
    pair = np.unravel_index(int(np.argmax(off + off.T)), off.shape)
    mistaken = off[pair] + off[pair[::-1]]
    worst = f"{SHAPES[pair[0]]} and {SHAPES[pair[1]]} ({mistaken} of {len(y_test):,} images)"
    confusion_table = "\n".join(
        f"| **{name}** | " + " | ".join(str(v) for v in row) + " |"
        for name, row in zip(SHAPES, confusion)
    )
    sample_list = "\n".join(
        f"* `{label}.png`: {label}, probability {output.max():.3f}" for label, _, output in samples
    )
    body = f"""
# Shape Classifier

A small convolutional network that names the shape in a 32x32 colour image:
{", ".join(SHAPES[:-1])} or {SHAPES[-1]}. It was trained on shapes drawn by a program,
filled or outlined, at many sizes, places and angles, in any colours, so that a
rough drawing on the page's canvas gets a sensible answer. It has {n_params:,}
parameters ({onnx_bytes / 1024:.0f} KiB of ONNX) and uses only standard operators:
Conv, Relu, MaxPool, GlobalMaxPool, Flatten, Gemm, Softmax.

## Intended use

Demos and tests of image-classification plumbing with a real convolutional
network, in the browser or anywhere ONNX Runtime runs: draw a shape, read back
six class probabilities. It is not a general image classifier.

## Input and output

* **Input** `image`: float32 `[N, 3, 32, 32]`, NCHW: the red, green and blue
  planes in that order, each 32 rows from the top and 32 columns from the left.
  Each value is the channel's 8-bit value divided by 255, **0..1**, with no
  mean or standard-deviation normalisation. Scale the whole picture to 32x32
  (area averaging works best; no crop). Any background and ink colours work.
* **Output** `probabilities`: float32 `[N, {len(SHAPES)}]`, softmax probabilities
  in the order of `labels.txt` ({", ".join(SHAPES)}).

## Architecture

| layer | output | parameters |
| --- | --- | --- |
{arch_table}

The global max pool makes the answer depend on what is in the picture rather
than where it is.

## Training data

{len(x_train):,} training and {len(x_test):,} test images \
({SHAPE_TRAIN_PER_CLASS:,} and {SHAPE_TEST_PER_CLASS} per class), drawn with
Pillow by `scripts/seed-models/make_seed_models.py` from fixed random seeds, a
different one for each split. No outside data is used.

* each shape's outline is bent by slow random waves and jittered, stretched (a
  log-normal aspect ratio, standard deviation 0.12), rotated to any angle
  (hearts within about 35 degrees of upright), scaled to a radius of 6.5 to 15
  pixels and placed anywhere it fits;
* 45% are filled; the others are outlines 1.2 to 4 pixels wide, a quarter of
  them left a little open; half of the outlined stars are pentagrams drawn in
  one stroke and half of the outlined crosses are two crossing lines;
* 40% are dark ink on near-white paper, the rest any two colours that differ
  enough in brightness and hue to be seen;
* drawn 4x larger and averaged down (or, for 30%, point-sampled, as a plain
  browser downscale may do), then Gaussian noise of a random strength up to 0.06.

## Training procedure

Backpropagation written by hand in numpy (float32), minimising the
cross-entropy with Adam: learning rate {SHAPE_LEARNING_RATE:g} with cosine decay,
L2 weight decay {SHAPE_WEIGHT_DECAY:g}, batches of {SHAPE_BATCH}, {SHAPE_EPOCHS} epochs,
He-initialised weights (`seed=0`). Each batch is flipped or transposed at
random, which changes none of the classes. The weights were written to ONNX by
hand with `onnx.helper` (opset 17).

## Evaluation

| split | images | accuracy |
| --- | --- | --- |
| held-out test | {len(y_test):,} | **{accuracy:.4f}** |

By class:

| class | images | accuracy |
| --- | --- | --- |
{class_table}

By drawing style:

| style | images | accuracy |
| --- | --- | --- |
{style_table}

Confusions (rows: true class, columns: predicted):

| | {" | ".join(SHAPES)} |
| --- | {" | ".join("---" for _ in SHAPES)} |
{confusion_table}

onnxruntime outputs match the numpy network's on the test split within 1e-5.
The three sample drawings the page's tests use (in `end2end/fixtures/shapes/`,
drawn separately from the training images) are classified as:

{sample_list}

## Limitations

Every image is forced into one of the six classes, whatever it shows: an empty
canvas, a letter or a photograph still gets six probabilities. It expects one
shape per image; several shapes, or a shape smaller than the smallest training
shapes (about 13 of the 32 pixels across), confuse it. Trained only on
synthetic drawings at 32x32: fine detail is lost, and drawings much rougher
than the training wobble, or an upside-down heart, may be misread. Its most
frequent confusion on the test split is {worst}.

## License

{license_section(seed)}

## How to run

```python
import numpy as np
import onnxruntime as ort
from PIL import Image

image = Image.open("drawing.png").convert("RGB").resize((32, 32), Image.BOX)
x = (np.asarray(image, dtype=np.float32) / 255.0).transpose(2, 0, 1)[None]  # [1, 3, 32, 32]
session = ort.InferenceSession("model.onnx")
(probabilities,) = session.run(["probabilities"], {{"image": x}})
labels = open("labels.txt").read().split()
print(labels[int(probabilities[0].argmax())])
```
"""
    write_text(out / "README.md", model_card(
        card_license="apache-2.0",
        pipeline_tag=seed.task,
        tags=seed.tags,
        datasets=["bazaar/procedural-shapes"],
        metrics=["accuracy"],
        demo_input=f"{{name: image, shape: [1, 3, {SHAPE_SIDE}, {SHAPE_SIDE}], dtype: float32, "
        'preprocessing: "32x32 RGB, NCHW, 0..1 per channel"}',
        labels="labels.txt",
        body=body,
    ))
    seed.files = ["model.onnx", "labels.txt", "config.json", "README.md"]
    return seed


# --------------------------------------------------------------------------
# Catalog
# --------------------------------------------------------------------------


def toml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=True)


def toml_list(values: list[str]) -> str:
    return "[" + ", ".join(toml_str(v) for v in values) + "]"


def write_catalog(path: Path, models: list[SeedModel]) -> None:
    lines = [
        "# Bazaar demo catalog, read by `bazaar seed`.",
        "# Generated by scripts/seed-models/make_seed_models.py -- do not edit by hand.",
        "",
    ]
    for publisher in PUBLISHERS:
        lines += [
            "[[publisher]]",
            f"username = {toml_str(publisher['username'])}",
            f"display_name = {toml_str(publisher['display_name'])}",
            f"bio = {toml_str(publisher['bio'])}",
            "",
        ]
    usernames = {p["username"] for p in PUBLISHERS}
    for m in models:
        assert m.owner in usernames, m.owner
        assert (m.price_cents > 0) == (m.license in ("paid", "subscription")), m.slug
        assert (m.spdx is not None) == (m.license in ("open", "gated")), m.slug
        assert bool(m.terms) == (m.license != "open"), m.slug
        # A priced model's free demo is a separate, coarser model.
        assert ("demo.onnx" in m.files) == (m.price_cents > 0), m.slug
        lines += [
            "[[model]]",
            f"owner = {toml_str(m.owner)}",
            f"slug = {toml_str(m.slug)}",
            f"name = {toml_str(m.name)}",
            f"summary = {toml_str(m.summary)}",
            f"task = {toml_str(m.task)}",
            f"tags = {toml_list(m.tags)}",
            f"license = {toml_str(m.license)}",
        ]
        # A gated model's SPDX id is for its card; on Bazaar its offer is the terms.
        if m.license == "open":
            lines.append(f"spdx = {toml_str(m.spdx)}")
        lines.append(f"price_cents = {m.price_cents}")
        if m.terms:
            lines.append(f"terms = {toml_str(m.terms)}")
        lines += [
            'version = "1.0.0"',
            'changelog = "Initial release."',
            f"files = {toml_list(m.files)}",
            "",
        ]
    write_text(path, "\n".join(lines))


def main() -> None:
    np.random.seed(SEED)
    builders = [digit_classifier, iris_species, diabetes_progression, sentiment_mini,
                shape_classifier]
    models = []
    for build in builders:
        slug = build.__name__.replace("_", "-")
        print(f"building {slug}")
        model = build(SEED_DIR / slug)
        assert model.slug == slug
        on_disk = sorted(p.name for p in (SEED_DIR / slug).iterdir())
        assert on_disk == sorted(model.files), (slug, on_disk)
        models.append(model)
    write_catalog(SEED_DIR / "catalog.toml", models)
    write_text(FIXTURES_DIR / "demos.json", json.dumps(DEMO_EXPECTATIONS, indent=2) + "\n")
    total = sum(p.stat().st_size for p in SEED_DIR.rglob("*") if p.is_file())
    print(f"wrote {len(models)} models and catalog.toml to seed/ ({total / 1024:.1f} KiB)")


if __name__ == "__main__":
    main()
