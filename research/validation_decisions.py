"""The cpu profile's design decisions that one finished run can recompute, read on validation CLL
beside test CLL (issue 26, item 2: the pilots and runs that chose the design compared test CLL).

Each decision is the rule the design log applied, evaluated twice on the same runs: once on the
validation CLL (the 20 held-out training articles, whose first 2,000 pairs also pick each run's
checkpoint) and once on the test CLL (SQuAD dev). A decision "flips" when the rule chooses
differently on validation. Nothing is trained: it reads ``<outputs>/<profile>/results.csv`` and
the annotation runs of a finished ``make reproduce``.

    DRSCALING_OUTPUTS=<a clone>/outputs python research/validation_decisions.py --profile cpu

The decisions (research/design-log.md has the evidence each one was first taken on):

- margin: every point of a sweep at least 1 nat below chance (log 257); the shapes and D where
  a metric puts the mean of the draws inside the margin.
- draws: four draws for the narrow shapes because their draws spread more than L1-H64's and
  L1-H128's; the median spread (sd over draws) per shape.
- data range: the data-size sweep and the annotation study over 2.5k..80k because beta's
  interval needs the range; beta's interval factor (upper / lower) up to 20k, 40k and 80k.
- joint 5k column: kept because fitting from 10k did not improve the joint law; R² and the
  worst held-out error with and without it.
- joint shapes: the narrow shapes with one rate (L1-H32 held out) rather than L1-H16/H32/H64
  (L1-H64 held out); the worst held-out error of each.
- four draws vs two: the laws' exponent intervals with seeds 0 and 1 only against all draws.
- without L1-H8 (what the margin asks for when it flips): the model-size and joint laws without it.
- annotation from 1,250: each method's beta interval factor from 1,250 against from 2,500.

``--resamples`` sets the bootstrap of every fit (200 by default: interval factors to about 5%).
"""

from __future__ import annotations

import argparse
import math
import warnings

import numpy as np
import pandas as pd

from drscaling.annotation import study as annotation_study
from drscaling.config import load_profile
from drscaling.laws.study import fit_study_laws, sweep_points

from annotation_range import annotation_points
from law_variants import variants, with_metric

METRICS = ("validation", "test")
DECISION_LAWS = ("model_size", "data_size", "joint")  # the laws the decisions were read on (not the transfer forms)
MARGIN = 1.0  # nats below chance (drscaling.grid.plan.STALL_NATS)


def margins(points: dict, chance: float) -> pd.DataFrame:
    """Per shape and D of the sweeps: each metric's mean over draws, its distance below chance."""
    runs = pd.concat(points.values()).drop_duplicates("run_id")
    g = runs.groupby(["model", "n_params", "n_train"])[["cll_validation", "cll_test"]].mean().reset_index()
    for m in METRICS:
        g[f"below chance ({m})"] = chance - g[f"cll_{m}"]
    return g.sort_values(["n_params", "n_train"])


def draw_spread(points: dict) -> pd.DataFrame:
    """Per shape: the median over its D of the sd of its draws, each metric."""
    runs = pd.concat(points.values()).drop_duplicates("run_id")
    sd = runs.groupby(["model", "n_params", "n_train"])[["cll_validation", "cll_test"]].std()
    out = sd.groupby(level=["model", "n_params"]).median().reset_index().sort_values("n_params")
    out["draws"] = runs.groupby("model")["seed"].nunique().reindex(out["model"]).to_numpy()
    return out


def law_summary(pts: dict, resamples: int) -> dict:
    """law -> R², exponent interval factors and the worst held-out error (%) of notebook 05's fit."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, report, _ = fit_study_laws(pts, n_resamples=resamples, workers=1)
    out = {}
    for law, rec in report.items():
        if "params" not in rec:
            out[law] = {"status": rec["status"]}
            continue
        factors = {k: hi / lo for k, (lo, hi) in rec["intervals"].items() if k in ("alpha", "beta") and lo > 0}
        errors = (rec.get("holdout") or {}).get("relative_error") or []
        out[law] = {"r2": rec["r2"], "factors": factors, "params": {k: rec["params"][k] for k in factors},
                    "worst_holdout": 100 * max(errors, key=abs) if errors else math.nan}
    return out


def decision_variants(points: dict) -> dict[str, dict]:
    """The subsets of one run's points that the design's decisions compared: law_variants.py's
    (all points, seeds 0 and 1, joint from 10k, data size up to 20k / 40k) and the ones only
    these decisions need."""
    joint, data = points["joint"], points["data_size"]
    narrow = joint[joint["model"].isin(["L1-H16", "L1-H32"])]
    out = {k: v for k, v in variants(points).items() if k != "joint without L1-H8 at 5k"}
    return {
        **out,
        "joint without L1-H8": {"joint": joint[joint["model"] != "L1-H8"]},
        "joint without L1-H8, from D = 10k": {"joint": joint[(joint["model"] != "L1-H8") & (joint["n_train"] >= 10000)]},
        "model size without L1-H8": {"model_size": points["model_size"][points["model_size"]["model"] != "L1-H8"]},
        "joint L1-H16/H32/H64, L1-H64 held out": {"joint": pd.concat([narrow, data[data["n_train"].between(5000, 40000)]])},
    }


def annotation_factors(profile, resamples: int) -> pd.DataFrame:
    """Each annotation method's beta interval factor from 1,250 and from 2,500 pairs, each metric."""
    rows = []
    for m in METRICS:
        pts = annotation_points(profile, m)
        frame = pts.assign(status="ok", run_id=[f"run-{i}" for i in range(len(pts))])
        for lo_d in (1250, 2500):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                studies, _ = annotation_study.fit_methods(frame[frame["n_train"] >= lo_d], n_resamples=resamples, seed=0)
            for label, st in studies.items():
                lo, hi = st.fit.intervals["beta"]
                rows.append({"method": label, "from": lo_d, "metric": m, "beta": st.fit.params["beta"],
                             "factor": hi / lo})
    return pd.DataFrame(rows)


def fmt(x, spec=".3f") -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--resamples", type=int, default=200)
    ap.add_argument("--skip-annotation", action="store_true", help="leave out the annotation refits")
    args = ap.parse_args()
    profile = load_profile(args.profile)
    results = pd.read_csv(profile.outputs_dir / "results.csv")
    results = results[results["status"] == "ok"]
    chance = math.log(profile.data.cll_negatives + 1)
    points = sweep_points(results)

    print(f"# Decisions of the {args.profile} profile on validation and test CLL\n")
    print(f"Runs: {profile.outputs_dir / 'results.csv'} ({len(results)} ok; commit(s) "
          f"{', '.join(sorted(results['provenance.commit'].astype(str).str[:7].unique()))}); chance log "
          f"{profile.data.cll_negatives + 1} = {chance:.3f}; {args.resamples} bootstrap resamples a fit.\n")

    print(f"## Margin: mean of the draws at least {MARGIN} nat below chance\n")
    m = margins(points, chance)
    print("| shape | D | validation CLL | below chance | test CLL | below chance | inside the margin on |")
    print("|---|---|---|---|---|---|---|")
    for _, r in m.iterrows():
        inside = [k for k in METRICS if r[f"below chance ({k})"] < MARGIN]
        print(f"| {r['model']} | {int(r['n_train']):,} | {r['cll_validation']:.3f} | {r['below chance (validation)']:.3f} "
              f"| {r['cll_test']:.3f} | {r['below chance (test)']:.3f} | {', '.join(inside) or '-'} |")

    print("\n## Draws: median over D of the sd between draws\n")
    print("| shape | draws | sd, validation | sd, test |")
    print("|---|---|---|---|")
    for _, r in draw_spread(points).iterrows():
        print(f"| {r['model']} | {r['draws']} | {r['cll_validation']:.3f} | {r['cll_test']:.3f} |")

    print("\n## Laws on subsets of the runs\n")
    print("| variant | law | metric | R² | exponent (interval factor upper/lower) | worst held-out error |")
    print("|---|---|---|---|---|---|")
    for metric in METRICS:
        pts = sweep_points(with_metric(results, metric))
        for name, subset in decision_variants(pts).items():
            subset = {k: v for k, v in subset.items() if k in DECISION_LAWS}
            for law, rec in law_summary(subset, args.resamples).items():
                if "r2" not in rec:
                    print(f"| {name} | {law} | {metric} | {rec['status']} | | |")
                    continue
                exps = ", ".join(f"{k} {rec['params'][k]:.3g} (x{f:.1f})" for k, f in rec["factors"].items())
                print(f"| {name} | {law} | {metric} | {rec['r2']:.3f} | {exps} | {fmt(rec['worst_holdout'], '+.1f')}% |",
                      flush=True)

    if not args.skip_annotation:
        print("\n## Annotation study: beta's interval factor by the smallest D\n")
        a = annotation_factors(profile, args.resamples)
        if a.empty:
            print("(no annotation runs)")
        else:
            t = a.pivot_table(index="method", columns=["metric", "from"], values="factor")
            print("| method | validation from 1,250 | validation from 2,500 | test from 1,250 | test from 2,500 |")
            print("|---|---|---|---|---|")
            for method, r in t.iterrows():
                cells = [fmt(r.get((mm, d), np.nan), ".2f") for mm in METRICS for d in (1250, 2500)]
                print(f"| {method} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
