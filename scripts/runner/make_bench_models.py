"""Writes benchmark models for Bazaar's runner in backend-test layout.

Usage: python make_bench_models.py MINILM_DIR OUT_DIR
  OUT_DIR/minilm-b1: all-MiniLM-L6-v2, one sentence
  OUT_DIR/minilm-b6: all-MiniLM-L6-v2, six sentences
  OUT_DIR/cnn-64:    small ResNet-style CNN (Conv+BN+Relu, residuals,
                     pooling, Gemm) on a 1x3x64x64 image, random weights
"""
import json
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def write_inputs(d, arrays):
    ds = os.path.join(d, "test_data_set_0")
    os.makedirs(ds, exist_ok=True)
    for k, (name, a) in enumerate(arrays):
        with open(os.path.join(ds, f"input_{k}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(a, name).SerializeToString())


def minilm(src, out, rows):
    d = os.path.join(out, f"minilm-b{rows}")
    os.makedirs(d, exist_ok=True)
    shutil.copy(os.path.join(src, "model.onnx"), os.path.join(d, "model.onnx"))
    r = json.load(open(os.path.join(src, "reference.json")))
    ids = np.array(r["input_ids"][:rows], dtype=np.int64)
    mask = np.array(r["attention_mask"][:rows], dtype=np.int64)
    keep = int(mask.sum(1).max())
    write_inputs(d, [("input_ids", ids[:, :keep]), ("attention_mask", mask[:, :keep])])


def cnn(out):
    rng = np.random.default_rng(7)
    nodes, inits = [], []
    count = [0]

    def const(a):
        count[0] += 1
        n = f"c{count[0]}"
        inits.append(numpy_helper.from_array(np.asarray(a, dtype=np.float32), n))
        return n

    def op(kind, ins, **attrs):
        count[0] += 1
        o = f"t{count[0]}"
        nodes.append(helper.make_node(kind, ins, [o], **attrs))
        return o

    def conv_bn_relu(x, cin, cout, stride=1, relu=True):
        w = const(rng.normal(0, (2.0 / (cin * 9)) ** 0.5, (cout, cin, 3, 3)))
        y = op("Conv", [x, w], pads=[1, 1, 1, 1], strides=[stride, stride])
        y = op("BatchNormalization", [y, const(rng.uniform(0.5, 1.5, cout)), const(rng.normal(0, 0.1, cout)),
                                      const(rng.normal(0, 0.1, cout)), const(rng.uniform(0.5, 1.5, cout))])
        return op("Relu", [y]) if relu else y

    x = conv_bn_relu("image", 3, 16)
    for cin, cout in [(16, 16), (16, 32), (32, 64)]:
        stride = 1 if cin == cout else 2
        y = conv_bn_relu(x, cin, cout, stride)
        y = conv_bn_relu(y, cout, cout, relu=False)
        skip = x if cin == cout else op("Conv", [x, const(rng.normal(0, 0.2, (cout, cin, 1, 1)))], strides=[2, 2])
        x = op("Relu", [op("Add", [y, skip])])
    x = op("Flatten", [op("GlobalAveragePool", [x])])
    logits = op("Gemm", [x, const(rng.normal(0, 0.1, (10, 64))), const(np.zeros(10))], transB=1)
    nodes.append(helper.make_node("Softmax", [logits], ["probs"], axis=-1))
    graph = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 64, 64])],
                              [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    d = os.path.join(out, "cnn-64")
    os.makedirs(d, exist_ok=True)
    onnx.save(model, os.path.join(d, "model.onnx"))
    write_inputs(d, [("image", rng.normal(0, 1, (1, 3, 64, 64)).astype(np.float32))])


if __name__ == "__main__":
    src, out = sys.argv[1], sys.argv[2]
    minilm(src, out, 1)
    minilm(src, out, 6)
    cnn(out)
    print(f"benchmark models in {out}")
