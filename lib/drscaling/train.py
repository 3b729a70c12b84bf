"""Training one run of the grid: the paper's contrastive objective (:mod:`drscaling.loss`), AdamW
with warmup, periodic validation CLL with the best checkpoint kept, resumable state, then the
full evaluation (:mod:`drscaling.evaluate`).

Speed: texts are tokenised once per dataset (:mod:`drscaling.tokens`), with batches built from
length-sorted chunks (length bucketing). Every random choice of a step is a function of
(seed, step), so a resumed run continues exactly where it stopped and the same spec and seed
give the same result on the CPU.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm.auto import tqdm

from .annotation.pairs import stored_pairs
from .config import TrainingConfig
from .device import training_precision
from .evaluate import Evaluator, evaluate_checkpoint, periodic_evaluator, run_inputs
from .fileio import atomic_path, dumps, write_json
from .loss import contrastive_loss
from .model import CHECKPOINT_CONFIG, DualEncoder, count_nonembedding_params, count_params_as_paper_code, set_dropout
from .provenance import TRAINER_VERSION
from .tokens import RunTexts, Tokens, run_tokenizer, stacked_batch, tokenize

if TYPE_CHECKING:  # annotations only
    import pandas as pd

BUCKET_CHUNKS = 50  # batches per length-sorted chunk


# ---------------------------------------------------------------- a batch made visible

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

def train_and_evaluate(spec, run_dir: str | Path, evaluate: bool = True) -> dict:
    """Train the run described by ``spec`` (a grid RunSpec) in ``run_dir``, resuming from its
    saved state if there is one, then evaluate the kept checkpoint. Returns the result
    (status ok / not_learning / nan_loss, metrics, counts, timings). The stages:
    :func:`run_texts`, :func:`training_pairs`, :func:`train_loop` (with :func:`periodic_evaluator`
    as its check), :func:`evaluate_checkpoint` (left out with ``evaluate=False``: the bench,
    which times the training alone)."""
    run_dir = Path(run_dir)
    planned_for = getattr(spec, "trainer_version", TRAINER_VERSION)
    if planned_for != TRAINER_VERSION:
        raise RuntimeError(f"run {getattr(spec, 'run_id', '')} was planned for trainer version {planned_for}, "
                           f"but this trainer is version {TRAINER_VERSION}: plan the grid again")
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg, data, device, texts = run_inputs(spec)
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
