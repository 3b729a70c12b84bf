"""How often do the data-size law's 95% bootstrap intervals of beta cover the true beta, for each
way of resampling? Synthetic studies with the cpu profile's data-size design (D = 2.5k..80k,
two draws) drawn from a known law with a draw offset (persisting across D) and a run's own
noise in log space; each study fitted as notebook 05 fits it (Huber scale matched to the
noise), its interval made by resampling points, whole draws, or the draws' offsets and the
points' residuals. The answer chose ``resample="residuals"`` for the study
(tests/test_coverage.py holds it to >= 90%).

    .venv/bin/python research/coverage.py [--studies 200] [--resamples 200]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from drscaling import laws
from drscaling.laws.uncertainty import bootstrap

D = np.array([2500, 5000, 10000, 20000, 40000, 80000], dtype=float)
TRUTHS = {"the cpu fit (beta 0.1, delta 0.54)": {"B": 1.14e8, "beta": 0.1, "delta": 0.54},
          "a well-determined law (beta 0.3, delta 1.5)": {"B": 2.1e4, "beta": 0.3, "delta": 1.5}}


FITS = {"auto": {"huber_delta": "auto"}, "fixed": {"huber_delta": 1e-3}, "linear": {"loss": "linear"}}


def coverage(truth, resample, n_studies, n_resamples, draw_sigma, point_sigma, n_draws=2, fit="auto"):
    rng = np.random.default_rng(12345)
    covered, ratio = [], []
    for study in range(n_studies):
        d = np.tile(D, n_draws)
        code = np.repeat(np.arange(n_draws), len(D))
        y = laws.data_size_law(d, **truth) * np.exp(rng.normal(0, draw_sigma, n_draws)[code]
                                                    + rng.normal(0, point_sigma, len(d)))
        full = laws.fit_data_size_law(d, y, **FITS[fit])
        b = bootstrap(laws.fit_data_size_law, d, y, n_resamples=n_resamples, seed=study, full_fit=full,
                      resample=resample, draws=None if resample == "points" else code)
        low, high = b["beta"]
        covered.append(low <= truth["beta"] <= high)
        ratio.append(high / low if low > 0 else np.inf)
    return float(np.mean(covered)), float(np.median(ratio))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--studies", type=int, default=200)
    parser.add_argument("--resamples", type=int, default=200)
    parser.add_argument("--draw-sigma", type=float, default=0.02, help="log-space sd of a draw's offset")
    parser.add_argument("--point-sigma", type=float, default=0.01, help="log-space sd of a run's own noise")
    parser.add_argument("--fit", choices=sorted(FITS), default="auto",
                        help="the loss: Huber with its scale matched to the noise (auto, the study's), Huber with "
                             "the fixed 1e-3, or least squares (linear)")
    parser.add_argument("--resample", choices=("points", "draws", "residuals"), action="append",
                        help="the ways of resampling to compare (default: all three)")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", RuntimeWarning)
    print(f"| true law | resampling | coverage of 95% intervals ({args.studies} studies) | median high/low |")
    print("|---|---|---|---|")
    for label, truth in TRUTHS.items():
        for resample in args.resample or ("points", "draws", "residuals"):
            started = time.time()
            cov, ratio = coverage(truth, resample, args.studies, args.resamples, args.draw_sigma, args.point_sigma,
                                  fit=args.fit)
            print(f"| {label} | {resample} | {cov:.1%} | {ratio:.2f} |  ({time.time() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
