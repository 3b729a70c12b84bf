"""The study's intervals say what they claim: on synthetic studies drawn from a known data-size
law with the cpu profile's design (D = 2.5k..80k, two draws) and its noise structure (each
draw's offset, persisting across D, plus each run's own noise; the seed spread is 0.01-0.05 in
log space), the 95% bootstrap interval of beta from ``fit_for_study`` (the Huber scale matched
to the noise, the draws' offsets and the points' residuals resampled) covers the true beta in at
least 90% of 200 studies. research/coverage.py compares the other ways of resampling (points;
whole draws, which covers far less with two draws)."""

import warnings

import numpy as np

from drscaling import laws
from drscaling.laws.study import fit_for_study

D = np.array([2500, 5000, 10000, 20000, 40000, 80000], dtype=float)
TRUTH = {"B": 1.14e8, "beta": 0.1, "delta": 0.54}  # the cpu profile's data-size fit
DRAW_SIGMA, POINT_SIGMA = 0.02, 0.01  # log-space noise of a draw's offset and of a run
STUDIES, RESAMPLES = 200, 200


def synthetic_study(rng):
    d = np.tile(D, 2)
    draw = np.repeat([0, 1], len(D))
    noise = rng.normal(0, DRAW_SIGMA, 2)[draw] + rng.normal(0, POINT_SIGMA, len(d))
    return d, laws.data_size_law(d, **TRUTH) * np.exp(noise), np.array([f"s{k}" for k in draw])


def test_beta_intervals_cover_the_true_beta_in_at_least_90_percent_of_200_studies():
    rng = np.random.default_rng(12345)
    covered = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for study in range(STUDIES):
            d, y, draws = synthetic_study(rng)
            fit = fit_for_study("data_size", d, y, n_resamples=RESAMPLES, seed=study, draws=draws).fit
            assert fit.bootstrap["resample"] == "residuals" and fit.bootstrap["unit"] == "draw"
            low, high = fit.intervals["beta"]
            covered.append(low <= TRUTH["beta"] <= high)
    assert np.mean(covered) >= 0.90, f"95% intervals covered the true beta in {np.mean(covered):.1%} of {STUDIES}"
