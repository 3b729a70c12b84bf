"""Ranking evaluation: exact dense search (faiss), runs, ir-measures metrics, and a BM25 baseline.

A *run* is ``{qid: {pid: score}}`` with string ids, the form ir-measures (and trec_eval) reads.
*qrels* here are binary: every listed (qid, pid) pair is relevant with relevance 1.

What ir-measures 0.4.3 does with queries, as checked against its source and in
``tests/test_ranking.py``:

- the mean is over the qrels' queries only; run queries without qrels are ignored;
- a qrels query that is absent from the run, or has an empty ranking, is *not* dropped: the base
  ``Evaluator.iter_calc`` emits ``measure.DEFAULT`` (0.0 for RR, nDCG, R) for every
  (measure, qrels query) pair a provider did not report. :func:`ranking_metrics` nevertheless
  fills missing queries with 0 itself, so the result does not depend on that behaviour;
- ties: nDCG@10 and R@k come from pytrec_eval (trec_eval order: score descending, then doc id
  *descending*), RR@10 from the msmarco provider (score descending, then doc id *ascending*).
  Exactly tied scores can therefore be ordered differently by the two; float32 inner products
  of a trained encoder practically never tie, but a collapsed model or duplicate passages can.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .tokenizer import CJK, CJK_CHAR, MOSTLY_CJK, cjk_share

# ir-measures names -> the keys returned by ranking_metrics
METRICS = {"RR@10": "mrr_at_10", "nDCG@10": "ndcg_at_10", "R@10": "recall_at_10", "R@100": "recall_at_100"}


# ---------------------------------------------------------------- dense search

def _as_float32(x) -> np.ndarray:
    """A C-contiguous float32 (n, d) numpy array from a numpy array or a torch tensor (any
    device or dtype: faiss reads only contiguous float32 host memory)."""
    if hasattr(x, "detach"):  # torch, without importing it here
        x = x.detach().cpu().float().numpy()
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"expected a 2-d (n, dim) embedding matrix, got shape {x.shape}")
    return x


def search(query_emb, passage_emb, k: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner-product top-k: (scores, passage row indices), each (Q, min(k, P)), best first."""
    import faiss

    q, p = _as_float32(query_emb), _as_float32(passage_emb)
    if q.shape[1] != p.shape[1]:
        raise ValueError(f"query dim {q.shape[1]} != passage dim {p.shape[1]}")
    if len(p) == 0:
        raise ValueError("no passages to search")
    k = min(int(k), len(p))  # faiss pads with -1 beyond P; clip instead
    import torch

    # as many threads as torch may use: a one-thread run next to another (grid.workers) must
    # not take both cores for its search
    faiss.omp_set_num_threads(max(1, torch.get_num_threads()))
    index = faiss.IndexFlatIP(p.shape[1])  # brute force: exact, no training, no approximation
    index.add(p)
    scores, indices = index.search(q, k)
    return scores, indices


# ---------------------------------------------------------------- runs and metrics

def to_run(
    query_ids: Sequence, passage_ids: Sequence, scores: np.ndarray, indices: np.ndarray
) -> dict[str, dict[str, float]]:
    """``{qid: {pid: score}}`` from search output; row i of scores/indices belongs to query_ids[i],
    indices are rows of passage_ids (negative indices, faiss's padding, are skipped)."""
    pids = np.asarray([str(p) for p in passage_ids], dtype=object)
    scores, indices = np.asarray(scores), np.asarray(indices)
    if len(query_ids) != len(indices):
        raise ValueError(f"{len(query_ids)} query ids but {len(indices)} result rows")
    run: dict[str, dict[str, float]] = {}
    for qid, row_s, row_i in zip(query_ids, scores, indices):
        keep = row_i >= 0
        # python floats: pytrec_eval rejects numpy scalars
        run[str(qid)] = dict(zip(pids[row_i[keep]].tolist(), row_s[keep].astype(float).tolist()))
    return run


def _qrels_dict(qrels) -> dict[str, dict[str, int]]:
    """Binary qrels as ``{qid: {pid: 1}}`` from a DataFrame (qid, pid) or ``{qid: [pid, ...]}``;
    queries with no relevant passage are left out (they cannot be evaluated)."""
    out: dict[str, dict[str, int]] = {}
    if isinstance(qrels, pd.DataFrame):
        missing = {"qid", "pid"} - set(qrels.columns)
        if missing:
            raise ValueError(f"qrels DataFrame needs columns qid and pid; missing {sorted(missing)}")
        for qid, pid in zip(qrels["qid"], qrels["pid"]):
            out.setdefault(str(qid), {})[str(pid)] = 1
    elif isinstance(qrels, Mapping):
        for qid, pids in qrels.items():
            if isinstance(pids, str):  # a bare pid, not a list of one-character pids
                pids = [pids]
            rel = {str(p): 1 for p in pids}
            if rel:
                out[str(qid)] = rel
    else:
        raise TypeError(f"qrels must be a DataFrame (qid, pid) or a dict qid -> pids, not {type(qrels).__name__}")
    return out


def ranking_metrics(run: Mapping[str, Mapping[str, float]], qrels) -> dict:
    """MRR@10, nDCG@10, R@10, R@100 (ir-measures), means over the queries with qrels; a query
    missing from the run, or with nothing retrieved, counts 0. Also ``n_queries``."""
    import ir_measures

    qrels_d = _qrels_dict(qrels)
    if not qrels_d:
        raise ValueError("qrels hold no relevant (qid, pid) pair")
    measures = [ir_measures.parse_measure(name) for name in METRICS]
    # only evaluated queries, ids as strings (ir-measures matches ids as strings)
    run_d = {str(q): {str(p): float(s) for p, s in docs.items()} for q, docs in run.items() if str(q) in qrels_d}
    per_query = {name: dict.fromkeys(qrels_d, 0.0) for name in METRICS}  # missing queries stay 0
    for m in ir_measures.evaluator(measures, qrels_d).iter_calc(run_d):
        per_query[str(m.measure)][m.query_id] = float(m.value)
    result = {key: float(np.mean(list(per_query[name].values()))) for name, key in METRICS.items()}
    result["n_queries"] = len(qrels_d)
    return result


def evaluate_ranking(query_emb, query_ids: Sequence, passage_emb, passage_ids: Sequence, qrels, k: int = 100) -> dict:
    """Exact search of every query, then :func:`ranking_metrics` of the top-k run."""
    scores, indices = search(query_emb, passage_emb, k)
    return ranking_metrics(to_run(query_ids, passage_ids, scores, indices), qrels)


# ---------------------------------------------------------------- BM25 baseline

# bm25s's default pattern keeps words of 2+ characters, which would drop every single CJK
# character; so one CJK character, or a word of 2+ characters as bm25s does
_CJK_TOKEN_PATTERN = f"(?u)[{CJK}]|\\b\\w\\w+\\b"


def _space_cjk(text: str) -> str:
    """Spaces around every CJK character, so that each is a token of its own."""
    return CJK_CHAR.sub(r" \1 ", text)


def bm25_run(
    passages: list[str],
    passage_ids: Sequence,
    queries: list[str],
    query_ids: Sequence,
    k: int = 100,
    stopwords: str | Iterable[str] | None = "en",
    char_level: bool = False,
) -> dict[str, dict[str, float]]:
    """BM25 (bm25s defaults: Lucene variant, k1=1.5, b=0.75, no stemming) top-k run.

    Tokens are bm25s's: lowercased, split by its default regex (words of 2+ word characters),
    ``stopwords`` removed ("en" = its English list; None = none). That regex does not segment
    Chinese: a run of Chinese characters would be one token; ``char_level=True`` makes every
    CJK character a token of its own (use it, with ``stopwords=None``, for Chinese text).
    Only passages that share a term with the query are listed (as Lucene does): zero-score
    passages are in arbitrary order, so listing them would credit chance ranks. k may exceed
    the corpus size.
    """
    import bm25s

    if len(passages) != len(passage_ids) or len(queries) != len(query_ids):
        raise ValueError("passages/passage_ids and queries/query_ids must have equal lengths")
    if not passages:
        raise ValueError("no passages to index")
    if char_level:
        passages, queries = [_space_cjk(t) for t in passages], [_space_cjk(t) for t in queries]
    pattern = _CJK_TOKEN_PATTERN if char_level else r"(?u)\b\w\w+\b"  # the latter: bm25s's default
    stop = [] if stopwords is None else stopwords
    retriever = bm25s.BM25()
    corpus_tokens = bm25s.tokenize(passages, token_pattern=pattern, stopwords=stop, show_progress=False)
    retriever.index(corpus_tokens, show_progress=False)
    # queries as token strings: bm25s maps them to the corpus vocabulary and drops unknown ones
    query_tokens = bm25s.tokenize(queries, token_pattern=pattern, stopwords=stop, return_ids=False, show_progress=False)
    k = min(int(k), len(passages))  # bm25s raises for k > corpus size
    if not queries:
        return {}
    indices, scores = retriever.retrieve(query_tokens, k=k, show_progress=False)
    indices = np.where(scores > 0, indices, -1)  # to_run skips negative indices
    return to_run(query_ids, passage_ids, scores, indices)


# BM25's text processing per language: English words less English stop words; Chinese, which
# has no spaces between words, by characters and with no stop-word list (bm25s ships none).
BM25_LANGUAGES = {"en": {"stopwords": "en", "char_level": False}, "zh": {"stopwords": None, "char_level": True}}


def bm25_settings(language: str) -> dict:
    """``stopwords`` and ``char_level`` for :func:`bm25_metrics` in ``language`` (en, zh)."""
    if language not in BM25_LANGUAGES:
        raise ValueError(f"bm25 language: expected one of {sorted(BM25_LANGUAGES)}, got {language!r}")
    return dict(BM25_LANGUAGES[language])


def bm25_metrics(data, split: str = "test", k: int = 100, stopwords: str | None = "en", char_level: bool = False) -> dict:
    """BM25 over the whole corpus of a prepared dataset (``ProcessedData``) for one split's
    queries: the reference line for the dense models' ranking metrics. Refuses word-level BM25
    on a mostly Chinese corpus (each clause would be one token: MRR@10 0.14 instead of 0.90 on
    CMRC 2018 + DRCD)."""
    share = cjk_share(data.corpus["text"].head(2000))
    if not char_level and share > MOSTLY_CJK:
        raise ValueError(f"BM25 over words on a corpus whose text is {share:.0%} CJK characters: Chinese has no "
                         "spaces between words, so each clause would be one token. Use bm25_language: zh "
                         "(characters; the profile's notebooks: 03_evaluate: bm25_language)")
    queries = data.queries(split)
    run = bm25_run(data.corpus["text"].tolist(), data.corpus["pid"].tolist(), queries["text"].tolist(),
                   queries["qid"].tolist(), k=k, stopwords=stopwords, char_level=char_level)
    return ranking_metrics(run, data.qrels(split))
