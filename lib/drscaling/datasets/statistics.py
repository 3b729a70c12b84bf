"""Descriptive statistics of a prepared dataset: counts, text lengths, questions per passage,
the nested training subsets and the evaluation draws."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..tokenizer import MOSTLY_CJK, cjk_share

SPLITS = ("train", "validation", "test")


def split_summary(data) -> pd.DataFrame:
    """One row per split: queries, pairs, distinct positive passages, groups (articles) and
    questions per positive passage; a last row for the whole corpus and the negative pool."""
    groups = data.corpus.set_index("pid")["group"]
    rows = []
    for s in SPLITS:
        q = data.qrels(s)
        per_passage = q.groupby("pid").size()
        rows.append({
            "split": s,
            "queries": q["qid"].nunique(),
            "pairs": len(q),
            "passages": len(per_passage),
            "groups": groups.loc[per_passage.index].nunique(),
            "questions_per_passage": per_passage.mean(),
        })
    rows.append({"split": "corpus", "passages": len(data.corpus), "groups": data.corpus["group"].nunique(),
                 "negative_pool": len(data.negative_pool)})
    return pd.DataFrame(rows).set_index("split")


# The unit of the text lengths: whitespace words, or characters for text without spaces between
# its words (Chinese), where a whitespace "word" would be a whole clause.
LENGTH_UNITS = {"words": "whitespace words", "chars": "characters (the text has no spaces between words)"}


def length_unit(data) -> str:
    """``"chars"`` for a corpus mostly of CJK characters (its first 2,000 passages, as BM25's
    check), else ``"words"``: the column of :func:`length_frame` that counts text lengths."""
    return "chars" if cjk_share(data.corpus["text"].head(2000)) > MOSTLY_CJK else "words"


def length_frame(data, tokenizer=None) -> pd.DataFrame:
    """One row per text: kind (query / passage), split (a passage's is the split it is a
    positive of, or 'other'), characters, whitespace words (only where words are spaced; see
    :func:`length_unit`) and, with a tokenizer, tokens (without [CLS]/[SEP])."""
    queries = data.all_queries.assign(kind="query")[["kind", "split", "text"]]
    owner = data.all_qrels.drop_duplicates("pid").set_index("pid")["split"]
    passages = data.corpus.assign(kind="passage", split=data.corpus["pid"].map(owner).fillna("other"))
    frame = pd.concat([queries, passages[["kind", "split", "text"]]], ignore_index=True)
    frame["chars"] = frame["text"].str.len()
    if length_unit(data) == "words":
        frame["words"] = frame["text"].str.split().str.len()
    if tokenizer is not None:
        ids = tokenizer(frame["text"].tolist(), add_special_tokens=False)["input_ids"]
        frame["tokens"] = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
    return frame.drop(columns="text")


def length_summary(lengths: pd.DataFrame) -> pd.DataFrame:
    """Mean and percentiles (50, 90, 99) and maximum of each length measure, per kind and split:
    words (characters where :func:`length_frame` counted no words) and tokens."""
    measures = [c for c in ("words" if "words" in lengths else "chars", "tokens") if c in lengths]
    stats = lengths.groupby(["kind", "split"])[measures].describe(percentiles=[0.5, 0.9, 0.99])
    keep = ["mean", "50%", "90%", "99%", "max"]
    return stats.loc[:, [(m, k) for m in measures for k in keep]].round(1)


def questions_per_passage(data, split: str = "train") -> pd.Series:
    """How many passages have 1, 2, ... questions in a split."""
    counts = data.qrels(split).groupby("pid").size()
    return counts.value_counts().sort_index().rename_axis("questions").rename("passages")


def subset_table(data) -> pd.DataFrame:
    """One row per training subset D (the data-size axis): its distinct queries and passages and
    its share of the training pairs. Raises ValueError if a subset does not hold every smaller
    one (they must be nested: a larger D only adds pairs)."""
    rows, previous = [], set()
    for d in data.manifest["subset_sizes"]:
        sub = data.subset(d)
        queries = set(sub["qid"])
        if not previous <= queries:
            raise ValueError(f"{data.dir}: training subset D = {d} does not hold the smaller subsets (not nested)")
        rows.append({"D": d, "queries": len(queries), "passages": sub["pid"].nunique(),
                     "share of training pairs": d / len(data.train_order)})
        previous = queries
    return pd.DataFrame(rows, columns=["D", "queries", "passages", "share of training pairs"]).set_index("D")


def evaluation_draws(data) -> list[str]:
    """What the stored evaluation draws hold, one line per split, after checking them: no test or
    validation positive is in the negative pool and every drawn negative comes from it
    (ValueError otherwise)."""
    pool = set(data.negative_pool.tolist())
    corpus_row = {pid: i for i, pid in enumerate(data.corpus["pid"])}
    lines = []
    for split in ("test", "validation"):
        positives = {corpus_row[p] for p in data.qrels(split)["pid"]}
        draws = data.cll_negatives(split)
        if positives & pool:
            raise ValueError(f"{data.dir}: a {split} positive is in the negative pool")
        if not set(np.unique(draws)) <= pool:
            raise ValueError(f"{data.dir}: cll_negatives_{split}.npy draws passages outside the negative pool")
        lines.append(f"{split}: {draws.shape[0]:,} pairs x {draws.shape[1]} repeats x {draws.shape[2]} negatives")
    lines.append(f"negative pool: {len(pool):,} of {len(data.corpus):,} corpus passages")
    return lines
