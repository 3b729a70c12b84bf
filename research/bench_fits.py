"""How long the scaling-law fits of notebooks 04 and 05 take, on a cpu-profile-sized synthetic
problem with known parameters and realistic run-to-run noise.

The problem: the model-size law on 8 model sizes over 1.5 decades x 2 seeds, the data-size law
on 6 data sizes x 2 seeds, the joint law on a 3 x 4 (N, D) grid (the cpu profile's), and the
annotation study's data-size laws for 6 methods x 5 data sizes x 2 seeds. Each law is fitted
the way the notebooks fit it: ``laws.fit_for_study`` with the hold-out at the largest N (D) as
in notebook 05, ``drscaling.annotation.study.fit_methods`` as in notebook 04, both with ``n_bootstrap``
resamples. Prints wall-clock and CPU seconds per law (the machine may be shared: CPU seconds
are the steadier figure), the intervals, and writes everything to outputs/bench/fits.json.

Modes (``--modes``, comma-separated), the bootstrap's ``refit`` option:

- ``warm``: each resample refitted from the full fit's optimum, the full grid of starts only
  when that fails (the library's default);
- ``grid``: each resample refitted from the full grid of starts, as a fresh fit would be
  (the reference that ``warm`` must agree with; about 20 times slower).

    python research/bench_fits.py [--n-bootstrap 1000] [--modes warm[,grid]] [--skip-annotation]

With a library whose ``bootstrap`` has no ``refit`` option (an older checkout put first on
PYTHONPATH), the one mode run is that library's own bootstrap, recorded as ``library``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import inspect
import platform
import time

import numpy as np
import pandas as pd

from drscaling import laws, paths
from drscaling.annotation import study as annotation_study
from drscaling.fileio import write_json

# Known parameters, near what the cpu study measured (DESIGN.md: alpha 0.42, delta 2.12).
TRUTH = {
    "model_size": {"A": 4e4, "alpha": 0.42, "delta": 2.1},
    "data_size": {"B": 2e3, "beta": 0.5, "delta": 2.0},
    "joint": {"A": 4e4, "B": 2e3, "alpha": 0.42, "beta": 0.5, "delta": 1.9},
}
# Annotation methods: weaker methods need more pairs (larger B) or sit on a higher floor.
ANNOTATION_TRUTH = {
    "human": {"B": 2e3, "beta": 0.5, "delta": 2.0},
    "ict": {"B": 8e3, "beta": 0.45, "delta": 2.2},
    "crop": {"B": 1.5e4, "beta": 0.4, "delta": 2.3},
    "keywords": {"B": 6e3, "beta": 0.5, "delta": 2.4},
    "noisy_human-0.2": {"B": 3e3, "beta": 0.5, "delta": 2.1},
    "noisy_human-0.5": {"B": 6e3, "beta": 0.45, "delta": 2.3},
}
N_VALUES = np.geomspace(2.6e4, 2.6e4 * 10 ** 1.5, 8)  # 8 model sizes over 1.5 decades
D_VALUES = np.array([2500, 5000, 10000, 20000, 40000, 80000], dtype=float)
JOINT_N = np.array([2.6e4, 1.0e5, 3.0e5])
JOINT_D = np.array([2500, 10000, 40000, 80000], dtype=float)
ANNOTATION_D = np.array([2500, 5000, 10000, 18000, 36000], dtype=float)
SEEDS = 2
NOISE = 0.02  # multiplicative log-normal run-to-run noise: about 0.05 of CLL at L = 2.5


def problem(seed: int = 0) -> dict:
    """The synthetic points: law -> list of arrays (inputs..., losses), and ``annotation``, a
    results frame as notebook 04 reads it."""
    rng = np.random.default_rng(seed)

    def noisy(clean):
        return clean * np.exp(rng.normal(0.0, NOISE, clean.shape))

    n = np.repeat(N_VALUES, SEEDS)
    d = np.repeat(D_VALUES, SEEDS)
    gn, gd = (a.ravel() for a in np.meshgrid(JOINT_N, JOINT_D))
    points = {
        "model_size": [n, noisy(laws.model_size_law(n, **TRUTH["model_size"]))],
        "data_size": [d, noisy(laws.data_size_law(d, **TRUTH["data_size"]))],
        "joint": [gn, gd, noisy(laws.joint_law(gn, gd, **TRUTH["joint"]))],
    }
    rows = []
    for label, truth in ANNOTATION_TRUTH.items():
        for s in range(SEEDS):
            losses = noisy(laws.data_size_law(ANNOTATION_D, **truth))
            for dv, loss in zip(ANNOTATION_D, losses):
                rows.append({"annotation": label, "n_train": dv, "cll_test": loss, "status": "ok",
                             "run_id": f"{label}-D{int(dv)}-s{s}"})
    points["annotation"] = pd.DataFrame(rows)
    return points


def _has_refit() -> bool:
    return "refit" in inspect.signature(laws.bootstrap).parameters


@contextlib.contextmanager
def _refit_mode(mode: str):
    """Make ``laws.fit_for_study`` (also as annotation_study calls it) use ``mode``."""
    if mode == "library":
        yield
        return
    original = laws.fit_for_study
    laws.fit_for_study = functools.partial(original, refit=mode)
    try:
        yield
    finally:
        laws.fit_for_study = original


@contextlib.contextmanager
def _clock(out: dict):
    """Wall-clock and CPU seconds of the block, into ``out``."""
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    out["seconds"] = round(time.perf_counter() - wall, 3)
    out["cpu_seconds"] = round(time.process_time() - cpu, 3)


def _summary(fit: laws.LawFit) -> dict:
    return {"params": fit.params, "intervals": fit.intervals, "bootstrap": fit.bootstrap,
            "bounds_hit": fit.bounds_hit, "warnings": fit.warnings}


def run_notebook05(points: dict, n_bootstrap: int, seed: int) -> dict:
    """Notebook 05's fits: hold-out at the largest N (model size, joint) or D (data size)."""
    out = {}
    for law in ("model_size", "data_size", "joint"):
        arrays = points[law]
        key = arrays[0]  # N (model size, joint) or D (data size), as in notebook 05
        timing = {}
        with _clock(timing):
            study = laws.fit_for_study(law, *arrays, holdout_mask=key == key.max(), n_resamples=n_bootstrap,
                                       seed=seed)
        out[law] = {**timing, **_summary(study.fit)}
    return out


def run_notebook04(points: dict, n_bootstrap: int, seed: int) -> dict:
    """Notebook 04's fits: one data-size law per annotation method."""
    timing = {}
    with _clock(timing):
        studies, _ = annotation_study.fit_methods(points["annotation"], n_resamples=n_bootstrap, seed=seed)
    return {**timing, "methods": {label: _summary(s.fit) for label, s in studies.items()}}


def _fmt_intervals(fit: dict) -> str:
    return ", ".join(f"{k} {fit['params'][k]:.4g} [{lo:.4g}, {hi:.4g}]" for k, (lo, hi) in fit["intervals"].items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-bootstrap", type=int, default=1000)
    parser.add_argument("--modes", default="warm", help="comma-separated refit modes: warm, grid")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    parser.add_argument("--problem-seed", type=int, default=0, help="seed of the synthetic noise")
    parser.add_argument("--skip-annotation", action="store_true", help="time notebook 05's fits only")
    args = parser.parse_args()

    modes = [m.strip() for m in args.modes.split(",") if m.strip()] if _has_refit() else ["library"]
    points = problem(args.problem_seed)
    report = {"n_bootstrap": args.n_bootstrap, "seed": args.seed, "problem_seed": args.problem_seed,
              "noise": NOISE, "truth": TRUTH, "annotation_truth": ANNOTATION_TRUTH,
              "machine": platform.platform(), "python": platform.python_version(), "modes": {}}
    for mode in modes:
        with _refit_mode(mode):
            nb05 = run_notebook05(points, args.n_bootstrap, args.seed)
            total = {k: round(sum(v[k] for v in nb05.values()), 3) for k in ("seconds", "cpu_seconds")}
            print(f"[{mode}] notebook 05, n_bootstrap={args.n_bootstrap} (wall s, cpu s):")
            for law, v in nb05.items():
                print(f"  {law:11s} {v['seconds']:8.2f} {v['cpu_seconds']:8.2f}   {_fmt_intervals(v)}")
                for w in v["warnings"]:
                    print(f"              warning: {w}")
            print(f"  {'total':11s} {total['seconds']:8.2f} {total['cpu_seconds']:8.2f}")
            entry = {"notebook05": nb05, "notebook05_total": total}
            if not args.skip_annotation:
                nb04 = run_notebook04(points, args.n_bootstrap, args.seed)
                print(f"[{mode}] notebook 04, {len(nb04['methods'])} data-size laws: {nb04['seconds']:.2f} s wall, "
                      f"{nb04['cpu_seconds']:.2f} s cpu")
                for label, v in nb04["methods"].items():
                    print(f"  {label:16s} {_fmt_intervals(v)}")
                entry["notebook04"] = nb04
        report["modes"][mode] = entry
    out = paths.outputs_dir("bench") / "fits.json"
    write_json(out, report)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
