"""Turns the onnx wheel's `light` model zoo into backend-test cases.

Usage: python light_models_to_cases.py LIGHT_DIR DEST_DIR

LIGHT_DIR holds light_<name>.onnx (the zoo's AlexNet, DenseNet-121,
Inception v1/v2, ResNet-50, ShuffleNet, SqueezeNet, VGG-19 and ZFNet-512
graphs, with ConstantOfShape placeholders for their weights) and
light_<name>_output_0.pb, the expected output for the input onnx's own
backend-test runner feeds them (`Runner.generate_dummy_data` with
random=False: arange(n) / n in float32). This writes
DEST_DIR/<name>/{model.onnx, test_data_set_0/{input_0,output_0}.pb}, the
layout the runner's conformance harness reads.
"""
import glob
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def dummy_input(vi):
    shape = tuple(d.dim_value if d.HasField("dim_value") else 1 for d in vi.type.tensor_type.shape.dim)
    n = int(np.prod(shape))
    return (np.arange(n).reshape(shape) / n).astype(np.float32)


def main(src, dest):
    count = 0
    for path in sorted(glob.glob(os.path.join(src, "light_*.onnx"))):
        name = os.path.basename(path)[len("light_"):-len(".onnx")]
        expected = path[: -len(".onnx")] + "_output_0.pb"
        if not os.path.exists(expected):
            continue
        model = onnx.load(path)
        inits = {i.name for i in model.graph.initializer}
        inputs = [i for i in model.graph.input if i.name not in inits]
        case = os.path.join(dest, name)
        data = os.path.join(case, "test_data_set_0")
        os.makedirs(data, exist_ok=True)
        shutil.copy(path, os.path.join(case, "model.onnx"))
        for k, vi in enumerate(inputs):
            with open(os.path.join(data, f"input_{k}.pb"), "wb") as f:
                f.write(numpy_helper.from_array(dummy_input(vi), vi.name).SerializeToString())
        shutil.copy(expected, os.path.join(data, "output_0.pb"))
        count += 1
    print(f"{count} light zoo models as test cases in {dest}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
