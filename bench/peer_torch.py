#!/usr/bin/env python3
# Copy, unchanged below this line, of the PyTorch peer benchmark supplied with the project's
# environment: `honeytrace bench engine` prints the same lines with "ours", so both compare in one run.
"""PyTorch peer for Honeytrace's engine benchmark.

Trains and runs the reference architectures of SPEC.md (section "Reference
architectures") with PyTorch on the CPU, with the same thread count, batch size
and input shape as `honeytrace bench`, and prints one line per measurement:

    peer <arch> train <images/s>
    peer <arch> infer <images/s>
    peer <arch> rss_mib <peak resident MiB>

Install the peer with `apt-get install python3-torch` (Debian's CPU build) and
run it with Debian's own interpreter (from the python3-minimal package; `dpkg -L
python3-minimal` shows where), not another python3 that may come first on PATH:
    <debian python3> peer_torch.py --threads 2
"""
import argparse, resource, time

import torch
import torch.nn as nn
import torch.nn.functional as F


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


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--arch", action="append")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    for name in a.arch or list(ARCHS):
        m = ARCHS[name]()
        opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
        x = torch.randn(a.batch, 1, 28, 28)
        y = torch.randint(0, 10, (a.batch,))
        m.train()
        for step in range(a.steps + 3):
            if step == 3:
                t0 = time.perf_counter()
            opt.zero_grad()
            F.cross_entropy(m(x), y).backward()
            opt.step()
        train = a.steps * a.batch / (time.perf_counter() - t0)
        m.eval()
        with torch.no_grad():
            for step in range(a.steps + 3):
                if step == 3:
                    t0 = time.perf_counter()
                m(x)
        infer = a.steps * a.batch / (time.perf_counter() - t0)
        print(f"peer {name} train {train:.1f}")
        print(f"peer {name} infer {infer:.1f}")
    print(f"peer all rss_mib {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")


if __name__ == "__main__":
    main()
