"""Writes benchmark models for Bazaar's runner in backend-test layout.

Usage: python make_bench_models.py MINILM_DIR OUT_DIR [LIGHT_DIR]
  OUT_DIR/digits:       the seed catalog's digit classifier, one 8x8 image
  OUT_DIR/minilm-b1:    all-MiniLM-L6-v2, one sentence
  OUT_DIR/minilm-s128:  all-MiniLM-L6-v2, one sequence of 128 tokens
  OUT_DIR/cnn-64:       small ResNet-style CNN (Conv+BN+Relu, residuals,
                        pooling, Gemm) on a 1x3x64x64 image, random weights
  OUT_DIR/squeezenet, OUT_DIR/resnet50 (with LIGHT_DIR, the `light` folder of
                        the onnx wheel's backend-test data): the model zoo's
                        SqueezeNet 1.0 and ResNet-50 graphs, 1x3x224x224, with
                        their constant placeholder weights replaced by random
                        ones (so activations stay in a normal float range)
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


def minilm_seq(src, out, length):
    """One sequence of exactly `length` tokens: [CLS], the reference
    sentences' word pieces repeated, [SEP]; no padding."""
    d = os.path.join(out, f"minilm-s{length}")
    os.makedirs(d, exist_ok=True)
    shutil.copy(os.path.join(src, "model.onnx"), os.path.join(d, "model.onnx"))
    r = json.load(open(os.path.join(src, "reference.json")))
    pieces = [t for row in r["input_ids"] for t in row if t not in (0, 101, 102)]
    body = (pieces * (length // max(len(pieces), 1) + 1))[: length - 2]
    ids = np.array([[101] + body + [102]], dtype=np.int64)
    write_inputs(d, [("input_ids", ids), ("attention_mask", np.ones_like(ids))])


def digits(out):
    here = os.path.dirname(os.path.abspath(__file__))
    src = os.path.join(here, "..", "..", "seed", "digit-classifier", "model.onnx")
    d = os.path.join(out, "digits")
    os.makedirs(d, exist_ok=True)
    shutil.copy(src, os.path.join(d, "model.onnx"))
    rng = np.random.default_rng(3)
    write_inputs(d, [("pixels", rng.integers(0, 17, (1, 64)).astype(np.float32))])


def zoo(light, out, name, dest):
    """A light zoo model with random weights instead of its ConstantOfShape
    placeholders (BatchNorm variances/scales kept positive)."""
    model = onnx.load(os.path.join(light, f"light_{name}.onnx"))
    rng = np.random.default_rng(11)
    g = model.graph
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    role = {}
    for n in g.node:
        for k, i in enumerate(n.input):
            role.setdefault(i, (n.op_type, k))
    keep = []
    for n in g.node:
        if n.op_type != "ConstantOfShape" or n.input[0] not in inits:
            keep.append(n)
            continue
        shape = tuple(int(v) for v in inits[n.input[0]])
        op, k = role.get(n.output[0], ("", 0))
        if op == "BatchNormalization" and k in (1, 4):
            a = rng.uniform(0.5, 1.5, shape)
        elif op == "BatchNormalization":
            a = rng.normal(0, 0.1, shape)
        elif len(shape) >= 2:
            fan_in = int(np.prod(shape[1:]))
            a = rng.normal(0, (2.0 / fan_in) ** 0.5, shape)
        else:
            a = rng.normal(0, 0.05, shape)
        g.initializer.append(numpy_helper.from_array(a.astype(np.float32), n.output[0]))
    del g.node[:]
    g.node.extend(keep)
    used = {i for n in g.node for i in n.input}
    kept_inits = [i for i in g.initializer if i.name in used]
    del g.initializer[:]
    g.initializer.extend(kept_inits)
    names = {i.name for i in g.initializer}
    graph_inputs = [i for i in g.input if i.name in used]
    del g.input[:]
    g.input.extend(graph_inputs)
    d = os.path.join(out, dest)
    os.makedirs(d, exist_ok=True)
    onnx.save(model, os.path.join(d, "model.onnx"))
    feeds = [(i.name, rng.normal(0, 1, [x.dim_value for x in i.type.tensor_type.shape.dim]).astype(np.float32))
             for i in g.input if i.name not in names]
    write_inputs(d, feeds)


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
    digits(out)
    minilm(src, out, 1)
    minilm_seq(src, out, 128)
    cnn(out)
    if len(sys.argv) > 3:
        zoo(sys.argv[3], out, "squeezenet", "squeezenet")
        zoo(sys.argv[3], out, "resnet50", "resnet50")
    print(f"benchmark models in {out}")
