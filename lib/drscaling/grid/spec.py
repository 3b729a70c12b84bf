"""The training grid: run specs with stable ids, expansion from a profile, executors.

A **run** is one model trained on one nested training subset with one seed. Its
:class:`RunSpec` holds everything that decides the outcome (the prepared data's key, the
annotation, the model, D, the seed and the full training settings); its :attr:`RunSpec.run_id`
is readable and stable (``human-L2-H128-D80000-s0-1a2b3c4d5e``: the suffix is a digest of the
whole spec except the profile's name), so a changed setting is a new run, never a silently
reused one.

:func:`plan_grid` expands a profile's ``grid`` section into the model-size sweep, the data-size
sweep and the joint (N, D) grid, for every seed; a point shared by several sweeps is one run
tagged with all of them. Each run lives in ``outputs/<profile>/runs/<run_id>/``:

- ``spec.json``   ``{"run_id", "spec", "sweeps", "created"}``, written before training;
- ``log.jsonl`` and the checkpoint: the trainer's;
- ``result.json`` ``{"format", "run_id", "status", "spec", "sweeps", "result", "wall_seconds",
  "host", "started", "finished"}``, written last and atomically; its presence means done (a
  ``not_learning`` or ``nan_loss`` status is a recorded outcome, and done too);
- ``error.json``  ``{"format", "run_id", "status": "failed", "spec", "sweeps", "error": {"type",
  "message", "traceback"}, "where", "wall_seconds", "host", "started", "time"}`` after a failure;
  it does not count as done: the next invocation retries the run, and removes it on success.

:func:`run_grid` runs the pending runs one after the other (``local``) or as Ray tasks
(``ray``: a local cluster it starts and stops, or an existing one). Both assume that the
outputs folder is on a filesystem the workers share with the driver. Two grid invocations on
the same runs at the same time are not guarded against.
:func:`collect_results` reads the run folders back into one table.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..annotation.methods import method_label
from ..config import Profile
from ..fileio import sha256_json
from ..provenance import TRAINER_VERSION

FORMAT_VERSION = 1
SWEEPS = ("model_size", "data_size", "joint", "annotation", "pretraining")
MAIN_SWEEPS = SWEEPS[:3]  # the laws' grid (notebook 02); "annotation" is notebook 04's
# "pretraining": planned with any sweep whose shapes it initialises (grid.pretraining)
LATE_TRAINING_DEFAULTS = {"eval_bf16": False, "dropout": None, "keep": "best", "projection_init": "torch"}  # see RunSpec.__post_init__
PRETRAINING_KEYS = ("method", "n_train", "seed", "training")
DONE_STATUSES = ("ok", "not_learning", "nan_loss")  # what the trainer may return
FAILED = "failed"
SPEC_FILE, RESULT_FILE, ERROR_FILE = "spec.json", "result.json", "error.json"
# Handed to Ray workers so that they read and write where the driver expects.
# Fault injection for the tests: runs whose id is listed here (comma-separated) fail on purpose.
FAIL_ENV = "DRSCALING_FAIL_RUNS"
ENV_VARS = ("DRSCALING_DATA", "DRSCALING_OUTPUTS", "DRSCALING_DATASETS", FAIL_ENV)
SHAPE_KEYS = ("layers", "hidden", "pretrained", "training", "seeds", "n_train")  # seeds: this shape's, in its sweep;
# n_train: a joint shape's own D (grid.joint_shapes only)

RunFn = Callable[["RunSpec", Path], dict]


class RunFolderError(RuntimeError):
    """A run folder that holds another spec than the one its id names."""


class RunsFailedError(RuntimeError):
    """Some runs of a stage failed: the stage's output is not written, and the next
    invocation retries exactly those runs (finished ones are skipped)."""


class InjectedFailure(RuntimeError):
    """The failure a test asked for with DRSCALING_FAIL_RUNS."""


class IncompleteGridError(RuntimeError):
    """A stage was asked to work on a grid with failed or pending runs, and the profile does
    not say ``allow_missing_runs: true``."""


# ---------------------------------------------------------------- run specs

def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _short_name(text: str, limit: int = 40) -> str:
    """A file-name-safe short name of a checkpoint path or hub id (its last component)."""
    last = str(text).rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1] or "model"
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", last).strip("._-") or "model"
    return name[:limit]


@dataclass(frozen=True)
class RunSpec:
    """Everything that decides one run's outcome. JSON round-trippable (:meth:`to_dict`,
    :meth:`from_dict`); ``model`` is ``{"layers": L, "hidden": H}`` (a BERT from scratch) or
    ``{"pretrained": path_or_hub_id}``; ``training`` is a full TrainingConfig as a dict."""

    profile: str
    dataset: str  # the processed data folder name
    data_key: str  # the manifest's "key": ties the run to the exact prepared data
    annotation: str  # the method (drscaling.annotation.methods.METHODS)
    model: dict
    n_train: int
    seed: int
    training: dict = field(default_factory=dict)
    annotation_options: dict = field(default_factory=dict)  # e.g. {"rate": 0.3} for noisy_human
    # The trainer that trains it (drscaling.provenance): part of the id, so a change to the
    # training numerics (with its version bump) makes every run a new one.
    trainer_version: int = TRAINER_VERSION

    def __post_init__(self):
        if not isinstance(self.model, dict) or not (
            ("pretrained" in self.model) != ({"layers", "hidden"} <= set(self.model))
        ):
            raise ValueError(f"RunSpec.model: expected {{'layers', 'hidden'}} or {{'pretrained'}}, got {self.model!r}")
        if not re.fullmatch(r"[A-Za-z0-9._-]+", str(self.annotation)):
            raise ValueError(f"RunSpec.annotation: expected letters, digits, '.', '_', '-', got {self.annotation!r}")
        for name in ("n_train", "seed", "trainer_version"):
            if not isinstance(getattr(self, name), int) or isinstance(getattr(self, name), bool):
                raise ValueError(f"RunSpec.{name}: expected an int, got {getattr(self, name)!r}")
        if not isinstance(self.annotation_options, dict):
            raise ValueError(f"RunSpec.annotation_options: expected a mapping, got {self.annotation_options!r}")
        # Own copies, so that a caller's later edit of its dicts cannot change the spec.
        for name in ("model", "training", "annotation_options"):
            object.__setattr__(self, name, json.loads(json.dumps(getattr(self, name))))
        # Training settings added after runs were planned are left out while they hold the
        # default that leaves training unchanged: the runs planned before keep their ids.
        for key, default in LATE_TRAINING_DEFAULTS.items():
            if key in self.training and self.training[key] == default:
                del self.training[key]

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        if not d["annotation_options"]:  # absent when empty: ids of runs planned before it existed hold
            del d["annotation_options"]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "RunSpec":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"RunSpec: unknown key(s) {unknown}")
        return cls(**{"trainer_version": 0, **d})  # 0: recorded before trainers had versions

    def __hash__(self):
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    @property
    def model_name(self) -> str:
        if "pretrained" in self.model:
            return _short_name(self.model["pretrained"])
        return f"L{self.model['layers']}-H{self.model['hidden']}"

    @property
    def digest(self) -> str:
        """sha256 of the canonical JSON of the spec without the profile's name."""
        d = self.to_dict()
        d.pop("profile")
        return sha256_json(d)

    @property
    def annotation_label(self) -> str:
        """The method, and the noise rate of noisy_human (``noisy_human-0.3``)."""
        return method_label(self.annotation, self.annotation_options)

    @property
    def run_id(self) -> str:
        return f"{self.annotation_label}-{self.model_name}-D{self.n_train}-s{self.seed}-{self.digest[:10]}"


@dataclass(frozen=True)
class PlannedRun:
    """A run of the plan and the sweeps it belongs to (the tags are not part of its id)."""

    spec: RunSpec
    sweeps: tuple[str, ...] = ()

    @property
    def run_id(self) -> str:
        return self.spec.run_id


def init_run(spec: RunSpec) -> str | None:
    """The run whose kept checkpoint this run starts from (its pretraining), if any."""
    return spec.model.get("init")


# ---------------------------------------------------------------- run folders

def runs_dir(profile: Profile) -> Path:
    return profile.outputs_dir / "runs"


def is_done(run_dir: Path) -> bool:
    return (Path(run_dir) / RESULT_FILE).is_file()


def _as_planned(item) -> PlannedRun:
    return item if isinstance(item, PlannedRun) else PlannedRun(item)
