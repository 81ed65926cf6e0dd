"""MANN (Santoro et al. 2016) in PyTorch, the same architecture and sizes as
algorithms/model-based (mann.rs, memory.rs): a linear embedding of 400 inputs to 64, an LSTM
controller of 200 units fed [e(x_t), y_{t-1}, r_{t-1}], an interface layer giving each of 4
heads a tanh key of 40, a write gate and a key strength beta = 1 + softplus(. + 8), LRUA
writes to a 128 x 40 memory (least-used slot erased, write weights sigmoid(a) w_r + (1 -
sigmoid(a)) w_lu), cosine content reads, usage gamma u + w_r + w_w, and an output layer on
[h_t, r_t]. Adam at 1e-3, gradient norm clipped at 10, 16 episodes of 5 classes x 10
instances per update. Prints training episodes per second on one thread.

    python mann_torch.py [UPDATES] [WARMUP]
"""
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
torch.manual_seed(0)

B, WAYS, INSTANCES, DIM = 16, 5, 10, 400
EMB, HIDDEN, SLOTS, WIDTH, HEADS, GAMMA = 64, 200, 128, 40, 4, 0.95
STEPS = WAYS * INSTANCES


class Mann(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(DIM, EMB)
        self.controller = nn.LSTMCell(EMB + WAYS + HEADS * WIDTH, HIDDEN)
        self.interface = nn.Linear(HIDDEN, HEADS * (WIDTH + 2))
        self.out = nn.Linear(HIDDEN + HEADS * WIDTH, WAYS)

    def forward(self, x, prev_onehot):
        # x: [STEPS, B, DIM], prev_onehot: [STEPS, B, WAYS]
        emb = self.embed(x)
        h = x.new_zeros(B, HIDDEN)
        c = x.new_zeros(B, HIDDEN)
        memory = x.new_full((B, SLOTS, WIDTH), 1e-6)
        read_w = x.new_full((B, HEADS, SLOTS), 1.0 / SLOTS)
        reads = x.new_zeros(B, HEADS, WIDTH)
        usage = x.new_zeros(B, SLOTS)
        logits = []
        hw = HEADS * WIDTH
        for t in range(STEPS):
            inp = torch.cat([emb[t], prev_onehot[t], reads.reshape(B, hw)], 1)
            h, c = self.controller(inp, (h, c))
            out = self.interface(h)
            keys = torch.tanh(out[:, :hw]).reshape(B, HEADS, WIDTH)
            gates = out[:, hw:hw + HEADS].reshape(B, HEADS, 1)
            beta = (F.softplus(out[:, hw + HEADS:] + 8.0) + 1.0).reshape(B, HEADS, 1)
            with torch.no_grad():
                order = usage.argsort(dim=1)
                lu = torch.zeros(B, 1, SLOTS)
                lu.scatter_(2, order[:, :HEADS].unsqueeze(1), 1.0)
                keep = torch.ones(B, SLOTS, 1)
                keep.scatter_(1, order[:, :1].unsqueeze(2), 0.0)
            g = torch.sigmoid(gates)
            write_w = g * read_w + (1 - g) * lu
            memory = memory * keep + write_w.transpose(1, 2) @ keys
            kn = keys / keys.norm(dim=2, keepdim=True).clamp_min(1e-8)
            mn = memory / memory.norm(dim=2, keepdim=True).clamp_min(1e-8)
            read_w = torch.softmax(beta * (kn @ mn.transpose(1, 2)), dim=2)
            reads = read_w @ memory
            usage = GAMMA * usage + (read_w + write_w).detach().sum(1)
            logits.append(self.out(torch.cat([h, reads.reshape(B, hw)], 1)))
        return torch.stack(logits)


def batch():
    # Labels shuffled per episode, each class INSTANCES times in random order; inputs Gaussian
    # around a class mean (the speed does not depend on the values).
    labels = torch.stack([torch.randperm(STEPS) % WAYS for _ in range(B)], 1)  # [STEPS, B]
    means = torch.randn(B, WAYS, DIM)
    x = means[torch.arange(B).unsqueeze(0), labels] + 0.5 * torch.randn(STEPS, B, DIM)
    prev = torch.zeros(STEPS, B, WAYS)
    prev[1:] = F.one_hot(labels[:-1], WAYS).float()
    return x, prev, labels


def main():
    updates = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    warmup = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    model = Mann()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    data = [batch() for _ in range(updates + warmup)]
    t0 = None
    for i, (x, prev, labels) in enumerate(data):
        if i == warmup:
            t0 = time.perf_counter()
        logits = model(x, prev)
        loss = F.cross_entropy(logits.reshape(-1, WAYS), labels.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
    secs = time.perf_counter() - t0
    n = sum(p.numel() for p in model.parameters())
    print(f"torch: {updates} updates of 16 episodes (50 steps) in {secs:.2f} s = "
          f"{updates * B / secs:.2f} episodes/s (last loss {loss.item():.3f}, {n} parameters)")


if __name__ == "__main__":
    main()
