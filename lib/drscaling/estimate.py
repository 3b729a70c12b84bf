"""What a profile's plan needs and costs, before anything runs (``make plan``,
``python -m drscaling plan``): every run of every sweep and whether it is done, the data files
and the checkpoints it needs and whether each is on this machine, and an estimate of GPU time.
Nothing is downloaded or trained, and no network is used.

The GPU estimate comes from step times measured on an H200 in bf16 (../shared/DESIGN.md, "On a
GPU"), with the paper's workload (batch 128 queries + 256 shared negatives, query 32 / passage
180 tokens): L4-H256 (3.4M non-embedding parameters) 3,000 steps in 96 s and L8-H512 (25.6M)
2,000 steps in 147 s, periodic checks included. A line through the two, ``a + b N`` seconds a
step, gives BERT-base (85.6M) 0.186 s, against 0.146 s measured for a plain bf16 loop: expect the
estimate to be within about 30%. Other workloads scale with the tokens a step encodes. Final
evaluation encodes the corpus and the evaluated queries once per run, at the forward cost per
token implied by the same line (a training step costs about three forward passes).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from . import paths

STEP_SECONDS_FIXED = 0.0256  # a + b N through (3.4M, 0.032 s) and (25.6M, 0.0735 s)
STEP_SECONDS_PER_PARAM = 1.87e-9
REFERENCE_TOKENS = 128 * 32 + (128 + 256) * 180  # tokens a step of the measured workload encodes
FORWARD_SHARE = 1 / 3  # of a training step's time per token: forward, against forward + backward
PROJECTION_DIM = 768

# The published shapes of the ERNIE 3.0 models the paper-t2ranking profile names, for when a
# checkpoint is not on this machine (its config.json is read instead when it is):
# (layers, hidden, intermediate)
KNOWN_SHAPES = {
    "nghuyong/ernie-3.0-nano-zh": (4, 312, 1248),
    "nghuyong/ernie-3.0-micro-zh": (4, 384, 1536),
    "nghuyong/ernie-3.0-mini-zh": (6, 384, 1536),
    "nghuyong/ernie-3.0-medium-zh": (6, 768, 3072),
    "nghuyong/ernie-3.0-base-zh": (12, 768, 3072),
}


def nonembedding_params(layers: int, hidden: int, intermediate: int | None = None,
                        projection_dim: int = PROJECTION_DIM) -> int:
    """N as ``drscaling.model.count_nonembedding_params`` counts it, from the shape: per layer
    attention 4H^2 + 4H, two LayerNorms 4H, feed-forward 2HI + I + H; plus the projection."""
    i = 4 * hidden if intermediate is None else intermediate
    return layers * (4 * hidden * hidden + 2 * hidden * i + 9 * hidden + i) + hidden * projection_dim + projection_dim


# ---------------------------------------------------------------- what is on this machine

def local_config(name_or_path: str) -> Path | None:
    """The config.json of a checkpoint folder, or of a hub id in the local cache; never fetched."""
    folder = Path(name_or_path)
    if folder.is_dir():
        return folder / "config.json" if (folder / "config.json").is_file() else None
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(name_or_path, "config.json")
    except Exception:  # not a valid repo id
        return None
    return Path(found) if isinstance(found, str) else None


def checkpoint_shape(name_or_path: str) -> tuple[tuple[int, int, int | None] | None, str]:
    """(layers, hidden, intermediate) of a pretrained checkpoint and where it came from: its
    config.json where it is on this machine, else its name (Google's ``L-<l>_H-<h>`` miniatures)
    or KNOWN_SHAPES; (None, reason) when none says."""
    import json

    config = local_config(name_or_path)
    if config is not None:
        c = json.loads(config.read_text())
        return (c["num_hidden_layers"], c["hidden_size"], c.get("intermediate_size")), "config.json"
    m = re.search(r"L-(\d+)_H-(\d+)", name_or_path)
    if m:
        return (int(m.group(1)), int(m.group(2)), None), "its name"
    if name_or_path in KNOWN_SHAPES:
        return KNOWN_SHAPES[name_or_path], "the published shape"
    return None, "not on this machine, and its name gives no shape"


def data_sources(profile) -> list[dict]:
    """The profile's source files: name, the path found (None: missing) and where it looked."""
    from .datasets.download import find_file

    cfg = profile.data
    dirs = [paths.resolve(d) for d in cfg.search_dirs]
    if cfg.route == "ir_datasets":
        return [{"file": "(ir_datasets)", "path": None, "note": "downloaded by ir_datasets on first use"}]
    if cfg.source == "squad":
        names = {k: cfg.files[k] for k in ("train", "test") if k in cfg.files}
    else:
        from .datasets.processed import source_file_names

        names = source_file_names(cfg)
    looked = ", ".join(map(str, dirs))
    return [{"file": name, "path": find_file(name, dirs), "note": f"looked in {looked}"} for name in names.values()]


# ---------------------------------------------------------------- the estimate

@dataclass(frozen=True)
class RunEstimate:
    run_id: str
    n_params: int | None
    steps: int
    train_seconds: float | None
    eval_seconds: float | None


def step_seconds(n_params: int, tokens_per_step: float) -> float:
    """GPU seconds of one training step (bf16, an H200-class GPU; see the module's note)."""
    return (STEP_SECONDS_FIXED + STEP_SECONDS_PER_PARAM * n_params) * tokens_per_step / REFERENCE_TOKENS


def run_estimate(spec, n_params: int | None, eval_texts: tuple[int, int] | None) -> RunEstimate:
    """GPU seconds of one run: its training steps with their periodic checks, and its final
    evaluation of ``eval_texts`` = (corpus passages, evaluated queries), when known."""
    t = spec.training
    tokens = t["batch_size"] * t["max_query_length"] + (t["batch_size"] + t["negatives"]) * t["max_passage_length"]
    if n_params is None:
        return RunEstimate(spec.run_id, None, t["steps"], None, None)
    per_step = step_seconds(n_params, tokens)
    per_token = FORWARD_SHARE * per_step / tokens  # one forward token
    checks = math.ceil(t["steps"] / t["eval_every"])
    check_tokens = t["eval_pairs"] * t["max_query_length"] + t["eval_pool"] * t["max_passage_length"]
    train = t["steps"] * per_step + checks * check_tokens * per_token
    evaluation = None
    if eval_texts is not None:
        passages, queries = eval_texts
        evaluation = (passages * t["max_passage_length"] + queries * t["max_query_length"]) * per_token
    return RunEstimate(spec.run_id, n_params, t["steps"], train, evaluation)


def plan_report(profile) -> dict:
    """Everything ``make plan`` prints: the runs (all sweeps) with their state and estimate,
    the data and checkpoints needed and whether each is at hand, and the totals."""
    import json

    from . import grid

    manifest = profile.processed_dir / "manifest.json"
    prepared = manifest.is_file()
    meta = json.loads(manifest.read_text()) if prepared else {}
    key = meta.get("key", "unprepared")
    planned = grid.plan_grid(profile, key, sweeps=grid.SWEEPS)
    table = grid.plan_table(profile, planned)
    counts = meta.get("counts") or {}
    eval_texts = None
    if prepared and "corpus" in counts:
        eval_texts = (counts["corpus"], counts.get("test_pairs", 0) + counts.get("validation_pairs", 0))

    rows, checkpoints, shapes = [], {}, {}
    for p, state in zip(planned, table["state"]):
        model = p.spec.model
        if "pretrained" in model:
            name = model["pretrained"]
            if name not in shapes:
                shapes[name] = checkpoint_shape(name)
                checkpoints[name] = shapes[name][1] == "config.json"  # read from this machine: at hand
            shape, _ = shapes[name]
            n = None if shape is None else nonembedding_params(*shape)
        else:
            n = nonembedding_params(model["layers"], model["hidden"])
        est = run_estimate(p.spec, n, eval_texts)
        rows.append({"run_id": p.run_id, "model": p.spec.model_name, "n_params": n, "n_train": p.spec.n_train,
                     "seed": p.spec.seed, "steps": est.steps, "sweeps": ",".join(p.sweeps), "state": state,
                     "gpu_minutes": None if est.train_seconds is None else
                     round((est.train_seconds + (est.eval_seconds or 0.0)) / 60, 1)})
    generators = {}  # query generators of the annotation study: at hand or not
    for p in planned:
        path = p.spec.annotation_options.get("model_path")
        if p.spec.annotation == "generated" and path and path not in generators:
            generators[path] = local_config(path) is not None

    def total(selected):
        known = [r for r in selected if r["gpu_minutes"] is not None]
        return sum(r["gpu_minutes"] for r in known) / 60, len(selected) - len(known)

    pending = [r for r in rows if r["state"] != "done"]
    hours_all, unknown_all = total(rows)
    hours_pending, unknown_pending = total(pending)
    return {
        "profile": profile.name, "runs": rows, "prepared": prepared, "processed_dir": str(profile.processed_dir),
        "sources": data_sources(profile), "checkpoints": {k: {"at_hand": v, "shape_from": shapes[k][1]}
                                                          for k, v in checkpoints.items()},
        "generators": generators, "evaluation_estimated": eval_texts is not None,
        "gpu_hours": {"all": hours_all, "pending": hours_pending,
                      "runs_without_estimate": {"all": unknown_all, "pending": unknown_pending}},
    }


def format_report(report: dict) -> str:
    """The report as text for the terminal."""
    import pandas as pd

    rows = pd.DataFrame(report["runs"])
    lines = [f"profile {report['profile']}: {len(rows)} runs"]
    if len(rows):
        sweeps = rows["sweeps"].str.split(",").explode().value_counts()
        lines[0] += " (" + ", ".join(f"{k} {v}" for k, v in sweeps.items()) + ")"
        lines[0] += "; " + ", ".join(f"{v} {k}" for k, v in rows["state"].value_counts().items())
    lines.append("")
    lines.append("data:")
    for s in report["sources"]:
        lines.append(f"  {s['file']}: " + (str(s["path"]) if s["path"] else f"MISSING ({s['note']})"))
    lines.append(f"  prepared: {report['processed_dir']}" + ("" if report["prepared"] else
                                                            " NOT YET (run notebook 01 or `python -m drscaling prepare`)"))
    if report["checkpoints"]:
        at_hand = sum(c["at_hand"] for c in report["checkpoints"].values())
        lines.append(f"checkpoints: {len(report['checkpoints'])}, {at_hand} at hand (local folder or hub cache)")
        for name, c in report["checkpoints"].items():
            lines.append(f"  {name}: {'at hand' if c['at_hand'] else 'NOT at hand (downloaded on first use)'}; "
                         f"shape from {c['shape_from']}")
    for name, ok in report["generators"].items():
        lines.append(f"generator {name}: {'at hand' if ok else 'NOT at hand (downloaded on first use, or skipped)'}")
    g = report["gpu_hours"]
    lines.append("")
    lines.append(f"estimate (one H200-class GPU, bf16 training; within about 30%, see drscaling.estimate): "
                 f"{g['pending']:.1f} GPU-hours for the {int((rows['state'] != 'done').sum()) if len(rows) else 0} "
                 f"runs not done, {g['all']:.1f} for all")
    if not report["evaluation_estimated"]:
        lines.append("  final evaluation not included: its cost grows with the corpus, known once the data is prepared")
    if g["runs_without_estimate"]["all"]:
        lines.append(f"  {g['runs_without_estimate']['all']} run(s) without an estimate (a checkpoint of unknown shape)")
    if len(rows):
        with pd.option_context("display.width", 220, "display.max_rows", None, "display.max_colwidth", 48):
            lines += ["", rows.drop(columns=["run_id"]).to_string(index=False)]
    return "\n".join(lines)


# ---------------------------------------------------------------- this machine's wall time

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
    check_passages: int  # with its sub-pool of negatives (drscaling.train.periodic_evaluator)


def widths(profile, data=None) -> Widths:
    """The widths of the profile's human pairs, from the prepared data (its tokenised texts,
    cached for the runs anyway), the batches of one epoch over the largest D, and shared
    negatives drawn from the pool; the maximum lengths where the data is not prepared."""
    cfg = profile.training
    if data is None:
        return Widths(cfg.max_query_length, cfg.max_passage_length, cfg.max_query_length, cfg.max_passage_length,
                      "the maximum lengths (data not prepared)", cfg.eval_pairs, cfg.eval_pairs + cfg.eval_pool)
    from .train import run_texts

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
    from .train import training_precision

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
