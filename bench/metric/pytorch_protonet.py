"""PyTorch ProtoNet (Conv4, 64 filters, 28x28x1) speed on the episode shapes of bench/metric/run.sh:
training 20-way 5-shot 15-query (forward + backward + Adam), evaluation 5-way 1-shot 15-query
(eval mode, no_grad). Single thread, f32, random inputs (speed does not depend on content).

    python bench/metric/pytorch_protonet.py [--train N] [--eval M]
"""
import argparse
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))  # bench/speed/run.sh sets it


def block(c_in, c_out):
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2))


def conv4():
    return nn.Sequential(block(1, 64), block(64, 64), block(64, 64), block(64, 64), nn.Flatten())


def proto_loss(model, xs, ys, xq, yq, ways):
    z = model(torch.cat([xs, xq], 0))
    zs, zq = z[: xs.shape[0]], z[xs.shape[0]:]
    protos = torch.stack([zs[ys == c].mean(0) for c in range(ways)])
    logits = -torch.cdist(zq, protos).pow(2)
    return F.cross_entropy(logits, yq), logits


def episode(ways, shots, queries):
    xs = torch.rand(ways * shots, 1, 28, 28)
    xq = torch.rand(ways * queries, 1, 28, 28)
    ys = torch.arange(ways).repeat_interleave(shots)
    yq = torch.arange(ways).repeat_interleave(queries)
    return xs, ys, xq, yq


def load():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def flops_per_image():
    macs, size, c = 0, 28, 1
    for _ in range(4):
        macs += size * size * 64 * c * 9
        size //= 2
        c = 64
    return 2.0 * macs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", type=int, default=10)
    ap.add_argument("--eval", type=int, default=100)
    a = ap.parse_args()
    torch.manual_seed(0)
    model = conv4()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    fl = flops_per_image()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
    tasks = [episode(20, 5, 15) for _ in range(a.train + 2)]
    model.train()
    for i, t in enumerate(tasks):
        if i == 2:
            print(f"load before train: {load()}")
            t0 = time.perf_counter()
        opt.zero_grad()
        loss, _ = proto_loss(model, *t, 20)
        loss.backward()
        opt.step()
    s = time.perf_counter() - t0
    n = a.train
    print(f"SPEED pytorch train 20-way 5-shot 15-query: {n / s:.3f} episodes/s ({1e3 * s / n:.1f} ms/episode), "
          f"{n * 400 * 3 * fl / s / 1e9:.1f} GFLOP/s, load {load()}")
    model.eval()
    tasks = [episode(5, 1, 15) for _ in range(a.eval + 5)]
    with torch.no_grad():
        for i, t in enumerate(tasks):
            if i == 5:
                print(f"load before eval: {load()}")
                t0 = time.perf_counter()
            _, logits = proto_loss(model, *t, 5)
            (logits.argmax(1) == t[3]).float().mean().item()
    s = time.perf_counter() - t0
    n = a.eval
    print(f"SPEED pytorch eval 5-way 1-shot 15-query: {n / s:.2f} episodes/s ({1e3 * s / n:.2f} ms/episode), "
          f"{n * 80 * fl / s / 1e9:.1f} GFLOP/s, load {load()}")


if __name__ == "__main__":
    main()
