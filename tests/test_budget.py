"""Tests of drscaling.budget: the paper's cost constants and the constrained optimum."""

from __future__ import annotations

import math

import numpy as np
import pytest

from drscaling.budget import (
    CostModel,
    allocation_table,
    loss_along_budget,
    optimal_allocation,
    optimum_under_uncertainty,
)
from drscaling.laws import joint_law

# MS MARCO joint fit: alpha, beta, delta as in the design notes; A, B of the order the
# secondary source gives (only used as a realistic shape here, not as the paper's numbers).
PAPERISH = {"A": 3.6e4, "B": 7.1e3, "alpha": 0.56, "beta": 1.31, "delta": 0.03}


# ------------------------------------------------------------------------------------------
# The constants, from their ingredients
# ------------------------------------------------------------------------------------------

def test_derived_constants_match_the_paper():
    cm = CostModel()
    assert cm.z_data == 0.6
    # computed here by hand from the paper's ingredients, independently of the module
    z_train = 10_000 * 256 * (30 + 2 * 60) * 6 / (312e12 * 0.25) / 3600 * 3.93
    z_infer = 30e12 * 512 * 2 / (312e12 * 0.25) / 3600 * 3.93
    assert cm.z_train == pytest.approx(z_train, rel=1e-12)
    assert cm.z_infer == pytest.approx(z_infer, rel=1e-12)
    assert abs(cm.z_train / 3.22e-8 - 1) < 0.02
    assert abs(cm.z_infer / 0.43 - 1) < 0.02


def test_derivation_and_replace():
    cm = CostModel()
    der = cm.derivation()
    assert set(der) == {"z_data", "z_train", "z_infer"}
    for k in der:
        assert der[k]["value"] == getattr(cm, k)
        assert der[k]["formula"]
    assert "10000 x 256 x 150 x 6" in der["z_train"]["numbers"]
    # the ingredients drive the constants
    assert cm.replace(gpu_price_per_hour=2 * 3.93).z_train == pytest.approx(2 * cm.z_train)
    assert cm.replace(corpus_pages=3e12).z_infer == pytest.approx(cm.z_infer / 10)
    assert cm.replace(utilisation=0.5).z_infer == pytest.approx(cm.z_infer / 2)
    off = cm.replace(include_inference=False)
    assert off.z_infer == 0.0 and off.z_train == cm.z_train
    assert cm.cost(1e6, 1e4) == pytest.approx(0.6 * 1e4 + (cm.z_train + cm.z_infer) * 1e6)
    with pytest.raises(ValueError, match="unknown ingredient"):
        cm.replace(gpu_prize=1.0)
    with pytest.raises(ValueError, match="utilisation"):
        CostModel(utilisation=-0.1)


# ------------------------------------------------------------------------------------------
# The optimiser against independent answers
# ------------------------------------------------------------------------------------------

def _brute_force(budget, p, cm, n_bounds=(1e5, 1e11), points=200_000):
    """Dense log grid over every feasible N (D >= 1), loss by laws.joint_law directly."""
    zn = cm.z_train + cm.z_infer
    n_hi = min(n_bounds[1], (budget - cm.z_data) / zn)
    n = np.logspace(np.log10(n_bounds[0]), np.log10(n_hi), points)
    d = (budget - zn * n) / cm.z_data
    loss = joint_law(n, d, **p)
    i = int(np.argmin(loss))
    return n[i], d[i], loss[i], i, points


@pytest.mark.parametrize("p, budget, cm", [
    (PAPERISH, 1e6, CostModel()),
    (PAPERISH, 3e7, CostModel()),
    (PAPERISH, 1e5, CostModel(corpus_pages=1e9)),
    ({"A": 1e7, "B": 5e4, "alpha": 0.4, "beta": 0.8, "delta": 0.1}, 5e6, CostModel(corpus_pages=1e10)),
    ({"A": 2e5, "B": 1e2, "alpha": 1.2, "beta": 0.6, "delta": 0.0}, 2e5, CostModel()),
])
def test_optimiser_agrees_with_brute_force(p, budget, cm):
    r = optimal_allocation(budget, p, cm)
    n_bf, d_bf, l_bf, i, points = _brute_force(budget, p, cm)
    assert 0 < i < points - 1, "test case should have an interior optimum"
    assert r["at_edge"] is None
    assert r["n_star"] == pytest.approx(n_bf, rel=2e-3)
    assert r["d_star"] == pytest.approx(d_bf, rel=2e-3)
    assert r["loss"] == pytest.approx(l_bf, rel=1e-7)
    assert r["loss"] <= l_bf * (1 + 1e-12)  # never worse than the grid
    # spends the whole budget, split as stated
    assert r["cost"]["total"] == pytest.approx(budget, rel=1e-9)
    assert cm.cost(r["n_star"], r["d_star"]) == pytest.approx(budget, rel=1e-9)
    assert r["cost"]["data"] == pytest.approx(0.6 * r["d_star"])
    assert r["cost"]["infer"] == pytest.approx(cm.z_infer * r["n_star"])
    assert r["loss"] == pytest.approx(float(joint_law(r["n_star"], r["d_star"], **p)), rel=1e-12)


@pytest.mark.parametrize("beta", [1.0, 1.31])
@pytest.mark.parametrize("budget", [1e5, 1e6, 1e8])
def test_closed_form_when_alpha_equals_beta(beta, budget):
    """With alpha = beta the bracket is A/N + B/D, and L = (A/N + B/D)**beta + delta is a
    monotone function of it, so (N*, D*) minimises A/N + B/D subject to c_N N + c_D D = Z.

    Lagrange: d/dN: -A/N**2 + lam c_N = 0 -> N = sqrt(A / (lam c_N)); likewise
    D = sqrt(B / (lam c_D)). Into the constraint: (sqrt(A c_N) + sqrt(B c_D)) / sqrt(lam) = Z,
    so 1/sqrt(lam) = Z / (sqrt(A c_N) + sqrt(B c_D)) and

        N* = Z sqrt(A / c_N) / (sqrt(A c_N) + sqrt(B c_D)),
        D* = Z sqrt(B / c_D) / (sqrt(A c_N) + sqrt(B c_D)).

    (A minimum: A/N + B/D is convex on the line, going to infinity at both ends.)
    """
    cm = CostModel()
    A, B = 1e4, 1e3
    p = {"A": A, "B": B, "alpha": beta, "beta": beta, "delta": 0.05}
    c_n, c_d = cm.z_train + cm.z_infer, cm.z_data
    s = math.sqrt(A * c_n) + math.sqrt(B * c_d)
    n_star = budget * math.sqrt(A / c_n) / s
    d_star = budget * math.sqrt(B / c_d) / s
    assert 1e5 < n_star < 1e11
    r = optimal_allocation(budget, p, cm)
    assert r["n_star"] == pytest.approx(n_star, rel=1e-4)
    assert r["d_star"] == pytest.approx(d_star, rel=1e-4)
    assert r["loss"] == pytest.approx((A / n_star + B / d_star) ** beta + 0.05, rel=1e-8)


# ------------------------------------------------------------------------------------------
# Edges, infeasibility, the inference knob
# ------------------------------------------------------------------------------------------

def test_infeasible_budget_raises_clearly():
    cm = CostModel()
    z_min = cm.z_data + (cm.z_train + cm.z_infer) * 1e5
    with pytest.raises(ValueError) as e:
        optimal_allocation(1_000.0, PAPERISH, cm)
    msg = str(e.value)
    assert "infeasible" in msg and "$1,000" in msg
    assert f"${z_min:,.2f}" in msg and "smallest model" in msg
    with pytest.raises(ValueError, match="infeasible"):
        optimum_under_uncertainty(1_000.0, {k: [v] for k, v in PAPERISH.items()}, cm)
    # exactly the minimum is feasible: the smallest model with one pair
    r = optimal_allocation(z_min * (1 + 1e-12), PAPERISH, cm)
    assert r["n_star"] == pytest.approx(1e5) and r["d_star"] == pytest.approx(1.0, abs=1e-3)
    # a table keeps the row and says why
    t = allocation_table([1_000.0, 1e6], PAPERISH, cm)
    assert np.isnan(t.loc[0, "n_star"]) and "infeasible" in t.loc[0, "note"]
    assert t.loc[1, "n_star"] == pytest.approx(optimal_allocation(1e6, PAPERISH, cm)["n_star"])


def test_optimum_at_an_edge_is_flagged():
    cm = CostModel()
    r = optimal_allocation(1e6, PAPERISH, cm, n_bounds=(2e6, 1e11))  # interior optimum is ~1.85e6
    assert r["at_edge"] == "lower" and r["n_star"] == pytest.approx(2e6) and "widen" in r["note"]
    r = optimal_allocation(1e6, PAPERISH, cm, n_bounds=(1e4, 1e5))
    assert r["at_edge"] == "upper" and r["n_star"] == pytest.approx(1e5) and "widen" in r["note"]


def test_inference_cost_makes_the_optimal_model_smaller():
    p = PAPERISH
    wide = (1e3, 1e15)
    with_inf = optimal_allocation(1e7, p, CostModel(), n_bounds=wide)
    without = optimal_allocation(1e7, p, CostModel(include_inference=False), n_bounds=wide)
    assert with_inf["n_star"] < without["n_star"]
    assert with_inf["loss"] > without["loss"]
    # a bigger corpus, a smaller model
    small_corpus = optimal_allocation(1e7, p, CostModel(corpus_pages=1e12), n_bounds=wide)
    assert with_inf["n_star"] < small_corpus["n_star"] < without["n_star"]


def test_loss_along_budget():
    cm = CostModel()
    budget = 1e6
    n_grid = np.logspace(4, 7, 3001)
    n, d, loss = loss_along_budget(budget, PAPERISH, cm, n_grid)
    feasible = d >= 1
    assert np.all(np.isnan(loss[n > (budget - 0.6) / (cm.z_train + cm.z_infer)]))
    assert np.isnan(loss).sum() > 0 and np.isfinite(loss[feasible]).all()
    np.testing.assert_allclose(cm.cost(n[feasible], d[feasible]), budget, rtol=1e-12)
    np.testing.assert_allclose(loss[feasible], joint_law(n[feasible], d[feasible], **PAPERISH), rtol=1e-12)
    r = optimal_allocation(budget, PAPERISH, cm)
    assert np.nanmin(loss) >= r["loss"] * (1 - 1e-12)
    assert np.nanmin(loss) == pytest.approx(r["loss"], rel=1e-5)


# ------------------------------------------------------------------------------------------
# Uncertainty
# ------------------------------------------------------------------------------------------

def test_optimum_under_uncertainty_contains_the_point_estimate():
    rng = np.random.default_rng(0)
    m = 40
    samples = {
        "A": PAPERISH["A"] * np.exp(rng.normal(0, 0.3, m)),
        "B": PAPERISH["B"] * np.exp(rng.normal(0, 0.3, m)),
        "alpha": PAPERISH["alpha"] + rng.normal(0, 0.02, m),
        "beta": PAPERISH["beta"] + rng.normal(0, 0.05, m),
        "delta": np.clip(PAPERISH["delta"] + rng.normal(0, 0.005, m), 0, None),
    }
    samples["A"][3] = np.nan  # a failed bootstrap refit
    cm = CostModel()
    u = optimum_under_uncertainty(1e6, samples, cm, level=0.9, law_params=PAPERISH)
    assert u["n_failed"] == 1 and u["n_used"] == m - 1
    assert np.isnan(u["samples"]["n_star"][3])
    point = u["point"]
    for k in ("n_star", "d_star", "loss"):
        lo, hi = u["interval"][k]
        assert lo < point[k] < hi
        assert lo <= u["median"][k] <= hi
    assert u["interval"]["n_star"][1] / u["interval"]["n_star"][0] > 1.05  # the spread is real
    # each sample is that sample's own optimum
    j = 5
    r = optimal_allocation(1e6, {k: samples[k][j] for k in samples}, cm)
    assert u["samples"]["n_star"][j] == pytest.approx(r["n_star"])
    # a wider level gives a wider interval
    u99 = optimum_under_uncertainty(1e6, samples, cm, level=0.99)
    assert u99["interval"]["n_star"][0] <= u["interval"]["n_star"][0]
    assert u99["interval"]["n_star"][1] >= u["interval"]["n_star"][1]


def test_paper_joint_law_and_its_secondary_fallback():
    import copy

    from drscaling.budget import paper_joint_law
    from drscaling.laws import paper_reported

    reported = paper_reported()
    params, caveat = paper_joint_law(reported)
    assert params == {k: reported["msmarco"]["joint"]["v1"][k] for k in ("A", "B", "alpha", "beta", "delta")}
    assert caveat == ""  # every v1 value is from the paper's text
    gap = copy.deepcopy(reported)
    gap["msmarco"]["joint"]["v1"]["delta"] = None
    gap["msmarco"]["joint"]["v1"]["secondary"] = {"delta": 0.05}
    params, caveat = paper_joint_law(gap)
    assert params["delta"] == 0.05 and caveat == "delta from an unverified secondary source"
    del gap["msmarco"]["joint"]["v1"]["secondary"]
    assert paper_joint_law(gap) == (None, "the paper's joint law lacks delta in configs/paper_reported.yaml")


def test_allocations_uncertainty_and_records_agree_with_the_single_optima():
    import pandas as pd

    from drscaling.budget import CostModel, allocation_records, allocations, optimal_allocation, uncertainty_table

    law = {"A": 8.2e5, "B": 5.2e3, "alpha": 0.57, "beta": 1.39, "delta": 0.03}
    costs = {"with": CostModel(), "without": CostModel().replace(include_inference=False)}
    table = allocations({"paper": law, "this study": law}, costs, [1e5, 1e7])
    assert len(table) == 2 * 2 * 2 and set(table["law"]) == {"paper", "this study"}
    row = table[(table["law"] == "paper") & (table["cost_model"] == "without") & (table["budget"] == 1e7)].iloc[0]
    assert row["n_star"] == pytest.approx(optimal_allocation(1e7, law, costs["without"])["n_star"])
    # bootstrap samples scattered around the law: the interval brackets the point optimum
    rng = np.random.default_rng(0)
    samples = {k: v * np.exp(rng.normal(0, 0.02, 40)) for k, v in law.items()}
    uncertainty, messages = uncertainty_table(samples, costs, [1e7], law)
    assert messages == [] and len(uncertainty) == 2
    u = uncertainty[uncertainty["cost_model"] == "without"].iloc[0]
    assert u["n_star_low"] <= row["n_star"] <= u["n_star_high"] and u["samples_used"] == 40
    records = allocation_records(table, uncertainty)
    ours = [r for r in records if r["law"] == "this study" and r["budget"] == 1e7]
    assert all("n_star_low" in r for r in ours)
    assert not any("n_star_low" in r for r in records if r["law"] == "paper")
    assert allocation_records(table.assign(note=float("nan")), pd.DataFrame())[0]["note"] is None


def test_budget_figures():
    import matplotlib

    matplotlib.use("Agg")
    from drscaling.budget import CostModel, allocations
    from drscaling.plots import plot_budget_lines, plot_budget_optimum

    law = {"A": 8.2e5, "B": 5.2e3, "alpha": 0.57, "beta": 1.39, "delta": 0.03}
    costs = {"with": CostModel(), "without": CostModel().replace(include_inference=False)}
    fig = plot_budget_lines("paper", law, costs, [1e5, 1e7], np.geomspace(1e5, 1e11, 50))
    assert len(fig.axes) == 2 and all(len(ax.lines) == 2 and len(ax.collections) == 2 for ax in fig.axes)
    fig = plot_budget_optimum(allocations({"paper": law}, costs, [1e5, 1e7]))
    assert [len(ax.lines) for ax in fig.axes] == [2, 2]
