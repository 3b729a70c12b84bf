"""The paper's evaluation draw: for every evaluated (query, positive) pair, K negatives drawn
uniformly (without replacement) from a pool of corpus passages that holds no evaluated
positive, repeated R times, seeded and stored so that every model sees identical negatives."""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm


def negative_pool(corpus_ids: list[str], excluded: set[str]) -> np.ndarray:
    """Row indices (into ``corpus_ids``) of every passage not in ``excluded``."""
    return np.array([i for i, pid in enumerate(corpus_ids) if pid not in excluded], dtype=np.int64)


def draw_negatives(pool: np.ndarray, n_pairs: int, k: int, repeats: int, seed: int, chunk: int = 4096) -> np.ndarray:
    """An int32 array (n_pairs, repeats, k) of pool entries; each (pair, repeat) row holds k
    distinct passages. Deterministic for a given seed."""
    if k > len(pool):
        raise ValueError(f"cannot draw {k} distinct negatives from a pool of {len(pool)} passages")
    rng = np.random.default_rng(seed)
    rows = n_pairs * repeats
    out = np.empty((rows, k), dtype=np.int32)
    for start in tqdm(range(0, rows, chunk), desc="draw negatives", unit="chunk", mininterval=2):
        out[start : start + chunk] = pool[_distinct_rows(rng, len(pool), min(chunk, rows - start), k)]
    return out.reshape(n_pairs, repeats, k)


def _distinct_rows(rng: np.random.Generator, n: int, rows: int, k: int) -> np.ndarray:
    """rows x k integers in [0, n), distinct within each row (uniform over k-subsets):
    draw with replacement, then redraw the repeated entries until none is left."""
    idx = rng.integers(0, n, size=(rows, k))
    while True:
        idx.sort(axis=1)
        dup = np.zeros_like(idx, dtype=bool)
        dup[:, 1:] = idx[:, 1:] == idx[:, :-1]
        n_dup = int(dup.sum())
        if n_dup == 0:
            return idx
        idx[dup] = rng.integers(0, n, size=n_dup)
