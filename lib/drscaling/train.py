"""Training one run of the grid: the paper's contrastive objective, AdamW with warmup, periodic
validation CLL with the best checkpoint kept, resumable state, then the full evaluation.

Speed: texts are tokenised once per dataset and cached as padded integer arrays; a batch is
sliced from them and trimmed to its longest row (dynamic padding), with batches built from
length-sorted chunks (length bucketing). Every random choice of a step is a function of
(seed, step), so a resumed run continues exactly where it stopped and the same spec and seed
give the same result on the CPU.
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import paths
from .cll import cll_from_draws
from .config import TrainingConfig
from .fileio import atomic_path, dumps, write_json
from .model import CHECKPOINT_CONFIG, DualEncoder, count_nonembedding_params, count_params_as_paper_code, set_dropout

BUCKET_CHUNKS = 50  # batches per length-sorted chunk


# ---------------------------------------------------------------- the loss (embeddings only)

def contrastive_loss(query_emb: torch.Tensor, positive_emb: torch.Tensor, negative_emb: torch.Tensor,
                     positive_ids: torch.Tensor, negative_ids: torch.Tensor, in_batch: bool = True) -> torch.Tensor:
    """Mean cross-entropy of each query's positive against the negatives shared by the batch
    (and, with ``in_batch``, the other queries' positives); score = inner product.

    ``positive_ids`` (B,) and ``negative_ids`` (K,) identify passages (corpus rows): a passage
    that is a query's own positive is never one of its negatives, whether it comes in as
    another query's positive or as a sampled negative.
    """
    own = positive_ids[:, None]
    neg_scores = query_emb @ negative_emb.T  # (B, K)
    neg_scores = neg_scores.masked_fill(negative_ids[None, :] == own, float("-inf"))
    if in_batch:
        pos_scores = query_emb @ positive_emb.T  # (B, B); the diagonal is each query's positive
        same = (positive_ids[None, :] == own) & ~torch.eye(len(own), dtype=torch.bool, device=own.device)
        pos_scores = pos_scores.masked_fill(same, float("-inf"))
        target = torch.arange(len(own), device=own.device)
    else:
        pos_scores = (query_emb * positive_emb).sum(-1, keepdim=True)  # (B, 1)
        target = torch.zeros(len(own), dtype=torch.long, device=own.device)
    scores = torch.cat([pos_scores, neg_scores], dim=1).float()
    return F.cross_entropy(scores, target)


def run_tokenizer(model_spec: dict, data) -> tuple[object, str]:
    """(tokenizer, its name) of a run: a pretrained checkpoint's own, else the WordPiece
    vocabulary notebook 01 trained on the dataset."""
    if "pretrained" in model_spec:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(model_spec["pretrained"]), model_spec["pretrained"]
    return data.tokenizer(), "wordpiece"


def example_batch(model: DualEncoder, tokenizer, queries: list[str], positives: list[str], negatives: list[str],
                  cfg: TrainingConfig) -> tuple["pd.DataFrame", float]:
    """One training batch made visible: the score of every query (rows) against every
    candidate it is trained against (columns: the batch's positives, its own on the diagonal,
    when ``cfg.in_batch_negatives``; then the shared random negatives), and the batch's loss as
    the trainer computes it (:func:`contrastive_loss`). Texts are cut at the training lengths."""
    import pandas as pd

    def embed(texts, length):
        enc = tokenizer(list(texts), truncation=True, max_length=length, padding=True, return_tensors="pt")
        return model.encode(enc["input_ids"], enc["attention_mask"])

    was_training = model.training
    model.eval()
    with torch.no_grad():
        q = embed(queries, cfg.max_query_length)
        p = embed(positives, cfg.max_passage_length)
        n = embed(negatives, cfg.max_passage_length)
        # distinct ids: positives 0..B-1, negatives B..B+K-1 (no collisions in an example)
        loss = contrastive_loss(q, p, n, torch.arange(len(p)), torch.arange(len(p), len(p) + len(n)),
                                in_batch=cfg.in_batch_negatives)
        if cfg.in_batch_negatives:
            scores = q @ torch.cat([p, n]).T
        else:
            scores = torch.cat([(q * p).sum(-1, keepdim=True), q @ n.T], dim=1)
    model.train(was_training)
    columns = ([f"positive {i + 1}" for i in range(len(p))] if cfg.in_batch_negatives else ["own positive"]) + \
        [f"negative {j + 1}" for j in range(len(n))]
    return pd.DataFrame(scores.numpy(), columns=columns, index=[f"query {i + 1}" for i in range(len(q))]), float(loss)


def example_batch_of_run(run_dir: str | Path, spec, data, n_queries: int = 4, n_negatives: int = 4,
                         seed: int = 0) -> tuple["pd.DataFrame", float]:
    """:func:`example_batch` with a finished run's kept checkpoint (``run_dir/best``): the first
    ``n_queries`` human training pairs against ``n_negatives`` passages drawn (seeded) from the
    negative pool, cut and scored with the run's settings."""
    best = Path(run_dir) / "best"
    if not (best / CHECKPOINT_CONFIG).is_file():
        raise FileNotFoundError(f"{best}: no kept checkpoint (has the run finished?)")
    pairs = data.subset(n_queries)
    question = dict(zip(data.all_queries["qid"], data.all_queries["text"]))
    text = dict(zip(data.corpus["pid"], data.corpus["text"]))
    rows = np.random.default_rng(seed).choice(data.negative_pool, n_negatives, replace=False)
    tokenizer, _ = run_tokenizer(spec.model, data)
    return example_batch(DualEncoder.load(best), tokenizer, [question[q] for q in pairs["qid"]],
                         [text[p] for p in pairs["pid"]], data.corpus["text"].iloc[rows].tolist(),
                         TrainingConfig(**spec.training))


# ---------------------------------------------------------------- tokenised text

@dataclass
class Tokens:
    """Texts tokenised once: ids (N, max_len) int32, padded with 0; lengths (N,)."""

    ids: np.ndarray
    lengths: np.ndarray

    def batch(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows as (input_ids, attention_mask), trimmed to the longest row (dynamic padding)."""
        width = int(self.lengths[rows].max())
        ids = torch.from_numpy(self.ids[rows, :width].astype(np.int64))
        mask = (torch.arange(width)[None, :] < torch.from_numpy(self.lengths[rows])[:, None]).long()
        return ids, mask


def stacked_batch(*parts: tuple[Tokens, np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of several token arrays (same max length) as one batch, trimmed to its longest row:
    a batch's positives and its shared negatives go through the encoder together."""
    if len({tokens.ids.shape[1] for tokens, _ in parts}) != 1:
        raise ValueError("stacked_batch: the token arrays differ in max length")
    width = max(int(tokens.lengths[rows].max()) for tokens, rows in parts if len(rows))
    ids = torch.from_numpy(np.concatenate([tokens.ids[rows, :width] for tokens, rows in parts]).astype(np.int64))
    lengths = torch.from_numpy(np.concatenate([tokens.lengths[rows] for tokens, rows in parts]))
    mask = (torch.arange(width)[None, :] < lengths[:, None]).long()
    return ids, mask


def tokenize(texts: list[str], tokenizer, max_length: int, batch: int = 4096) -> Tokens:
    ids = np.zeros((len(texts), max_length), dtype=np.int32)
    lengths = np.zeros(len(texts), dtype=np.int64)
    starts = range(0, len(texts), batch)
    for start in tqdm(starts, desc="tokenise", unit="batch", disable=len(starts) < 3, leave=False, mininterval=2):
        enc = tokenizer(texts[start:start + batch], truncation=True, max_length=max_length)["input_ids"]
        for i, row in enumerate(enc, start):
            ids[i, : len(row)] = row
            lengths[i] = len(row)
    if tokenizer.pad_token_id not in (0, None):
        ids[np.arange(max_length)[None, :] >= lengths[:, None]] = tokenizer.pad_token_id
    return Tokens(ids, lengths)


def cached_tokens(data, kind: str, texts: list[str], tokenizer, tokenizer_name: str, max_length: int) -> Tokens:
    """Tokenise once per (dataset, tokenizer, kind, length); the cache lives beside the
    processed data (and goes with it when it is prepared again)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in tokenizer_name)
    path = data.dir / "cache" / f"{safe}-{kind}-{max_length}.npz"
    if path.is_file():
        with np.load(path) as z:
            if len(z["lengths"]) == len(texts):
                return Tokens(z["ids"], z["lengths"])
    tokens = tokenize(texts, tokenizer, max_length)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, ids=tokens.ids, lengths=tokens.lengths)
    return tokens


# ---------------------------------------------------------------- schedule and batches

def learning_rate(cfg: TrainingConfig, step: int) -> float:
    """Linear warmup, then linear decay to 0, cosine decay, or constant."""
    if step < cfg.warmup_steps:
        return cfg.learning_rate * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    if cfg.schedule == "linear":
        return cfg.learning_rate * max(0.0, 1.0 - progress)
    if cfg.schedule == "cosine":
        return cfg.learning_rate * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return cfg.learning_rate


def epoch_batches(lengths: np.ndarray, batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    """One epoch's batches of pair indices: a seeded shuffle, cut into chunks of
    ``BUCKET_CHUNKS`` batches, each chunk sorted by length and cut into batches, batch order
    shuffled again. The last incomplete batch is dropped."""
    n = len(lengths)
    rng = np.random.default_rng([seed, epoch, 1])
    order = rng.permutation(n)
    batches = []
    span = batch_size * BUCKET_CHUNKS
    for start in range(0, n, span):
        chunk = order[start:start + span]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk) - batch_size + 1, batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


class BatchPlan:
    """Step -> (pair indices, negative corpus rows), a pure function of (seed, step)."""

    def __init__(self, lengths: np.ndarray, pool: np.ndarray, cfg: TrainingConfig, seed: int):
        if len(lengths) < cfg.batch_size:
            raise ValueError(f"batch_size {cfg.batch_size} is larger than the {len(lengths)} training pairs")
        self.lengths, self.pool, self.cfg, self.seed = lengths, pool, cfg, seed
        self.per_epoch = len(epoch_batches(lengths, cfg.batch_size, seed, 0))
        self._epoch, self._batches = -1, []

    def __call__(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        epoch, index = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            self._epoch, self._batches = epoch, epoch_batches(self.lengths, self.cfg.batch_size, self.seed, epoch)
        rng = np.random.default_rng([self.seed, step, 2])
        negatives = self.pool[rng.choice(len(self.pool), size=self.cfg.negatives, replace=False)]
        return self._batches[index], negatives


# ---------------------------------------------------------------- encoding and evaluation

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


# ---------------------------------------------------------------- one run

def _log(path: Path, record: dict) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(dumps(record) + "\n")


def _truncate_log(path: Path, step: int) -> None:
    """After a resume, drop log lines written after the saved state."""
    if path.is_file():
        lines = [ln for ln in path.read_text().splitlines() if ln and json.loads(ln).get("step", 0) <= step]
        with atomic_path(path) as tmp:
            tmp.write_text("".join(ln + "\n" for ln in lines))


def _save_state(run_dir: Path, model, optimizer, state: dict) -> None:
    """Resumable state, replaced atomically as one folder."""
    import shutil

    tmp = run_dir / "state.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    model.save(tmp)
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    write_json(tmp / "state.json", state)
    final = run_dir / "state"
    old = run_dir / "state.old"
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    if old.exists():
        shutil.rmtree(old)


def _load_state(run_dir: Path, model, optimizer, device) -> dict | None:
    import shutil

    final, old = run_dir / "state", run_dir / "state.old"
    if not final.exists() and old.exists():  # killed between the two renames
        old.rename(final)
    for leftover in (run_dir / "state.tmp", old):
        if leftover.exists():
            shutil.rmtree(leftover)
    if not (final / "state.json").is_file():
        return None
    loaded = DualEncoder.load(final, device)
    model.load_state_dict(loaded.state_dict())
    optimizer.load_state_dict(torch.load(final / "optimizer.pt", map_location=device, weights_only=True))
    return json.loads((final / "state.json").read_text())


def device_for(cfg: TrainingConfig) -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda")
    torch.set_num_threads(cfg.threads or os.cpu_count() or 1)
    return torch.device("cpu")


def cpu_has_bf16() -> bool:
    """Whether this CPU has bf16 matrix instructions (AVX512-BF16 or AMX); without them autocast
    emulates bf16, which is slower than fp32."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # an older torch without these probes
        return False


def training_precision(cfg: TrainingConfig, device: torch.device) -> str:
    """"bf16" (autocast) or "fp32" for the training steps: ``bf16`` on a GPU, ``cpu_bf16`` on a
    CPU that has bf16 instructions. A CPU without them trains in fp32, with a warning; the
    result records which was used."""
    if device.type == "cuda":
        return "bf16" if cfg.bf16 else "fp32"
    if not cfg.cpu_bf16:
        return "fp32"
    if not cpu_has_bf16():
        warnings.warn("training.cpu_bf16 is set but this CPU has no bf16 instructions (AVX512-BF16 or AMX): "
                      "training in fp32 instead")
        return "fp32"
    return "bf16"


def build_model(model_spec: dict, vocab_size: int, cfg: TrainingConfig, seed: int,
                runs_dir: Path | None = None) -> DualEncoder:
    if "pretrained" in model_spec:
        model = DualEncoder.from_pretrained(model_spec["pretrained"], cfg.projection_dim, seed=seed)
    elif "init" in model_spec:  # the kept checkpoint of this shape's pretraining run, beside this run
        best = Path(runs_dir or ".") / model_spec["init"] / "best"
        if not (best / CHECKPOINT_CONFIG).is_file():
            raise FileNotFoundError(f"{best}: no checkpoint of the pretraining run {model_spec['init']}, which this "
                                    f"run starts from (did that run fail? see its error.json)")
        model = DualEncoder.load(best)
        if (model.backbone.config.num_hidden_layers, model.backbone.config.hidden_size) != \
                (model_spec["layers"], model_spec["hidden"]):
            raise ValueError(f"{best}: a checkpoint of another shape than L{model_spec['layers']}-H{model_spec['hidden']}")
        return model  # its projection is the pretraining's
    else:
        model = DualEncoder.from_shape(model_spec["layers"], model_spec["hidden"], vocab_size, cfg.projection_dim,
                                       seed=seed)
    # a new projection: "torch" is how nn.Linear has just drawn it (redrawing would move the generator)
    return model if cfg.projection_init == "torch" else model.init_projection(cfg.projection_init)


# ---------------------------------------------------------------- a run's stages

@dataclass
class RunTexts:
    """A run's tokenised texts: every query and every corpus passage (cached per dataset and
    tokenizer), and the maps from query and passage ids to their rows."""

    tokenizer: object
    queries: Tokens
    passages: Tokens
    query_row: dict
    corpus_row: dict


def run_texts(data, model_spec: dict, cfg: TrainingConfig) -> RunTexts:
    tokenizer, name = run_tokenizer(model_spec, data)
    queries = data.all_queries
    passages = cached_tokens(data, "passages", data.corpus["text"].tolist(), tokenizer, name, cfg.max_passage_length)
    return RunTexts(tokenizer,
                    cached_tokens(data, "queries", queries["text"].tolist(), tokenizer, name, cfg.max_query_length),
                    passages, {q: i for i, q in enumerate(queries["qid"])},
                    {p: i for i, p in enumerate(data.corpus["pid"])})


@dataclass
class TrainingPairs:
    """What the trainer learns from, whatever made the pairs: each pair's query (a row of
    ``query_tokens``), its positive (a row of ``positive_tokens``) and the positive's corpus row
    (so that it is never its own query's negative); ``frame`` is the pairs as stored."""

    query_tokens: Tokens
    query_rows: np.ndarray
    positive_tokens: Tokens
    positive_rows: np.ndarray
    corpus_rows: np.ndarray
    frame: object

    def __len__(self) -> int:
        return len(self.frame)


def training_pairs(data, spec, texts: RunTexts, cfg: TrainingConfig) -> TrainingPairs:
    """The run's training pairs: the first ``n_train`` human pairs (rows of the cached texts),
    or another annotation method's pairs (made once and kept under data/processed/, tokenised
    here). The one place that knows annotation methods; the trainer only sees the pairs."""
    if spec.annotation == "human" and not getattr(spec, "annotation_options", None):
        pairs = data.subset(spec.n_train)
        corpus_rows = np.array([texts.corpus_row[p] for p in pairs["pid"]])
        return TrainingPairs(texts.queries, np.array([texts.query_row[q] for q in pairs["qid"]]), texts.passages,
                             corpus_rows, corpus_rows, pairs)
    from .annotate import stored_pairs

    pairs = stored_pairs(data, spec.annotation, spec.n_train, spec.seed, spec.annotation_options)
    own = np.arange(len(pairs))
    return TrainingPairs(tokenize(pairs["query"].tolist(), texts.tokenizer, cfg.max_query_length), own,
                         tokenize(pairs["positive"].tolist(), texts.tokenizer, cfg.max_passage_length), own,
                         np.array([texts.corpus_row[p] for p in pairs["pid"]]), pairs)


def new_optimizer(model: DualEncoder, cfg: TrainingConfig, device: torch.device) -> torch.optim.Optimizer:
    """AdamW, weight decay on matrices only (not on biases and LayerNorm weights)."""
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.learning_rate, fused=device.type == "cuda",
    )


def train_loop(model: DualEncoder, optimizer, pairs: TrainingPairs, negatives_from: Tokens, negative_pool: np.ndarray,
               check: Evaluator, cfg: TrainingConfig, seed: int, run_dir: Path, device: torch.device,
               label: str = "") -> dict:
    """Train ``model`` on ``pairs`` (negatives: rows of ``negatives_from`` drawn from
    ``negative_pool``) from the run's saved state if there is one, keeping the best check's
    checkpoint (the latest check's with ``cfg.keep == "last"``) in ``run_dir/best`` and saving
    resumable state at every check. Returns the final
    state: status (running = finished its steps, not_learning, nan_loss), step, best, best_step,
    train_seconds, precision."""
    plan = BatchPlan(pairs.positive_tokens.lengths[pairs.positive_rows] + pairs.query_tokens.lengths[pairs.query_rows],
                     negative_pool, cfg, seed)
    log_path = run_dir / "log.jsonl"
    state = _load_state(run_dir, model, optimizer, device) or {
        "step": 0, "best": None, "best_step": None, "train_seconds": 0.0, "status": "running",
    }
    _truncate_log(log_path, state["step"])
    chance_eval = math.log(check.draws.shape[-1] + 1)
    chance_train = math.log(cfg.negatives + (cfg.batch_size if cfg.in_batch_negatives else 1))
    precision = training_precision(cfg, device)
    use_bf16 = precision == "bf16"

    model.train()
    started = time.time() - state["train_seconds"]
    running, seen = 0.0, 0
    bar = tqdm(total=cfg.steps, initial=state["step"], desc=f"train {label}", mininterval=2)
    step = state["step"]
    while step < cfg.steps and state["status"] == "running":
        rows, negatives = plan(step)
        torch.manual_seed(seed * 1_000_003 + step)  # dropout: a function of (seed, step)
        q_ids, q_mask = pairs.query_tokens.batch(pairs.query_rows[rows])
        p_ids, p_mask = stacked_batch((pairs.positive_tokens, pairs.positive_rows[rows]), (negatives_from, negatives))
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(cfg, step)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
            q = model.encode(q_ids.to(device), q_mask.to(device))
            p = model.encode(p_ids.to(device), p_mask.to(device))
        b = len(rows)
        loss = contrastive_loss(q.float(), p[:b].float(), p[b:].float(),
                                torch.from_numpy(pairs.corpus_rows[rows]).to(device),
                                torch.from_numpy(negatives).to(device), cfg.in_batch_negatives)
        if not torch.isfinite(loss):
            state["status"] = "nan_loss"
            _log(log_path, {"step": step, "event": "nan_loss"})
            break
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
        optimizer.step()
        step += 1
        running, seen = running + loss.item(), seen + 1
        bar.update(1)
        if step % cfg.eval_every == 0 or step == cfg.steps:
            value = float(check(model, device, bf16=cfg.eval_bf16).mean())
            train_loss = running / seen
            running, seen = 0.0, 0
            if cfg.keep == "last" or state["best"] is None or value < state["best"]:
                state["best"], state["best_step"] = value, step
                model.save(run_dir / "best")
            state["step"], state["train_seconds"] = step, time.time() - started
            _log(log_path, {"step": step, "train_loss": train_loss, f"{cfg.select_on}_cll_check": value,
                            "lr": learning_rate(cfg, step - 1), "seconds": round(state["train_seconds"], 1)})
            bar.set_postfix(loss=f"{train_loss:.3f}", cll=f"{value:.3f}", best=f"{state['best']:.3f}")
            # not learning: past twice the warmup (and a fifth of the run), both the training
            # loss and the best check are still within stall_margin of chance
            if step >= max(2 * cfg.warmup_steps, cfg.steps // 5) and train_loss > chance_train - cfg.stall_margin \
                    and state["best"] > chance_eval - cfg.stall_margin:
                state["status"] = "not_learning"
                _log(log_path, {"step": step, "event": "not_learning", "chance": chance_eval})
            _save_state(run_dir, model, optimizer, state)
    bar.close()
    return {**state, "step": step, "train_seconds": time.time() - started, "precision": precision}


def checkpoint_position(cfg: TrainingConfig, best_step: int | None, n_pairs: int) -> dict:
    """Where the kept checkpoint lies among the run's checks: a best check that is the run's
    first or last says the run did not reach its validation optimum inside its budget (or
    reached it at once)."""
    checks = [s for s in range(1, cfg.steps + 1) if s % cfg.eval_every == 0 or s == cfg.steps]
    if best_step not in checks:
        return {}
    return {"checks": len(checks), "best_check": checks.index(best_step) + 1,
            "best_pass": round(best_step * cfg.batch_size / n_pairs, 3)}


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


def train_and_evaluate(spec, run_dir: str | Path, evaluate: bool = True) -> dict:
    """Train the run described by ``spec`` (a grid RunSpec) in ``run_dir``, resuming from its
    saved state if there is one, then evaluate the kept checkpoint. Returns the result
    (status ok / not_learning / nan_loss, metrics, counts, timings). The stages:
    :func:`run_texts`, :func:`training_pairs`, :func:`train_loop` (with :func:`periodic_evaluator`
    as its check), :func:`evaluate_checkpoint` (left out with ``evaluate=False``: the bench,
    which times the training alone)."""
    from .datasets import ProcessedData
    from .provenance import TRAINER_VERSION

    run_dir = Path(run_dir)
    planned_for = getattr(spec, "trainer_version", TRAINER_VERSION)
    if planned_for != TRAINER_VERSION:
        raise RuntimeError(f"run {getattr(spec, 'run_id', '')} was planned for trainer version {planned_for}, "
                           f"but this trainer is version {TRAINER_VERSION}: plan the grid again")
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg = TrainingConfig(**spec.training)
    data = ProcessedData(paths.processed_dir(spec.dataset))
    if spec.data_key and data.manifest["key"] != spec.data_key:
        raise RuntimeError(f"{data.dir} was prepared again since this run was planned (data key changed)")
    device = device_for(cfg)

    texts = run_texts(data, spec.model, cfg)
    pairs = training_pairs(data, spec, texts, cfg)
    check = periodic_evaluator(data, cfg.select_on, texts.corpus_row, texts.queries, texts.query_row, texts.passages,
                               cfg, spec.seed)
    model = build_model(spec.model, len(texts.tokenizer), cfg, spec.seed, run_dir.parent).to(device)
    if cfg.dropout is not None:
        set_dropout(model, cfg.dropout)
    state = train_loop(model, new_optimizer(model, cfg, device), pairs, texts.passages, data.negative_pool, check,
                       cfg, spec.seed, run_dir, device, label=getattr(spec, "run_id", ""))

    result = {
        "status": "ok" if state["status"] == "running" else state["status"],
        "steps": state["step"], "best_step": state["best_step"], "train_seconds": round(state["train_seconds"], 1),
        "selected_on": cfg.select_on, f"{cfg.select_on}_cll_check_best": state["best"], "kept": cfg.keep,
        "device": str(device), "torch_threads": torch.get_num_threads(), "precision": state["precision"],
        "train_pairs": len(pairs), "train_passages": int(len(np.unique(pairs.corpus_rows))),
        **checkpoint_position(cfg, state["best_step"], len(pairs)),
    }
    if "noisy" in pairs.frame:
        result["noisy_pairs"] = int(pairs.frame["noisy"].sum())
    if result["status"] == "nan_loss" or state["best_step"] is None or not evaluate:
        result.update(n_params=count_nonembedding_params(model), n_params_paper_code=count_params_as_paper_code(model))
        return result
    best = DualEncoder.load(run_dir / "best", device)
    result.update(n_params=count_nonembedding_params(best), n_params_paper_code=count_params_as_paper_code(best))
    result.update(evaluate_checkpoint(best, data, texts, cfg, device, run_dir))
    return result


def rank_test_queries(data, test_query_emb: dict, passage_emb: torch.Tensor) -> dict:
    """MRR@10, nDCG@10, Recall@10/100 of the test queries (qid -> embedding) over the whole corpus
    (exact search, then :func:`drscaling.ranking.ranking_metrics`, the one metrics function)."""
    from .ranking import evaluate_ranking

    qids = data.queries("test")["qid"].tolist()
    metrics = evaluate_ranking(torch.stack([test_query_emb[q] for q in qids]), qids, passage_emb,
                               data.corpus["pid"].tolist(), data.qrels("test"), k=100)
    return {k: v for k, v in metrics.items() if k != "n_queries"}


__all__ = ["contrastive_loss", "example_batch", "example_batch_of_run", "run_tokenizer", "train_and_evaluate",
           "run_texts", "RunTexts", "training_pairs", "TrainingPairs", "new_optimizer", "train_loop",
           "checkpoint_position", "evaluate_checkpoint", "learning_rate", "epoch_batches", "BatchPlan", "Tokens",
           "stacked_batch", "tokenize", "encode", "Evaluator"]
