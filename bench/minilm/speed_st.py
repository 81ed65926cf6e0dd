"""sentence-transformers' side of bench/minilm/speed.sh: sentences encoded per second by
all-MiniLM-L6-v2 on BANKING77 messages, one thread, at each batch size; peak RSS.

    python speed_st.py MODEL_DIR CSV N BATCH...
"""
import csv
import os
import resource
import sys
import time

import torch
from sentence_transformers import SentenceTransformer, models

torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))  # bench/speed/run.sh sets it
model_dir, csv_path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
batches = [int(b) for b in sys.argv[4:]] or [1, 32]
with open(csv_path, newline="") as f:
    texts = [row["text"] for row in csv.DictReader(f)][:n]
t = time.perf_counter()
# The folder as this repository ships it (no modules.json): BERT + mean pooling, normalised
# in encode(), as the Rust side does.
word = models.Transformer(model_dir, max_seq_length=256)
pool = models.Pooling(word.get_word_embedding_dimension(), pooling_mode="mean")
model = SentenceTransformer(modules=[word, pool], device="cpu")
print(f"load {time.perf_counter() - t:.2f} s")
for b in batches:
    t = time.perf_counter()
    e = model.encode(texts, batch_size=b, normalize_embeddings=True, convert_to_numpy=True)
    s = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"batch {b:>3}: {len(texts)} sentences in {s:.2f} s = {len(texts) / s:.1f} sentences/s "
        f"(peak RSS {rss:.0f} MB, dim {e.shape[1]})"
    )
