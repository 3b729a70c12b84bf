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
    if cfg.source == "squad" and "pool" in cfg.files:
        names = {f"pool[{i}]": name for i, name in enumerate(cfg.files["pool"])}
    elif cfg.source == "squad":
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
