"""What made a run: the trainer's version, the code's commit, the packages and the machine.

``TRAINER_VERSION`` is part of every run's spec, and so of its id: **bump it whenever the
training numerics change** (the loss, the optimiser, the schedule, dropout or its random
draws, precision, batching, tokenisation of the training texts, the evaluation), so that runs
of the old trainer are never reused or fitted together with runs of the new one.
``tests/test_trainer_version.py`` trains a fixed tiny fp32 run and compares its numbers with
``tests/fixtures/trainer_fingerprint.json``: it fails when the numbers move while the version does
not (then bump the version and regenerate the file with ``python scripts/trainer_fingerprint.py``).

:func:`provenance` is recorded in every ``result.json``; notebook 03 puts it in
``results.csv`` as ``provenance.*`` columns.
"""

from __future__ import annotations

import os
import platform
import subprocess
from functools import lru_cache

from . import paths

# 1: the trainer as of the bf16/dropout/tokenizer changes (first versioned trainer).
TRAINER_VERSION = 1

PACKAGES = ("torch", "transformers", "tokenizers", "numpy", "drscaling")


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=paths.ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


@lru_cache(maxsize=1)
def code_version() -> dict:
    """The commit of the project's checkout and whether its tracked files had changes
    (``dirty``; untracked files are ignored). None for both outside a git checkout."""
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def package_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else the platform's answer)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_name() -> str | None:
    try:
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except Exception:  # no torch, or a broken driver: no GPU to name
        return None


def provenance() -> dict:
    """Everything a result needs to be traced to the code, packages and machine that made it."""
    return {
        "trainer_version": TRAINER_VERSION,
        **code_version(),
        **package_versions(),
        "python": platform.python_version(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "gpu": gpu_name(),
        "host": platform.node(),
    }


# ---------------------------------------------------------------- the trainer's fingerprint

# A fixed tiny fp32 run on the smoke profile's data: the numbers it gives identify the trainer.
FINGERPRINT_TRAINING = {"steps": 30, "eval_every": 10, "batch_size": 16, "negatives": 16, "warmup_steps": 5,
                        "learning_rate": 2e-3, "max_query_length": 24, "max_passage_length": 48, "eval_pairs": 64,
                        "eval_pool": 128, "stall_margin": -100.0, "cpu_bf16": False, "threads": 1}
FINGERPRINT_MODEL = {"layers": 1, "hidden": 32}
FINGERPRINT_N_TRAIN = 400


def trainer_fingerprint(data_key: str, run_dir) -> dict:
    """Train the fixed tiny fp32 run (squad-smoke data, prepared under DRSCALING_DATA) in
    ``run_dir`` and return its numbers: the training loss and validation check of every
    check, the best step, test and validation CLL and MRR@10."""
    import dataclasses
    import json
    from pathlib import Path

    from .config import TrainingConfig
    from .grid import RunSpec
    from .train import train_and_evaluate

    training = dataclasses.asdict(TrainingConfig(**FINGERPRINT_TRAINING))
    spec = RunSpec(profile="fingerprint", dataset="squad-smoke", data_key=data_key, annotation="human",
                   model=FINGERPRINT_MODEL, n_train=FINGERPRINT_N_TRAIN, seed=0, training=training)
    import torch

    threads = torch.get_num_threads()
    try:
        result = train_and_evaluate(spec, run_dir)
    finally:  # the run sets one thread (reductions in one order); the caller keeps its own
        torch.set_num_threads(threads)
    log = [json.loads(line) for line in (Path(run_dir) / "log.jsonl").read_text().splitlines()]
    checks = [r for r in log if "event" not in r]
    return {
        "trainer_version": TRAINER_VERSION,
        "train_loss": [r["train_loss"] for r in checks],
        "validation_check": [r["validation_cll_check"] for r in checks],
        "best_step": result["best_step"],
        "cll_test": result["cll_test"],
        "cll_validation": result["cll_validation"],
        "mrr_at_10": result["mrr_at_10"],
    }


def fingerprint_difference(a: dict, b: dict) -> float:
    """The largest relative difference between the numbers of two fingerprints (inf when
    their shapes or best steps differ)."""
    import math

    if a["best_step"] != b["best_step"] or len(a["train_loss"]) != len(b["train_loss"]):
        return math.inf
    pairs = [(x, y) for k in ("train_loss", "validation_check") for x, y in zip(a[k], b[k])]
    pairs += [(a[k], b[k]) for k in ("cll_test", "cll_validation", "mrr_at_10")]
    return max(abs(x - y) / max(abs(x), abs(y), 1e-12) for x, y in pairs)
