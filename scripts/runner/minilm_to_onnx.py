"""Builds Bazaar's all-MiniLM-L6-v2 ONNX model and its NumPy reference.

Usage: python minilm_to_onnx.py MODEL_DIR OUT_DIR

MODEL_DIR holds the sentence-transformers files (model.safetensors,
tokenizer.json). The graph is written with onnx.helper in the shape common
exporters produce (decomposed LayerNorm and erf-GELU, MatMul+Add, shape
arithmetic feeding Reshape/Range), so the runner's fusion passes have real
patterns to work on. OUT_DIR receives:
  model.onnx, tokenizer.json,
  reference.json (sentences, token ids, masks, NumPy embeddings),
  test_data_set_0/{input_0,input_1,output_0}.pb (backend-test layout).
"""
import json
import os
import shutil
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SENTENCES = [
    "Bazaar is a self-hostable marketplace for machine learning models.",
    "The quick brown fox jumps over the lazy dog!",
    "Café déjà vu: naïve façade, coöperate — résumé.",
    "GPU kernels run on WebGPU; the CPU backend is the reference.",
    "antidisestablishmentarianism and supercalifragilisticexpialidocious 12345",
    "短い文 and emoji 🙂 mixed with tabs\tand newlines\n.",
]
HIDDEN, HEADS, LAYERS, EPS = 384, 12, 6, 1e-12


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        blob = f.read()
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        dtype = {"F32": np.float32, "I64": np.int64}[meta["dtype"]]
        a, b = meta["data_offsets"]
        out[name] = np.frombuffer(blob[a:b], dtype=dtype).reshape(meta["shape"])
    return out


def build_graph(w):
    nodes, inits = [], []
    counter = [0]

    def name(prefix):
        counter[0] += 1
        return f"{prefix}_{counter[0]}"

    def const(value, prefix="c"):
        n = name(prefix)
        inits.append(numpy_helper.from_array(np.asarray(value), n))
        return n

    def op(kind, inputs, **attrs):
        out = name(kind.lower())
        nodes.append(helper.make_node(kind, inputs, [out], **attrs))
        return out

    def layer_norm(x, gamma, beta):
        mu = op("ReduceMean", [x], axes=[-1], keepdims=1)
        d = op("Sub", [x, mu])
        var = op("ReduceMean", [op("Pow", [d, const(np.float32(2.0))])], axes=[-1], keepdims=1)
        std = op("Sqrt", [op("Add", [var, const(np.float32(EPS))])])
        n = op("Div", [d, std])
        return op("Add", [op("Mul", [n, const(gamma)]), const(beta)])

    def linear(x, prefix):
        wt = np.ascontiguousarray(w[prefix + ".weight"].T)
        return op("Add", [op("MatMul", [x, const(wt, "w")]), const(w[prefix + ".bias"], "b")])

    def gelu(x):
        e = op("Erf", [op("Div", [x, const(np.float32(np.sqrt(2.0)))])])
        return op("Mul", [op("Mul", [x, op("Add", [e, const(np.float32(1.0))])]), const(np.float32(0.5))])

    seq = op("Gather", [op("Shape", ["input_ids"]), const(np.int64(1))], axis=0)
    pos = op("Range", [const(np.int64(0)), seq, const(np.int64(1))])
    we = op("Gather", [const(w["embeddings.word_embeddings.weight"], "word_emb"), "input_ids"], axis=0)
    pe = op("Gather", [const(w["embeddings.position_embeddings.weight"], "pos_emb"), pos], axis=0)
    te = const(w["embeddings.token_type_embeddings.weight"][0], "type_emb")
    h = layer_norm(op("Add", [op("Add", [we, pe]), te]),
                   w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])

    mask = op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    mask4 = op("Unsqueeze", [mask, const(np.array([1, 2], dtype=np.int64))])
    bias = op("Mul", [op("Sub", [const(np.float32(1.0)), mask4]), const(np.float32(-10000.0))])
    heads_shape = const(np.array([0, 0, HEADS, HIDDEN // HEADS], dtype=np.int64))
    merge_shape = const(np.array([0, 0, HIDDEN], dtype=np.int64))
    scale = const(np.float32(np.sqrt(HIDDEN // HEADS)))
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."
        split = lambda t: op("Reshape", [t, heads_shape])
        q = op("Transpose", [split(linear(h, p + "attention.self.query"))], perm=[0, 2, 1, 3])
        k = op("Transpose", [split(linear(h, p + "attention.self.key"))], perm=[0, 2, 3, 1])
        v = op("Transpose", [split(linear(h, p + "attention.self.value"))], perm=[0, 2, 1, 3])
        scores = op("Add", [op("Div", [op("MatMul", [q, k]), scale]), bias])
        probs = op("Softmax", [scores], axis=-1)
        ctx = op("Reshape", [op("Transpose", [op("MatMul", [probs, v])], perm=[0, 2, 1, 3]), merge_shape])
        attn = linear(ctx, p + "attention.output.dense")
        h1 = layer_norm(op("Add", [attn, h]), w[p + "attention.output.LayerNorm.weight"],
                        w[p + "attention.output.LayerNorm.bias"])
        inter = gelu(linear(h1, p + "intermediate.dense"))
        out = linear(inter, p + "output.dense")
        h = layer_norm(op("Add", [out, h1]), w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])

    # Mean pooling over real tokens, then L2 normalisation.
    m3 = op("Unsqueeze", [mask, const(np.array([2], dtype=np.int64))])
    axis1 = const(np.array([1], dtype=np.int64))
    summed = op("ReduceSum", [op("Mul", [h, m3]), axis1], keepdims=0)
    count = op("Clip", [op("ReduceSum", [m3, axis1], keepdims=0), const(np.float32(1e-9))])
    mean = op("Div", [summed, count])
    norm = op("Sqrt", [op("ReduceSum", [op("Mul", [mean, mean]), axis1], keepdims=1)])
    emb = op("Div", [mean, op("Clip", [norm, const(np.float32(1e-12))])])
    nodes.append(helper.make_node("Identity", [emb], ["embedding"]))

    graph = helper.make_graph(
        nodes, "all-MiniLM-L6-v2",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", HIDDEN])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="bazaar-minilm")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def erf(x):
    # float64 erf via the Abramowitz-Stegun-free route: math.erf per element.
    import math
    return np.vectorize(math.erf)(x)


def reference(w, ids, mask):
    """float64 NumPy forward pass, independent of the ONNX graph."""
    f = lambda k: w[k].astype(np.float64)

    def ln(x, p):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + EPS) * f(p + ".weight") + f(p + ".bias")

    lin = lambda x, p: x @ f(p + ".weight").T + f(p + ".bias")
    b, s = ids.shape
    x = f("embeddings.word_embeddings.weight")[ids] + f("embeddings.position_embeddings.weight")[:s] \
        + f("embeddings.token_type_embeddings.weight")[0]
    x = ln(x, "embeddings.LayerNorm")
    bias = (1.0 - mask[:, None, None, :]) * -10000.0
    dh = HIDDEN // HEADS
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."
        heads = lambda t: t.reshape(b, s, HEADS, dh).transpose(0, 2, 1, 3)
        q, k, v = (heads(lin(x, p + "attention.self." + n)) for n in ("query", "key", "value"))
        sc = q @ k.transpose(0, 1, 3, 2) / np.sqrt(dh) + bias
        sc = np.exp(sc - sc.max(-1, keepdims=True))
        pr = sc / sc.sum(-1, keepdims=True)
        ctx = (pr @ v).transpose(0, 2, 1, 3).reshape(b, s, HIDDEN)
        x1 = ln(lin(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        it = lin(x1, p + "intermediate.dense")
        it = 0.5 * it * (1.0 + erf(it / np.sqrt(2.0)))
        x = ln(lin(it, p + "output.dense") + x1, p + "output.LayerNorm")
    m = mask[:, :, None].astype(np.float64)
    mean = (x * m).sum(1) / np.clip(m.sum(1), 1e-9, None)
    return mean / np.clip(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12, None)


def main():
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    w = load_safetensors(os.path.join(src, "model.safetensors"))
    model = build_graph(w)
    onnx.save(model, os.path.join(out, "model.onnx"))
    shutil.copy(os.path.join(src, "tokenizer.json"), os.path.join(out, "tokenizer.json"))

    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(src, "tokenizer.json"))
    tok.no_padding()
    encs = [tok.encode(s) for s in SENTENCES]
    longest = max(len(e.ids) for e in encs)
    ids = np.zeros((len(SENTENCES), longest), dtype=np.int64)
    mask = np.zeros_like(ids)
    for i, e in enumerate(encs):
        ids[i, :len(e.ids)] = e.ids
        mask[i, :len(e.ids)] = 1
    ref = reference(w, ids, mask.astype(np.float64))
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump({"sentences": SENTENCES, "ids": [e.ids for e in encs],
                   "input_ids": ids.tolist(), "attention_mask": mask.tolist(),
                   "embedding": ref.tolist()}, f)
    ds = os.path.join(out, "test_data_set_0")
    os.makedirs(ds, exist_ok=True)
    for k, (n, a) in enumerate([("input_ids", ids), ("attention_mask", mask)]):
        with open(os.path.join(ds, f"input_{k}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(a, n).SerializeToString())
    with open(os.path.join(ds, "output_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(ref.astype(np.float32), "embedding").SerializeToString())
    print(f"wrote {out}: {len(model.graph.node)} nodes, reference for {len(SENTENCES)} sentences")


if __name__ == "__main__":
    main()
