#!/usr/bin/env python3
"""Writes the pickle test corpus for the `inspect` crate's tests: every shape a pickle travels
in, made by Python's own pickle, zipfile, gzip/bz2/lzma/zlib, numpy, joblib and zstandard
(refuse/), and files that must pass the same check (accept/): text, JSON, CSV, tokenizer files,
NumPy arrays of numbers, archives of those, safetensors and GGUF files, and real text files
from this machine's Python installation.

    python pickle-corpus.py OUT_DIR

The Rust test (inspect/tests/pickle_corpus.rs) reads OUT_DIR (default target/pickle-corpus;
BAZAAR_PICKLE_CORPUS overrides it). scripts/pickle-corpus.sh makes the virtualenv with numpy,
joblib and zstandard and runs this.
"""

import bz2
import collections
import gzip
import io
import json
import lzma
import datetime
import decimal
import os
import pickle
import random
import shutil
import struct
import sys
import sysconfig
import tarfile
import zipfile
import zlib

import joblib
import numpy as np
import zstandard


class Payload:
    """What a hostile pickle would smuggle: an object whose class is looked up on load."""

    def __init__(self):
        self.weights = [0.5] * 8
        self.note = "hello"


def payload():
    return {
        "state_dict": collections.OrderedDict(w=[1.0, 2.0], b=[0.0]),
        "obj": Payload(),
        "call": os.getcwd,
        "epoch": 3,
    }


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def zip_bytes(entries, compression=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as z:
        for name, data in entries:
            z.writestr(name, data)
    return buf.getvalue()


def npy_bytes(array):
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


def npz_bytes(compressed=False, **arrays):
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


def joblib_bytes(obj, compress):
    buf = io.BytesIO()
    joblib.dump(obj, buf, compress=compress)
    return buf.getvalue()


def safetensors_bytes():
    data = np.arange(6, dtype="<f4").tobytes() + np.arange(4, dtype="<i8").tobytes()
    header = {
        "__metadata__": {"format": "pt"},
        "w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
        "b": {"dtype": "I64", "shape": [4], "data_offsets": [24, 56]},
    }
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def gguf_bytes():
    def s(text):
        b = text.encode()
        return struct.pack("<Q", len(b)) + b

    kv = s("general.architecture") + struct.pack("<I", 8) + s("llama")
    tensor = s("t") + struct.pack("<I", 1) + struct.pack("<Q", 4) + struct.pack("<I", 0)
    tensor += struct.pack("<Q", 0)
    head = b"GGUF" + struct.pack("<IQQ", 3, 1, 1) + kv + tensor
    head += b"\0" * (-len(head) % 32)
    return head + np.arange(4, dtype="<f4").tobytes()


def random_object(rng, depth=0):
    """Nested data of every kind pickle has an opcode for, with shared and recursive parts."""
    leaves = [
        lambda: None,
        lambda: rng.random() < 0.5,
        lambda: rng.randint(-300, 300),
        lambda: rng.randint(-(2**100), 2**100),
        lambda: rng.random() * 10 ** rng.randint(-30, 30),
        lambda: float(rng.choice(["inf", "-inf", "nan"])),
        lambda: "".join(rng.choice("ab'\"\\\n\r\t é€😀\x00.(") for _ in range(rng.randint(0, 20))),
        lambda: bytes(rng.randrange(256) for _ in range(rng.randint(0, 20))),
        lambda: bytearray(b"xyz"),
        lambda: complex(1, -2),
        lambda: decimal.Decimal("1.25"),
        lambda: datetime.date(2024, 1, 2),
        lambda: Payload(),
        lambda: os.getcwd,
    ]
    if depth > 3 or rng.random() < 0.4:
        return rng.choice(leaves)()
    kind = rng.choice(["list", "tuple", "dict", "set", "frozenset", "shared", "recursive"])
    items = [random_object(rng, depth + 1) for _ in range(rng.randint(0, 5))]
    hashable = [i for i in items if isinstance(i, (int, float, str, bytes, tuple, frozenset, type(None)))]
    if kind == "list":
        return items
    if kind == "tuple":
        return tuple(items)
    if kind == "dict":
        return {repr(i)[:10] + str(n): i for n, i in enumerate(items)}
    if kind == "set":
        return set(h for h in hashable if not isinstance(h, tuple))
    if kind == "frozenset":
        return frozenset(h for h in hashable if not isinstance(h, tuple))
    if kind == "shared":
        return [items, items]
    cycle = list(items)
    cycle.append(cycle)
    return cycle


class Unseekable(io.RawIOBase):
    """A stream zipfile cannot seek back in, so it writes data descriptors (flag bit 3)."""

    def __init__(self):
        self.buf = io.BytesIO()

    def writable(self):
        return True

    def write(self, b):
        return self.buf.write(b)


def zip_with_lying_local_sizes(entries, liar):
    """A stored zip whose local header for `liar` says 0 bytes; the central directory, which
    zipfile and numpy.load read the size from, has the real one."""
    data = bytearray(zip_bytes(entries))
    at = 0
    while True:
        at = data.index(b"PK\x03\x04", at)
        name_len = struct.unpack_from("<H", data, at + 26)[0]
        if bytes(data[at + 30 : at + 30 + name_len]) == liar.encode():
            data[at + 18 : at + 26] = b"\0" * 8
            return bytes(data)
        at += 4


def npy_with_header(descr, payload_array):
    """A .npy whose header spells `descr` as given (escapes, joined strings), followed by the
    data NumPy writes for `payload_array`."""
    header = "{'descr': %s, 'fortran_order': False, 'shape': %r, }" % (descr, payload_array.shape)
    header = header.encode("latin1")
    header += b" " * (-(10 + len(header) + 1) % 64) + b"\n"
    full = npy_bytes(payload_array)
    data_at = 10 + struct.unpack_from("<H", full, 8)[0]
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + full[data_at:]


def safetensors_with_header_len(n):
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    return struct.pack("<Q", n) + header.ljust(n, b" ") + np.arange(2, dtype="<f4").tobytes()


def refuse(out):
    # Many random objects in protocols 0 and 1, which have no header: the opcode stream must be
    # followed to STOP whatever it holds.
    rng = random.Random(10)
    for n in range(240):
        protocol = n % 2
        data = pickle.dumps(random_object(rng), protocol=protocol)
        pickle.loads(data)
        write(f"{out}/random-protocol-{protocol}-{n:03}.dat", data)
    obj = payload()
    pickled = {p: pickle.dumps(obj, protocol=p) for p in range(6)}
    for p, data in pickled.items():
        write(f"{out}/protocol-{p}.dat", data)
    # A long first string: the opcode stream must be followed past it, not given up on.
    write(f"{out}/protocol-0-long-string.dat", pickle.dumps(["x" * 300_000, os.getcwd], protocol=0))
    write(f"{out}/protocol-1-long-bytes.dat", pickle.dumps([b"y" * 300_000, os.getcwd], protocol=1))
    text = b"just a text file\n"
    for where, entries in {
        "first": [("data.pkl", pickled[4]), ("a.txt", text), ("b.txt", text)],
        "middle": [("a.txt", text), ("weights.bin", pickled[2]), ("b.txt", text)],
        "last": [("a.txt", text), ("b.txt", text), ("nested/obj.pickle", pickled[0])],
        "middle-protocol-0-unnamed": [("a.txt", text), ("blob", pickled[0]), ("b.txt", text)],
    }.items():
        write(f"{out}/zip-{where}.zip", zip_bytes(entries))
        write(f"{out}/zip-{where}-deflated.zip", zip_bytes(entries, zipfile.ZIP_DEFLATED))
    write(
        f"{out}/zip-bzip2-entry.zip",
        zip_bytes([("a.txt", text), ("blob", pickled[1])], zipfile.ZIP_BZIP2),
    )
    write(
        f"{out}/zip-lzma-entry.zip",
        zip_bytes([("a.txt", text), ("blob", pickled[3])], zipfile.ZIP_LZMA),
    )
    # torch.save's zip layout: archive/data.pkl, the storages, archive/version.
    write(
        f"{out}/torch-style.zip",
        zip_bytes(
            [
                ("archive/data.pkl", pickled[2]),
                ("archive/data/0", np.arange(16, dtype="<f4").tobytes()),
                ("archive/version", b"3\n"),
            ]
        ),
    )
    # A zip after some other bytes (zip readers find the directory at the end).
    write(f"{out}/zip-after-prefix.bin.dat", b"\0" * 1000 + zip_bytes([("m/data.pkl", pickled[2])]))
    for p in (0, 2, 4):
        write(f"{out}/gzip-protocol-{p}.gz.dat", gzip.compress(pickled[p]))
        write(f"{out}/bz2-protocol-{p}.bz2.dat", bz2.compress(pickled[p]))
        write(f"{out}/xz-protocol-{p}.xz.dat", lzma.compress(pickled[p]))
        write(f"{out}/lzma-alone-protocol-{p}.dat", lzma.compress(pickled[p], format=lzma.FORMAT_ALONE))
        write(f"{out}/zlib-protocol-{p}.dat", zlib.compress(pickled[p]))
        write(f"{out}/zstd-protocol-{p}.zst.dat", zstandard.ZstdCompressor().compress(pickled[p]))
    objects = np.array([{"a": 1}, None, Payload()], dtype=object)
    write(f"{out}/npy-object.npy.dat", npy_bytes(objects))
    write(
        f"{out}/npy-structured-object.dat",
        npy_bytes(np.zeros(2, dtype=[("x", "<f4"), ("y", "O")])),
    )
    write(f"{out}/npz-object.npz.dat", npz_bytes(a=np.arange(3), b=objects))
    write(f"{out}/npz-object-compressed.dat", npz_bytes(True, a=np.arange(3), b=objects))
    arrays = {"coef": np.arange(100, dtype=np.float64), "model": Payload()}
    for compress in (0, 3, "gzip", "bz2", "lzma", "xz", "zlib"):
        name = compress if isinstance(compress, str) else f"level-{compress}"
        write(f"{out}/joblib-{name}.dat", joblib_bytes(arrays, compress))
    # Zip entries whose local header lies about the size: 0 there, the real size in the
    # central directory (which zipfile reads); and a data descriptor's signature as the
    # entry's first bytes after `(S'`.
    lying = zip_with_lying_local_sizes(
        [("a.txt", text), ("weights.bin", pickled[2]), ("b.txt", text)], "weights.bin"
    )
    assert pickle.loads(zipfile.ZipFile(io.BytesIO(lying)).read("weights.bin"))["epoch"] == 3
    write(f"{out}/zip-local-size-zero.zip", lying)
    stream = Unseekable()
    fake = pickle.dumps(["PK\x07\x08 not the end", os.getcwd], protocol=0)
    assert b"PK\x07\x08" in fake[:12]
    with zipfile.ZipFile(stream, "w") as z:
        z.writestr("a.txt", text)
        z.writestr("weights.bin", fake)
    descriptor = stream.buf.getvalue()
    assert zipfile.ZipFile(io.BytesIO(descriptor)).read("weights.bin") == fake
    write(f"{out}/zip-data-descriptor.zip", descriptor)
    # NumPy headers whose dtype is 'O' only once ast.literal_eval has read them.
    for n, descr in enumerate([r"'|\x4f'", r"'\117'", r"'\u004f'", "'ob' 'ject'", "'|' 'O'"]):
        npy = npy_with_header(descr, objects)
        assert np.load(io.BytesIO(npy), allow_pickle=True).dtype == object
        write(f"{out}/npy-hidden-object-{n}.npy.dat", npy)
        npz = zip_bytes([("a.npy", npy_bytes(np.arange(3))), ("b.npy", npy)])
        assert np.load(io.BytesIO(npz), allow_pickle=True)["b"].dtype == object
        write(f"{out}/npz-hidden-object-{n}.npz.dat", npz)
    # A pickle compressed inside a zip inside nothing else: a .gz entry stored in a zip.
    write(f"{out}/zip-holding-gzip.zip", zip_bytes([("blob.gz", gzip.compress(pickled[3]))]))


def accept(out):
    write(f"{out}/README.md", b"# Model\n\nA model card.\n\n- item one\n- item two\n")
    write(f"{out}/config.json", json.dumps({"hidden_size": 32, "layers": [1, 2], "act": "gelu"}).encode())
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "added_tokens": [{"id": 0, "content": "[PAD]", "special": True}],
        "model": {"type": "WordPiece", "vocab": {f"tok{i}": i for i in range(200)}},
    }
    write(f"{out}/tokenizer.json", json.dumps(tokenizer, indent=2).encode())
    write(f"{out}/vocab.txt", "\n".join(["[PAD]", "[UNK]", "the", "cat", "N", "(", "."]).encode())
    write(f"{out}/merges.txt", b"#version: 0.2\n\xc4\xa0 t\nh e\nN .\n")
    write(f"{out}/data.csv", b"id,name,score\n1,alice,0.5\n2,bob,0.25\n")
    write(f"{out}/labels.txt", b"cat\ndog\nbird\n")
    write(f"{out}/notes.txt", b"Version 1.2\nNotes: (none)\n")
    write(f"{out}/single-N.txt", b"N")
    write(f"{out}/empty.txt", b"")
    write(f"{out}/model.safetensors", safetensors_bytes())
    write(f"{out}/model.gguf", gguf_bytes())
    write(f"{out}/floats.npy", npy_bytes(np.arange(12, dtype="<f4").reshape(3, 4)))
    write(f"{out}/strings.npy", npy_bytes(np.array(["Output", "object"])))
    write(f"{out}/structured.npy", npy_bytes(np.zeros(2, dtype=[("Output", "<f4"), ("objects", "<i8")])))
    write(f"{out}/floats.npz", npz_bytes(a=np.arange(10.0), b=np.ones((2, 2))))
    # Header lengths whose little-endian bytes read `PROTO 2..5` or `NEWTRUE STOP`.
    for n in (640, 896, 1152, 1408, 11912, 65536 + 640):
        write(f"{out}/header-{n}.safetensors", safetensors_with_header_len(n))
    # Zips written to a stream that cannot seek: data descriptors after every entry.
    stream = Unseekable()
    with zipfile.ZipFile(stream, "w") as z:
        for n in range(30):
            z.writestr(f"texts/{n}.txt", b"line %d\n" % n)
        z.writestr("model.safetensors", safetensors_bytes())
    write(f"{out}/descriptors.zip", stream.buf.getvalue())
    write(f"{out}/safetensors-inside.zip", zip_bytes([("model.safetensors", safetensors_with_header_len(640))]))
    write(f"{out}/floats-compressed.npz", npz_bytes(True, a=np.arange(10.0)))
    write(f"{out}/texts.zip", zip_bytes([("a.txt", b"hello"), ("b.json", b"{}")], zipfile.ZIP_DEFLATED))
    write(f"{out}/README.md.gz", gzip.compress(b"# Model\n\nText.\n" * 100))
    write(f"{out}/data.csv.bz2", bz2.compress(b"id,name\n1,x\n" * 1000))
    write(f"{out}/data.csv.xz", lzma.compress(b"id,name\n1,x\n" * 1000))
    write(f"{out}/data.csv.zst", zstandard.ZstdCompressor().compress(b"id,name\n1,x\n" * 1000))
    # Fixed bytes, not os.urandom: random data opening with a long-string opcode (about 3 in
    # 100) reads as a pickle still running when the checked prefix ends, and is refused.
    write(f"{out}/random.bin.gz", gzip.compress(random.Random(20261207).randbytes(200_000)))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in [("model/config.json", b"{}"), ("checkpoint/notes.txt", b"hello\n")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    write(f"{out}/bundle.tar.gz", buf.getvalue())
    # Real text from this machine: the Python standard library's sources and license files.
    stdlib = sysconfig.get_paths()["stdlib"]
    taken = 0
    for root, dirs, files in sorted(os.walk(stdlib)):
        dirs.sort()
        if "site-packages" in root or "__pycache__" in root:
            continue
        for f in sorted(files):
            if f.endswith((".py", ".txt", ".json", ".cfg", ".csv")) and taken < 400:
                src = os.path.join(root, f)
                if os.path.getsize(src) < 2_000_000:
                    shutil.copyfile(src, f"{out}/real-{taken:03}-{f}")
                    taken += 1


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "target/pickle-corpus"
    shutil.rmtree(out, ignore_errors=True)
    refuse(f"{out}/refuse")
    accept(f"{out}/accept")
    # Sanity: every refused file really is what it claims to be for Python.
    assert pickle.loads(open(f"{out}/refuse/protocol-0.dat", "rb").read())["epoch"] == 3
    print(f"pickle corpus: {len(os.listdir(out + '/refuse'))} to refuse, "
          f"{len(os.listdir(out + '/accept'))} to accept, in {out}")


if __name__ == "__main__":
    main()
