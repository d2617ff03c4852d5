"""Writes the web benchmark's generated inputs into OUT_DIR.

Usage: python prepare_models.py OUT_DIR MINILM_DIR [SIZE]
  OUT_DIR/squeezenet.onnx   SqueezeNet 1.1 (torchvision's layout: conv 3x3/2, three max pools,
                            eight Fire modules, 1x1 classifier conv, global average pool) on a
                            1x3xSIZExSIZE image (default 64), random He-initialised weights
  OUT_DIR/minilm-ids.json   the benchmark's short sentences as MiniLM token ids (from the
                            `tokenizers` package and MINILM_DIR/tokenizer.json), padded to
                            the longest: the page's fallback and its check of runner-web's
                            own tokenizer
Deterministic (fixed seed), so a second run writes the same files.
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# Short on purpose: SwiftShader (Chromium's CPU Vulkan) runs matmuls at well under 1 GFLOP/s.
SENTENCES = [
    "Hello world.",
    "The cat sat on the mat.",
    "WebGPU runs in the browser.",
]


def squeezenet(path, size):
    rng = np.random.default_rng(11)
    inits, nodes = [], []
    count = [0]

    def name(prefix):
        count[0] += 1
        return f"{prefix}_{count[0]}"

    def conv(x, cin, cout, k, stride=1, pad=0, relu=True):
        w = (rng.standard_normal((cout, cin, k, k)) * np.sqrt(2.0 / (cin * k * k))).astype(np.float32)
        b = (rng.standard_normal(cout) * 0.01).astype(np.float32)
        wn, bn, y = name("w"), name("b"), name("conv")
        inits.extend([numpy_helper.from_array(w, wn), numpy_helper.from_array(b, bn)])
        nodes.append(helper.make_node(
            "Conv", [x, wn, bn], [y], kernel_shape=[k, k], strides=[stride, stride],
            pads=[pad] * 4))
        if not relu:
            return y
        r = name("relu")
        nodes.append(helper.make_node("Relu", [y], [r]))
        return r

    def maxpool(x):
        y = name("pool")
        nodes.append(helper.make_node(
            "MaxPool", [x], [y], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1))
        return y

    def fire(x, cin, squeeze, e1, e3):
        s = conv(x, cin, squeeze, 1)
        a = conv(s, squeeze, e1, 1)
        b = conv(s, squeeze, e3, 3, pad=1)
        y = name("fire")
        nodes.append(helper.make_node("Concat", [a, b], [y], axis=1))
        return y

    x = conv("image", 3, 64, 3, stride=2)
    x = maxpool(x)
    x = fire(x, 64, 16, 64, 64)
    x = fire(x, 128, 16, 64, 64)
    x = maxpool(x)
    x = fire(x, 128, 32, 128, 128)
    x = fire(x, 256, 32, 128, 128)
    x = maxpool(x)
    x = fire(x, 256, 48, 192, 192)
    x = fire(x, 384, 48, 192, 192)
    x = fire(x, 384, 64, 256, 256)
    x = fire(x, 512, 64, 256, 256)
    x = conv(x, 512, 1000, 1)
    gap = name("gap")
    nodes.append(helper.make_node("GlobalAveragePool", [x], [gap]))
    nodes.append(helper.make_node("Flatten", [gap], ["logits"], axis=1))

    graph = helper.make_graph(
        nodes, "squeezenet1_1",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1000])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def minilm_ids(path, minilm_dir):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(os.path.join(minilm_dir, "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    ids = [tok.encode(s).ids for s in SENTENCES]
    seq = max(len(row) for row in ids)
    data = {
        "sentences": SENTENCES,
        "shape": [len(ids), seq],
        "input_ids": [row + [0] * (seq - len(row)) for row in ids],
        "attention_mask": [[1] * len(row) + [0] * (seq - len(row)) for row in ids],
    }
    with open(path, "w") as f:
        json.dump(data, f)


def main():
    out, minilm_dir = sys.argv[1], sys.argv[2]
    size = int(sys.argv[3]) if len(sys.argv) > 3 else 64
    os.makedirs(out, exist_ok=True)
    squeezenet(os.path.join(out, "squeezenet.onnx"), size)
    minilm_ids(os.path.join(out, "minilm-ids.json"), minilm_dir)


if __name__ == "__main__":
    main()
