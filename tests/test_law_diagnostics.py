"""Lack of fit, hold-out skill against the naive prediction, and identifiability, each on a
case whose answer is known by hand."""

import math

import numpy as np
import pytest
from scipy import stats

from drscaling import laws
from drscaling.laws.diagnostics import identifiability, lack_of_fit, local_slopes
from drscaling.laws.study import fit_for_study
from drscaling.laws.uncertainty import holdout_check, naive_prediction, resample_indices

D = np.array([1000, 2000, 4000, 8000, 16000, 32000], dtype=float)
TRUTH = {"B": 2e4, "beta": 0.3, "delta": 1.0}


def test_means_on_the_law_show_no_lack_of_fit_and_curved_means_do():
    # two draws at +-1% in log space around the law: the per-size means lie on it exactly
    d = np.tile(D, 2)
    sign = np.repeat([1.0, -1.0], len(D))
    exact = laws.data_size_law(d, **TRUTH) * np.exp(0.01 * sign)
    lof = lack_of_fit(laws.fit_data_size_law(d, exact, loss="linear"))
    assert lof["df_lack_of_fit"] == 3 and lof["df_pure_error"] == 6
    assert lof["ss_pure_error"] == pytest.approx(12 * 0.01 ** 2, rel=1e-9)
    assert lof["F"] < 1e-3 and lof["p_value"] > 0.99
    # means that bend away from any power law (a dip in the middle), same small spread
    bent = exact * np.exp(0.05 * np.tile([0, 1, 0, -1, 0, 1], 2))
    fit = laws.fit_data_size_law(d, bent, loss="linear")
    lof = lack_of_fit(fit)
    # by hand: the residual sum of squares minus the spread of the draws around their size's mean
    r = fit.log_predict(d) - np.log(bent)
    ss_lack = float(np.sum(r ** 2)) - 12 * 0.01 ** 2
    F = (ss_lack / 3) / (12 * 0.01 ** 2 / 6)
    assert lof["F"] == pytest.approx(F, rel=1e-6) and lof["p_value"] == pytest.approx(stats.f.sf(F, 3, 6), rel=1e-6)
    assert lof["p_value"] < 0.01 and "rejected" in lof["status"]
    assert lof["r2_reachable"] == pytest.approx(fit.r2_ceiling)
    # one point per size: nothing to test against
    assert lack_of_fit(laws.fit_data_size_law(D, exact[:6]))["F"] is None


def test_naive_prediction_is_the_largest_fitted_size_at_the_same_other_inputs():
    n = np.array([1.0, 1.0, 2.0, 2.0, 2.0, 3.0, 3.0])
    d = np.array([10.0, 20.0, 10.0, 20.0, 20.0, 10.0, 20.0])
    y = np.array([5.0, 4.0, 3.0, 2.0, 2.2, 9.0, 9.0])
    held = n == 3.0
    assert naive_prediction((n, d), y, held).tolist() == pytest.approx([3.0, 2.1])  # N = 2 at D = 10 and 20
    assert naive_prediction((d,), y, d == 20.0).tolist() == pytest.approx([17.0 / 3] * 4)  # all at D = 10


def test_a_law_that_keeps_improving_beats_no_further_improvement():
    y = laws.data_size_law(D, **TRUTH)
    check = holdout_check(laws.fit_data_size_law, D, y, holdout_mask=D == D.max(), loss="linear")
    assert check.naive_predicted.tolist() == pytest.approx([y[-2]])
    assert check.skill > 0.99 and check.to_dict()["extrapolates"] is True
    # a curve that flattens after the fitted range: the naive prediction wins
    flat = y.copy()
    flat[-1] = y[-2] * 1.001
    check = holdout_check(laws.fit_data_size_law, D, flat, holdout_mask=D == D.max(), loss="linear")
    assert check.skill < 0 and check.to_dict()["extrapolates"] is False


def test_local_slope_is_the_analytic_one_and_a_traded_floor_is_not_determined():
    y = laws.data_size_law(D, **TRUTH)
    fit = laws.fit_data_size_law(D, y, loss="linear")
    (slope,) = local_slopes(fit)
    mid = math.exp(np.mean(np.log(D)))
    reducible = (TRUTH["B"] / mid) ** TRUTH["beta"]
    assert slope["at"] == pytest.approx(mid)
    assert slope["slope"] == pytest.approx(-TRUTH["beta"] * reducible / (reducible + TRUTH["delta"]), rel=1e-4)
    # a nearly straight line in log-log over a short range: beta and delta trade off
    d = np.tile(np.array([2500, 5000, 10000, 20000, 40000, 80000], dtype=float), 2)
    rng = np.random.default_rng(0)
    noisy = laws.data_size_law(d, 1.14e8, 0.1, 0.54) * np.exp(rng.normal(0, 0.01, len(d)))
    study = fit_for_study("data_size", d, noisy, n_resamples=100, seed=0, draws=np.repeat(["a", "b"], 6))
    ident = identifiability(study.fit, study.samples)
    assert "delta" in ident["not_determined"] and "B" in ident["not_determined"]
    (s,) = ident["local_slopes"]
    assert s["interval"][0] < s["slope"] < s["interval"][1] < 0
    assert "determined: d log L / d log n_train" in ident["summary"]


def test_whole_draws_are_resampled_within_their_stratum():
    draws = np.array(["a", "a", "b", "b", "c", "d"])
    strata = np.array(["x", "x", "x", "x", "y", "y"])
    for idx in resample_indices(6, 50, 0, draws, strata):
        picked = [tuple(sorted(draws[idx][k:k + 2])) for k in range(0, 4, 2)]
        assert all(p in (("a", "a"), ("b", "b")) for p in picked)  # stratum x: two whole draws of it
        assert len(idx) == 6 and set(strata[idx[4:]]) == {"y"}
    with pytest.raises(ValueError, match="spans several strata"):
        resample_indices(6, 1, 0, draws, np.array(["x", "y", "x", "x", "y", "y"]))
