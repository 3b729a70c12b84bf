"""This machine's wall time for a profile's pending runs (``make plan``, notebooks 02 and 04):
each shape's training step, forward pass and a one-step run's overhead timed here
(:mod:`drscaling.step_times`, cached), the runs' steps and checks counted from the plan, and the
executor's schedule over its workers (:func:`makespan`). The GPU estimate is
:mod:`drscaling.estimate`'s."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .estimate import checkpoint_shape, local_config

# A shape whose step would take longer than this at the measured peak is not timed (its FLOPs at
# the peak stand in, a lower bound): make plan of a GPU profile on a laptop stays a matter of seconds.
MAX_TIMED_STEP_SECONDS = 1.0


@dataclass(frozen=True)
class Widths:
    """Token widths of a run's work: training batches as the trainer pads them (each batch to
    its longest text), and the mean text length that evaluation encodes (length-sorted batches
    carry little padding)."""

    train_query: int
    train_passage: int
    eval_query: float
    eval_passage: float
    source: str
    check_queries: int  # what a periodic check encodes: its pairs' queries, and their positives
    check_passages: int  # with its sub-pool of negatives (drscaling.evaluate.periodic_evaluator)


def widths(profile, data=None) -> Widths:
    """The widths of the profile's human pairs, from the prepared data (its tokenised texts,
    cached for the runs anyway), the batches of one epoch over the largest D, and shared
    negatives drawn from the pool; the maximum lengths where the data is not prepared."""
    cfg = profile.training
    if data is None:
        return Widths(cfg.max_query_length, cfg.max_passage_length, cfg.max_query_length, cfg.max_passage_length,
                      "the maximum lengths (data not prepared)", cfg.eval_pairs, cfg.eval_pairs + cfg.eval_pool)
    from .tokens import run_texts

    texts = run_texts(data, {}, cfg)
    pairs = data.subset(max(profile.data.subset_sizes))
    q = texts.queries.lengths[[texts.query_row[x] for x in pairs["qid"]]]
    p = texts.passages.lengths[[texts.corpus_row[x] for x in pairs["pid"]]]
    query_w, passage_w = padded_widths(q, p, texts.passages.lengths[data.negative_pool], cfg.batch_size, cfg.negatives)
    eval_rows = data.all_queries.index[data.all_queries["split"].isin(["test", "validation"])].to_numpy()
    checked = data.qrels(cfg.select_on).head(cfg.eval_pairs)  # positives are never in the negative pool
    return Widths(round(query_w), round(passage_w), float(texts.queries.lengths[eval_rows].mean()),
                  float(texts.passages.lengths.mean()), "the prepared data's human pairs", len(checked),
                  int(checked["pid"].nunique()) + min(cfg.eval_pool, len(data.negative_pool)))


def padded_widths(query_lengths, positive_lengths, pool_lengths, batch_size: int, negatives: int) -> tuple[float, float]:
    """The mean widths of one epoch's training batches as the trainer pads them
    (``drscaling.train.epoch_batches``: length-bucketed batches of pairs; each batch's queries
    padded to the longest of them, its positives and ``negatives`` shared negatives drawn from
    the pool to the longest of those): (query width, passage width)."""
    import numpy as np

    from .train import epoch_batches

    q, p = np.asarray(query_lengths), np.asarray(positive_lengths)
    rng = np.random.default_rng(0)
    batches = epoch_batches(q + p, batch_size, 0, 0)
    query_w = np.mean([q[b].max() for b in batches])
    passage_w = np.mean([max(p[b].max(), pool_lengths[rng.choice(len(pool_lengths), negatives)].max() if negatives else 0)
                         for b in batches])
    return float(query_w), float(passage_w)


def _shape_of(model: dict, vocab_size: int) -> tuple[int, int, int | None, int] | None:
    """(layers, hidden, intermediate, vocabulary) of a run's model; None when unknown here."""
    if "layers" in model:
        return model["layers"], model["hidden"], None, vocab_size
    shape, _ = checkpoint_shape(model["pretrained"])
    if shape is None:
        return None
    config = local_config(model["pretrained"])
    vocab = vocab_size
    if config is not None:
        import json

        vocab = json.loads(config.read_text()).get("vocab_size", vocab_size)
    return (*shape, vocab)


def cpu_run_seconds(spec, w: Widths, eval_texts: tuple[int, int] | None, vocab_size: int) -> dict:
    """This machine's seconds for one run, from measured step and forward times (drscaling.step_times):
    the training steps, the periodic checks (their queries, and their positives with a sub-pool
    of negatives, encoded) and the final evaluation (every corpus passage and every evaluated query encoded).
    ``timed`` is False where the step would be too slow to time (then: its FLOPs at the
    measured fp32 peak, a lower bound)."""
    import os
    import warnings

    import torch

    from . import step_times
    from .config import TrainingConfig
    from .flops import encode_forward_flops, train_step_flops
    from .device import training_precision

    t = TrainingConfig(**spec.training)
    shape = _shape_of(spec.model, vocab_size)
    if shape is None:
        return {"train": None, "checks": None, "evaluation": None, "timed": False}
    layers, hidden, intermediate, vocab = shape
    threads = t.threads or os.cpu_count() or 1
    with warnings.catch_warnings():  # the fp32 fallback's warning, once a run, says nothing new here
        warnings.simplefilter("ignore")
        precision = training_precision(t, torch.device("cpu"))
    passages = t.batch_size + t.negatives
    scored = passages if t.in_batch_negatives else t.negatives
    flops = train_step_flops(layers, hidden, t.batch_size, w.train_query, passages, w.train_passage, intermediate,
                             t.projection_dim, scored)
    peak = step_times.matmul_peak("fp32", threads)
    timed = flops / peak <= MAX_TIMED_STEP_SECONDS
    if timed:
        work = step_times.Workload(t.batch_size, t.negatives, t.in_batch_negatives, w.train_query, w.train_passage,
                                   precision, threads, vocab, t.projection_dim)
        step = step_times.train_step_seconds(layers, hidden, work, intermediate)
        fwd_q = step_times.forward_seconds(layers, hidden, max(1, round(w.eval_query)), threads, vocab, intermediate)
        fwd_p = step_times.forward_seconds(layers, hidden, max(1, round(w.eval_passage)), threads, vocab, intermediate)
    else:
        step = flops / peak
        fwd_q = encode_forward_flops([round(w.eval_query)], layers, hidden, intermediate) / peak
        fwd_p = encode_forward_flops([round(w.eval_passage)], layers, hidden, intermediate) / peak
    n_checks = math.ceil(t.steps / t.eval_every)
    checks = n_checks * (w.check_queries * fwd_q + w.check_passages * fwd_p)
    evaluation = None if eval_texts is None else eval_texts[0] * fwd_p + eval_texts[1] * fwd_q
    return {"train": t.steps * step, "checks": checks, "evaluation": evaluation, "timed": timed,
            "step_seconds": step, "precision": precision}


def run_overhead_seconds(profile, data, w: Widths, eval_texts: tuple[int, int]) -> float:
    """What a run costs besides its steps, checks and encoding (loading the data and the cached
    texts, building the model, saving checkpoints, scoring the stored CLL draws, ranking the
    corpus, writing the results): the wall time of a one-step run of the profile's smallest
    shape trained here by the real trainer (the second of two: a worker's later runs find their
    modules imported), less that run's own steps, check and encoding as
    :func:`cpu_run_seconds` estimates them. Measured once per machine and prepared data (cached)."""
    import dataclasses
    import tempfile
    import time
    from types import SimpleNamespace

    from . import step_times
    from .config import TrainingConfig
    from .train import train_and_evaluate

    shapes = [s for s in (*profile.grid.model_size_shapes, profile.grid.data_size_shape, *profile.grid.joint_shapes,
                          profile.grid.annotation_shape) if s and "layers" in s]
    if not shapes:
        return 0.0
    shape = min(shapes, key=lambda s: (s["layers"] * s["hidden"], s["hidden"]))
    training = dataclasses.replace(profile.training, steps=1, eval_every=1, warmup_steps=0, passes=None,
                                   checks_per_pass=None, warmup_fraction=None, min_steps=0, stall_margin=-100.0)
    spec = SimpleNamespace(dataset=data.dir.name, data_key=data.manifest["key"], annotation="human", run_id="overhead",
                           model={"layers": shape["layers"], "hidden": shape["hidden"]},
                           n_train=min(profile.data.subset_sizes), seed=0, training=dataclasses.asdict(training))

    def measure() -> float:
        for _ in range(2):  # the second: a worker runs many runs, and pays its imports once
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                train_and_evaluate(spec, tmp)
                wall = time.perf_counter() - t0
        parts = cpu_run_seconds(spec, w, eval_texts, profile.data.vocab_size)
        return max(0.0, wall - sum(parts[k] for k in ("train", "checks", "evaluation")))

    key = {"machine": step_times.machine_key("fp32", TrainingConfig(**spec.training).threads),
           "data_key": data.manifest["key"], "model": spec.model, "training": spec.training}
    return step_times.cached("run_overhead", key, measure)


def makespan(runs: list, seconds: dict[str, float], workers: int) -> float:
    """Wall seconds of running ``runs`` (PlannedRun) as the local executor does
    (drscaling.grid.execute.run_grid): the pretraining runs first, then the rest; within each
    stage, with several workers, in the executor's ``launch_order``, each run to the first free
    worker."""
    from .grid.execute import launch_order, run_stages

    total = 0.0
    for stage in run_stages(list(runs)):
        if workers > 1 and len(stage) > 1:
            stage = launch_order(stage)
            free = [0.0] * workers
            for p in stage:
                i = free.index(min(free))
                free[i] += seconds[p.run_id]
            total += max(free)
        else:
            total += sum(seconds[p.run_id] for p in stage)
    return total


def machine_estimate(profile, data=None, progress: bool = True) -> dict:
    """This machine's wall time for the profile's pending runs, notebook by notebook (02: the
    laws' grid; 04: the annotation study's runs that 02 does not train), from step and forward
    times measured here (cached). Each run's seconds, the totals over ``grid.workers``, and how
    the figures were reached. None on a machine with a GPU: the runs train there, not on the
    CPU timed here (``plan_report`` gives the GPU estimate)."""
    import torch
    from tqdm.auto import tqdm

    if torch.cuda.is_available():
        return None

    from . import grid
    from .provenance import cpu_model
    from .step_times import cache_path

    key = data.manifest["key"] if data is not None else "unprepared"
    main = grid.plan_grid(profile, key)
    main_ids = {p.run_id for p in main}
    annotation = [p for p in grid.plan_grid(profile, key, sweeps=("annotation",)) if p.run_id not in main_ids]
    root = grid.runs_dir(profile)
    w = widths(profile, data)
    eval_texts = None
    if data is not None:
        eval_texts = (len(data.corpus), int(data.all_queries["split"].isin(["test", "validation"]).sum()))
    overhead = 0.0 if data is None else run_overhead_seconds(profile, data, w, eval_texts)
    per_run, parts = {}, {}
    for p in tqdm(main + annotation, desc="time steps here", disable=not progress, leave=False):
        if grid.is_done(root / p.run_id):
            continue
        part = cpu_run_seconds(p.spec, w, eval_texts, profile.data.vocab_size)
        parts[p.run_id] = part
        per_run[p.run_id] = overhead + sum(part[k] or 0.0 for k in ("train", "checks", "evaluation"))
    workers = profile.grid.workers if profile.grid.executor == "local" else 1
    notebooks = {}
    for name, runs in (("02_train_grid", main), ("04_annotation_quality", annotation)):
        pending = [p for p in runs if p.run_id in per_run]
        notebooks[name] = {"runs": len(runs), "pending": len(pending),
                           "seconds": makespan(pending, per_run, workers) if pending else 0.0}
    precisions = sorted({p["precision"] for p in parts.values() if "precision" in p})
    return {"profile": profile.name, "machine": cpu_model(),
            "precision": precisions, "workers": workers, "widths": w.__dict__, "notebooks": notebooks,
            "seconds": sum(n["seconds"] for n in notebooks.values()), "per_run": per_run,
            "run_overhead_seconds": overhead,
            "per_run_parts": {k: {n: v.get(n) for n in ("train", "checks", "evaluation", "step_seconds")}
                              for k, v in parts.items()},
            "untimed_runs": sorted(k for k, v in parts.items() if not v["timed"]),
            "evaluation_included": eval_texts is not None, "cache": str(cache_path())}


def format_machine_estimate(est: dict) -> str:
    """The estimate in a few lines."""
    def minutes(s: float) -> str:
        return f"{s / 60:.1f} min"

    lines = [(f"estimate for this machine ({est['machine']}; training in {', '.join(est['precision']) or 'fp32'}; "
              f"{est['workers']} run(s) at a time): {minutes(est['seconds'])} for the pending runs")]
    for name, n in est["notebooks"].items():
        lines.append(f"  {name}: {n['pending']} of {n['runs']} runs pending, {minutes(n['seconds'])}")
    lines.append(f"  from steps and forward passes timed here (cached in {est['cache']}), at token widths from "
                 f"{est['widths']['source']}, and {est['run_overhead_seconds']:.1f} s a run for loading, "
                 f"checkpoints and scoring (a one-step run timed here); the other stages (data preparation, evaluation tables, fits) "
                 f"are not included")
    if not est["evaluation_included"]:
        lines.append("  final evaluations not included: their cost grows with the corpus, known once the data is prepared")
    if est["untimed_runs"]:
        lines.append(f"  {len(est['untimed_runs'])} run(s) too slow to time here: their FLOPs at the measured "
                     f"matrix-multiply peak, a lower bound")
    return "\n".join(lines)
