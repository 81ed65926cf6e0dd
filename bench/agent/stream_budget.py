"""What the replay benchmark's stream lets any classifier on frozen MiniLM features reach.

The agent's replay (`autodidact agent replay`, docs/agent.md) ends with held-out accuracy on all
77 BANKING77 intents from the labelled examples the stream gave it: the first wave's training
rows, 5 introduction examples per later intent, and the messages whose customers gave feedback
(half of 1,000 per wave, 5 % of them mislabelled). This script rebuilds that labelled set with
the same protocol (Python's own shuffles, so other intent orders than the Rust replay's: it
reports the mean and range over seeds) and trains offline, on all-MiniLM-L6-v2 sentence
embeddings (sentence-transformers, normalised mean pooling, as the agent's encoder):

- logistic regression (scikit-learn, C chosen on a held-out part of the stream's own labels),
- nearest prototype (mean embedding per intent, cosine),
- and both on *every* training row (the issue's offline figure, 92.9 %).

    python stream_budget.py [--seeds 5] [--data ../shared/data/banking77] [--model ../shared/data/minilm]

It needs the bench virtual environment (`bench/speed/run.sh` makes `bench/.venv-speed` with
torch, sentence-transformers and scikit-learn). Never part of the tests.
"""
import argparse
import csv
import os
import random
import time
from collections import defaultdict

import numpy as np
import torch
from sentence_transformers import SentenceTransformer, models
from sklearn.linear_model import LogisticRegression

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))


def read(path):
    with open(path, newline="") as f:
        return [(r["text"], r["category"]) for r in csv.DictReader(f)]


def embed(model_dir, texts, cache):
    if os.path.exists(cache):
        return np.load(cache)
    torch.set_num_threads(os.cpu_count() or 1)
    word = models.Transformer(model_dir, max_seq_length=256)
    pool = models.Pooling(word.get_word_embedding_dimension(), pooling_mode="mean")
    model = SentenceTransformer(modules=[word, pool], device="cpu")
    e = model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    np.save(cache, e)
    return e


def stream_labels(train, intents, seed, waves=7, intro=5, queries=1000, rate=0.5, noise=0.05):
    """Indices into `train` and the labels the agent holds at the end of the stream."""
    rng = random.Random(seed)
    order = intents[:]
    rng.shuffle(order)
    per = len(order) // waves
    wave_of = {name: min(i // per, waves - 1) for i, name in enumerate(order)}
    rows = defaultdict(list)
    for i, (_, y) in enumerate(train):
        rows[y].append(i)
    pool = {}
    xs, ys = [], []
    for name in order:
        r = rows[name][:]
        if wave_of[name] == 0:
            xs += r
            ys += [name] * len(r)
        else:
            rng.shuffle(r)
            xs += r[:intro]
            ys += [name] * intro
            r = r[intro:]
        pool[name] = r
    for w in range(1, waves):
        open_rows = [(i, n) for n in order if wave_of[n] <= w for i in pool[n]]
        for i, n in rng.sample(open_rows, min(queries, len(open_rows))):
            if rng.random() >= rate:
                continue
            if rng.random() < noise:
                n = rng.choice([m for m in order if wave_of[m] <= w and m != n])
            xs.append(i)
            ys.append(n)
    return np.array(xs), ys


def prototype_accuracy(x, y, xt, yt, names):
    protos = np.stack([x[[i for i, v in enumerate(y) if v == n]].mean(0) for n in names])
    protos /= np.linalg.norm(protos, axis=1, keepdims=True)
    pred = np.array(names)[np.argmax(xt @ protos.T, axis=1)]
    return float(np.mean(pred == np.array(yt)))


def logistic_accuracy(x, y, xt, yt, seed):
    # C on a fifth of the stream's own labels (what the agent could do), then refit on all.
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(y))
    cut = len(y) // 5
    val, fit = idx[:cut], idx[cut:]
    y = np.array(y)
    best = None
    for c in [1, 3, 10, 30, 100]:
        m = LogisticRegression(C=c, max_iter=2000).fit(x[fit], y[fit])
        acc = float(np.mean(m.predict(x[val]) == y[val]))
        if best is None or acc > best[0]:
            best = (acc, c)
    m = LogisticRegression(C=best[1], max_iter=2000).fit(x, y)
    return float(np.mean(m.predict(xt) == np.array(yt))), best[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "banking77"))
    ap.add_argument("--model", default=os.path.join(ROOT, "..", "shared", "data", "minilm"))
    a = ap.parse_args()
    train, test = read(os.path.join(a.data, "train.csv")), read(os.path.join(a.data, "test.csv"))
    names = sorted({y for _, y in train})
    t = time.time()
    # Cached outside the repository: 13,083 × 384 floats, made again in about a minute.
    e = embed(a.model, [x for x, _ in train] + [x for x, _ in test], "/tmp/autodidact-banking77-minilm.npy")
    x, xt = e[: len(train)], e[len(train):]
    yt = [y for _, y in test]
    print(f"embedded {len(e)} texts in {time.time() - t:.0f} s")
    everything = [y for _, y in train]
    lr_all, c_all = logistic_accuracy(x, everything, xt, yt, 0)
    print(f"every training row ({len(train)}): logistic regression {100 * lr_all:.1f} % (C={c_all}), "
          f"nearest prototype {100 * prototype_accuracy(x, everything, xt, yt, names):.1f} %")
    lrs, nps, counts = [], [], []
    for seed in range(a.seeds):
        idx, y = stream_labels(train, names, seed)
        lr, c = logistic_accuracy(x[idx], y, xt, yt, seed)
        npa = prototype_accuracy(x[idx], y, xt, yt, names)
        per = defaultdict(int)
        for v in y:
            per[v] += 1
        lo = sorted(per.values())
        lrs.append(lr)
        nps.append(npa)
        counts.append(len(y))
        print(f"seed {seed}: {len(y)} labelled examples (per intent {lo[0]}–{lo[-1]}, median "
              f"{lo[len(lo) // 2]}): logistic regression {100 * lr:.1f} % (C={c}), "
              f"nearest prototype {100 * npa:.1f} %")
    print(f"over {a.seeds} seeds: logistic regression {100 * np.mean(lrs):.1f} % "
          f"({100 * min(lrs):.1f}–{100 * max(lrs):.1f}), nearest prototype {100 * np.mean(nps):.1f} % "
          f"({100 * min(nps):.1f}–{100 * max(nps):.1f})")


if __name__ == "__main__":
    main()
