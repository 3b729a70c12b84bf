"""A dataset's annotated pairs: made by a method (:mod:`.methods`) over the training passages,
once per (method, D, seed, options), and kept beside the prepared data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..fileio import atomic_path, sha256_json
from .generator import generate_queries, model_identity, resolve_model_path
from .methods import (
    METHODS,
    PAIR_COLUMNS,
    check_method,
    crop,
    human_pairs,
    ict,
    idf_table,
    keywords,
    method_label,
    noisy_pairs,
)


def training_passages(data) -> list:
    """The distinct pids of ``data.qrels("train")``, in order of first appearance."""
    return list(pd.unique(data.qrels("train")["pid"]))


def annotate(data, method: str, n_pairs: int, seed: int, **options) -> pd.DataFrame:
    """``n_pairs`` annotated pairs (qid, pid, query, method, positive) made by ``method``.

    ``positive`` is the positive's text as the method made it (ICT removes the query sentence,
    crop takes a span; otherwise the corpus passage).

    ``human``: the first ``n_pairs`` rows of ``data.subset``, with their questions and qids.
    ``noisy_human`` (option ``rate``): the same with noisy positives (column ``noisy``).
    Other methods draw ``n_pairs`` training passages (seeded order, without replacement within a
    round over the passages; more pairs than passages take further rounds) and make one query each, with qids ``f"{method}-{seed}-{i}"``. Options are passed on to the method
    (``keywords`` also takes a precomputed ``idf``; ``generated`` takes ``model_path`` etc.).
    """
    if method not in METHODS:
        raise ValueError(f"unknown annotation method {method!r}; choose from {', '.join(METHODS)}")
    if n_pairs < 0:
        raise ValueError(f"n_pairs must be >= 0, got {n_pairs}")
    if method in ("human", "noisy_human"):
        out = human_pairs(data, n_pairs)
        if method == "noisy_human":
            if "rate" not in options:
                raise ValueError("method 'noisy_human' needs the option rate (fraction of noisy positives)")
            rng = np.random.default_rng([seed, 1])
            out = noisy_pairs(out, training_passages(data), options["rate"], rng)
        out["method"] = method
        text_of = dict(zip(data.corpus["pid"], data.corpus["text"]))
        out["positive"] = [text_of[p] for p in out["pid"]]
        return out[PAIR_COLUMNS + ["positive"] + (["noisy"] if method == "noisy_human" else [])]

    pool = training_passages(data)
    if n_pairs and not pool:
        raise ValueError(f"asked for {n_pairs:,} pairs, but there is no training passage")
    order = passage_order(len(pool), seed, n_pairs)
    pids = [pool[i] for i in order]
    corpus = data.corpus
    text_of = dict(zip(corpus["pid"], corpus["text"]))
    passages = [text_of[p] for p in pids]
    rng = np.random.default_rng([seed, 2])

    if method == "ict":
        made = [ict(p, rng, **options) for p in passages]
    elif method == "crop":
        made = [crop(p, rng, **options) for p in passages]
    elif method == "keywords":
        opts = dict(options)
        idf = opts.pop("idf", None)
        if idf is None:
            idf = idf_table(corpus["text"])
        made = [keywords(p, idf, rng=rng, **opts) for p in passages]
    else:  # generated
        opts = dict(options)
        written, generator = opts.pop("model_path", None), opts.pop("generator", None)
        model_path = resolve_model_path(data, written, generator)
        queries = generated_queries(data, pool, pids, seed, model_path, opts,
                                    model_id=model_identity(data, written, generator))
        made = list(zip(queries, passages))
    return pd.DataFrame(
        {
            "qid": [f"{method}-{seed}-{i}" for i in range(n_pairs)],
            "pid": pd.Series(pids, dtype=corpus["pid"].dtype),
            "query": [q for q, _ in made],
            "method": method,
            "positive": [p for _, p in made],
        },
        columns=PAIR_COLUMNS + ["positive"],
    )


def passage_order(n_pool: int, seed: int, n: int) -> np.ndarray:
    """The first ``n`` indices of the seed's order over ``n_pool`` training passages: rounds over
    the passages, each in a new seeded order (ICT takes another random sentence of a passage each
    round). The order for ``n`` is a prefix of the order for any larger ``n``."""
    rng = np.random.default_rng([seed, 0])
    rounds = -(-n // n_pool) if n_pool else 0
    return np.concatenate([rng.permutation(n_pool) for _ in range(max(rounds, 1))])[:n]


GENERATION_CHUNK = 1024  # training passages written and cached together by the generated method


def generated_queries(data, pool: list, pids: list, seed: int, model_path: str, options: dict,
                      model_id: str | None = None) -> list[str]:
    """The generated queries of ``pids`` (training passages of ``pool``).

    Written in chunks of :data:`GENERATION_CHUNK` passages of the pool's fixed order, each
    decoded with its own seed ``(seed, chunk)``, so that a passage's query depends only on its
    chunk and the seed, not on how many pairs were asked for or in which order: the nested
    subsets of a study share their queries, and greedy decoding (whose queries no seed changes)
    shares them between seeds too. With a prepared dataset folder (``data.dir``) each chunk is
    kept under ``annotations/generated/<digest>/`` (digest of the model, named by ``model_id``
    when given, else by ``model_path``; the decoding options, the seed when sampling, and the
    data) and written once."""
    text_of = dict(zip(data.corpus["pid"], data.corpus["text"]))
    chunk_of = {pid: i // GENERATION_CHUNK for i, pid in enumerate(pool)}
    sampled = bool(options.get("do_sample"))
    folder = None
    if getattr(data, "dir", None) is not None:
        digest = sha256_json({"model_path": model_id or str(model_path), "options": options, "seed": seed if sampled else None,
                              "data_key": data.manifest["key"], "chunk": GENERATION_CHUNK})[:16]
        folder = Path(data.dir) / "annotations" / "generated" / digest
    query_of = {}
    for k in sorted({chunk_of[p] for p in pids}):
        chunk = pool[k * GENERATION_CHUNK:(k + 1) * GENERATION_CHUNK]
        path = None if folder is None else folder / f"chunk-{k:05d}.parquet"
        if path is not None and path.is_file():
            queries = pd.read_parquet(path)["query"].tolist()
        else:
            queries = generate_queries([text_of[p] for p in chunk], model_path,
                                       seed=(seed if sampled else 0) * 100_003 + k, **options)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                write_pairs(pd.DataFrame({"query": queries}), path)
        query_of.update(zip(chunk, queries))
    return [query_of[p] for p in pids]


def pairs_path(data, method: str, n_pairs: int, seed: int, options: dict | None = None) -> Path:
    """Where :func:`stored_pairs` keeps a method's pairs: beside the prepared data, so they go
    with it when it is prepared again; the name carries a digest of method and options."""
    options = dict(options or {})
    key = sha256_json({"method": method, "options": options, "n_pairs": n_pairs, "seed": seed,
                       "data_key": data.manifest["key"]})[:10]
    return Path(data.dir) / "annotations" / f"{method_label(method, options)}-D{n_pairs}-s{seed}-{key}.parquet"


def stored_pairs(data, method: str, n_pairs: int, seed: int, options: dict | None = None) -> pd.DataFrame:
    """:func:`annotate`'s pairs, made once and then read back from :func:`pairs_path`
    (``human`` pairs are the prepared subsets themselves: not stored again)."""
    options = dict(options or {})
    check_method(method, options)
    if method == "human":
        return annotate(data, method, n_pairs, seed)
    path = pairs_path(data, method, n_pairs, seed, options)
    if path.is_file():
        return read_pairs(path)
    frame = annotate(data, method, n_pairs, seed, **options)
    write_pairs(frame, path)
    return frame


def write_pairs(frame: pd.DataFrame, path) -> None:
    """Write annotated pairs as parquet, atomically."""
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)


def read_pairs(path) -> pd.DataFrame:
    return pd.read_parquet(path)
