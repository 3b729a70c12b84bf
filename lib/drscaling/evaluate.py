"""Measuring a model: encoding token arrays, the contrastive log-likelihood (CLL) of pairs
against stored negative draws (the periodic check during training and the full evaluation of a
kept checkpoint), ranking metrics over the whole corpus, and re-scoring a finished run's kept
checkpoint without training it again."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from . import paths
from .cll import cll_from_draws
from .config import TrainingConfig
from .datasets import ProcessedData
from .device import device_for
from .fileio import atomic_path
from .model import CHECKPOINT_CONFIG, DualEncoder
from .ranking import evaluate_ranking
from .tokens import RunTexts, Tokens, run_texts


@torch.no_grad()
def encode(model: DualEncoder, tokens: Tokens, rows: np.ndarray | None = None, batch_size: int = 256,
           device: str | torch.device = "cpu", desc: str | None = None, side: str | None = None,
           bf16: bool = False) -> torch.Tensor:
    """Embeddings (len(rows), d) float32 on the CPU, in the order of ``rows``; batches are
    formed from length-sorted rows so that little padding is computed. With ``side`` ("query"
    or "passage"): the compact (H + 1)-d form of :meth:`DualEncoder.compact`, whose query-passage
    inner products are the same scores."""
    rows = np.arange(len(tokens.lengths)) if rows is None else np.asarray(rows)
    order = np.argsort(tokens.lengths[rows], kind="stable")
    out = torch.empty(len(rows), model.compact_dim() if side else model.projection.out_features)
    was_training = model.training
    model.eval()
    use_bf16 = bf16 and torch.device(device).type == "cuda"  # bf16 autocast on a GPU only when asked
    for start in tqdm(range(0, len(rows), batch_size), desc=desc, disable=desc is None, leave=False, mininterval=2):
        sel = order[start:start + batch_size]
        ids, mask = tokens.batch(rows[sel])
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_bf16):
            if side:
                emb = model.compact(model.pool(ids.to(device), mask.to(device)), side)
            else:
                emb = model.encode(ids.to(device), mask.to(device))
        out[torch.from_numpy(sel)] = emb.float().cpu()
    model.train(was_training)
    return out


def unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(rows, return_inverse=True)`` for non-negative integer rows (corpus rows),
    by marking instead of sorting: linear time, which matters for the 27M stored test draws."""
    rows = np.asarray(rows)
    if rows.size == 0:
        return np.unique(rows, return_inverse=True)
    if rows.min() < 0:
        raise ValueError("unique_rows: expected non-negative rows")
    present = np.zeros(int(rows.max()) + 1, dtype=bool)
    present[rows] = True
    position = np.cumsum(present) - 1
    return np.flatnonzero(present), position[rows]


class Evaluator:
    """CLL of (query, positive) pairs against negatives given as corpus rows (pairs, R, K)."""

    def __init__(self, query_tokens: Tokens, query_rows: np.ndarray, positive_rows: np.ndarray,
                 passage_tokens: Tokens, draws: np.ndarray):
        self.query_tokens, self.query_rows, self.positive_rows = query_tokens, query_rows, positive_rows
        self.passage_tokens = passage_tokens
        # encode each distinct passage once: positives and every drawn negative
        self.passages, inverse = unique_rows(np.concatenate([positive_rows, np.asarray(draws).ravel()]))
        self.positive_index = inverse[: len(positive_rows)]
        self.draws = inverse[len(positive_rows):].reshape(np.asarray(draws).shape)

    def __call__(self, model: DualEncoder, device, passage_emb: torch.Tensor | None = None,
                 query_emb: torch.Tensor | None = None, bf16: bool = False) -> np.ndarray:
        """Per-pair CLL; ``passage_emb`` (all corpus rows) and ``query_emb`` (this evaluator's
        query rows, in order) avoid encoding them again."""
        q = query_emb if query_emb is not None else encode(model, self.query_tokens, self.query_rows, device=device,
                                                           bf16=bf16)
        p = passage_emb[torch.from_numpy(self.passages)] if passage_emb is not None else \
            encode(model, self.passage_tokens, self.passages, device=device, bf16=bf16)
        return cll_from_draws(q, p[torch.from_numpy(self.positive_index)], p, self.draws)


def periodic_evaluator(data, split: str, corpus_row: dict, query_tokens: Tokens, query_row: dict,
                       passage_tokens: Tokens, cfg: TrainingConfig, seed: int) -> Evaluator:
    """The cheap check run every ``eval_every`` steps: the first ``eval_pairs`` pairs of the
    split against K negatives drawn (seeded) from a fixed random sub-pool of ``eval_pool``
    passages of the negative pool, so that few passages need encoding."""
    pairs = data.qrels(split).head(cfg.eval_pairs)
    rng = np.random.default_rng([seed, 3])
    pool = data.negative_pool
    sub = pool[rng.choice(len(pool), size=min(cfg.eval_pool, len(pool)), replace=False)]
    k = min(data.manifest["data"]["cll_negatives"], len(sub))
    draws = np.stack([sub[rng.choice(len(sub), size=k, replace=False)] for _ in range(len(pairs))])[:, None, :]
    return Evaluator(query_tokens, np.array([query_row[q] for q in pairs["qid"]]),
                     np.array([corpus_row[p] for p in pairs["pid"]]), passage_tokens, draws)


def evaluate_checkpoint(best: DualEncoder, data, texts: RunTexts, cfg: TrainingConfig, device: torch.device,
                        run_dir: Path) -> dict:
    """The full evaluation of a kept checkpoint: test and validation CLL on the stored draws
    (per-pair values kept in ``run_dir/cll_<split>.npy``) and ranking metrics of the test
    queries over the whole corpus."""
    started = time.time()
    # every corpus passage and every evaluated query is encoded once, then reused; in the compact
    # (H + 1)-d form where that is smaller than the projection (same scores, cheaper products)
    side = best.compact_dim() < best.projection.out_features
    eval_bf16 = cfg.eval_bf16 and device.type == "cuda"
    result = {"eval_precision": "bf16" if eval_bf16 else "fp32"}
    passage_emb = encode(best, texts.passages, device=device, desc="encode corpus", side=side and "passage",
                         bf16=eval_bf16)
    query_emb = {}
    for split in ("test", "validation"):
        rows = data.all_queries.index[data.all_queries["split"] == split].to_numpy()
        emb = encode(best, texts.queries, rows, device=device, side=side and "query", bf16=eval_bf16)
        query_emb[split] = dict(zip(data.all_queries["qid"].to_numpy()[rows], emb))
        q_pairs = data.qrels(split)
        ev = Evaluator(texts.queries, np.array([texts.query_row[q] for q in q_pairs["qid"]]),
                       np.array([texts.corpus_row[p] for p in q_pairs["pid"]]), texts.passages,
                       data.cll_negatives(split))
        values = ev(best, device, passage_emb, torch.stack([query_emb[split][q] for q in q_pairs["qid"]]))
        with atomic_path(run_dir / f"cll_{split}.npy") as tmp:
            with open(tmp, "wb") as f:
                np.save(f, values)
        result[f"cll_{split}"] = float(values.mean())
    result.update(rank_test_queries(data, query_emb["test"], passage_emb))
    result["eval_seconds"] = round(time.time() - started, 1)
    return result


def rank_test_queries(data, test_query_emb: dict, passage_emb: torch.Tensor) -> dict:
    """MRR@10, nDCG@10, Recall@10/100 of the test queries (qid -> embedding) over the whole corpus
    (exact search, then :func:`drscaling.ranking.ranking_metrics`, the one metrics function)."""
    qids = data.queries("test")["qid"].tolist()
    metrics = evaluate_ranking(torch.stack([test_query_emb[q] for q in qids]), qids, passage_emb,
                               data.corpus["pid"].tolist(), data.qrels("test"), k=100)
    return {k: v for k, v in metrics.items() if k != "n_queries"}


def run_inputs(spec) -> tuple[TrainingConfig, ProcessedData, torch.device, RunTexts]:
    """A run's settings, its prepared data (refused when prepared again since the run was
    planned), its device and its tokenised texts: what training and re-scoring both start from."""
    cfg = TrainingConfig(**spec.training)
    data = ProcessedData(paths.processed_dir(spec.dataset))
    if spec.data_key and data.manifest["key"] != spec.data_key:
        raise RuntimeError(f"{data.dir} was prepared again since run {getattr(spec, 'run_id', '')} was planned "
                           f"(data key changed)")
    device = device_for(cfg)
    return cfg, data, device, run_texts(data, spec.model, cfg)


def rescore_run(spec, run_dir: str | Path, out_dir: str | Path | None = None) -> dict:
    """The full evaluation of a finished run's kept checkpoint (``run_dir/best``) again, without
    training: what changed evaluation code or a new ranking metric gives for an existing run.
    The per-pair ``cll_<split>.npy`` go to ``out_dir`` (default: the run's folder, replacing
    its own); the run's ``result.json`` is left as it is. ``spec`` is the run's grid RunSpec."""
    run_dir = Path(run_dir)
    best = run_dir / "best"
    if not (best / CHECKPOINT_CONFIG).is_file():
        raise FileNotFoundError(f"{best}: no kept checkpoint to re-score (has the run finished?)")
    cfg, data, device, texts = run_inputs(spec)
    out_dir = Path(out_dir) if out_dir is not None else run_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    return evaluate_checkpoint(DualEncoder.load(best, device), data, texts, cfg, device, out_dir)
