"""Planning: a profile's grid section expanded into runs (the model-size, data-size and joint
sweeps, the annotation study, the pretraining stage), and the checks of a plan."""

from __future__ import annotations

import dataclasses
import warnings
from typing import Iterable

from ..annotation.methods import check_method, method_label
from ..config import ConfigError, Profile, TrainingConfig, from_dict
from ..fileio import read_json
from .spec import (
    MAIN_SWEEPS,
    PRETRAINING_KEYS,
    RESULT_FILE,
    SHAPE_KEYS,
    SWEEPS,
    PlannedRun,
    RunSpec,
    _as_planned,
    is_done,
    runs_dir,
)

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


def _joint_sizes(shape, ds: list[int], where: str) -> list[int]:
    """A joint shape's D: its own ``n_train`` (some of the joint grid's D, for a shape that sits
    near chance at the smallest ones), else the grid's."""
    own = shape.get("n_train") if isinstance(shape, dict) else None
    if own is None:
        return ds
    at = f"{where} ({_shape_label(shape)}): n_train"
    if not isinstance(own, (list, tuple)) or not own or len(set(own)) != len(own) \
            or any(d not in ds or isinstance(d, bool) for d in own):
        raise ConfigError(f"{at}: expected distinct sizes among grid.joint_n_train {ds}, got {own!r}")
    return [d for d in ds if d in own]


def _without_n_train(shape):
    return {k: v for k, v in shape.items() if k != "n_train"} if isinstance(shape, dict) else shape


def _annotation_methods(g, where: str) -> list[tuple[str, dict]]:
    """The grid's annotation_methods as (method, options), checked."""
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
    annotation method), for every seed (the joint grid: for every ``joint_seeds``, when set; a
    shape with its own ``seeds``: for those).
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

    def seeds_of(sweep: str, shape, shape_where: str) -> tuple[int, ...]:
        """A shape's own seeds (more draws where a shape's points spread), else its sweep's."""
        own = shape.get("seeds") if isinstance(shape, dict) else None
        if own is None:
            return sweep_seeds.get(sweep, tuple(g.seeds))
        if not isinstance(own, (list, tuple)) or not own or len(set(own)) != len(own) \
                or any(isinstance(x, bool) or not isinstance(x, int) or x < 0 for x in own):
            raise ConfigError(f"{shape_where} ({_shape_label(shape)}): seeds: expected distinct non-negative "
                              f"integers, got {own!r}")
        return tuple(own)

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
        for i, s in enumerate(g.joint_shapes):
            at = f"{where}.joint_shapes[{i}]"
            points += [("joint", (_without_n_train(s), at), d, human) for d in _joint_sizes(s, ds, at)]
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
    for sweep, (shape, shape_where), _, _ in points:
        if sweep != "joint" and isinstance(shape, dict) and "n_train" in shape:
            raise ConfigError(f"{shape_where} ({_shape_label(shape)}): n_train: only a joint shape has its own D "
                              f"(grid.joint_shapes); this sweep's D is set for the sweep")
    points = [p for p in points if p[0] in sweeps]
    pretraining = _pretraining(g, where)

    runs: dict[str, tuple[RunSpec, list[str]]] = {}

    def add(spec: RunSpec, sweep: str) -> None:
        entry = runs.setdefault(spec.run_id, (spec, []))
        if sweep not in entry[1]:
            entry[1].append(sweep)
    point_seeds = [seeds_of(sweep, shape, shape_where) for sweep, (shape, shape_where), _, _ in points]
    for seed in dict.fromkeys([*g.seeds, *sweep_seeds["joint"], *(s for ss in point_seeds for s in ss)]):
        for (sweep, (shape, shape_where), d, (method, options)), its_seeds in zip(points, point_seeds):
            if seed not in its_seeds:
                continue
            model, training = _model_and_training(shape, shape_where, base)
            if pretraining is not None and "pretrained" not in model:
                pre = _pretraining_spec(profile, data_key, model, base, pretraining, seed, where)
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
        if name == "seed" and value == "run":
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < (1 if name == "n_train" else 0):
            raise ConfigError(f"{at}.{name}: expected a {'positive' if name == 'n_train' else 'non-negative'} "
                              f"integer{'' if name == 'n_train' else ' or run'}, got {value!r}")
    training = pre.get("training") or {}
    if not isinstance(training, dict):
        raise ConfigError(f"{at}.training: expected a mapping of TrainingConfig settings, got {training!r}")
    return {"method": pre["method"], "options": options, "n_train": n, "seed": seed, "training": training}


def _pretraining_spec(profile: Profile, data_key: str, model: dict, base: dict, pre: dict, run_seed: int,
                      where: str) -> RunSpec:
    """The pretraining run of one shape: with a fixed seed one run for every run of the shape, as
    one BERT checkpoint serves every fine-tuning run in the paper; with ``seed: run`` one per seed
    of the runs, so that two seeds of a point are two draws of pretraining and fine-tuning (one
    shared pretraining moved L1-H16's fine-tuned test CLL by 0.16, ten times its fine-tuning seed
    spread: research/design-log.md)."""
    training = from_dict(TrainingConfig, {**base, **pre["training"]}, f"{where}.pretraining.training")
    seed = run_seed if pre["seed"] == "run" else pre["seed"]
    return RunSpec(profile=profile.name, dataset=profile.dataset, data_key=data_key, annotation=pre["method"],
                   model=dict(model), n_train=pre["n_train"], seed=seed,
                   training=dataclasses.asdict(training.for_n_train(pre["n_train"])),
                   annotation_options=pre["options"])


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
    """Finished runs of the sweeps (pretraining runs aside), per shape, that stalled near chance:
    status not_learning, or a validation CLL less than STALL_NATS below ``chance`` (log(K + 1) for
    K evaluation negatives). Validation, not test: the guard decides which shapes a design keeps
    (issue 26: no design choice looks at test CLL); a run without validation CLL is judged on its
    status only."""
    root = runs_dir(profile)
    stalled: dict[str, list[str]] = {}
    for p in map(_as_planned, planned):
        # a pretraining run is a starting point on weak pairs, no point of a law: near chance is no stall
        if not is_done(root / p.run_id) or p.sweeps == ("pretraining",):
            continue
        rec = read_json(root / p.run_id / RESULT_FILE)
        cll = (rec.get("result") or {}).get("cll_validation")
        if rec["status"] == "not_learning" or (cll is not None and cll > chance - STALL_NATS):
            stalled.setdefault(p.spec.model_name, []).append(
                f"D = {p.spec.n_train:,} s{p.spec.seed}: {rec['status']}, validation CLL "
                f"{cll if cll is None else round(cll, 3)}")
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
