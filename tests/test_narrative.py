import pandas as pd
import pytest

from drscaling import laws, narrative
from drscaling.config import load_profile


def runs(**columns) -> pd.DataFrame:
    base = {"n_train": [100, 400, 800], "n_params": [7784, 38048, 99904], "steps": [20, 40, 60],
            "training.learning_rate": [2e-3, 2e-3, 5e-4]}
    return pd.DataFrame({**base, **columns})


def test_setting_is_read_from_the_runs_and_the_profile():
    prof = load_profile("smoke")
    got = narrative.describe_setting(prof, runs())
    assert got["dataset"] == prof.dataset
    assert got["training pairs (largest D)"] == "800"
    assert got["N (non-embedding parameters)"] == "7,784 to 99,904"
    assert got["steps per run"].startswith("20 to 60 steps")
    assert got["learning rate"] == "0.0005 and 0.002"
    assert got["queries per step"] == str(prof.training.batch_size)
    assert got["passage tokens"] == str(prof.training.max_passage_length)
    assert "pretrained here on 570 ICT pairs" in got["models"]  # smoke's grid.pretraining
    assert set(got) == set(narrative.ASPECTS)


def test_paper_setting_from_its_profile_and_the_authors_points():
    reported = laws.paper_reported()
    lo, hi = narrative.paper_n_range(reported)
    assert lo == pytest.approx(min(reported["authors_points"]["n_params_mi"]) * 2 ** 20)
    paper = narrative.describe_setting(load_profile("paper"), n_range=(lo, hi))
    assert paper["steps per run"] == "10,000 steps" and paper["queries per step"] == "128"
    assert paper["negatives per query"] == "256 random passages"  # no in-batch negatives in the paper's code
    assert paper["models"].startswith("24 pretrained checkpoints")
    assert paper["training pairs (largest D)"] == "500,000"


def test_why_numbers_differ_names_both_settings():
    ours = narrative.describe_setting(load_profile("smoke"), runs())
    paper = narrative.describe_setting(load_profile("paper"), n_range=(512e3, 86.2e6))
    text = narrative.why_numbers_differ(ours, paper, "smoke")
    for fragment in ("up to 800 training pairs", "up to 500,000", "7,784 to 99,904", "512k to 86.2M",
                     "20 to 60 steps", "10,000 steps", "Profile `smoke`"):
        assert fragment in text, fragment
    table = narrative.setting_table(ours, paper)
    assert list(table.index) == list(narrative.ASPECTS) and table.shape == (len(narrative.ASPECTS), 2)


def test_law_takeaways_from_a_report():
    report = {
        "model_size": {"params": {"A": 1e4, "alpha": 0.5, "delta": 1.0}, "intervals": {"alpha": [0.4, 0.6]},
                       "r2": 0.98, "bounds_hit": [], "holdout": {"relative_error": [-0.02, 0.031]}},
        "data_size": {"params": {"B": 1e3, "beta": 0.1, "delta": 0.0}, "intervals": {"beta": [0.01, 0.9]},
                      "r2": 0.95, "bounds_hit": ["delta"], "holdout": None},
        "joint": {"status": "not fitted: 3 points, at least 6 needed"},
    }
    text = narrative.law_takeaways(report).splitlines()
    assert text[0] == ("- **model size**: alpha = 0.5 (95% interval 0.4 to 0.6), R² 0.980; no parameter on a bound; "
                       "fitted without the largest N, it predicts those points -2.0%, +3.1% off.")
    assert "on a bound: delta" in text[1]
    assert "spans more than a factor 3" in text[1]  # 0.01 to 0.9
    assert text[2] == "- **joint**: not fitted: 3 points, at least 6 needed."
