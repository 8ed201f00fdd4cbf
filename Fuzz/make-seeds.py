#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (Fuzz/corpus/<target>/): small valid inputs of each format,
so that libFuzzer starts past the magic numbers and headers. Deterministic; needs numpy.

The key-file seeds are a real key's metadata (as `honeytrace watermark create` writes it) over tiny
tensors, with the tensors' checksum recomputed as WatermarkKeyFile.checksum does."""
import gzip
import hashlib
import io
import json
import os
import struct
import sys

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    os.makedirs(os.path.join(OUT, target), exist_ok=True)
    with open(os.path.join(OUT, target, name), "wb") as f:
        f.write(data)


def npy(array, fortran=False):
    buf = io.BytesIO()
    np.save(buf, np.asfortranarray(array) if fortran else array)
    return buf.getvalue()


def idx(array):
    head = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    return head + array.astype(np.uint8).tobytes()


def safetensors(tensors, metadata=None):
    """tensors: (name, dtype, shape, raw bytes) in order."""
    header, offset, body = {}, 0, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        body += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + body


def key_file(recipe, channels, side, watermarks=2, features=4, classes=3, references=2, with_data=True):
    rng = np.random.default_rng(7)
    f32 = lambda *shape: rng.random(shape, dtype=np.float32)
    tensors = {
        "images": (f32(watermarks, channels, side, side), "F32"),
        "features": (f32(watermarks, features), "F32"),
        "reference_logits": (f32(references, classes), "F32"),
        "feature_std": (f32(features) + 0.5, "F32"),
        "mark_probe": (f32(features + 1), "F32"),
    }
    if with_data:
        tensors["data_features"] = (f32(3, features), "F32")
        tensors["data_labels"] = (np.arange(3, dtype=np.int64) % classes, "I64")
    h = hashlib.sha256()
    for name in sorted(tensors):
        value, dtype = tensors[name]
        h.update(name.encode() + b"\0")
        h.update(np.array(value.shape, dtype="<i8").tobytes())
        h.update(value.astype("<i8" if dtype == "I64" else "<f4").tobytes())
    meta = {
        "classes": classes,
        "creation": {"created_at": "2026-12-07T00:00:00Z", "held_out": {"count": 3, "name": "held-x.npy", "sha256": "0" * 64},
                     "reference_accuracy": 0, "secret_source": "system-random", "seed": 0, "source_indices": [0, 1],
                     "tool": "honeytrace", "watermark_target_rate": 0},
        "defense": {"aggregate": "mean", "answer": "probabilities", "confident_exponent": 2, "confident_threshold": 0.95,
                    "distance": "mean-squared", "feature_space": "raw", "flip_noise_std": 0.1, "flipping_power": 3,
                    "mixing_power": 8, "offset": 0.85, "ood_gate": 0.97, "quantize_flip_probability": False,
                    "randomness": "keyed-neighbourhood", "score": "watermark-probe", "unconfident_exponent": 0.25,
                    "unconfident_threshold": 0.5},
        "feature_width": features, "format_version": 1, "input_shape": [channels, side, side],
        "model": {"architecture": "fmnist-cnn", "weights_sha256": "1" * 64},
        "recipe": recipe, "reference_count": references, "secret": "ab" * 32,
        "tensors_sha256": h.hexdigest(), "watermarks": watermarks,
    }
    order = sorted(tensors)
    return safetensors([(n, tensors[n][1], tensors[n][0].shape, tensors[n][0].astype("<i8" if tensors[n][1] == "I64" else "<f4").tobytes())
                        for n in order],
                       {"format": "honeytrace-watermark-key", "honeytrace_key": json.dumps(meta, separators=(",", ":"), sort_keys=True)})


def main():
    rng = np.random.default_rng(1)
    images = rng.random((2, 1, 2, 2), dtype=np.float32)

    put("npy", "float32-nchw.npy", npy(images))
    put("npy", "uint8.npy", npy(np.arange(6, dtype=np.uint8).reshape(2, 3)))
    put("npy", "float64-fortran.npy", npy(np.arange(6, dtype=np.float64).reshape(2, 3), fortran=True))
    put("npy", "int64-scalar.npy", npy(np.array(7, dtype=np.int64)))
    put("npy", "int32-empty.npy", npy(np.zeros((0, 3), dtype=np.int32)))
    put("npy", "bool.npy", npy(np.array([True, False, True])))
    put("npy", "version2.npy", npy(np.arange(3, dtype=np.float32)).replace(b"\x93NUMPY\x01\x00", b"\x93NUMPY\x02\x00", 1)[:8]
        + struct.pack("<I", 118) + npy(np.arange(3, dtype=np.float32))[10:])

    labels = np.arange(5, dtype=np.uint8)
    pixels = (np.arange(2 * 3 * 3) * 13 % 256).astype(np.uint8).reshape(2, 3, 3)
    put("idx", "images.idx3", idx(pixels))
    put("idx", "labels.idx1", idx(labels))
    put("idx", "images.idx3.gz", gzip.compress(idx(pixels), mtime=0))

    f32 = np.arange(6, dtype="<f4").tobytes()
    put("safetensors", "f32-i64.safetensors", safetensors(
        [("weight", "F32", [2, 3], f32), ("num_batches_tracked", "I64", [], np.array(3, dtype="<i8").tobytes())],
        {"format": "pt"}))
    put("safetensors", "f16-bf16.safetensors", safetensors(
        [("a", "F16", [2], np.array([1.5, -2], dtype="<f2").tobytes()), ("b", "BF16", [2], b"\x80\x3f\x00\xc0"),
         ("c", "F64", [1], np.array([0.25], dtype="<f8").tobytes())]))
    put("safetensors", "u8-bool-i32.safetensors", safetensors(
        [("u", "U8", [3], b"\x01\x02\x03"), ("t", "BOOL", [2], b"\x01\x00"), ("i", "I32", [1], b"\x05\x00\x00\x00")]))

    put("keyfile", "white-block.safetensors", key_file({"kind": "white-block", "target": 2}, 1, 4))
    put("keyfile", "composite.safetensors",
        key_file({"kind": "composite", "target": 2, "source_class": 0, "other_class": 1}, 3, 4, with_data=False))

    put("model-json", "fmnist-cnn.json", json.dumps({
        "architecture": "fmnist-cnn", "classes": 10, "formatVersion": 1, "inputShape": [1, 28, 28],
        "metrics": {"test_accuracy": 0.9}, "normalization": {"mean": [0.5], "std": [0.25]}, "source": "imported",
        "weightsSHA256": "2" * 64, "classNames": ["a", "b"],
        "data": {"count": 64, "name": "train-x.npy", "sha256": "3" * 64}}, indent=1).encode())
    put("model-json", "resnet-8.json", json.dumps({
        "architecture": "resnet-8", "classes": 10, "formatVersion": 1, "inputShape": [3, 32, 32], "metrics": {},
        "normalization": {"mean": [0.5, 0.5, 0.5], "std": [0.2, 0.2, 0.2]}, "source": "trained", "weightsSHA256": ""}).encode())

    put("clients", "clients.json", json.dumps({
        "default_rate_limit": {"queries_per_second": 50, "burst": 100},
        "clients": [{"name": "alice", "key": "0123456789abcdef0123"},
                    {"name": "bob", "key_sha256": "a" * 64, "rate_limit": {"queries_per_second": 2.5}},
                    {"name": "carol", "key_sha256": "b" * 64, "rate_limit": None}]}).encode())

    put("request", "json.txt", b"application/json\n" + json.dumps({"images": images.reshape(2, 4).tolist()}).encode())
    put("request", "json-nonfinite.txt", b"text/json; charset=utf-8\n{\"model\": \"x\", \"images\": [[0, 1e-3, \"NaN\", -0.0]]}")
    put("request", "json-no-header.txt", b"\x00{\"images\": [[0.5, 0.25, 1, 0]]}")
    put("request", "json-28x28.txt", b"\x01{\"images\": [[" + b",".join([b"0.5"] * 784) + b"]]}")
    put("request", "npy-float32.txt", b"application/x-npy\n" + npy(images))
    put("request", "npy-uint8.txt", b"application/octet-stream\n" + npy(np.arange(8, dtype=np.uint8).reshape(2, 4)))
    put("request", "npy-hw.txt", b"application/npy\n" + npy(np.zeros((1, 2, 2), dtype=np.float64)))
    put("request", "content-type-only.txt", b" ; charset=x")


if __name__ == "__main__":
    sys.exit(main())
