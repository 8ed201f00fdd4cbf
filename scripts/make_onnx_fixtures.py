#!/usr/bin/env python3
"""Generate the ONNX fixtures of Honeytrace's ONNX import tests.

Run by hand with Debian's interpreter (it has Debian's python3-torch; torch.onnx.export
needs no other package):

    cd <repo root> && /usr/bin/python3 scripts/make_onnx_fixtures.py

For each reference architecture it builds the same layer structure as
scripts/make_torch_fixture.py (asserted below at full width), at small widths so the files
stay small, and writes

    Tests/ONNXTests/Fixtures/<arch>.onnx                 torch.onnx.export of the model
    Tests/ONNXTests/Fixtures/<arch>.expected.safetensors pixels, logits, features

`pixels` are [0, 1] images; `logits` and `features` (the input of the last Linear) are
PyTorch's for those pixels after the normalisation named in the file's metadata.

  fmnist-cnn  trained for one epoch on 10,000 Fashion-MNIST training images (so the CLI's
              end-to-end test has a model worth watermarking), with the normalisation
              (x - 0.2860) / 0.3530 inside the graph as Sub and Div; opset 13.
  vgg-mini    random weights and batch-norm statistics, BatchNormalization nodes kept
              (TrainingMode.PRESERVE), no normalisation in the graph (the importer takes
              mean 0.5 / std 0.25 as options); opset 17.
  resnet-8    three input channels, 16x16, per-channel normalisation inside the graph, batch
              norms folded into the convolutions by the exporter; opset 15.
"""
import gzip
import importlib.util
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(REPO, "Tests", "ONNXTests", "Fixtures")
FASHION = "/usr/share/datasets/fashion-mnist"

# The safetensors writer and the reference definitions of make_torch_fixture.py.
_spec = importlib.util.spec_from_file_location("make_torch_fixture", os.path.join(REPO, "scripts", "make_torch_fixture.py"))
ref = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ref)


def fmnist_cnn(c=1, classes=10, side=28, w=(32, 64, 128)):
    return nn.Sequential(
        nn.Conv2d(c, w[0], 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(w[0], w[1], 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(w[1] * (side // 4) * (side // 4), w[2]), nn.ReLU(), nn.Linear(w[2], classes))


def vgg_mini(c=1, classes=10, w=(32, 64, 128)):
    def block(i, o):
        return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU()]
    return nn.Sequential(
        *block(c, w[0]), *block(w[0], w[0]), nn.MaxPool2d(2),
        *block(w[0], w[1]), *block(w[1], w[1]), nn.MaxPool2d(2),
        *block(w[1], w[2]), *block(w[2], w[2]), nn.AdaptiveAvgPool2d(1),
        nn.Flatten(), nn.Linear(w[2], classes))


def resnet8(c=1, classes=10, w=(16, 32, 64)):
    return nn.Sequential(
        nn.Conv2d(c, w[0], 3, 1, 1, bias=False), nn.BatchNorm2d(w[0]), nn.ReLU(),
        ref.Basic(w[0], w[0], 1), ref.Basic(w[0], w[1], 2), ref.Basic(w[1], w[2], 2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(w[2], classes))


class Normalized(nn.Module):
    """(x - mean) / std ahead of a network: exported as Sub and Div by constants."""
    def __init__(self, net, mean, std):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x):
        return self.net((x - self.mean) / self.std)


def check_structure():
    """At full width these are make_torch_fixture.py's architectures, module for module."""
    for mine, theirs in ((fmnist_cnn(), ref.fmnist_cnn()), (vgg_mini(), ref.vgg_mini()), (resnet8(), ref.resnet8())):
        assert repr(mine) == repr(theirs), repr(mine)


def randomize_batch_norms(net, generator):
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5, generator=generator)
                m.bias.uniform_(-0.2, 0.2, generator=generator)
                m.running_mean.uniform_(-0.2, 0.2, generator=generator)
                m.running_var.uniform_(0.5, 2.0, generator=generator)


def fashion_train(count):
    def read(name, offset):
        with gzip.open(os.path.join(FASHION, name), "rb") as f:
            return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)
    images = read("train-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28)[:count].astype(np.float32) / 255
    labels = read("train-labels-idx1-ubyte.gz", 8)[:count].astype(np.int64)
    return torch.from_numpy(images), torch.from_numpy(labels)


def train_one_epoch(model, images, labels):
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    order = torch.randperm(len(images))
    for start in range(0, len(images), 64):
        idx = order[start:start + 64]
        opt.zero_grad()
        F.cross_entropy(model(images[idx]), labels[idx]).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(images).argmax(1) == labels).float().mean().item()
    print(f"  fmnist-cnn: training accuracy after one epoch {accuracy:.4f}")


def write(name, model, head, pixels, graph_input, opset, training_mode, normalization):
    """Exports `model` for inputs like `graph_input` (the normalised `pixels`, or the pixels
    themselves when the graph normalises), recording its logits and the input of `head`."""
    model.eval()
    path = os.path.join(OUT_DIR, f"{name}.onnx")
    torch.onnx.export(model, graph_input, path, opset_version=opset, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, training=training_mode,
                      do_constant_folding=True)
    captured = {}
    handle = head.register_forward_hook(lambda m, inp, out: captured.__setitem__("f", inp[0]))
    with torch.no_grad():
        logits = model(graph_input)
    handle.remove()
    expected = {"pixels": pixels, "logits": logits, "features": captured["f"]}
    meta = {"arch": name, "torch": torch.__version__, "opset": str(opset), "normalization": normalization}
    p = os.path.join(OUT_DIR, f"{name}.expected.safetensors")
    ref.write_safetensors(p, {k: v.contiguous() for k, v in expected.items()}, meta)
    ref.assert_same(p, expected, meta)
    print(f"  {os.path.relpath(path, REPO)}: {os.path.getsize(path)} bytes; logits {list(logits.shape)}")


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT_DIR, exist_ok=True)
    check_structure()
    g = torch.Generator().manual_seed(19)

    torch.manual_seed(1900)
    net = fmnist_cnn(w=(8, 16, 32))
    model = Normalized(net, [0.2860], [0.3530])
    images, labels = fashion_train(10_000)
    train_one_epoch(model, images, labels)
    write("fmnist-cnn", model, net[9], images[:6].clone(), images[:6].clone(), 13, torch.onnx.TrainingMode.EVAL, "in graph")

    torch.manual_seed(1901)
    net = vgg_mini(w=(8, 16, 32))
    randomize_batch_norms(net, g)
    pixels = torch.rand(6, 1, 28, 28, generator=g)
    write("vgg-mini", net, net[21], pixels, (pixels - 0.5) / 0.25, 17, torch.onnx.TrainingMode.PRESERVE,
          "mean 0.5 std 0.25 as options")

    torch.manual_seed(1902)
    net = resnet8(c=3, w=(8, 16, 32))
    randomize_batch_norms(net, g)
    model = Normalized(net, [0.49, 0.48, 0.45], [0.25, 0.24, 0.26])
    pixels = torch.rand(6, 3, 16, 16, generator=g)
    write("resnet-8", model, net[8], pixels, pixels, 15, torch.onnx.TrainingMode.EVAL, "in graph")

    total = sum(os.path.getsize(os.path.join(OUT_DIR, f)) for f in os.listdir(OUT_DIR))
    print(f"total fixture size: {total} bytes")


if __name__ == "__main__":
    sys.exit(main())
