"""What made a run: the trainer's version, the code's commit, the packages and the machine.

``TRAINER_VERSION`` is part of every run's spec, and so of its id: **bump it whenever the
training numerics change** (the loss, the optimiser, the schedule, dropout or its random
draws, precision, batching, tokenisation of the training texts, the evaluation), so that runs
of the old trainer are never reused or fitted together with runs of the new one.
``tests/test_trainer_version.py`` trains a fixed tiny fp32 run and compares its numbers with
``tests/fixtures/trainer_fingerprint.json``: it fails when the numbers move while the version does
not (then bump the version and regenerate the file with ``python scripts/trainer_fingerprint.py``;
the run is :func:`drscaling.fingerprint.trainer_fingerprint`).

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
