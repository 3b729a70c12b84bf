"""How much range of D the annotation study's per-method laws need (issue 11), without training.

Two measurements behind `configs/cpu.yaml`'s `annotation_n_train` (research/design-log.md,
"The annotation study from 625 pairs"):

- ``refit`` (default): each method's data-size law refitted on the runs of one profile's
  annotation study, over several ranges of D (notebook 04's fit, `drscaling.annotation.study.fit_methods`,
  500 resamples): beta with its 95% interval and the factor upper / lower, delta, R².
- ``--simulate``: synthetic studies drawn from each method's fit over the widest range, with its
  residual spread (in log), at given ranges and numbers of draws per D; the median factor of
  beta's interval and its quartiles. It says what a third draw or a wider range would buy
  before paying for the runs.

    DRSCALING_OUTPUTS=<a clone>/outputs python research/annotation_range.py --profile cpu
    DRSCALING_OUTPUTS=<a clone>/outputs python research/annotation_range.py --profile cpu --simulate --fit-from 2500

Points are the runs with status ok in ``<outputs>/<profile>/runs`` at the annotation shape, of
the profile's annotation methods (human runs of the data-size sweep count too: notebook 04 uses
them); the ranges pick their D.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import pandas as pd

from drscaling import laws
from drscaling.annotation import study as annotation_study
from drscaling.config import load_profile
from drscaling.annotation.methods import method_label
from drscaling.grid.results import collect_results

RANGES = ((2500, 80000), (1250, 80000), (625, 80000), (625, 40000))


def annotation_points(profile, metric: str = "test") -> pd.DataFrame:
    """The runs (status ok) of the profile's annotation methods at its annotation shape, from every
    run folder under its outputs: annotation label, n_train, seed, cll_test (with ``metric``
    "validation": the validation CLL in that column, which notebook 04's fit reads)."""
    results = collect_results(profile)
    if results.empty:
        return pd.DataFrame(columns=["annotation", "n_train", "seed", "cll_test"])
    g = profile.grid
    shape = g.annotation_shape or g.data_size_shape
    labels = [method_label(m["method"], {k: v for k, v in m.items() if k != "method"}) for m in g.annotation_methods]
    ok = results[(results["status"] == "ok") & (results["model"] == f"L{shape['layers']}-H{shape['hidden']}")
                 & results["annotation"].isin(labels)]
    ok = ok.assign(cll_test=ok["cll_validation" if metric == "validation" else "cll_test"])
    return ok[["annotation", "n_train", "seed", "cll_test"]].reset_index(drop=True)


def _beta_interval(d, y, n_resamples: int, seed: int) -> tuple[float, float]:
    return laws.fit_for_study("data_size", d, y, n_resamples=n_resamples, seed=seed).fit.intervals["beta"]


def refit(points: pd.DataFrame, ranges, n_resamples: int) -> None:
    """Notebook 04's own fit (:func:`drscaling.annotation.study.fit_methods`) of each range's runs."""
    frame = points.assign(status="ok", run_id=[f"run-{i}" for i in range(len(points))])
    for lo_d, hi_d in ranges:
        studies, report = annotation_study.fit_methods(frame[frame["n_train"].between(lo_d, hi_d)],
                                                       n_resamples=n_resamples, seed=0)
        for label, rec in report.items():
            if label not in studies:
                print(f"{label:36s} {lo_d:>6,}..{hi_d:<6,}: {rec['status']}")
                continue
            fit = studies[label].fit
            lo, hi = fit.intervals["beta"]
            print(f"{label:36s} {lo_d:>6,}..{hi_d:<6,} {len(rec['run_ids']):2d} points: beta {fit.params['beta']:.4f} "
                  f"[{lo:.4f}, {hi:.4f}] x{hi / lo:.2f}, delta {fit.params['delta']:.3f}, R² {fit.r2:.3f}", flush=True)


def simulate(points: pd.DataFrame, ranges, draws, studies: int, n_resamples: int, fit_from: int) -> None:
    for label, frame in points.groupby("annotation", sort=False):
        d_all = frame["n_train"].to_numpy(float)
        d, y = d_all[d_all >= fit_from], frame["cll_test"].to_numpy(float)[d_all >= fit_from]
        fit = laws.fit_data_size_law(d, y)
        p = fit.params
        spread = float(np.std(np.log(y) - np.log(laws.data_size_law(d, p["B"], p["beta"], p["delta"])), ddof=3))
        print(f"{label}: fit over {int(d.min()):,}..{int(d.max()):,}: beta {p['beta']:.4f}, delta {p['delta']:.3f}, "
              f"residual sd (log) {spread:.4f}")
        for lo_d, hi_d in ranges:
            grid = sorted({int(v) for v in d_all if lo_d <= v <= hi_d})
            for n in draws:
                rng = np.random.default_rng(1)
                factors = []
                for rep in range(studies):
                    dd = np.repeat(np.array(grid, float), n)
                    yy = laws.data_size_law(dd, p["B"], p["beta"], p["delta"]) * np.exp(rng.normal(0, spread, len(dd)))
                    lo, hi = _beta_interval(dd, yy, n_resamples, rep)
                    factors.append(hi / lo)
                q1, med, q3 = np.quantile(factors, [0.25, 0.5, 0.75])
                print(f"  {lo_d:>6,}..{hi_d:<6,} {n} draw(s): beta's interval a factor {med:.1f} (median of {studies}; "
                      f"quartiles {q1:.1f}-{q3:.1f})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--simulate", action="store_true", help="synthetic studies instead of refits of the runs")
    ap.add_argument("--draws", type=int, nargs="+", default=[2, 3], help="--simulate: draws per D")
    ap.add_argument("--fit-from", type=int, default=0,
                    help="--simulate: the fit that draws the studies uses the runs from this D up (default: all)")
    ap.add_argument("--studies", type=int, default=10, help="--simulate: synthetic studies per setting")
    ap.add_argument("--resamples", type=int, default=None, help="bootstrap resamples (500 refit, 200 simulate)")
    ap.add_argument("--metric", choices=["test", "validation"], default="test",
                    help="the CLL the laws fit (design choices are read on validation: issue 26)")
    args = ap.parse_args()
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    points = annotation_points(load_profile(args.profile), args.metric)
    if points.empty:
        raise SystemExit(f"no annotation runs with status ok under the {args.profile} profile's outputs")
    if args.simulate:
        simulate(points, RANGES[:3], args.draws, args.studies, args.resamples or 200, args.fit_from)
    else:
        refit(points, RANGES, args.resamples or 500)


if __name__ == "__main__":
    main()
