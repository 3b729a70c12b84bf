"""The annotation study's analysis: per-method laws, their inversion, exchange rates."""

import math

import numpy as np
import pandas as pd
import pytest

from drscaling.annotation import study as st
from drscaling import laws

D = np.array([1000, 2000, 4000, 8000, 16000], dtype=float)


def law_points(label, B, beta, delta, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    y = laws.data_size_law(D, B, beta, delta) * np.exp(noise * rng.standard_normal(len(D)))
    return pd.DataFrame({"annotation": label, "n_train": D.astype(int), "cll_test": y, "status": "ok",
                         "run_id": [f"{label}-{int(d)}" for d in D]})


def test_pairs_needed_inverts_the_law():
    # by hand: (1000/D)^0.5 + 1 = 2 at D = 1000; = 1.5 at D = 4000
    assert st.pairs_needed(2.0, 1000, 0.5, 1.0) == pytest.approx(1000)
    assert st.pairs_needed(1.5, 1000, 0.5, 1.0) == pytest.approx(4000)
    assert st.pairs_needed(1.0, 1000, 0.5, 1.0) == math.inf  # the floor itself is out of reach
    assert st.pairs_needed(0.9, 1000, 0.5, 1.0) == math.inf
    d = np.array([10.0, 3e3, 1e6])
    for B, beta, delta in ((1e4, 0.3, 1.2), (5e5, 0.9, 0.0)):
        assert st.pairs_needed(laws.data_size_law(d, B, beta, delta), B, beta, delta) == pytest.approx(d, rel=1e-9)
    # a flat law (beta -> 0) is about 1 + delta = 2 at every D: a loss of 1.5 is out of reach,
    # 3.0 is reached with (almost) no pairs; no overflow on the way
    assert st.pairs_needed(1.5, 1e4, 1e-6, 1.0) == math.inf
    assert st.pairs_needed(3.0, 1e4, 1e-6, 1.0) == 0.0


def test_exchange_rate_recovers_a_known_ratio():
    # same beta and delta: (B_w/D')^b = (B_h/D)^b  =>  D' = D * B_w / B_h = 10 D at every loss
    results = pd.concat([law_points("human", 2e4, 0.3, 1.0), law_points("weak", 2e5, 0.3, 1.0),
                         law_points("broken", 2e4, 0.3, 1.0).assign(status="not_learning")])
    studies, report = st.fit_methods(results, n_resamples=60, seed=1)
    assert set(studies) == {"human", "weak"}
    assert report["broken"]["status"].startswith("not fitted: 0 distinct D")
    assert report["broken"]["left_out"] == {f"broken-{int(d)}": "not_learning" for d in D}
    assert report["weak"]["run_ids"] == [f"weak-{int(d)}" for d in D]
    for label, B in (("human", 2e4), ("weak", 2e5)):
        p = studies[label].fit.params
        assert p["B"] == pytest.approx(B, rel=0.02) and p["beta"] == pytest.approx(0.3, rel=0.02)
    rates = st.exchange_rates(studies, "human", at_n_train=[1000, 4000])
    assert list(rates["method"]) == ["weak", "weak"]
    assert rates["rate"].to_numpy() == pytest.approx([10, 10], rel=0.03)
    assert rates["n_train_needed"].to_numpy() == pytest.approx([1e4, 4e4], rel=0.03)
    assert list(rates["extrapolated"]) == [False, True]  # 40,000 is beyond the largest run (16,000)
    assert list(rates["status"]) == ["within its runs", "beyond its runs"]
    # weak's largest run (16,000 pairs) is worth 16,000 / 10 human pairs: losses below are beyond it
    assert rates["reach_n_train"].to_numpy() == pytest.approx([1600, 1600], rel=0.03)
    assert (rates["rate_low"] <= rates["rate"] * 1.001).all() and (rates["rate_high"] >= rates["rate"] * 0.999).all()
    assert rates["loss"].iloc[0] == pytest.approx(laws.data_size_law(1000, 2e4, 0.3, 1.0), rel=1e-3)
    # a method better than human: at D = 1,000 it needs 100 pairs, below its smallest run (1,000)
    strong_studies, _ = st.fit_methods(pd.concat([law_points("human", 2e4, 0.3, 1.0),
                                                  law_points("strong", 2e3, 0.3, 1.0)]), n_resamples=20, seed=1)
    strong = st.exchange_rates(strong_studies, "human", at_n_train=[1000, 16000])
    assert strong["rate"].to_numpy() == pytest.approx([0.1, 0.1], rel=0.03)
    assert list(strong["status"]) == ["below its runs", "within its runs"]
    assert list(strong["extrapolated"]) == [True, False] and list(strong["smallest_n_train"]) == [1000, 1000]
    with pytest.raises(KeyError, match="reference method 'gold'"):
        st.exchange_rates(studies, "gold", at_n_train=[1000])


def test_a_higher_floor_makes_low_losses_unreachable():
    results = pd.concat([law_points("human", 2e4, 0.3, 1.0), law_points("weak", 2e4, 0.3, 1.5)])
    studies, _ = st.fit_methods(results, n_resamples=40, seed=0)
    target = laws.data_size_law(16000, 2e4, 0.3, 1.0)
    needed = st.pairs_needed(target, **studies["weak"].fit.params)
    assert needed > 16000  # weak needs more pairs than human for the same loss
    rates = st.exchange_rates(studies, "human", at_n_train=[16000, 1e9])
    assert rates["rate"].iloc[0] > 1
    # human at D = 1e9 is at about 1.0 + 0.04: below weak's floor 1.5
    assert rates["rate"].iloc[1] == math.inf and rates["unreachable_share"].iloc[1] > 0.9
    assert rates["status"].iloc[1] == "out of reach"


def test_law_table_and_noise_trend():
    results = pd.concat([law_points("human", 2e4, 0.3, 1.0, noise=0.01), law_points("noisy_human-0.5", 8e4, 0.25, 1.1,
                                                                                   noise=0.01, seed=1),
                         law_points("noisy_human-0.2", 4e4, 0.28, 1.0, noise=0.01, seed=2)])
    studies, report = st.fit_methods(results, n_resamples=40, seed=0)
    table = st.law_table(studies, report)
    assert list(table["method"]) == ["human", "noisy_human-0.5", "noisy_human-0.2"]
    assert (table["points"] == 5).all() and table["r2"].gt(0.9).all()
    for k in ("B", "beta", "delta"):
        assert (table[f"{k}_low"] <= table[k] + 1e-9).all() and (table[f"{k}_high"] >= table[k] - 1e-9).all()
    trend = st.noise_trend(table, {"noisy_human-0.5": 0.5, "noisy_human-0.2": 0.2})
    assert list(trend["noise_rate"]) == [0.0, 0.2, 0.5]
    assert list(trend["method"]) == ["human", "noisy_human-0.2", "noisy_human-0.5"]
    with pytest.raises(KeyError, match="cll_test"):
        st.fit_methods(results.drop(columns="cll_test"))


def test_available_methods_skips_what_cannot_run_here(tmp_path):
    from types import SimpleNamespace

    def run(method, options=None, sweeps=("annotation",)):
        from drscaling.annotation.methods import method_label

        options = options or {}
        spec = SimpleNamespace(annotation=method, annotation_options=options,
                               annotation_label=method_label(method, options))
        return SimpleNamespace(spec=spec, sweeps=sweeps)

    planned = [run("ict", sweeps=("pretraining",)),  # the pretraining stage: not a method
               run("human"), run("human"), run("noisy_human", {"rate": 0.5}), run("keywords"),
               run("keywords", {"sample": True}), run("ict"),
               run("generated", {"model_path": str(tmp_path / "no-such-model")})]
    methods, skipped = st.available_methods(planned, [10, 60], n_human=100, n_passages=50)
    # sampled keywords and ICT make another pair when a passage comes round again: no cap
    assert methods == {"human": ("human", {}), "noisy_human-0.5": ("noisy_human", {"rate": 0.5}),
                       "keywords-sampled": ("keywords", {"sample": True}), "ict": ("ict", {})}
    assert "one query per passage gives at most 50" in skipped["keywords"]
    assert list(skipped) == ["keywords", "generated-no-such-model"]
    assert "at most 100" in st.available_methods(planned, [10, 120], n_human=100, n_passages=50)[1]["human"]
    assert st.available_methods(planned, [10, 40], n_human=100, n_passages=50)[0].keys() == \
        {"human", "noisy_human-0.5", "keywords", "keywords-sampled", "ict"}


def test_a_profile_without_annotation_methods_has_no_study(tmp_path):
    """plan_study gives None for a profile whose grid names no annotation method, and the record
    that annotation.json then holds says so, naming the profile's file."""
    from types import SimpleNamespace

    import yaml

    from drscaling.config import load_profile

    smoke = yaml.safe_load(open(load_profile("smoke").path))
    smoke["grid"]["annotation_methods"] = []
    smoke["grid"].pop("annotation_n_train")
    path = tmp_path / "no-annotation.yaml"
    path.write_text(yaml.safe_dump(smoke))
    prof = load_profile(str(path))
    assert st.plan_study(prof, SimpleNamespace(manifest={"key": "k"})) is None
    record = st.no_study_record(prof)
    assert record["study"] is False and record["complete"] is True and str(path) in record["reason"]
