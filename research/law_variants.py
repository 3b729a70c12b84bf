"""The study's laws refitted on subsets of one run's points (issue 11): which seeds, which corner of
the joint grid. Notebook 05 fits every point of a sweep; this script asks what the laws would say
with fewer seeds or without the points the planning guard refuses, from the same results.csv,
without training anything.

    DRSCALING_OUTPUTS=<a clone>/outputs python research/law_variants.py --profile cpu

Variants: all points (notebook 05's fits); seeds 0 and 1 only (the design before four draws of the
small shapes); the joint grid without L1-H8 at D = 5k (inside the 1-nat margin of chance), and
from D = 10k; the data-size sweep up to 20k and up to 40k (how much range of D an exponent's
interval needs: the annotation study's methods stop at 18k). For each law: R², the R² the seed
spread allows, the exponents with their 95% bootstrap intervals (and upper / lower), the
parameters on a bound, and the held-out points' errors. ``--variants`` picks some by name;
``--metric validation`` fits the validation CLL instead of the test CLL (design choices are read on
validation: issue 26).
"""

from __future__ import annotations

import argparse

import pandas as pd

from drscaling.config import load_profile
from drscaling.laws.study import fit_study_laws, sweep_points

METRICS = {"test": "cll_test", "validation": "cll_validation"}
EXPONENTS = {"model_size": ["alpha"], "data_size": ["beta"], "data_size_transfer": ["beta"], "joint": ["alpha", "beta"],
             "joint_transfer": ["alpha", "beta"]}


def variants(points: dict[str, pd.DataFrame]) -> dict[str, dict[str, pd.DataFrame]]:
    first_two = {law: f[f["seed"].isin([0, 1])] for law, f in points.items()}
    joint, data = points["joint"], points["data_size"]
    return {
        "all points": points,
        "seeds 0 and 1 only": first_two,
        "joint without L1-H8 at 5k": {"joint": joint[~((joint["model"] == "L1-H8") & (joint["n_train"] == 5000))]},
        "joint from D = 10k": {"joint": joint[joint["n_train"] >= 10000]},
        **{f"data size up to {top // 1000}k": {"data_size": data[data["n_train"] <= top]} for top in (20000, 40000)},
    }


def with_metric(results: pd.DataFrame, metric: str) -> pd.DataFrame:
    """``results`` with ``metric``'s CLL (test or validation) in the column the study's fits read."""
    return results.assign(cll_test=results[METRICS[metric]])


def describe(report: dict) -> list[str]:
    lines = []
    for law, rec in report.items():
        if "params" not in rec:
            lines.append(f"  {law}: {rec['status']}")
            continue
        parts = [f"{len(rec['run_ids'])} points", f"R² {rec['r2']:.3f} (reachable {rec['r2_ceiling']:.3f})"]
        for name in EXPONENTS[law]:
            lo, hi = rec["intervals"][name]
            parts.append(f"{name} {rec['params'][name]:.3g} [{lo:.3g}, {hi:.3g}] (x{hi / lo:.1f})")
        parts.append(f"on a bound: {', '.join(rec['bounds_hit']) or 'none'}")
        held = rec.get("holdout") or {}
        if held.get("relative_error"):
            errors = [100 * e for e in held["relative_error"]]
            parts.append(f"held out: {len(errors)} points, worst {max(errors, key=abs):+.1f}%, "
                         f"{sum(abs(e) <= 7 for e in errors)} within 7%")
        lines.append(f"  {law}: " + "; ".join(parts))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--variants", nargs="+", metavar="NAME", help="only these variants (names as printed)")
    parser.add_argument("--metric", choices=list(METRICS), default="test", help="the CLL the laws fit")
    args = parser.parse_args()
    results = with_metric(pd.read_csv(load_profile(args.profile).outputs_dir / "results.csv"), args.metric)
    every = variants(sweep_points(results[results["status"] == "ok"]))
    unknown = sorted(set(args.variants or ()) - set(every))
    if unknown:
        parser.error(f"--variants: unknown {unknown}; expected some of {list(every)}")
    for name, pts in every.items():
        if args.variants and name not in args.variants:
            continue
        _, report, _ = fit_study_laws(pts, n_resamples=args.resamples, workers=2)
        print(f"\n{name}:")
        print("\n".join(describe(report)), flush=True)


if __name__ == "__main__":
    main()
