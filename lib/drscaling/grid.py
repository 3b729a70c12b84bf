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
import os
import re
import signal
import socket
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from .config import ConfigError, Profile, TrainingConfig, from_dict
from .fileio import read_json, sha256_json, write_json
from .provenance import TRAINER_VERSION, provenance

FORMAT_VERSION = 1
SWEEPS = ("model_size", "data_size", "joint", "annotation", "pretraining")
MAIN_SWEEPS = SWEEPS[:3]  # the laws' grid (notebook 02); "annotation" is notebook 04's
# "pretraining": planned with any sweep whose shapes it initialises (grid.pretraining)
LATE_TRAINING_DEFAULTS = {"eval_bf16": False, "dropout": None}  # see RunSpec.__post_init__
PRETRAINING_KEYS = ("method", "n_train", "seed", "training")
DONE_STATUSES = ("ok", "not_learning", "nan_loss")  # what the trainer may return
FAILED = "failed"
SPEC_FILE, RESULT_FILE, ERROR_FILE = "spec.json", "result.json", "error.json"
# Handed to Ray workers so that they read and write where the driver expects.
# Fault injection for the tests: runs whose id is listed here (comma-separated) fail on purpose.
FAIL_ENV = "DRSCALING_FAIL_RUNS"
ENV_VARS = ("DRSCALING_DATA", "DRSCALING_OUTPUTS", "DRSCALING_DATASETS", FAIL_ENV)
SHAPE_KEYS = ("layers", "hidden", "pretrained", "training")

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
    annotation: str  # the method (drscaling.annotate.METHODS)
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
        from .annotate import method_label

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


# ---------------------------------------------------------------- planning

def _shape_label(shape) -> str:
    if isinstance(shape, dict):
        if "pretrained" in shape:
            return repr(shape["pretrained"])
        if "layers" in shape or "hidden" in shape:
            return f"L{shape.get('layers')}-H{shape.get('hidden')}"
    return repr(shape)


def _model_and_training(shape, where: str, base: dict) -> tuple[dict, dict]:
    """Check one shape mapping of the grid; return its model dict and its training settings
    (the profile's, with the shape's overrides applied and checked)."""
    where = f"{where} ({_shape_label(shape)})"
    if not isinstance(shape, dict):
        raise ConfigError(f"{where}: expected a mapping with layers and hidden, or pretrained; got {shape!r}")
    unknown = sorted(set(shape) - set(SHAPE_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; a shape has {list(SHAPE_KEYS)}")
    if "pretrained" in shape:
        if "layers" in shape or "hidden" in shape:
            raise ConfigError(f"{where}: give either pretrained or layers and hidden, not both")
        if not isinstance(shape["pretrained"], str) or not shape["pretrained"].strip():
            raise ConfigError(f"{where}: pretrained: expected a path or hub id, got {shape['pretrained']!r}")
        model = {"pretrained": shape["pretrained"]}
    else:
        for key in ("layers", "hidden"):
            value = shape.get(key)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"{where}: {key}: expected a positive integer, got {value!r} "
                                  f"(a shape needs layers and hidden, or pretrained)")
        model = {"layers": shape["layers"], "hidden": shape["hidden"]}
    overrides = shape.get("training") or {}
    if not isinstance(overrides, dict):
        raise ConfigError(f"{where}: training: expected a mapping of TrainingConfig settings, got {overrides!r}")
    training = from_dict(TrainingConfig, {**base, **overrides}, f"{where}: training")
    return model, dataclasses.asdict(training)


def _sizes(values: Iterable, where: str, available: tuple[int, ...]) -> list[int]:
    out = []
    for d in values:
        if d not in available or isinstance(d, bool):
            raise ConfigError(f"{where}: n_train {d!r} is not one of data.subset_sizes {list(available)} "
                              f"(the nested training subsets exist for those sizes only)")
        out.append(d)
    return out


def _annotation_methods(g, where: str) -> list[tuple[str, dict]]:
    """The grid's annotation_methods as (method, options), checked."""
    from .annotate import check_method, method_label

    out, labels = [], {}
    for i, entry in enumerate(g.annotation_methods):
        at = f"{where}.annotation_methods[{i}]"
        if not isinstance(entry, dict) or "method" not in entry:
            raise ConfigError(f"{at}: expected a mapping with a method key (and its options), got {entry!r}")
        options = {k: v for k, v in entry.items() if k != "method"}
        try:
            check_method(entry["method"], options, at)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        label = method_label(entry["method"], options)
        if label in labels and labels[label] != options:
            raise ConfigError(f"{at}: a second {label!r} with other options; two settings of one method "
                              f"would share a label in tables and figures")
        labels[label] = options
        out.append((entry["method"], options))
    return out


def plan_grid(profile: Profile, data_key: str, sweeps: Iterable[str] = MAIN_SWEEPS) -> list[PlannedRun]:
    """Expand the profile's grid into runs: the model-size sweep (every shape at one D), the
    data-size sweep (one shape at every D), the joint grid (shapes x D), and, when ``sweeps``
    names it, the annotation sweep (one shape at every D of ``annotation_n_train`` for every
    annotation method), for every seed (the joint grid: for every ``joint_seeds``, when set).
    A spec that appears in several sweeps is one run
    carrying every sweep's tag. Order: seed, then sweep, then the order of the profile's lists."""
    g, sizes = profile.grid, tuple(profile.data.subset_sizes)
    where = f"{profile.path or profile.name}: grid"
    base = dataclasses.asdict(profile.training)
    sweeps = tuple(sweeps)
    unknown = sorted(set(sweeps) - set(SWEEPS))
    if unknown:
        raise ValueError(f"sweeps: unknown {unknown}; expected some of {list(SWEEPS)}")
    for key in ("seeds", "joint_seeds"):
        seeds = getattr(g, key)
        if (seeds is not None or key == "seeds") and (not seeds or len(set(seeds)) != len(seeds)):
            raise ConfigError(f"{where}.{key}: expected distinct integers, got {seeds if seeds is None else list(seeds)}")
    sweep_seeds = {"joint": tuple(g.joint_seeds) if g.joint_seeds is not None else tuple(g.seeds)}

    def need_sizes(key):
        if not sizes:
            raise ConfigError(f"{where}.{key}: needs data.subset_sizes, which is empty")

    human = (g.annotation, {})
    points: list[tuple[str, tuple, int, tuple]] = []  # (sweep, (shape, where), D, (method, options))
    if g.model_size_shapes:
        need_sizes("model_size_shapes")
        d = g.model_size_n_train if g.model_size_n_train is not None else sizes[-1]
        (d,) = _sizes([d], f"{where}.model_size_n_train", sizes)
        points += [("model_size", (s, f"{where}.model_size_shapes[{i}]"), d, human)
                   for i, s in enumerate(g.model_size_shapes)]
    elif g.model_size_n_train is not None:
        raise ConfigError(f"{where}.model_size_n_train is set but grid.model_size_shapes is empty")
    if g.data_size_shape is not None:
        need_sizes("data_size_shape")
        ds = _sizes(g.data_size_n_train or sizes, f"{where}.data_size_n_train", sizes)
        points += [("data_size", (g.data_size_shape, f"{where}.data_size_shape"), d, human) for d in ds]
    elif g.data_size_n_train:
        raise ConfigError(f"{where}.data_size_n_train is set but grid.data_size_shape is not")
    if g.joint_shapes:
        need_sizes("joint_shapes")
        ds = _sizes(g.joint_n_train or sizes, f"{where}.joint_n_train", sizes)
        points += [("joint", (s, f"{where}.joint_shapes[{i}]"), d, human)
                   for i, s in enumerate(g.joint_shapes) for d in ds]
    elif g.joint_n_train:
        raise ConfigError(f"{where}.joint_n_train is set but grid.joint_shapes is empty")
    methods = _annotation_methods(g, where)
    if methods:
        shape = g.annotation_shape if g.annotation_shape is not None else g.data_size_shape
        if shape is None:
            raise ConfigError(f"{where}.annotation_methods: needs grid.annotation_shape (or grid.data_size_shape)")
        ds = list(g.annotation_n_train)
        if not ds or any(isinstance(d, bool) or not isinstance(d, int) or d <= 0 for d in ds) or len(set(ds)) != len(ds):
            raise ConfigError(f"{where}.annotation_n_train: expected distinct positive integers (pairs per "
                              f"method), got {ds}")
        shape_where = f"{where}.annotation_shape" if g.annotation_shape is not None else f"{where}.data_size_shape"
        points += [("annotation", (shape, shape_where), d, m) for m in methods for d in ds]
    elif g.annotation_n_train or g.annotation_shape is not None:
        raise ConfigError(f"{where}.annotation_n_train/annotation_shape are set but grid.annotation_methods is empty")
    points = [p for p in points if p[0] in sweeps]
    pretraining = _pretraining(g, where)

    runs: dict[str, tuple[RunSpec, list[str]]] = {}

    def add(spec: RunSpec, sweep: str) -> None:
        entry = runs.setdefault(spec.run_id, (spec, []))
        if sweep not in entry[1]:
            entry[1].append(sweep)
    for seed in dict.fromkeys([*g.seeds, *sweep_seeds["joint"]]):
        for sweep, (shape, shape_where), d, (method, options) in points:
            if seed not in sweep_seeds.get(sweep, g.seeds):
                continue
            model, training = _model_and_training(shape, shape_where, base)
            if pretraining is not None and "pretrained" not in model:
                pre = _pretraining_spec(profile, data_key, model, base, pretraining, where)
                add(pre, "pretraining")
                model = {**model, "init": pre.run_id}
            training = dataclasses.asdict(TrainingConfig(**training).for_n_train(d))  # steps from D
            spec = RunSpec(profile=profile.name, dataset=profile.dataset, data_key=data_key,
                           annotation=method, model=model, n_train=d, seed=seed, training=training,
                           annotation_options=options)
            add(spec, sweep)
    return [PlannedRun(spec, tuple(s for s in SWEEPS if s in tags)) for spec, tags in runs.values()]


def _pretraining(g, where: str) -> dict | None:
    """The grid's pretraining stage, checked: method, its options, n_train, seed, training."""
    from .annotate import check_method

    pre = g.pretraining
    if pre is None:
        return None
    at = f"{where}.pretraining"
    if not isinstance(pre, dict) or "method" not in pre or "n_train" not in pre:
        raise ConfigError(f"{at}: expected a mapping with method, n_train (and the method's options, seed, "
                          f"training), got {pre!r}")
    if pre["method"] in ("human", "noisy_human"):
        raise ConfigError(f"{at}.method: pretraining uses no human pair; expected a method that makes its "
                          f"queries from the training passages (ict, crop, keywords, generated), got {pre['method']!r}")
    options = {k: v for k, v in pre.items() if k not in PRETRAINING_KEYS}
    try:
        check_method(pre["method"], options, at)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    n, seed = pre["n_train"], pre.get("seed", 0)
    for name, value in (("n_train", n), ("seed", seed)):
        if not isinstance(value, int) or isinstance(value, bool) or value < (1 if name == "n_train" else 0):
            raise ConfigError(f"{at}.{name}: expected a {'positive' if name == 'n_train' else 'non-negative'} "
                              f"integer, got {value!r}")
    training = pre.get("training") or {}
    if not isinstance(training, dict):
        raise ConfigError(f"{at}.training: expected a mapping of TrainingConfig settings, got {training!r}")
    return {"method": pre["method"], "options": options, "n_train": n, "seed": seed, "training": training}


def _pretraining_spec(profile: Profile, data_key: str, model: dict, base: dict, pre: dict, where: str) -> RunSpec:
    """The pretraining run of one shape: one seed for every run of the shape, as one BERT
    checkpoint serves every fine-tuning run in the paper."""
    training = from_dict(TrainingConfig, {**base, **pre["training"]}, f"{where}.pretraining.training")
    return RunSpec(profile=profile.name, dataset=profile.dataset, data_key=data_key, annotation=pre["method"],
                   model=dict(model), n_train=pre["n_train"], seed=pre["seed"],
                   training=dataclasses.asdict(training.for_n_train(pre["n_train"])),
                   annotation_options=pre["options"])


def init_run(spec: RunSpec) -> str | None:
    """The run whose kept checkpoint this run starts from (its pretraining), if any."""
    return spec.model.get("init")


# ---------------------------------------------------------------- planning checks

MIN_PASSES = 2.5  # the paper's ratio: 10,000 steps x 128 queries over its ~0.5M training pairs
STALL_NATS = 1.0  # a point less than this far below chance is outside any power law's regime


class PlanWarning(UserWarning):
    """A plan whose runs cannot show what the study asks of them."""


def passes(spec: RunSpec) -> float:
    """How many times a run's training steps go over its D training pairs."""
    t = spec.training
    return t["steps"] * t["batch_size"] / spec.n_train


def plan_warnings(planned: Iterable[PlannedRun | RunSpec]) -> list[str]:
    """What in a plan keeps its sweeps from showing their laws: per sweep, a largest D that
    steps x batch goes over fewer than MIN_PASSES times (the extra data is barely seen, and runs
    at smaller D differ in passes as much as in D)."""
    out = []
    by_sweep: dict[str, list[RunSpec]] = {}
    for p in map(_as_planned, planned):
        for sweep in p.sweeps or ("(untagged)",):
            by_sweep.setdefault(sweep, []).append(p.spec)
    for sweep, specs in by_sweep.items():
        if sweep == "pretraining":  # rounds of new pairs over the passages: one pass is the design
            continue
        short = [s for s in specs if passes(s) < MIN_PASSES]
        if short:
            worst = min(short, key=passes)
            t = worst.training
            out.append(f"sweep {sweep}: {len(short)} of {len(specs)} runs go over their D fewer than {MIN_PASSES} times; "
                       f"e.g. {worst.model_name} at D = {worst.n_train:,} sees {t['steps']} steps x {t['batch_size']} = "
                       f"{t['steps'] * t['batch_size']:,} pairs ({passes(worst):.2f} passes): raise training.steps "
                       f"(or lower the largest D) so that every D is trained to what it allows")
    return out


def stalled_runs(profile: Profile, planned: Iterable[PlannedRun | RunSpec], chance: float) -> list[str]:
    """Finished runs, per shape, that stalled near chance: status not_learning, or a test CLL
    less than STALL_NATS below ``chance`` (log(K + 1) for K evaluation negatives)."""
    root = runs_dir(profile)
    stalled: dict[str, list[str]] = {}
    for p in map(_as_planned, planned):
        if not is_done(root / p.run_id):
            continue
        rec = read_json(root / p.run_id / RESULT_FILE)
        cll = (rec.get("result") or {}).get("cll_test")
        if rec["status"] == "not_learning" or (cll is not None and cll > chance - STALL_NATS):
            stalled.setdefault(p.spec.model_name, []).append(
                f"D = {p.spec.n_train:,} s{p.spec.seed}: {rec['status']}, test CLL {cll if cll is None else round(cll, 3)}")
    return [f"shape {shape}: {len(runs)} run(s) within {STALL_NATS} nat of chance ({chance:.2f}): " + "; ".join(runs)
            for shape, runs in stalled.items()]


def warn_about_plan(planned: Iterable[PlannedRun | RunSpec], profile: Profile | None = None,
                    chance: float | None = None, strict: bool = False) -> list[str]:
    """Emit :func:`plan_warnings` (and, given the profile and chance level, :func:`stalled_runs`)
    as PlanWarning; with ``strict``, raise ConfigError instead. Returns the messages."""
    planned = list(planned)
    messages = plan_warnings(planned)
    if profile is not None and chance is not None:
        messages += stalled_runs(profile, planned, chance)
    if messages and strict:
        raise ConfigError("the plan cannot show its laws (--strict):\n  " + "\n  ".join(messages))
    for m in messages:
        warnings.warn(m, PlanWarning, stacklevel=2)
    return messages


# ---------------------------------------------------------------- one run

def runs_dir(profile: Profile) -> Path:
    return profile.outputs_dir / "runs"


def is_done(run_dir: Path) -> bool:
    return (Path(run_dir) / RESULT_FILE).is_file()


def _default_run_fn() -> RunFn:
    from .train import train_and_evaluate  # lazily: the grid works without the trainer

    return train_and_evaluate


def _as_planned(item) -> PlannedRun:
    return item if isinstance(item, PlannedRun) else PlannedRun(item)


def _jsonable(obj):
    """Plain JSON types (numpy scalars and arrays, paths -> their values)."""
    def default(o):
        if hasattr(o, "item") and callable(o.item) and getattr(o, "shape", None) == ():
            return o.item()
        if hasattr(o, "tolist"):
            return o.tolist()
        if isinstance(o, Path):
            return str(o)
        raise TypeError(f"not JSON serialisable: {type(o).__name__} {o!r}")

    return json.loads(json.dumps(obj, default=default))


def check_spec_file(spec: RunSpec, run_dir: Path) -> None:
    """Raise :class:`RunFolderError` if ``run_dir/spec.json`` holds another spec."""
    path = Path(run_dir) / SPEC_FILE
    if path.is_file():
        stored = read_json(path).get("spec")
        if stored != spec.to_dict():
            raise RunFolderError(f"{path} holds another spec than run {spec.run_id}:\n  stored: "
                                 f"{json.dumps(stored, sort_keys=True)}\n  wanted: {json.dumps(spec.to_dict(), sort_keys=True)}")


def _write_spec_file(spec: RunSpec, run_dir: Path, sweeps: tuple[str, ...]) -> None:
    path = run_dir / SPEC_FILE
    check_spec_file(spec, run_dir)
    old = read_json(path) if path.is_file() else None
    if old is None or old.get("sweeps") != list(sweeps):
        write_json(path, {"run_id": spec.run_id, "spec": spec.to_dict(), "sweeps": list(sweeps),
                          "created": (old or {}).get("created", _now())})


def _skipped(run_dir: Path) -> dict:
    stale = run_dir / ERROR_FILE
    if stale.is_file():  # a crash between result.json and the clean-up
        stale.unlink()
    return {**read_json(run_dir / RESULT_FILE), "skipped": True, "run_dir": str(run_dir)}


def _error_record(spec: RunSpec, sweeps, exc: BaseException, tb: str, where: str, started: str,
                  seconds: float | None) -> dict:
    cause = getattr(exc, "cause", None)  # a Ray task error wraps the task's own exception
    return {
        "format": FORMAT_VERSION,
        "run_id": spec.run_id,
        "status": FAILED,
        "spec": spec.to_dict(),
        "sweeps": list(sweeps),
        "error": {"type": type(cause if isinstance(cause, BaseException) else exc).__name__,
                  "message": str(exc), "traceback": tb},
        "where": where,
        "wall_seconds": None if seconds is None else round(seconds, 3),
        "host": socket.gethostname(),
        "provenance": provenance(),
        "started": started,
        "time": _now(),
    }


def execute_run(spec: RunSpec, runs_dir: Path, run_fn: RunFn | None = None, sweeps: Iterable[str] = ()) -> dict:
    """Run one spec in ``runs_dir/<run_id>/`` unless it is done; never raises for a failed run.

    Returns the result.json record (plus ``skipped`` and ``run_dir``); after a failure, the
    error.json record (status ``failed``). ``run_fn(spec, run_dir) -> dict`` is the trainer's
    ``train_and_evaluate`` unless given; its dict must have a ``status`` in DONE_STATUSES.
    Exceptions become error.json; a BaseException (KeyboardInterrupt) propagates and leaves
    the folder without result.json or error.json: the run is simply still pending.
    """
    sweeps = tuple(sweeps)
    run_dir = Path(runs_dir) / spec.run_id
    if is_done(run_dir):
        return _skipped(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    _write_spec_file(spec, run_dir, sweeps)
    started, t0 = _now(), time.time()
    try:
        if spec.run_id in os.environ.get(FAIL_ENV, "").split(","):
            raise InjectedFailure(f"failed on purpose: the run id is in {FAIL_ENV}")
        fn = run_fn if run_fn is not None else _default_run_fn()
        result = fn(spec, run_dir)
        if not isinstance(result, dict) or result.get("status") not in DONE_STATUSES:
            got = result.get("status") if isinstance(result, dict) else type(result).__name__
            raise ValueError(f"the run function returned no valid status: expected a dict with status in "
                             f"{DONE_STATUSES}, got {got!r}")
        record = _jsonable({
            "format": FORMAT_VERSION,
            "run_id": spec.run_id,
            "status": result["status"],
            "spec": spec.to_dict(),
            "sweeps": list(sweeps),
            "result": result,
            "wall_seconds": round(time.time() - t0, 3),
            "host": socket.gethostname(),
            "provenance": provenance(),
            "started": started,
            "finished": _now(),
        })
        write_json(run_dir / RESULT_FILE, record)  # last, atomically: its presence means done
    except Exception as e:
        record = _error_record(spec, sweeps, e, traceback.format_exc(), "worker", started, time.time() - t0)
        write_json(run_dir / ERROR_FILE, record)
        return {**record, "skipped": False, "run_dir": str(run_dir)}
    (run_dir / ERROR_FILE).unlink(missing_ok=True)  # a retry that succeeded
    return {**record, "skipped": False, "run_dir": str(run_dir)}


# ---------------------------------------------------------------- executors

class _Progress:
    """One tqdm bar over the runs; postfix: the current (or last finished) run and the counts
    so far: ok, failed, skipped, and the trainer's other outcomes (not_learning, nan_loss)."""

    def __init__(self, total: int, desc: str, enabled: bool):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc=desc, unit="run", disable=not enabled)
        self.counts = {"ok": 0, FAILED: 0, "skipped": 0}

    def current(self, run_id: str):
        self.bar.set_postfix({"run": run_id, **self.counts})

    def done(self, record: dict):
        key = "skipped" if record.get("skipped") else record["status"]
        self.counts[key] = self.counts.get(key, 0) + 1
        self.bar.set_postfix({"run": record["run_id"], **self.counts})
        self.bar.update(1)

    def close(self):
        self.bar.close()


def run_grid(profile: Profile, planned: Iterable[PlannedRun | RunSpec], executor: str | None = None,
             run_fn: RunFn | None = None, ray_address: str | None = None, gpus_per_run: float | None = None,
             cpus_per_run: float | None = None, progress: bool = True, max_retries: int = 0) -> list[dict]:
    """Run every planned run that is not done; return one record per run, in plan order
    (see :func:`execute_run`; ``skipped`` marks runs done before this call).

    ``executor`` (default: the profile's ``grid.executor``): ``local`` runs them one after the
    other, or ``grid.workers`` at a time in as many processes (``run_fn`` must then be picklable:
    a module-level function); ``ray`` submits each pending run as a Ray task, on the cluster at ``ray_address``
    (default: the profile's ``grid.ray_address``; e.g. "auto", "ray://host:10001"), on the
    one this process is already connected to, or else on a local cluster that this call starts
    and stops. A task asks for ``gpus_per_run`` GPUs (default: the profile's) where the cluster
    has GPUs, and ``cpus_per_run`` CPUs (default: 1 with GPUs, else the run's
    ``training.threads`` or, for 0 = all cores, one node's CPUs). A task whose worker dies is
    recorded as failed by the driver; ``max_retries`` lets Ray retry it first.
    """
    items = [_as_planned(p) for p in planned]
    unique: dict[str, PlannedRun] = {}
    for p in items:
        unique.setdefault(p.run_id, p)
    items = list(unique.values())
    executor = executor or profile.grid.executor
    if executor not in ("local", "ray"):
        raise ConfigError(f"executor: expected local or ray, got {executor!r}")
    root = runs_dir(profile)
    for p in items:  # a folder holding another spec stops everything before anything runs
        check_spec_file(p.spec, root / p.run_id)
    records = {}
    for stage in _stages(items):  # the pretraining runs first: the others start from them
        if executor == "local":
            done = _run_local(stage, root, run_fn, progress, profile.grid.workers)
        else:
            done = _run_ray(stage, root, run_fn, ray_address or profile.grid.ray_address,
                            profile.grid.gpus_per_run if gpus_per_run is None else gpus_per_run,
                            cpus_per_run, progress, max_retries)
        records.update((r["run_id"], r) for r in done)
    return [records[p.run_id] for p in items]


def _stages(items: list[PlannedRun]) -> list[list[PlannedRun]]:
    """The plan in two stages: the runs others start from (init), then the rest."""
    inits = {init_run(p.spec) for p in items}
    first = [p for p in items if p.run_id in inits]
    rest = [p for p in items if p.run_id not in inits]
    return [stage for stage in (first, rest) if stage]


def _run_local(items: list[PlannedRun], root: Path, run_fn, progress: bool, workers: int = 1) -> list[dict]:
    pending = [p for p in items if not is_done(root / p.run_id)]
    if workers > 1 and len(pending) > 1:
        return _run_local_parallel(items, pending, root, run_fn, progress, workers)
    bar = _Progress(len(items), "runs", progress)
    records = []
    try:
        for p in items:
            bar.current(p.run_id)
            record = execute_run(p.spec, root, run_fn=run_fn, sweeps=p.sweeps)
            records.append(record)
            bar.done(record)
    finally:
        bar.close()
    return records


def run_cost(spec: RunSpec) -> float:
    """A rough relative cost of a run, to start the longest first: steps x a CPU step's cost,
    which for these small shapes grows with the width about as 1 + H/20 + (H/45)^2 per layer
    (scripts/bench_step.py, one thread: L1-H8 0.06 s, L1-H64 0.21 s, L1-H128 0.53 s)."""
    steps = int(spec.training.get("steps", 1))
    model = spec.model
    if "pretrained" in model:
        return steps * 1e3
    hidden = float(model.get("hidden", 64))
    return steps * float(model.get("layers", 1)) * (1 + hidden / 20 + (hidden / 45) ** 2)


def _worker_init(parent_pid: int) -> None:
    """In each worker: die with the process that started it. A killed study (make and its
    notebook's kernel killed) must not leave workers training on, into the folders of the runs
    that the restarted study trains again."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:  # the parent died before that took effect
        os._exit(1)


def _run_local_parallel(items, pending, root: Path, run_fn, progress: bool, workers: int) -> list[dict]:
    """``workers`` processes, each running one pending run at a time, the costliest first (so
    that no long run starts last). A worker that dies takes its run down as failed."""
    import concurrent.futures as cf
    import multiprocessing

    waiting = {p.run_id for p in pending}
    records = {p.run_id: _skipped(root / p.run_id) for p in items if p.run_id not in waiting}
    bar = _Progress(len(items), f"runs ({workers} workers)", progress)
    for r in records.values():
        bar.done(r)
    order = sorted(pending, key=lambda p: -run_cost(p.spec))
    pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                  initializer=_worker_init, initargs=(os.getpid(),))
    try:
        futures = {pool.submit(execute_run, p.spec, root, run_fn, p.sweeps): p for p in order}
        for future in cf.as_completed(futures):
            p = futures[future]
            try:
                record = future.result()
            except Exception as e:  # the worker died (BrokenProcessPool) or could not take the task
                if isinstance(e, cf.process.BrokenProcessPool):
                    e = RuntimeError(f"{e} (out of memory? killed? A script that runs a grid with workers > 1 "
                                     f"must guard its top level with `if __name__ == '__main__':`)")
                record = _driver_failure(p, root, e, "driver (the worker process failed)")
            records[p.run_id] = record
            bar.done(record)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in list(getattr(pool, "_processes", {}).values()):  # interrupted: stop the runs
            proc.terminate()
        raise
    finally:
        bar.close()
    pool.shutdown(wait=True)
    return [records[p.run_id] for p in items]


def _ray_task(spec: RunSpec, root: str, run_fn, sweeps: tuple[str, ...]) -> dict:
    """What a Ray worker runs (module level: workers import it from drscaling.grid)."""
    return execute_run(spec, Path(root), run_fn=run_fn, sweeps=sweeps)


def _driver_failure(p: PlannedRun, root: Path, exc: BaseException,
                    where: str = "driver (the Ray task failed)") -> dict:
    """A task that raised or whose worker died: record it unless the worker finished after all."""
    run_dir = root / p.run_id
    if is_done(run_dir):
        return {**read_json(run_dir / RESULT_FILE), "skipped": False, "run_dir": str(run_dir)}
    run_dir.mkdir(parents=True, exist_ok=True)
    record = _error_record(p.spec, p.sweeps, exc, str(exc), where, _now(), None)
    write_json(run_dir / ERROR_FILE, record)
    return {**record, "skipped": False, "run_dir": str(run_dir)}


def _run_ray(items, root: Path, run_fn, address, gpus_per_run, cpus_per_run, progress, max_retries) -> list[dict]:
    records: dict[str, dict] = {}
    pending = []
    for p in items:  # finished runs get no task
        if is_done(root / p.run_id):
            records[p.run_id] = _skipped(root / p.run_id)
        else:
            pending.append(p)
    bar = _Progress(len(items), "runs (ray)", progress)
    for r in records.values():
        bar.done(r)
    if not pending:
        bar.close()
        return [records[p.run_id] for p in items]

    import ray

    started_here = False
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=True)
        else:
            ray.init(object_store_memory=128 * 1024**2, include_dashboard=False, log_to_driver=True)
        started_here = True
    refs: dict = {}
    try:
        resources = ray.cluster_resources()
        has_gpu = resources.get("GPU", 0) > 0
        node_cpus = max([n["Resources"].get("CPU", 0) for n in ray.nodes() if n.get("Alive")] or [1])
        env = {k: os.environ[k] for k in ENV_VARS if os.environ.get(k)}
        task = ray.remote(_ray_task)
        for p in pending:
            if cpus_per_run is not None:
                cpus = cpus_per_run
            elif has_gpu:
                cpus = 1
            else:
                threads = int(p.spec.training.get("threads", 0) or 0)
                cpus = min(threads, node_cpus) if threads > 0 else node_cpus
            options = {"num_cpus": cpus, "num_gpus": gpus_per_run if has_gpu else 0,
                       "max_retries": max_retries, "name": p.run_id}
            if env:
                options["runtime_env"] = {"env_vars": env}
            refs[task.options(**options).remote(p.spec, str(root), run_fn, p.sweeps)] = p
        waiting = list(refs)
        while waiting:
            done, waiting = ray.wait(waiting, num_returns=1)
            for ref in done:
                p = refs[ref]
                try:
                    record = ray.get(ref)
                except Exception as e:  # the task raised, or its worker died
                    record = _driver_failure(p, root, e)
                records[p.run_id] = record
                bar.done(record)  # the postfix names the run that finished last
    except BaseException:
        for ref in refs:  # interrupted: stop what is still running
            try:
                ray.cancel(ref, force=True)
            except Exception:
                pass
        raise
    finally:
        bar.close()
        if started_here:
            ray.shutdown()
    return [records[p.run_id] for p in items]


# ---------------------------------------------------------------- results

def _spec_columns(spec: dict) -> dict:
    model = spec.get("model", {})
    name = (_short_name(model["pretrained"]) if "pretrained" in model
            else f"L{model.get('layers')}-H{model.get('hidden')}")
    options = spec.get("annotation_options") or {}
    from .annotate import method_label

    return {
        "annotation": method_label(spec.get("annotation"), options),
        "annotation_method": spec.get("annotation"),
        **{f"annotation.{k}": v for k, v in sorted(options.items())},
        "model": name,
        "layers": model.get("layers"),
        "hidden": model.get("hidden"),
        "pretrained": model.get("pretrained"),
        "n_train": spec.get("n_train"),
        "seed": spec.get("seed"),
        "trainer_version": spec.get("trainer_version", 0),
        "dataset": spec.get("dataset"),
        "data_key": spec.get("data_key"),
        **{f"training.{k}": v for k, v in sorted(spec.get("training", {}).items())},
    }


BASE_COLUMNS = ["run_id", "status", "annotation", "model", "layers", "hidden", "pretrained", "n_train", "seed",
                "sweeps", "n_params", "trainer_version", "wall_seconds", "host", "finished", "error_type", "error"]
PENDING = "pending"  # a planned run with neither result.json nor error.json


def _provenance_columns(record: dict) -> dict:
    """``provenance.<key>`` columns of a result or error record (empty for older records)."""
    return {f"provenance.{k}": v for k, v in sorted((record.get("provenance") or {}).items())}


def collect_results(profile: Profile, planned: Iterable[PlannedRun | RunSpec] | None = None):
    """One row per run folder with result.json (spec fields, every field of the trainer's
    result, status, sweeps, wall seconds, host, ``provenance.*``) or with only error.json
    (status ``failed``, ``error_type``, ``error``). Given ``planned``, only the plan's runs,
    tagged with its sweeps (folders of older settings are left out), and a row with status
    ``pending`` for each planned run without a record; otherwise every folder, tagged as recorded.
    Sorted by annotation, n_params (or layers, hidden), n_train, seed."""
    import pandas as pd

    root = runs_dir(profile)
    plan = None if planned is None else {p.run_id: p for p in map(_as_planned, planned)}
    rows = []
    folders = sorted(root.iterdir()) if root.is_dir() else []
    for run_dir in folders:
        if plan is not None and run_dir.name not in plan:
            continue
        if (run_dir / RESULT_FILE).is_file():
            rec = read_json(run_dir / RESULT_FILE)
            result = {k: v for k, v in (rec.get("result") or {}).items() if k != "status"}
            fixed = {"run_id": rec["run_id"], "status": rec["status"], **_spec_columns(rec["spec"]),
                     "sweeps": rec.get("sweeps", []), "wall_seconds": rec.get("wall_seconds"),
                     "host": rec.get("host"), "finished": rec.get("finished"), "error_type": None, "error": None,
                     **_provenance_columns(rec)}
            clash = {k: result.pop(k) for k in list(result) if k in fixed}
            rows.append({**result, **{f"result.{k}": v for k, v in clash.items()}, **fixed})
        elif (run_dir / ERROR_FILE).is_file():
            rec = read_json(run_dir / ERROR_FILE)
            rows.append({"run_id": rec["run_id"], "status": FAILED, **_spec_columns(rec["spec"]),
                         "sweeps": rec.get("sweeps", []), "wall_seconds": rec.get("wall_seconds"),
                         "host": rec.get("host"), "finished": rec.get("time"),
                         "error_type": rec["error"]["type"], "error": rec["error"]["message"],
                         **_provenance_columns(rec)})
    if plan is not None:  # planned runs that never started or were interrupted: pending
        recorded = {row["run_id"] for row in rows}
        rows += [{"run_id": run_id, "status": PENDING, **_spec_columns(p.spec.to_dict()), "sweeps": []}
                 for run_id, p in plan.items() if run_id not in recorded]
        for row in rows:
            row["sweeps"] = list(plan[row["run_id"]].sweeps)
    for row in rows:
        row["sweeps"] = ",".join(row["sweeps"])
    df = pd.DataFrame(rows)
    for c in BASE_COLUMNS:
        if c not in df.columns:
            df[c] = None
    df = df[BASE_COLUMNS + sorted(c for c in df.columns if c not in BASE_COLUMNS)]
    if len(df):
        df = df.sort_values(["annotation", "n_params", "layers", "hidden", "pretrained", "n_train", "seed", "run_id"],
                            na_position="last", kind="stable").reset_index(drop=True)
    return df


def plan_table(profile: Profile, planned: Iterable[PlannedRun | RunSpec]):
    """The plan as a table: run_id, model, n_train, seed, sweeps, done."""
    import pandas as pd

    root = runs_dir(profile)
    rows = []
    for p in map(_as_planned, planned):
        run_dir = root / p.run_id
        state = "done" if is_done(run_dir) else "failed" if (run_dir / ERROR_FILE).is_file() else "pending"
        rows.append({"run_id": p.run_id, "annotation": p.spec.annotation_label, "model": p.spec.model_name,
                     "n_train": p.spec.n_train, "seed": p.spec.seed, "sweeps": ",".join(p.sweeps), "state": state})
    return pd.DataFrame(rows, columns=["run_id", "annotation", "model", "n_train", "seed", "sweeps", "state"])


# ---------------------------------------------------------------- command line

def cli(profile_name: str, executor: str | None = None, ray_address: str | None = None,
        gpus_per_run: float | None = None, dry_run: bool = False, sweeps: Iterable[str] = MAIN_SWEEPS,
        strict: bool = False) -> int:
    """``python -m drscaling grid``: plan (and with --dry-run only print) the profile's grid,
    run it, print a summary. Returns 1 if some run failed. ``strict``: refuse a plan that
    :func:`warn_about_plan` warns about (ConfigError)."""
    import sys

    import pandas as pd

    from .config import load_profile
    from .datasets.processed import ProcessedData

    profile = load_profile(profile_name)
    try:
        data_key = ProcessedData(profile.processed_dir).manifest["key"]
    except FileNotFoundError:
        if not dry_run:
            raise FileNotFoundError(
                f"{profile.processed_dir} is not prepared; run data preparation first "
                f"(`python -m drscaling prepare --profile {profile.name}` or `make 01_prepare_data PROFILE={profile.name}`)"
            ) from None
        data_key = "unprepared"
        print(f"note: {profile.processed_dir} is not prepared yet; the run ids below change once it is",
              file=sys.stderr)
    planned = plan_grid(profile, data_key, sweeps)
    chance = None
    if data_key != "unprepared":
        import math

        k = (ProcessedData(profile.processed_dir).manifest.get("data") or {}).get("cll_negatives")
        chance = None if k is None else math.log(k + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PlanWarning)
        for message in warn_about_plan(planned, profile, chance, strict=strict):
            print(f"warning: {message}", file=sys.stderr)
    if not planned:
        print(f"the grid of profile {profile.name} is empty (set grid.model_size_shapes, "
              f"grid.data_size_shape or grid.joint_shapes in {profile.path})")
        return 0
    table = plan_table(profile, planned)
    if dry_run:
        with pd.option_context("display.width", 200, "display.max_rows", None):
            print(table.to_string(index=False))
        counts = table["state"].value_counts().to_dict()
        print(f"{len(table)} runs in {runs_dir(profile)}: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
        return 0
    records = run_grid(profile, planned, executor=executor, ray_address=ray_address, gpus_per_run=gpus_per_run)
    rows = []
    for r in records:
        result = r.get("result") or {}
        rows.append({"run_id": r["run_id"], "sweeps": ",".join(r.get("sweeps", [])), "status": r["status"],
                     "this_call": "skipped" if r.get("skipped") else "ran",
                     "cll_test": result.get("cll_test"), "n_params": result.get("n_params"),
                     "steps": result.get("steps"), "wall_seconds": r.get("wall_seconds"),
                     "error": (r.get("error") or {}).get("message")})
    with pd.option_context("display.width", 200, "display.max_rows", None, "display.max_colwidth", 60):
        print(pd.DataFrame(rows).to_string(index=False))
    failed = [r for r in records if r["status"] == FAILED]
    ran = sum(not r.get("skipped") for r in records)
    print(f"{len(records)} runs: {ran} ran now, {len(records) - ran} were done, {len(failed)} failed; "
          f"results in {runs_dir(profile)}")
    if failed:
        print(f"error: {len(failed)} run(s) failed; see error.json in their folders; "
              f"running the grid again retries them", file=sys.stderr)
        return 1
    return 0


def summary_path(profile: Profile) -> Path:
    """The training stage's output: what the grid planned and how each run ended."""
    return runs_dir(profile) / "grid.json"


def failure_lines(records: Iterable[dict]) -> list[str]:
    """``<run_id>: <error type>: <first line of the message>`` for each failed record."""
    out = []
    for r in records:
        if r.get("status") == FAILED:
            error = r.get("error") or {}
            first = (str(error.get("message", "")).strip().splitlines() or [""])[0]
            out.append(f"{r['run_id']}: {error.get('type', 'Error')}: {first}")
    return out


def check_failures(records: list[dict], profile: Profile, what: str, output: Path) -> list[str]:
    """The failure lines of ``records`` (see :func:`failure_lines`). If some run failed and the
    profile does not say ``allow_missing_runs: true``, the stage's ``output`` (from an earlier
    success) is removed, so that it never outlives its truth, and :class:`RunsFailedError`
    names every failed run and the first line of its error."""
    lines = failure_lines(records)
    if lines and not profile.allow_missing_runs:
        Path(output).unlink(missing_ok=True)
        raise RunsFailedError(
            f"{len(lines)} of {len(records)} runs of {what} failed (the other runs are finished and will be "
            f"skipped; running again retries exactly these):\n  " + "\n  ".join(lines))
    return lines


def write_summary(profile: Profile, records: list[dict]) -> Path:
    """Write ``runs/grid.json`` (atomically): one entry per planned run with its status, and
    ``complete``. A failed run raises :class:`RunsFailedError` instead (and removes an older
    grid.json), so that `make reproduce` ends non-zero and the next one retries it; with
    ``allow_missing_runs: true`` the summary is written with ``"complete": false`` and the
    failures, and the Makefile reruns the stage next time (retrying them)."""
    path = summary_path(profile)
    failed = check_failures(records, profile, f"the grid of profile {profile.name}", path)
    runs = [{"run_id": r["run_id"], "status": r["status"], "sweeps": list(r.get("sweeps", []))} for r in records]
    counts: dict[str, int] = {}
    for r in runs:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    write_json(path, {"profile": profile.name, "finished": _now(), "counts": counts, "runs": runs,
                      "trainer_version": TRAINER_VERSION, "complete": not failed, "failed": failed})
    return path


def missing_runs(results) -> list[dict]:
    """The rows of a results table (:func:`collect_results` with a plan, or results.csv) whose
    run is not finished: ``{"run_id", "status" (failed / pending), "sweeps", "error"}``."""
    rows = results[~results["status"].isin(DONE_STATUSES)]
    out = []
    for _, r in rows.iterrows():
        error = r.get("error")
        out.append({"run_id": r["run_id"], "status": r["status"], "sweeps": r.get("sweeps") or "",
                    "error": None if not isinstance(error, str) else (error.strip().splitlines() or [""])[0]})
    return out


def require_complete(profile: Profile, results, stage: str) -> list[dict]:
    """The missing runs of ``results`` (see :func:`missing_runs`); raise
    :class:`IncompleteGridError` if there are some and the profile does not allow them."""
    missing = missing_runs(results)
    if missing and not profile.allow_missing_runs:
        lines = [f"{m['run_id']} ({m['status']}{': ' + m['error'] if m['error'] else ''})" for m in missing]
        raise IncompleteGridError(
            f"{stage}: {len(missing)} planned run(s) of profile {profile.name} are not finished:\n  "
            + "\n  ".join(lines) + f"\nrun the grid again (`make reproduce PROFILE={profile.name}` retries them), "
            f"or set allow_missing_runs: true in {profile.path} to go on without them")
    return missing


def check_trainer_versions(results, where: str) -> int:
    """The one trainer version of a results table's runs; a ValueError if they differ (runs of
    two trainers are not one experiment) or if a run predates trainer versions."""
    versions = sorted({int(v) for v in results["trainer_version"].fillna(0)})
    if len(versions) > 1 or versions == [0]:
        counts = results["trainer_version"].fillna(0).astype(int).value_counts().sort_index().to_dict()
        raise ValueError(f"{where}: the runs come from different or unversioned trainers (trainer_version: "
                         f"number of runs = {counts}); fit runs of one trainer version only "
                         f"(this code's is {TRAINER_VERSION}): rerun the grid, or drop the other rows")
    return versions[0] if versions else TRAINER_VERSION


def training_logs(profile: Profile, run_ids: Iterable[str]):
    """The periodic records of each run's log.jsonl as one table (run_id, step, ...)."""
    import json

    import pandas as pd

    rows = []
    for run_id in run_ids:
        log = runs_dir(profile) / run_id / "log.jsonl"
        if log.is_file():
            for line in log.read_text().splitlines():
                rec = json.loads(line)
                if "event" not in rec:
                    rows.append({"run_id": run_id, **rec})
    return pd.DataFrame(rows)
