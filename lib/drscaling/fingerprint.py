"""The trainer's fingerprint: a fixed tiny fp32 run on the smoke profile's data whose numbers
identify the trainer. ``tests/test_trainer_version.py`` compares them with
``tests/fixtures/trainer_fingerprint.json`` (written by ``scripts/trainer_fingerprint.py``) and
fails when they move while :data:`drscaling.provenance.TRAINER_VERSION` does not."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import torch

from .config import TrainingConfig
from .grid.spec import RunSpec
from .provenance import TRAINER_VERSION
from .train import train_and_evaluate

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
    training = dataclasses.asdict(TrainingConfig(**FINGERPRINT_TRAINING))
    spec = RunSpec(profile="fingerprint", dataset="squad-smoke", data_key=data_key, annotation="human",
                   model=FINGERPRINT_MODEL, n_train=FINGERPRINT_N_TRAIN, seed=0, training=training)
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
    if a["best_step"] != b["best_step"] or len(a["train_loss"]) != len(b["train_loss"]):
        return math.inf
    pairs = [(x, y) for k in ("train_loss", "validation_check") for x, y in zip(a[k], b[k])]
    pairs += [(a[k], b[k]) for k in ("cll_test", "cll_validation", "mrr_at_10")]
    return max(abs(x - y) / max(abs(x), abs(y), 1e-12) for x, y in pairs)
