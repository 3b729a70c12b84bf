"""research/validation_decisions.py's rules on a hand-made run: the margin to chance and the
spread between draws are read per metric, so a point inside the margin on validation only is
named for validation only (issue 26: the design's decisions are read on validation)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "research"))
import validation_decisions as vd  # noqa: E402


@pytest.fixture
def points():
    rows = []
    # L1-H8: validation 0.9 below chance (inside the margin), test 1.2 below (outside)
    for seed, (v, t) in enumerate([(-0.95, -1.25), (-0.85, -1.15)]):
        rows.append({"run_id": f"a{seed}", "model": "L1-H8", "n_params": 10, "n_train": 100, "seed": seed,
                     "cll_validation": math.log(257) + v, "cll_test": math.log(257) + t})
    # L1-H64: far from chance on both; draws 0.2 apart on validation, 0.0 on test
    for seed, v in enumerate([3.0, 3.2]):
        rows.append({"run_id": f"b{seed}", "model": "L1-H64", "n_params": 100, "n_train": 100, "seed": seed,
                     "cll_validation": v, "cll_test": 3.0})
    frame = pd.DataFrame(rows)
    # a run in two sweeps counts once
    return {"model_size": frame, "joint": frame[frame["model"] == "L1-H8"]}


def test_the_margin_is_read_per_metric(points):
    m = vd.margins(points, math.log(257)).set_index("model")
    assert m.loc["L1-H8", "below chance (validation)"] == pytest.approx(0.9)
    assert m.loc["L1-H8", "below chance (test)"] == pytest.approx(1.2)
    assert m.loc["L1-H64", "below chance (validation)"] == pytest.approx(math.log(257) - 3.1)
    assert len(m) == 2  # the joint sweep's copies of the L1-H8 runs are not counted twice


def test_the_spread_between_draws_is_read_per_metric(points):
    s = vd.draw_spread(points).set_index("model")
    assert s.loc["L1-H64", "cll_validation"] == pytest.approx(pd.Series([3.0, 3.2]).std())
    assert s.loc["L1-H64", "cll_test"] == pytest.approx(0.0)
    assert s.loc["L1-H8", "draws"] == 2
