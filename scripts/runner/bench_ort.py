"""Median onnxruntime latency for Bazaar's runner benchmark.

Usage: python bench_ort.py MODEL_DIR THREADS WARMUP ITERS
Runs MODEL_DIR/model.onnx on the inputs of test_data_set_0 with the CPU
execution provider and prints the median latency in milliseconds.
"""
import glob
import os
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

model_dir, threads, warmup, iters = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
opts = ort.SessionOptions()
opts.intra_op_num_threads = threads
opts.inter_op_num_threads = 1
opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
sess = ort.InferenceSession(os.path.join(model_dir, "model.onnx"), opts, providers=["CPUExecutionProvider"])
files = sorted(glob.glob(os.path.join(model_dir, "test_data_set_0", "input_*.pb")),
               key=lambda p: int(p.rsplit("_", 1)[1].split(".")[0]))
feeds = {}
for meta, path in zip(sess.get_inputs(), files):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    feeds[meta.name] = numpy_helper.to_array(t)
for _ in range(warmup):
    sess.run(None, feeds)
times = []
for _ in range(iters):
    t0 = time.perf_counter()
    sess.run(None, feeds)
    times.append((time.perf_counter() - t0) * 1000.0)
print(f"{float(np.median(times)):.4f}")
