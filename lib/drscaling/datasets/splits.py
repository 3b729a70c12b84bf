"""Held-out validation (and test) by whole groups, and nested training subsets for the data-size axis."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .base import RetrievalDataset, Split


def hold_out_groups(dataset: RetrievalDataset, n_groups: int, seed: int, source: str = "train",
                    target: str = "validation", setting: str = "data.validation_groups") -> tuple[RetrievalDataset, dict]:
    """Move the queries of ``n_groups`` randomly chosen groups (SQuAD articles) of the
    ``source`` split to a new ``target`` split, so no passage is shared between them.

    A query with positives both inside and outside the chosen groups (impossible in SQuAD,
    rare elsewhere) would bridge the two; it is dropped and counted. Returns the new dataset
    and a summary (chosen groups, dropped queries); ``setting`` names ``n_groups`` in errors.
    """
    split = dataset.splits[source]
    groups = sorted({dataset.group_of(p) for pids in split.qrels.values() for p in pids})
    if not 0 < n_groups < len(groups):
        raise ValueError(
            f"{setting} = {n_groups}: must be between 1 and {len(groups) - 1} "
            f"(the {source} split has {len(groups)} groups)"
        )
    rng = np.random.default_rng(seed)
    chosen = {groups[i] for i in rng.choice(len(groups), size=n_groups, replace=False)}
    kept, held, dropped = Split(), Split(), []
    for qid, pids in split.qrels.items():
        inside = [dataset.group_of(p) in chosen for p in pids]
        into = held if all(inside) else kept if not any(inside) else None
        if into is None:
            dropped.append(qid)
            continue
        into.queries[qid] = split.queries[qid]
        into.qrels[qid] = pids
    splits = {k: v for k, v in dataset.splits.items() if k != source}
    splits = {source: kept, target: held, **splits}
    summary = {f"{target}_groups": sorted(chosen), "dropped_bridging_queries": dropped}
    return RetrievalDataset(dataset.name, dataset.corpus, splits, dataset.groups), summary


def hold_out_validation(dataset: RetrievalDataset, n_groups: int, seed: int, source: str = "train") -> tuple[RetrievalDataset, dict]:
    """:func:`hold_out_groups` into a ``validation`` split (the source split renamed ``train``)."""
    new, summary = hold_out_groups(dataset, n_groups, seed, source)
    splits = {("train" if k == source else k): v for k, v in new.splits.items()}
    return RetrievalDataset(new.name, new.corpus, splits, new.groups), summary


def pairs_frame(split: Split) -> pd.DataFrame:
    """A split's (query, positive) pairs in a fixed order: queries in split order."""
    rows = [(qid, pid) for qid, pids in split.qrels.items() for pid in pids]
    return pd.DataFrame(rows, columns=["qid", "pid"])


def nested_subset_order(pairs: pd.DataFrame, sizes: list[int], seed: int) -> pd.DataFrame:
    """Rank the training pairs by one seeded permutation: the subset of size D is the pairs
    with ``rank < D``, so every subset contains every smaller one.

    Returns ``pairs`` with a ``rank`` column, sorted by rank.
    """
    n = len(pairs)
    for d in sizes:
        if not isinstance(d, (int, np.integer)) or d <= 0:
            raise ValueError(f"data.subset_sizes: each size must be a positive integer, got {d!r}")
        if d > n:
            raise ValueError(
                f"data.subset_sizes asks for {d:,} training pairs, but the training split has only {n:,}; "
                f"expected sizes of at most {n:,}"
            )
    rng = np.random.default_rng(seed)
    ranked = pairs.iloc[rng.permutation(n)].reset_index(drop=True)
    ranked["rank"] = np.arange(n, dtype=np.int64)
    return ranked
