"""The fitting library: it must recover laws whose truth is known, and say when it cannot."""

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from drscaling import laws
from drscaling.laws import (
    bootstrap,
    fit_data_size_law,
    fit_joint_law,
    fit_model_size_law,
    holdout_check,
    holdout_largest,
    with_intervals,
)

N8 = np.logspace(math.log10(3e4), 8, 8)  # model sizes: 3e4 .. 1e8, log-spaced
D8 = np.logspace(3, 6, 8)  # data sizes: 1e3 .. 1e6
GRID_N, GRID_D = (a.ravel() for a in np.meshgrid(np.logspace(math.log10(3e4), 8, 5), np.logspace(3, 6, 5)))

MODEL_TRUTHS = [dict(A=3.22e4, alpha=0.53, delta=0.04),  # the paper's MS MARCO fit (v2)
                dict(A=1e6, alpha=0.5, delta=1.0),
                dict(A=3e5, alpha=0.35, delta=0.3)]
DATA_TRUTHS = [dict(B=3.49e3, beta=1.05, delta=0.05), dict(B=1e5, beta=0.5, delta=0.5)]
JOINT_TRUTHS = [dict(A=3.6e4, B=7.1e3, alpha=0.56, beta=1.31, delta=0.03),
                dict(A=1e5, B=3e3, alpha=0.5, beta=0.8, delta=0.3)]


def assert_close(params, truth, rtol):
    for k, v in truth.items():
        assert params[k] == pytest.approx(v, rel=rtol), f"{k}: fitted {params[k]:.6g}, true {v:.6g}"


def noisy(losses, sigma, seed):
    return losses * np.exp(np.random.default_rng(seed).normal(0.0, sigma, np.shape(losses)))


# ---------------------------------------------------------------- the log-sum-exp forms

def test_log_forms_equal_direct_forms():
    rng = np.random.default_rng(0)
    for _ in range(50):
        A, B = 10 ** rng.uniform(2, 8, 2)
        alpha, beta = rng.uniform(0.1, 2.0, 2)
        delta = rng.choice([0.0, rng.uniform(0.01, 2.0)])
        n, d = 10 ** rng.uniform(3, 9, 7), 10 ** rng.uniform(2, 7, 7)
        np.testing.assert_allclose(laws.log_model_size_law(n, math.log(A), alpha, delta),
                                   np.log(laws.model_size_law(n, A, alpha, delta)), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(laws.log_data_size_law(d, math.log(B), beta, delta),
                                   np.log(laws.data_size_law(d, B, beta, delta)), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(laws.log_joint_law(n, d, math.log(A), math.log(B), alpha, beta, delta),
                                   np.log(laws.joint_law(n, d, A, B, alpha, beta, delta)), rtol=1e-12, atol=1e-12)


def test_log_forms_stay_finite_where_direct_forms_overflow():
    n = np.array([1e-3, 1.0, 1e3])
    with np.errstate(over="ignore"):
        direct = laws.model_size_law(n, 1e300, 3.0, 0.1)
        direct_joint = laws.joint_law(n, n, 1e300, 1e300, 3.0, 0.5, 0.1)
    assert not np.isfinite(direct).all() and not np.isfinite(direct_joint).all()
    logged = laws.log_model_size_law(n, math.log(1e300), 3.0, 0.1)
    assert np.isfinite(logged).all()
    assert logged[1] == pytest.approx(3.0 * math.log(1e300))  # log((A/N)^alpha) dominates
    assert np.isfinite(laws.log_joint_law(n, n, math.log(1e300), math.log(1e300), 3.0, 0.5, 0.1)).all()
    # delta = 0 (no floor) and a vanishing reducible term are both fine
    assert laws.log_model_size_law(1e300, 0.0, 5.0, 0.0) == pytest.approx(-5 * math.log(1e300))
    assert laws.log_model_size_law(1e300, 0.0, 5.0, 0.2) == pytest.approx(math.log(0.2))


def test_analytic_jacobians_match_finite_differences():
    x = (GRID_N, GRID_D)
    for name, theta in [("model_size", dict(log_A=10.0, alpha=0.6, delta=0.05)),
                        ("joint", dict(log_A=10.0, log_B=8.5, alpha=0.6, beta=1.2, delta=0.05))]:
        law = laws.LAWS[name]
        X = x[:len(law.inputs)]
        jac = law.jac(X, **theta)
        for j, k in enumerate(law.internal):
            h = 1e-6 * max(1.0, abs(theta[k]))
            up, down = dict(theta), dict(theta)
            up[k] += h
            down[k] -= h
            fd = (law.logpred(X, **up) - law.logpred(X, **down)) / (2 * h)
            np.testing.assert_allclose(jac[:, j], fd, rtol=1e-5, atol=1e-8, err_msg=f"{name}: d/d{k}")


# ---------------------------------------------------------------- recovery of known truth

@pytest.mark.parametrize("truth", MODEL_TRUTHS)
def test_model_size_law_recovered_from_noiseless_points(truth):
    fit = fit_model_size_law(N8, laws.model_size_law(N8, **truth))
    assert_close(fit.params, truth, 0.02)
    assert fit.law == "model_size" and fit.success and fit.bounds_hit == [] and fit.warnings == []
    assert fit.r2 == pytest.approx(1.0, abs=1e-9)
    assert "converged" in fit.status and "NOT" not in fit.status


@pytest.mark.parametrize("truth", DATA_TRUTHS)
def test_data_size_law_recovered_from_noiseless_points(truth):
    fit = fit_data_size_law(D8, laws.data_size_law(D8, **truth))
    assert_close(fit.params, truth, 0.02)
    assert fit.law == "data_size" and set(fit.params) == {"B", "beta", "delta"} and fit.success


@pytest.mark.parametrize("truth", JOINT_TRUTHS)
def test_joint_law_recovered_from_noiseless_grid(truth):
    fit = fit_joint_law(GRID_N, GRID_D, laws.joint_law(GRID_N, GRID_D, **truth))
    assert_close(fit.params, truth, 0.02)
    assert fit.law == "joint" and fit.success and fit.bounds_hit == []
    assert fit.r2 == pytest.approx(1.0, abs=1e-9)


def test_laws_recovered_from_noisy_points():
    # multiplicative log-normal noise of 1%; 8 sizes x 2 runs each (model, data), 5 x 5 grid (joint)
    n, d = np.repeat(N8, 2), np.repeat(D8, 2)
    truth = MODEL_TRUTHS[0]
    fit = fit_model_size_law(n, noisy(laws.model_size_law(n, **truth), 0.01, seed=1))
    assert_close(fit.params, truth, 0.05)
    assert 0.99 < fit.r2 < 1.0 and fit.success and fit.bounds_hit == []

    truth = DATA_TRUTHS[1]
    fit = fit_data_size_law(d, noisy(laws.data_size_law(d, **truth), 0.01, seed=2))
    assert_close(fit.params, truth, 0.10)

    truth = JOINT_TRUTHS[1]
    fit = fit_joint_law(GRID_N, GRID_D, noisy(laws.joint_law(GRID_N, GRID_D, **truth), 0.01, seed=3))
    assert_close(fit.params, truth, 0.10)


def test_huber_loss_resists_an_outlier_that_least_squares_follows():
    truth = MODEL_TRUTHS[0]
    n = np.logspace(math.log10(3e4), 8, 12)
    losses = laws.model_size_law(n, **truth)
    losses[5] *= 1.3  # one broken run
    robust = fit_model_size_law(n, losses)
    plain = fit_model_size_law(n, losses, loss="linear")
    assert_close(robust.params, truth, 0.02)
    assert abs(plain.params["alpha"] / truth["alpha"] - 1) > 0.02
    assert robust.options["huber_delta"] == 1e-3 and plain.options["huber_delta"] is None


# ---------------------------------------------------------------- what a fit records

def test_fit_records_starts_predicts_and_serialises():
    truth = MODEL_TRUTHS[0]
    losses = laws.model_size_law(N8, **truth)
    fit = fit_model_size_law(N8, losses)
    assert len(fit.starts) == 25
    assert all({"start", "params", "objective", "success", "message", "nfev"} <= set(s) for s in fit.starts)
    best = min(fit.starts, key=lambda s: s["objective"])
    assert fit.start == best["start"] and fit.objective == best["objective"]
    np.testing.assert_allclose(fit.predict(N8), losses, rtol=1e-8)
    assert isinstance(fit.predict(1e9), float)
    assert fit.predict(1e12) == pytest.approx(laws.model_size_law(1e12, **truth), rel=1e-6)
    np.testing.assert_array_equal(fit.points["n_params"], N8)
    d = json.loads(json.dumps(fit.to_dict(), allow_nan=False))
    assert d["law"] == "model_size" and d["n_points"] == 8 and set(d["params"]) == {"A", "alpha", "delta"}
    again = laws.LawFit.from_dict(d)
    np.testing.assert_allclose(again.predict(N8), fit.predict(N8), rtol=1e-12)
    with pytest.raises(ValueError, match="takes 1 argument"):
        fit.predict(N8, N8)

    joint = fit_joint_law(GRID_N, GRID_D, laws.joint_law(GRID_N, GRID_D, **JOINT_TRUTHS[0]),
                          starts=[{"alpha": 0.5, "beta": 1.0}, {"A": 1e4, "B": 1e4, "alpha": 1.0, "beta": 1.0,
                                                               "delta": 0.0}])
    assert len(joint.starts) == 2 and joint.predict(1e9, 1e7) > JOINT_TRUTHS[0]["delta"]
    with pytest.raises(ValueError, match="starts: unknown parameter"):
        fit_model_size_law(N8, losses, starts=[{"beta": 0.5}])


def test_floor_at_zero_is_reported_as_a_bound_hit():
    losses = laws.model_size_law(N8, 3e4, 0.5, 0.0)  # a pure power law: no floor
    fit = fit_model_size_law(N8, losses)
    assert "delta" in fit.bounds_hit
    assert "on a bound: delta" in fit.status
    assert any("delta sits on its lower bound 0" in w for w in fit.warnings)
    assert fit.params["alpha"] == pytest.approx(0.5, rel=1e-3)


def test_unconverged_fit_says_so():
    losses = laws.model_size_law(N8, **MODEL_TRUTHS[0])
    fit = fit_model_size_law(N8, losses, max_nfev=2, starts=[{"alpha": 2.0, "delta": 0.0}])
    assert not fit.success
    assert fit.status.startswith("did NOT converge")
    assert any("did not converge" in w for w in fit.warnings)


# ---------------------------------------------------------------- bootstrap intervals

BOOTSTRAP_RESAMPLES = 100


def test_bootstrap_intervals_cover_the_truth_in_most_seeds():
    truth = MODEL_TRUTHS[0]
    n = np.repeat(N8, 2)  # 8 sizes, 2 runs each: resampling runs keeps every size likely present
    covered = {k: 0 for k in truth}
    for seed in range(10):
        losses = noisy(laws.model_size_law(n, **truth), 0.01, seed=100 + seed)
        iv = bootstrap(fit_model_size_law, n, losses, n_resamples=BOOTSTRAP_RESAMPLES, seed=seed)
        assert iv.n_resamples == BOOTSTRAP_RESAMPLES and iv.n_failed == 0
        for k, v in truth.items():
            low, high = iv[k]
            assert low < high
            covered[k] += low <= v <= high
    assert all(c >= 8 for c in covered.values()), covered


def test_bootstrap_is_seeded_counts_failures_and_goes_into_the_fit():
    truth = MODEL_TRUTHS[1]
    n = np.logspace(math.log10(3e4), 8, 5)  # 5 points: some resamples have < 3 distinct sizes
    losses = noisy(laws.model_size_law(n, **truth), 0.01, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        a = bootstrap(fit_model_size_law, n, losses, n_resamples=30, seed=4)
        b = bootstrap(fit_model_size_law, n, losses, n_resamples=30, seed=4)
    assert dict(a) == dict(b)
    assert a.n_failed > 0 and a.n_used == 30 - a.n_failed
    assert any("distinct" in reason for reason in a.failures)
    assert set(a.samples) == {"A", "alpha", "delta"} and a.samples["alpha"].size == a.n_used

    fit = with_intervals(fit_model_size_law(n, losses), n_resamples=30, seed=4)
    assert fit.intervals == dict(a)
    assert fit.bootstrap["n_failed"] == a.n_failed and fit.bootstrap["seed"] == 4
    assert any("resamples failed" in w for w in fit.warnings)
    json.dumps(fit.to_dict(), allow_nan=False)

    joint = fit_joint_law(GRID_N, GRID_D, noisy(laws.joint_law(GRID_N, GRID_D, **JOINT_TRUTHS[1]), 0.01, 5))
    joint = with_intervals(joint, n_resamples=10, seed=0)
    assert set(joint.intervals) == {"A", "B", "alpha", "beta", "delta"}
    assert joint.bootstrap["n_resamples"] == 10
    for k, (low, high) in joint.intervals.items():
        assert low <= high


# ---------------------------------------------------------------- extrapolation check

def test_holdout_check_predicts_held_out_points_of_noiseless_laws():
    losses = laws.model_size_law(N8, **MODEL_TRUTHS[0])
    check = holdout_check(fit_model_size_law, N8, losses, holdout_largest(N8))
    assert check.holdout_mask.sum() == 1 and check.inputs["n_params"][0] == N8.max()
    assert check.fit.n_points == 7
    assert check.max_abs_relative_error < 1e-3

    losses = laws.data_size_law(D8, **DATA_TRUTHS[0])
    check = holdout_check(fit_data_size_law, D8, losses, holdout_mask=D8 >= D8[-2])
    assert len(check.observed) == 2 and check.max_abs_relative_error < 1e-3

    # joint: the largest model at every data size and the largest data size at every model
    # size are held out, as for the paper's joint-law figure
    losses = laws.joint_law(GRID_N, GRID_D, **JOINT_TRUTHS[0])
    mask = holdout_largest(GRID_N) | holdout_largest(GRID_D)
    check = holdout_check(fit_joint_law, GRID_N, GRID_D, losses, mask)
    assert check.fit.n_points == 16 and len(check.predicted) == 9
    assert check.max_abs_relative_error < 1e-3
    np.testing.assert_allclose(check.relative_error, check.predicted / check.observed - 1)
    json.dumps(check.to_dict(), allow_nan=False)


def test_holdout_check_rejects_bad_masks():
    losses = laws.model_size_law(N8, **MODEL_TRUTHS[0])
    with pytest.raises(ValueError, match="holdout_mask: expected a boolean array"):
        holdout_check(fit_model_size_law, N8, losses, np.arange(8))
    with pytest.raises(ValueError, match="holdout_mask: expected 8 values"):
        holdout_check(fit_model_size_law, N8, losses, np.ones(7, bool))
    with pytest.raises(ValueError, match="no point is held out"):
        holdout_check(fit_model_size_law, N8, losses, np.zeros(8, bool))
    with pytest.raises(ValueError, match="every point is held out"):
        holdout_check(fit_model_size_law, N8, losses, np.ones(8, bool))
    with pytest.raises(ValueError, match="losses: 3 point"):  # too few left to fit
        holdout_check(fit_model_size_law, N8, losses, np.arange(8) >= 3)


# ---------------------------------------------------------------- bad inputs

LOSSES8 = laws.model_size_law(N8, **MODEL_TRUTHS[0])


@pytest.mark.parametrize("call, message", [
    (lambda: fit_model_size_law(N8[:3], LOSSES8[:3]), r"losses: 3 point\(s\) given; the model_size law has 3 "
                                                      r"parameters and needs at least 4 points"),
    (lambda: fit_joint_law(GRID_N[:5], GRID_D[:5], LOSSES8[:5]), r"joint law has 5 parameters and needs at "
                                                                 r"least 6 points"),
    (lambda: fit_model_size_law(N8, LOSSES8[:7]), r"losses: has 7 values but n_params has 8"),
    (lambda: fit_joint_law(N8, D8[:6], LOSSES8), r"n_train: has 6 values but n_params has 8"),
    (lambda: fit_model_size_law(np.r_[0.0, N8[1:]], LOSSES8), r"n_params\[0\] = 0; expected model sizes .* > 0"),
    (lambda: fit_data_size_law(np.r_[D8[:3], -5, D8[4:]], LOSSES8), r"n_train\[3\] = -5; expected data sizes"),
    (lambda: fit_model_size_law(N8, np.r_[LOSSES8[:2], 0.0, LOSSES8[3:]]), r"losses\[2\] = 0; expected test losses"),
    (lambda: fit_model_size_law(N8, np.r_[LOSSES8[:4], np.nan, LOSSES8[5:]]), r"losses\[4\] is nan; expected finite"),
    (lambda: fit_model_size_law(np.r_[N8[:7], np.inf], LOSSES8), r"n_params\[7\] is inf; expected finite"),
    (lambda: fit_model_size_law(N8.reshape(2, 4), LOSSES8), r"n_params: expected a 1-D sequence .* shape \(2, 4\)"),
    (lambda: fit_model_size_law(["a"] * 8, LOSSES8), r"n_params: expected a 1-D sequence of numbers"),
    (lambda: fit_model_size_law(np.r_[N8[:4], N8[:4]][[0, 0, 0, 0, 1, 1, 1, 1]], LOSSES8),
     r"n_params: only 2 distinct value\(s\); the model_size law needs at least 3"),
    (lambda: fit_joint_law(np.full(8, 1e6), D8, LOSSES8), r"n_params: all points have the same value"),
    (lambda: fit_model_size_law(N8, LOSSES8, loss="l1"), r"loss: expected 'huber' or 'linear'"),
    (lambda: fit_model_size_law(N8, LOSSES8, huber_delta=-1), r"huber_delta: expected a positive number"),
    (lambda: fit_model_size_law(N8, LOSSES8, exponent_bounds=(0, 1)), r"exponent_bounds: expected"),
    (lambda: bootstrap(fit_model_size_law, N8, n_resamples=5), r"bootstrap: the model_size law takes 2 arrays"),
    (lambda: bootstrap(fit_model_size_law, N8, LOSSES8, n_resamples=0), r"n_resamples: expected a positive"),
    (lambda: laws.fit_law("compute", N8, LOSSES8), r"law: expected one of"),
])
def test_bad_inputs_raise_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---------------------------------------------------------------- the paper's reported values

def test_paper_reported_values_load_with_sources():
    """v1 (full text found) is primary; v2 values are third-party, in secondary blocks."""
    ref = laws.paper_reported()
    v1 = ref["msmarco"]["model_size"]["v1"]
    assert (v1["A"], v1["alpha"], v1["delta"], v1["r2"]) == (4.54e4, 0.46, 0.02, 0.990)
    assert "Table 1" in v1["source"]
    v2 = ref["msmarco"]["model_size"]["v2"]
    assert v2["alpha"] is None and laws.paper_value(v2, "alpha") == 0.53 and laws.paper_value(v2, "A") == 3.22e4
    assert [ref["t2ranking"]["data_size"]["v1"][k] for k in ("B", "beta", "delta", "r2")] == [6.04e4, 0.50, 0.15, 0.991]
    joint = ref["msmarco"]["joint"]["v1"]
    assert [joint[k] for k in ("A", "B", "alpha", "beta", "delta")] == [8.2e5, 5.2e3, 0.57, 1.39, 0.03]
    assert ref["cost_model"]["z_train"] == 3.22e-8 and ref["cost_model"]["z_infer"] == 0.43
    for ds in laws.PAPER_DATASETS:
        for law in laws.PAPER_LAWS:
            for ver in laws.PAPER_VERSIONS:
                entry = ref[ds][law][ver]
                assert entry["source"].strip()
                for k in laws._PAPER_PARAMS[law]:
                    assert k in entry and (entry[k] is None or isinstance(entry[k], float)), (ds, law, ver, k)
                if "secondary" in entry:
                    assert "NOT checked" in entry["secondary"]["source"]


def test_paper_reported_rejects_exponents_yaml_reads_as_text(tmp_path):
    from drscaling import paths

    text = (paths.CONFIGS / "paper_reported.yaml").read_text().replace("3.22e+4", "3.22e4")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(ValueError, match=r"msmarco.model_size.v2.secondary.A: expected a number or null"):
        laws.paper_reported(bad)


def test_our_fitter_recovers_the_authors_law_from_their_points():
    """The authors' released model-size points (plot.py) fitted by our fitter: the law their
    v2 reports for MS MARCO (alpha 0.53, delta 0.04; third-party), to 0.03 and 0.01."""
    fit = laws.fit_authors_points()
    assert abs(fit.params["alpha"] - 0.53) < 0.03 and abs(fit.params["delta"] - 0.04) < 0.01
    assert fit.r2 > 0.99 and not fit.bounds_hit


def test_paper_reported_rejects_broken_authors_points(tmp_path):
    from drscaling import paths

    text = (paths.CONFIGS / "paper_reported.yaml").read_text().replace("cll: [0.3148, ", "cll: [")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(ValueError, match="authors_points: expected n_params_mi and cll, lists of the same length"):
        laws.paper_reported(bad)


def test_fit_for_study_band_and_holdout():
    """The study's one-call fit: intervals, a prediction band that contains the truth on
    noiseless data, and the hold-out check at the largest N."""
    N = np.geomspace(3e4, 3e6, 6)
    L = (3e4 / N) ** 0.5 + 0.5
    study = laws.fit_for_study("model_size", N, L, holdout_mask=N == N.max(), n_resamples=40, seed=1)
    assert set(study.fit.intervals) == {"A", "alpha", "delta"}
    low, high = study.band(N)
    assert np.all(low <= L * (1 + 1e-6)) and np.all(high >= L * (1 - 1e-6))
    assert abs(study.holdout.relative_error[0]) < 1e-3
    d = study.to_dict()
    assert d["holdout"]["fit_params"]["alpha"] == pytest.approx(0.5, rel=1e-3)


def test_compare_with_paper_rows():
    N = np.geomspace(3e4, 3e6, 6)
    fit = laws.fit_model_size_law(N, (3e4 / N) ** 0.5 + 0.5)
    reported = {"msmarco": {"model_size": {"v2": {"A": 3.22e4, "alpha": 0.53, "delta": 0.04, "r2": 0.991}}}}
    table = laws.compare_with_paper({"model_size": fit}, reported)
    row = table[(table["law"] == "model_size") & (table["parameter"] == "alpha")].iloc[0]
    assert row["ours"] == pytest.approx(0.5, rel=1e-3) and row["paper_msmarco_v2"] == 0.53
    assert pd.isna(row["paper_t2ranking_v2"])
    assert set(table["law"]) == {"model_size", "data_size", "joint"}


# ---------------------------------------------------------------- the fast bootstrap (issue 11)
# A cpu-profile-sized model-size sweep: 8 sizes over 1.5 decades, 2 seeds each, 2% run-to-run
# noise (about 0.05 of CLL), around the parameters the cpu study measured.
CPU_N = np.repeat(np.geomspace(2.6e4, 2.6e4 * 10 ** 1.5, 8), 2)
CPU_TRUTH = {"A": 4e4, "alpha": 0.42, "delta": 2.1}


def cpu_like_losses(seed):
    return noisy(laws.model_size_law(CPU_N, **CPU_TRUTH), 0.02, seed=seed)


def resample_objective(law_name, samples, points, seed, huber_delta=laws.HUBER_DELTA):
    """Huber objective of each bootstrap refit on its own resample (the resamples drawn as
    bootstrap draws them: one generator, ``n_resamples`` draws of n indices)."""
    law = laws.LAWS[law_name]
    X, y = points[:-1], points[-1]
    m = len(next(iter(samples.values())))
    idx = np.random.default_rng(seed).integers(0, len(y), (m, len(y)))
    out = []
    for i in range(m):
        internal = laws.to_internal(law, {k: v[i] for k, v in samples.items()})
        r = law.logpred(tuple(x[idx[i]] for x in X), **internal) - np.log(y[idx[i]])
        out.append(laws.huber_objective(r, huber_delta))
    return np.array(out)


SCALES = ("A", "B", "D_T")  # fitted as logs; compared on a log scale (they span decades)


def assert_fast_refits_equal_grid_refits(law_name, x, losses, full, n=6, seed=3):
    """Resample by resample (same seed, same resamples), the fast refit is as good as a fresh fit
    from the whole grid of starts through scipy (``refit="grid"``): the same Huber objective and
    the same parameters (to 2%: in a flat valley scipy's ftol stops it a little short)."""
    xs = x if isinstance(x, tuple) else (x,)  # the joint laws: (N, D)
    fast = bootstrap(law_name, *xs, losses, n_resamples=n, seed=seed, full_fit=full)
    grid = bootstrap(law_name, *xs, losses, n_resamples=n, seed=seed, full_fit=full, refit="grid")
    assert fast.n_used == grid.n_used == n
    hd = full.options["huber_delta"]  # the refits use the full fit's
    f_fast = resample_objective(law_name, fast.samples, (*xs, losses), seed=seed, huber_delta=hd)
    f_grid = resample_objective(law_name, grid.samples, (*xs, losses), seed=seed, huber_delta=hd)
    # never worse than the full multi-start (scipy stops on ftol = 1e-10: allow 1e-8)
    assert np.all(f_fast <= f_grid * (1 + 1e-8)), (f_fast / f_grid - 1)
    for k in laws.LAWS[law_name].reported:
        if k in SCALES:
            np.testing.assert_allclose(np.log(fast.samples[k]), np.log(grid.samples[k]), atol=2e-2, err_msg=k)
        else:
            np.testing.assert_allclose(fast.samples[k], grid.samples[k], rtol=2e-2, err_msg=k)


def interval_ends(law_name, samples):
    """The 95% interval ends of each parameter, the scales on a log scale."""
    v = {k: np.log(s) if k in SCALES else s for k, s in samples.items()}
    return np.array([np.quantile(v[k], [0.025, 0.975]) for k in laws.LAWS[law_name].reported])


def full_multistart(law_name, x, losses, n, seed):
    """The reference bootstrap: the ``n`` resamples of ``seed``, each from every start of its own
    default grid, within its own bounds, all solved to convergence, the lowest objective kept."""
    law = laws.LAWS[law_name]
    idx = np.random.default_rng(seed).integers(0, len(losses), (n, len(losses)))
    starts = [laws.default_starts(law, (x[i],), losses[i]) for i in idx]
    k = len(starts[0])
    rows = np.repeat(idx, k, axis=0)
    x0, lo, hi = (np.array(v) for v in zip(*(laws._start_vector(
        law, s, laws.parameter_bounds(law, losses[i], laws.EXPONENT_BOUNDS, (x[i],)))
        for i, ss in zip(idx, starts) for s in ss)))
    xs, f, ok, _ = laws.fit_many(law, (x[rows],), np.log(losses[rows]), x0, lo, hi, laws.HUBER_DELTA, 5000)
    xs, f = xs.reshape(n, k, -1), f.reshape(n, k)
    assert ok.reshape(n, k)[np.arange(n), f.argmin(axis=1)].all()
    best = xs[np.arange(n), f.argmin(axis=1)]
    return {rep: np.exp(best[:, j]) if rep in SCALES else best[:, j] for j, rep in enumerate(law.reported)}


def assert_fast_intervals_within_seed_noise(law_name, x, losses, full, n, seeds, compared):
    """The fast bootstrap's interval ends against the full multi-start's on the same resamples
    (the first ``compared`` seeds): within a quarter of how much they move between seeds."""
    fast = [interval_ends(law_name, bootstrap(law_name, x, losses, n_resamples=n, seed=s, full_fit=full).samples)
            for s in seeds]
    noise = np.std(fast, axis=0, ddof=1)  # seed-to-seed spread of each interval end
    assert np.all(noise > 0)
    for s in seeds[:compared]:
        diff = np.abs(fast[s] - interval_ends(law_name, full_multistart(law_name, x, losses, n, s)))
        assert np.all(diff <= 0.25 * noise), f"seed {s}: |fast - full| / seed noise =\n{diff / noise}"


def test_fast_bootstrap_refits_reach_the_full_multistart_optimum():
    losses = cpu_like_losses(seed=11)
    full = fit_model_size_law(CPU_N, losses)
    assert full.success and full.bounds_hit == []
    assert_fast_refits_equal_grid_refits("model_size", CPU_N, losses, full)  # about 0.6 s a resample


def test_fast_bootstrap_intervals_within_sampling_noise_of_full_multistart():
    """The 95% intervals of the fast bootstrap against those of the full multi-start bootstrap
    (every resample from the whole grid of starts, all solved to convergence, the lowest
    objective kept) on the same resamples: their difference is a small fraction of how much the
    interval ends move between bootstrap seeds, i.e. lost in the bootstrap's own noise."""
    losses = cpu_like_losses(seed=11)
    full = fit_model_size_law(CPU_N, losses)
    assert_close(full.params, CPU_TRUTH, 0.3)  # the known parameters, as far as 2% noise allows
    assert_fast_intervals_within_seed_noise("model_size", CPU_N, losses, full, n=200, seeds=range(4), compared=2)


def test_fit_for_study_carries_the_unreliable_intervals_warning():
    # 5 points: a third of the resamples have fewer than 3 distinct sizes (issue 14)
    n = np.geomspace(3e4, 3e6, 5)
    losses = noisy(laws.model_size_law(n, **MODEL_TRUTHS[2]), 0.01, seed=0)
    study = laws.fit_for_study("model_size", n, losses, n_resamples=40, seed=0)
    assert study.fit.bootstrap["n_used"] < 0.9 * 40
    assert any("intervals are unreliable" in w for w in study.fit.warnings)
    assert any("resamples failed" in w for w in study.fit.warnings)
    assert study.fit.warnings == with_intervals(fit_model_size_law(n, losses), n_resamples=40, seed=0).warnings


def test_fit_study_laws_in_two_processes_gives_the_same_records_as_in_one():
    rng = np.random.default_rng(4)
    n = np.repeat([1e4, 3e4, 1e5, 3e5, 1e6], 2)
    d = np.repeat([2.5e3, 5e3, 1e4, 2e4, 4e4], 2)
    frame = pd.DataFrame({"run_id": [f"r{i}" for i in range(10)], "n_params": n, "n_train": d})
    points = {"model_size": frame.assign(cll_test=laws.model_size_law(n, 2e4, 0.6, 1.5) * np.exp(rng.normal(0, 0.02, 10))),
              "data_size": frame.assign(cll_test=laws.data_size_law(d, 3e3, 0.5, 1.2) * np.exp(rng.normal(0, 0.02, 10))),
              "joint": frame.head(3)}  # too few points: reported as not fitted either way
    one = laws.fit_study_laws(points, n_resamples=30, seed=3)
    two = laws.fit_study_laws(points, n_resamples=30, seed=3, workers=2)
    assert list(two[0]) == list(one[0]) == ["model_size", "data_size"]
    assert json.dumps(two[1], sort_keys=True) == json.dumps(one[1], sort_keys=True)  # every number, bit for bit
    assert two[2] == one[2]


def test_fit_study_laws_recovers_known_laws_and_reports_the_rest():
    """Notebook 05's fits on synthetic sweeps: the model-size law is recovered from its own
    points, the held-out largest N is predicted, a sweep with too few points is reported."""
    truth = {"A": 2e4, "alpha": 0.6, "delta": 1.5}
    n = np.array([1e4, 3e4, 1e5, 3e5, 1e6, 3e6])
    model = pd.DataFrame({"run_id": [f"m{i}" for i in range(6)], "n_params": n, "n_train": 4e4,
                          "cll_test": laws.model_size_law(n, **truth)})
    data = model.head(3).assign(run_id=["d0", "d1", "d2"])
    studies, report, lines = laws.fit_study_laws({"model_size": model, "data_size": data}, n_resamples=20,
                                                 missing={"data_size": ["d3"]})
    assert list(studies) == ["model_size"]
    fit = studies["model_size"].fit
    assert fit.params["alpha"] == pytest.approx(0.6, rel=1e-3) and fit.r2 == pytest.approx(1.0)
    assert report["model_size"]["run_ids"] == list(model["run_id"])
    assert studies["model_size"].holdout.relative_error == pytest.approx([0.0], abs=1e-3)  # 3e6 held out
    assert report["data_size"] == {"status": "not fitted: 3 points, at least 4 needed", "missing_runs": ["d3"]}
    assert lines[-1] == "data_size: NOT FITTED — only 3 points (at least 4 needed)."
    assert any("extrapolation: fitted without 1 point(s) at the largest N" in line for line in lines)
    table = laws.parameter_table({"model_size": fit})
    assert table.loc[("model_size", "alpha"), "value"] == pytest.approx(0.6, rel=1e-3)
    assert table.loc[("model_size", "R² (log L)"), "value"] == pytest.approx(1.0)
    assert table.loc[("model_size", "R² reachable (seed spread)"), "value"] == pytest.approx(fit.r2_ceiling)


def test_parameter_table_of_no_fit_is_empty_with_its_columns():
    """A profile with no main grid fits no law: notebook 05 still shows a (empty) table."""
    from drscaling.laws import parameter_table

    table = parameter_table({})
    assert len(table) == 0 and list(table.columns) == ["value", "95% low", "95% high"]
    assert list(table.index.names) == ["law", "parameter"]


# ---------------------------------------------------------------- the transfer form of the data-size law
# L(D) = (B/(D + D_T))**beta + delta (Hernandez et al. 2021): the pretraining is worth D_T pairs.
# A cpu-profile-sized sweep: 12 data sizes over 1.5 decades from 2,500 pairs, one run each.
D12 = np.geomspace(2500, 2500 * 10 ** 1.5, 12)
TRANSFER_TRUTHS = [dict(B=5.5e4, D_T=4e3, beta=0.3, delta=1.5),
                   dict(B=1e7, D_T=4e3, beta=0.14, delta=0.6)]  # near the cpu study's own fit
TRANSFER_TRUTH = dict(B=2e5, D_T=5e3, beta=0.5, delta=1.0)  # its bend well inside the points


def test_transfer_law_log_form_equals_the_direct_form_and_a_value_by_hand():
    # (1e4 / (9e3 + 1e3))**0.5 + 0.2 = 1.2
    assert laws.data_size_transfer_law(9e3, 1e4, 1e3, 0.5, 0.2) == pytest.approx(1.2, rel=1e-12)
    assert laws.log_data_size_transfer_law(9e3, math.log(1e4), math.log(1e3), 0.5, 0.2) == pytest.approx(math.log(1.2))
    rng = np.random.default_rng(1)
    for _ in range(50):
        B, D_T = 10 ** rng.uniform(2, 8), 10 ** rng.uniform(-2, 7)
        beta, delta = rng.uniform(0.05, 2.0), rng.choice([0.0, rng.uniform(0.01, 2.0)])
        d = 10 ** rng.uniform(2, 7, 7)
        np.testing.assert_allclose(laws.log_data_size_transfer_law(d, math.log(B), math.log(D_T), beta, delta),
                                   np.log(laws.data_size_transfer_law(d, B, D_T, beta, delta)), rtol=1e-12, atol=1e-12)
    # D_T << D: the paper's data-size law; D_T = 1e300 stays finite in the log form
    np.testing.assert_allclose(laws.data_size_transfer_law(D12, 3e4, 1e-6, 0.4, 0.3),
                               laws.data_size_law(D12, 3e4, 0.4, 0.3), rtol=1e-9)
    assert np.isfinite(laws.log_data_size_transfer_law(D12, 5.0, math.log(1e300), 0.5, 0.0)).all()


def test_transfer_law_jacobian_matches_finite_differences():
    law = laws.LAWS["data_size_transfer"]
    for theta in (dict(log_B=11.0, log_D_T=8.3, beta=0.3, delta=1.5),  # D_T inside the points
                  dict(log_B=16.0, log_D_T=1.0, beta=0.14, delta=0.01),  # D_T far below, a low floor
                  dict(log_B=13.0, log_D_T=13.5, beta=0.8, delta=0.2)):  # D_T above the largest D
        jac = law.jac((D12,), **theta)
        for j, k in enumerate(law.internal):
            h = 1e-6 * max(1.0, abs(theta[k]))
            up, down = dict(theta), dict(theta)
            up[k] += h
            down[k] -= h
            fd = (law.logpred((D12,), **up) - law.logpred((D12,), **down)) / (2 * h)
            np.testing.assert_allclose(jac[:, j], fd, rtol=1e-5, atol=1e-8, err_msg=f"{theta}: d/d{k}")


@pytest.mark.parametrize("truth", TRANSFER_TRUTHS)
def test_transfer_law_recovered_from_noiseless_points(truth):
    fit = laws.fit_law("data_size_transfer", D12, laws.data_size_transfer_law(D12, **truth))
    assert_close(fit.params, truth, 0.01)
    assert fit.law == "data_size_transfer" and list(fit.params) == ["B", "D_T", "beta", "delta"]
    assert fit.success and fit.bounds_hit == [] and fit.r2 == pytest.approx(1.0, abs=1e-9)
    assert fit.bounds["D_T"] == pytest.approx((1e-4 * D12.min(), 1e3 * D12.max()))
    d_t = np.unique(np.round([s["start"]["D_T"] for s in fit.starts], 6))  # from well below to above the points
    assert len(fit.starts) == 75 and d_t.min() == pytest.approx(0.01 * D12.min()) and d_t.max() > D12.max()


def test_transfer_law_recovered_from_noisy_points():
    # 0.1% log-normal noise: four parameters over 1.5 decades are pinned down only by precise points
    # (at 0.5% B already moves by a factor 2; see the bootstrap tests below)
    for seed in range(3):
        losses = noisy(laws.data_size_transfer_law(D12, **TRANSFER_TRUTH), 0.001, seed)
        fit = laws.fit_data_size_transfer_law(D12, losses)
        assert fit.success and fit.bounds_hit == []
        assert fit.params["B"] == pytest.approx(TRANSFER_TRUTH["B"], rel=0.3)
        assert_close({k: fit.params[k] for k in ("D_T", "beta", "delta")},
                     {k: TRANSFER_TRUTH[k] for k in ("D_T", "beta", "delta")}, 0.15)


def test_transfer_law_with_no_transfer_is_the_paper_data_size_law():
    """Points of the paper's law: D_T goes to its lower bound, said so, and the other parameters
    and the predictions are the paper's data-size law's fit."""
    for truth in DATA_TRUTHS + [dict(B=1e8, beta=0.1, delta=1.0)]:
        losses = laws.data_size_law(D12, **truth)
        paper = fit_data_size_law(D12, losses)
        transfer = laws.fit_data_size_transfer_law(D12, losses)
        assert transfer.bounds_hit == ["D_T"] and transfer.params["D_T"] == pytest.approx(1e-4 * D12.min(), rel=1e-3)
        assert "on a bound: D_T" in transfer.status
        assert any("D_T sits on its lower bound" in w and "paper's data-size law" in w for w in transfer.warnings)
        for k in ("beta", "delta"):
            assert transfer.params[k] == pytest.approx(paper.params[k], rel=2e-3), k
        assert math.log(transfer.params["B"]) == pytest.approx(math.log(paper.params["B"]), abs=1e-2)
        np.testing.assert_allclose(transfer.predict(D12), paper.predict(D12), rtol=1e-4)


def test_transfer_law_through_study_holdout_and_json():
    losses = laws.data_size_transfer_law(D12, **TRANSFER_TRUTH)
    frame = pd.DataFrame({"run_id": [f"d{i}" for i in range(12)], "n_params": 1e5, "n_train": D12,
                          "cll_test": losses})
    studies, report, lines = laws.fit_study_laws({"data_size": frame, "data_size_transfer": frame}, n_resamples=20)
    study = studies["data_size_transfer"]
    assert_close(study.fit.params, TRANSFER_TRUTH, 0.01)
    assert set(study.fit.intervals) == {"B", "D_T", "beta", "delta"} and study.fit.bootstrap["n_resamples"] == 20
    assert study.holdout.inputs["n_train"] == pytest.approx([D12.max()])  # the largest D, not the largest N
    assert abs(study.holdout.relative_error[0]) < 1e-3
    low, high = study.band(D12)
    assert np.all(low <= losses * (1 + 1e-6)) and np.all(high >= losses * (1 - 1e-6))
    assert any(line.startswith("data_size_transfer:") for line in lines)
    assert any("at the largest D" in line for line in lines if "extrapolation" in line)
    d = json.loads(json.dumps(report["data_size_transfer"], allow_nan=False))
    again = laws.LawFit.from_dict(d)
    np.testing.assert_allclose(again.predict(D12), study.fit.predict(D12), rtol=1e-12)
    assert d["holdout"]["fit_params"]["D_T"] == pytest.approx(TRANSFER_TRUTH["D_T"], rel=1e-2)
    # the paper's laws are recorded as before, under their own keys
    assert set(report) == {"data_size", "data_size_transfer"}
    assert set(report["data_size"]["params"]) == {"B", "beta", "delta"}
    check = holdout_check(laws.fit_data_size_transfer_law, D12, losses, holdout_largest(D12))
    assert check.fit.n_points == 11 and check.max_abs_relative_error < 1e-3
    # notebook 05's table of the two forms, from their fits.json records
    table = laws.side_by_side(report)
    assert list(table.columns) == ["data_size", "data_size_transfer"]
    assert list(table.index[:4]) == ["B", "D_T", "beta", "delta"] and table.loc["D_T", "data_size"] == "—"
    low, high = study.fit.intervals["D_T"]
    assert table.loc["D_T", "data_size_transfer"] == f"{study.fit.params['D_T']:.4g} [{low:.3g}, {high:.3g}]"
    assert table.loc["on a bound", "data_size_transfer"] == "none"
    assert table.loc["held out: observed", "data_size_transfer"] == f"{losses[-1]:.4g}"
    assert table.loc["held out: predicted (error)", "data_size_transfer"].endswith(("(+0.00%)", "(-0.00%)"))
    unfitted = laws.side_by_side({"data_size": report["data_size"], "data_size_transfer": {"status": "not fitted: 4"}})
    assert unfitted.loc["status", "data_size_transfer"] == "not fitted: 4"
    assert unfitted.loc["status", "data_size"] == "—"


def transfer_like_losses(seed):
    return noisy(laws.data_size_transfer_law(D12, **TRANSFER_TRUTH), 0.002, seed=seed)


def test_fast_bootstrap_of_transfer_law_reaches_the_grid_refit_optimum():
    """As for the model-size law above, with the transfer law's 75 starts (about a second a
    resample through scipy)."""
    losses = transfer_like_losses(seed=11)
    full = laws.fit_data_size_transfer_law(D12, losses)
    assert full.success and full.bounds_hit == []
    assert_fast_refits_equal_grid_refits("data_size_transfer", D12, losses, full)


def test_fast_bootstrap_intervals_of_transfer_law_within_sampling_noise_of_full_multistart():
    """As for the model-size law above, with each resample's own D_T bounds; fewer resamples and
    seeds, to keep the reference (75 starts a resample) affordable."""
    losses = transfer_like_losses(seed=11)
    full = laws.fit_data_size_transfer_law(D12, losses)
    assert_fast_intervals_within_seed_noise("data_size_transfer", D12, losses, full, n=100, seeds=range(3),
                                            compared=1)


def test_r2_ceiling_is_what_the_seed_spread_leaves_to_explain():
    """Worked by hand: two seeds at 1e4 (4.0, 4.4) and at 1e5 (3.0, 3.0), one run at 1e6 (2.5).
    Only the 1e4 pair differs, so the variance no curve of N can explain is that pair's."""
    n = np.array([1e4, 1e4, 1e5, 1e5, 1e6])
    cll = np.array([4.0, 4.4, 3.0, 3.0, 2.5])
    fit = laws.fit_model_size_law(n, cll)
    logs = [math.log(v) for v in cll]
    mean = sum(logs) / 5
    total = sum((v - mean) ** 2 for v in logs)
    within = 2 * ((math.log(4.4) - math.log(4.0)) / 2) ** 2
    assert fit.r2_ceiling == pytest.approx(1 - within / total, rel=1e-12)
    assert fit.r2 <= fit.r2_ceiling + 1e-12  # no curve beats the mean of each point
    assert laws.LawFit.from_dict(json.loads(json.dumps(fit.to_dict()))).r2_ceiling == pytest.approx(fit.r2_ceiling)
    assert fit.to_dict()["r2_ceiling"] == pytest.approx(fit.r2_ceiling)
    one_each = laws.fit_model_size_law(np.array([1e4, 3e4, 1e5, 1e6]), np.array([4.0, 3.5, 3.0, 2.5]))
    assert one_each.r2_ceiling == 1.0  # no input repeated


def test_sweep_points_take_each_laws_runs_by_their_sweep_tags():
    results = pd.DataFrame({"run_id": ["a", "b", "c", "d", "e"],
                            "sweeps": ["model_size,joint", "data_size", float("nan"), "pretraining", "joint"]})
    points = laws.sweep_points(results)
    assert list(points) == ["model_size", "data_size", "joint", "data_size_transfer", "joint_transfer"]
    assert {law: list(f["run_id"]) for law, f in points.items()} == {
        "model_size": ["a"], "data_size": ["b"], "joint": ["a", "e"], "data_size_transfer": ["b"],
        "joint_transfer": ["a", "e"]}
    assert laws.in_sweep("model_size,joint", "joint") and not laws.in_sweep("model_size_x", "model_size")
    assert not laws.in_sweep(float("nan"), "joint") and not laws.in_sweep("", "joint")


# ---------------------------------------------------------------- the joint law's transfer form

# A cpu-profile-like joint grid: 5 model sizes x 5 data sizes, the truth near the cpu study's fit
JT_N, JT_D = (a.ravel() for a in np.meshgrid(np.geomspace(8e3, 3e5, 5), np.geomspace(5e3, 8e4, 5)))
JOINT_TRANSFER_TRUTH = dict(A=2.8e4, B=1.1e5, D_T=2.9e4, alpha=0.65, beta=0.68, delta=1.4)


def test_joint_transfer_law_log_form_equals_the_direct_form_and_a_value_by_hand():
    # N = A: the N term is 1; B / (D + D_T) = 3: (1 + 3)**0.5 + 0.2 = 2.2
    assert laws.joint_transfer_law(1e4, 9e3, 1e4, 3e4, 1e3, 0.7, 0.5, 0.2) == pytest.approx(2.2, rel=1e-12)
    assert laws.log_joint_transfer_law(1e4, 9e3, math.log(1e4), math.log(3e4), math.log(1e3), 0.7, 0.5, 0.2) \
        == pytest.approx(math.log(2.2))
    rng = np.random.default_rng(2)
    for _ in range(50):
        A, B, D_T = 10 ** rng.uniform(3, 7), 10 ** rng.uniform(2, 7), 10 ** rng.uniform(-2, 6)
        alpha, beta, delta = rng.uniform(0.1, 2.0), rng.uniform(0.1, 2.0), rng.choice([0.0, rng.uniform(0.01, 2.0)])
        n, d = 10 ** rng.uniform(3, 7, 7), 10 ** rng.uniform(2, 6, 7)
        np.testing.assert_allclose(
            laws.log_joint_transfer_law(n, d, math.log(A), math.log(B), math.log(D_T), alpha, beta, delta),
            np.log(laws.joint_transfer_law(n, d, A, B, D_T, alpha, beta, delta)), rtol=1e-12, atol=1e-12)
    # D_T << D: the paper's joint law
    np.testing.assert_allclose(laws.joint_transfer_law(JT_N, JT_D, 3e4, 7e3, 1e-6, 0.5, 0.8, 0.3),
                               laws.joint_law(JT_N, JT_D, 3e4, 7e3, 0.5, 0.8, 0.3), rtol=1e-9)


def test_joint_transfer_law_jacobian_matches_finite_differences():
    law = laws.LAWS["joint_transfer"]
    for theta in (dict(log_A=10.2, log_B=11.6, log_D_T=10.3, alpha=0.65, beta=0.68, delta=1.4),  # D_T inside
                  dict(log_A=12.0, log_B=9.0, log_D_T=2.0, alpha=0.4, beta=1.3, delta=0.01),  # D_T far below
                  dict(log_A=9.0, log_B=14.0, log_D_T=13.0, alpha=1.2, beta=0.3, delta=0.05)):  # above, a low floor
        jac = law.jac((JT_N, JT_D), **theta)
        for j, k in enumerate(law.internal):
            h = 1e-6 * max(1.0, abs(theta[k]))
            up, down = dict(theta), dict(theta)
            up[k] += h
            down[k] -= h
            fd = (law.logpred((JT_N, JT_D), **up) - law.logpred((JT_N, JT_D), **down)) / (2 * h)
            np.testing.assert_allclose(jac[:, j], fd, rtol=1e-5, atol=1e-8, err_msg=f"{theta}: d/d{k}")


def test_joint_transfer_law_recovered_from_noiseless_grid():
    fit = laws.fit_law("joint_transfer", JT_N, JT_D, laws.joint_transfer_law(JT_N, JT_D, **JOINT_TRANSFER_TRUTH))
    assert_close(fit.params, JOINT_TRANSFER_TRUTH, 0.01)
    assert list(fit.params) == ["A", "B", "D_T", "alpha", "beta", "delta"]
    assert fit.success and fit.bounds_hit == [] and fit.r2 == pytest.approx(1.0, abs=1e-9)
    assert fit.bounds["D_T"] == pytest.approx((1e-4 * JT_D.min(), 1e3 * JT_D.max()))  # relative to D, not N
    assert len(fit.starts) == 54


def test_joint_transfer_law_with_no_transfer_is_the_paper_joint_law():
    losses = laws.joint_law(JT_N, JT_D, **JOINT_TRUTHS[1])
    paper = fit_joint_law(JT_N, JT_D, losses)
    transfer = laws.fit_joint_transfer_law(JT_N, JT_D, losses)
    assert transfer.bounds_hit == ["D_T"] and transfer.params["D_T"] == pytest.approx(1e-4 * JT_D.min(), rel=1e-3)
    assert any("D_T sits on its lower bound" in w and "paper's joint law" in w for w in transfer.warnings)
    np.testing.assert_allclose(transfer.predict(JT_N, JT_D), paper.predict(JT_N, JT_D), rtol=1e-4)


def test_joint_transfer_law_through_study_holdout_and_fast_bootstrap():
    """Notebook 05's way: held out at the largest N; the fast bootstrap's refits as good as fresh
    fits from the whole grid of starts on the same resamples."""
    losses = noisy(laws.joint_transfer_law(JT_N, JT_D, **JOINT_TRANSFER_TRUTH), 0.002, seed=5)
    frame = pd.DataFrame({"run_id": [f"j{i}" for i in range(25)], "n_params": JT_N, "n_train": JT_D,
                          "cll_test": losses})
    studies, report, lines = laws.fit_study_laws({"joint": frame, "joint_transfer": frame}, n_resamples=20)
    study = studies["joint_transfer"]
    assert study.fit.bounds_hit == [] and study.fit.intervals["D_T"][0] < JOINT_TRANSFER_TRUTH["D_T"] \
        < study.fit.intervals["D_T"][1]
    assert study.holdout.inputs["n_params"] == pytest.approx([JT_N.max()] * 5)
    assert np.max(np.abs(study.holdout.relative_error)) < 0.02
    assert any(line.startswith("joint_transfer:") for line in lines)
    assert set(report["joint_transfer"]["params"]) == {"A", "B", "D_T", "alpha", "beta", "delta"}
    assert_fast_refits_equal_grid_refits("joint_transfer", (JT_N, JT_D), losses, study.fit, n=3)
