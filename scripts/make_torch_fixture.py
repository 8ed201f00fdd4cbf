#!/usr/bin/env python3
"""Generate PyTorch reference fixtures for Honeytrace's NeuralNet tests.

Run by hand with Debian's interpreter (it has Debian's python3-torch installed;
another python3 earlier on PATH may lack torch):

    cd <repo root> && /usr/bin/python3 scripts/make_torch_fixture.py

For each reference architecture (fmnist-cnn, vgg-mini, resnet-8) it writes

    Tests/NeuralNetTests/Fixtures/<arch>.safetensors           the state_dict
    Tests/NeuralNetTests/Fixtures/<arch>.expected.safetensors  inputs and
        expected outputs: input, labels, logits, features, input_grad,
        logits_train, grad_first_weight, grad_last_weight

The safetensors format is written (and re-read for verification) by hand, so
the `safetensors` pip package is not needed.  See
Tests/NeuralNetTests/Fixtures/README.md for what each tensor means.
"""
import copy
import importlib.util
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(REPO, "Tests", "NeuralNetTests", "Fixtures")
PEER = os.path.join(REPO, "bench", "peer_torch.py")

# ---------------------------------------------------------------------------
# Architectures.  These mirror bench/peer_torch.py VERBATIM (the PyTorch
# peer of `honeytrace bench`, docs/algorithms.md §9.3). They are copied so this
# script stands alone; check_against_peer() below asserts the two definitions agree.
# ---------------------------------------------------------------------------


def fmnist_cnn(c=1, classes=10):
    return nn.Sequential(
        nn.Conv2d(c, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, classes))


def vgg_mini(c=1, classes=10):
    def block(i, o):
        return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU()]
    return nn.Sequential(
        *block(c, 32), *block(32, 32), nn.MaxPool2d(2),
        *block(32, 64), *block(64, 64), nn.MaxPool2d(2),
        *block(64, 128), *block(128, 128), nn.AdaptiveAvgPool2d(1),
        nn.Flatten(), nn.Linear(128, classes))


class Basic(nn.Module):
    def __init__(self, i, o, stride):
        super().__init__()
        self.c1 = nn.Conv2d(i, o, 3, stride, 1, bias=False); self.b1 = nn.BatchNorm2d(o)
        self.c2 = nn.Conv2d(o, o, 3, 1, 1, bias=False); self.b2 = nn.BatchNorm2d(o)
        self.short = None
        if stride != 1 or i != o:
            self.short = nn.Sequential(nn.Conv2d(i, o, 1, stride, bias=False), nn.BatchNorm2d(o))

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        return F.relu(y + (x if self.short is None else self.short(x)))


def resnet8(c=1, classes=10):
    return nn.Sequential(
        nn.Conv2d(c, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        Basic(16, 16, 1), Basic(16, 32, 2), Basic(32, 64, 2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, classes))


ARCHS = {"fmnist-cnn": fmnist_cnn, "vgg-mini": vgg_mini, "resnet-8": resnet8}

# ---------------------------------------------------------------------------
# Hand-written safetensors writer / reader.
# ---------------------------------------------------------------------------

DTYPES = {torch.float32: ("F32", "<f4"), torch.int64: ("I64", "<i8")}
NP_OF = {"F32": "<f4", "I64": "<i8"}


def write_safetensors(path, tensors, metadata):
    """tensors: dict name -> torch.Tensor (float32 or int64)."""
    header = {"__metadata__": dict(metadata)}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        if t.dtype not in DTYPES:
            raise TypeError(f"{name}: unsupported dtype {t.dtype}")
        code, npdt = DTYPES[t.dtype]
        data = np.ascontiguousarray(t.numpy().astype(npdt, copy=False)).tobytes()
        header[name] = {"dtype": code, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    hbytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hbytes += b" " * (-len(hbytes) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)))
        f.write(hbytes)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """Returns (dict name -> np.ndarray, metadata); checks layout invariants."""
    with open(path, "rb") as f:
        raw = f.read()
    (hlen,) = struct.unpack("<Q", raw[:8])
    assert hlen % 8 == 0, "header not padded to 8"
    header = json.loads(raw[8:8 + hlen].decode("utf-8"))
    buf = raw[8 + hlen:]
    metadata = header.pop("__metadata__", {})
    out = {}
    expect = 0
    for name in sorted(header):
        info = header[name]
        b, e = info["data_offsets"]
        assert b == expect, f"{name}: gap/overlap at {b}, expected {expect}"
        dt = np.dtype(NP_OF[info["dtype"]])
        n = int(np.prod(info["shape"], dtype=np.int64))
        assert e - b == n * dt.itemsize, f"{name}: size mismatch"
        out[name] = np.frombuffer(buf[b:e], dtype=dt).reshape(info["shape"])
        expect = e
    assert expect == len(buf), "trailing bytes after data"
    return out, metadata


def assert_same(path, tensors, metadata):
    back, meta = read_safetensors(path)
    assert meta == metadata, (meta, metadata)
    assert sorted(back) == sorted(tensors), (sorted(back), sorted(tensors))
    for k, t in tensors.items():
        a = t.detach().cpu().numpy()
        assert back[k].shape == a.shape, (k, back[k].shape, a.shape)
        assert back[k].dtype == a.dtype, (k, back[k].dtype, a.dtype)
        assert np.array_equal(back[k], a), k
    return back


# ---------------------------------------------------------------------------


def check_against_peer():
    """If bench/peer_torch.py is reachable, assert our copies match it."""
    if not os.path.exists(PEER):
        print(f"note: {PEER} not found; skipping drift check")
        return
    spec = importlib.util.spec_from_file_location("peer_torch", PEER)
    peer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peer)
    assert sorted(peer.ARCHS) == sorted(ARCHS)
    for name in ARCHS:
        torch.manual_seed(0); mine = ARCHS[name]()
        torch.manual_seed(0); theirs = peer.ARCHS[name]()
        assert repr(mine) == repr(theirs), name
        a, b = mine.state_dict(), theirs.state_dict()
        assert list(a) == list(b), name
        for k in a:
            assert torch.equal(a[k], b[k]), (name, k)
        x = torch.randn(2, 1, 28, 28)
        mine.eval(); theirs.eval()
        with torch.no_grad():
            assert torch.equal(mine(x), theirs(x)), name
    print(f"drift check vs {PEER}: OK")


def first_conv_and_last_linear(model):
    convs = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    lins = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    return convs[0], lins[-1]


def make(index, name):
    torch.manual_seed(1234 + index)
    model = ARCHS[name]()

    # 1. five SGD steps in train mode on a fixed random batch
    xb = torch.randn(16, 1, 28, 28)
    yb = torch.randint(0, 10, (16,))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    for _ in range(5):
        opt.zero_grad()
        F.cross_entropy(model(xb), yb).backward()
        opt.step()
    opt.zero_grad(set_to_none=True)

    # 2. state_dict
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    meta_state = {"format": "pt"}
    p_state = os.path.join(OUT_DIR, f"{name}.safetensors")
    write_safetensors(p_state, state, meta_state)
    assert_same(p_state, state, meta_state)

    # 3. eval mode: logits, features (input of last Linear), d loss / d x
    (conv_name, _), (lin_name, lin) = first_conv_and_last_linear(model)
    x = torch.randn(4, 1, 28, 28)
    labels = torch.tensor([0, 3, 7, 9], dtype=torch.int64)
    model.eval()
    captured = {}
    h = lin.register_forward_hook(lambda m, inp, out: captured.__setitem__("f", inp[0]))
    xg = x.clone().requires_grad_(True)
    logits = model(xg)
    h.remove()
    features = captured["f"]
    loss = F.cross_entropy(logits, labels, reduction="mean")
    (input_grad,) = torch.autograd.grad(loss, xg)

    # 4. train mode on a copy: batch statistics, parameter gradients
    mcopy = copy.deepcopy(model)
    mcopy.train()
    params = dict(mcopy.named_parameters())
    logits_train = mcopy(x.clone())
    loss_t = F.cross_entropy(logits_train, labels, reduction="mean")
    names = list(params)
    grads = dict(zip(names, torch.autograd.grad(loss_t, [params[n] for n in names])))
    first_w, last_w = f"{conv_name}.weight", f"{lin_name}.weight"

    # 5. expected outputs
    expected = {
        "input": x,
        "labels": labels.to(torch.float32),
        "logits": logits.detach(),
        "features": features.detach(),
        "input_grad": input_grad.detach(),
        "logits_train": logits_train.detach(),
        "grad_first_weight": grads[first_w].detach(),
        "grad_last_weight": grads[last_w].detach(),
    }
    expected = {k: v.to(torch.float32).contiguous() for k, v in expected.items()}
    meta_exp = {"arch": name, "torch": torch.__version__}
    p_exp = os.path.join(OUT_DIR, f"{name}.expected.safetensors")
    write_safetensors(p_exp, expected, meta_exp)
    assert_same(p_exp, expected, meta_exp)

    # Independent check: rebuild the model from the file we wrote and
    # reproduce the eval logits; features through the last Linear give logits.
    back, _ = read_safetensors(p_state)
    fresh = ARCHS[name]()
    fresh.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in back.items()}, strict=True)
    fresh.eval()
    with torch.no_grad():
        again = fresh(x)
        via_lin = F.linear(features, lin.weight, lin.bias)
    assert torch.allclose(again, logits, atol=1e-5, rtol=0), name
    assert torch.allclose(via_lin, logits, atol=1e-5, rtol=0), name
    # Train-mode logits must differ from eval ones (BN models) and BN stats
    # must have moved from init.
    for k, v in state.items():
        if k.endswith("running_var"):
            assert not torch.allclose(v, torch.ones_like(v)), k
        if k.endswith("num_batches_tracked"):
            assert int(v) == 5, k

    print(f"== {name}: first conv weight key '{first_w}', last linear weight key '{last_w}'")
    for label, path, ts in (("state", p_state, state), ("expected", p_exp, expected)):
        print(f"  {os.path.relpath(path, REPO)}  {os.path.getsize(path)} bytes, {len(ts)} tensors")
        for k in sorted(ts):
            print(f"    {k:40s} {str(ts[k].dtype).replace('torch.', ''):8s} {list(ts[k].shape)}")
    print(f"  loss(eval)={loss.item():.6f} loss(train)={loss_t.item():.6f} "
          f"max|logits-logits_train|={(logits - logits_train).abs().max().item():.4g}")


def main():
    torch.set_num_threads(1)  # reproducible reductions
    os.makedirs(OUT_DIR, exist_ok=True)
    check_against_peer()
    for index, name in enumerate(ARCHS):
        make(index, name)
    total = sum(os.path.getsize(os.path.join(OUT_DIR, f))
                for f in os.listdir(OUT_DIR) if f.endswith(".safetensors"))
    print(f"total fixture size: {total} bytes ({total / 2**20:.2f} MiB)")


if __name__ == "__main__":
    sys.exit(main())
