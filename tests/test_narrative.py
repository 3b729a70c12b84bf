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
    assert len(text) == 3  # a report without the transfer form (written before it) has no line for it
    report["data_size"]["r2_ceiling"] = 0.97
    assert "R² 0.950 (at most 0.970 reachable: the seeds of a point differ)" in narrative.law_takeaways(report)
    report["data_size_transfer"] = {
        "params": {"B": 2e5, "D_T": 5516.0, "beta": 0.22, "delta": 1.3},
        "intervals": {"beta": [0.09, 9.4], "D_T": [1206.0, 125022.0]}, "r2": 0.9925, "bounds_hit": [],
        "holdout": {"relative_error": [0.0068]}}
    text = narrative.law_takeaways(report).splitlines()
    assert text[3] == ("- **data size, transfer form**: beta = 0.22 (95% interval 0.09 to 9.4), R² 0.993; no parameter "
                       "on a bound; the pretraining is worth D_T = 5,516 pairs (95% interval 1,206 to 125,022); "
                       "fitted without the largest D, it predicts those points +0.7% off. The interval spans more "
                       "than a factor 3: the runs do not pin this exponent down.")
    report["joint_transfer"] = {
        "params": {"A": 2.8e4, "B": 1.1e5, "D_T": 28601.0, "alpha": 0.65, "beta": 0.68, "delta": 1.39},
        "intervals": {"alpha": [0.375, 1.1], "D_T": [14332.0, 172570.0]}, "r2": 0.956, "bounds_hit": [],
        "holdout": {"relative_error": [0.005, -0.019]}}
    text = narrative.law_takeaways(report).splitlines()
    assert text[4] == ("- **joint, transfer form**: alpha = 0.65 (95% interval 0.375 to 1.1), R² 0.956; no parameter "
                       "on a bound; the pretraining is worth D_T = 28,601 pairs (95% interval 14,332 to 172,570); "
                       "fitted without the largest N, it predicts those points +0.5%, -1.9% off.")


# ---------------------------------------------------------------- take-aways of notebooks 01-04 and 06

def test_data_takeaways_from_the_manifest():
    manifest = {"counts": {"train_pairs": 1586, "test_pairs": 289, "validation_pairs": 556, "negative_pool": 285},
                "subset_sizes": [800, 100, 400, 200], "data": {"cll_negatives": 64}}
    text = narrative.data_takeaways(manifest)
    assert "4 nested subsets of the 1,586 training pairs, D = 100 to 800 (0.9 decades)" in text
    assert "289 test pairs, each against 64 stored negatives from a pool of 285" in text
    assert "log(65) = 4.17" in text and "556 validation pairs" in text and text.count("\n- ") == 2


def record(best_check, checks, status="ok", seconds=60):
    return {"status": status, "wall_seconds": seconds, "result": {"best_check": best_check, "checks": checks}}


def test_training_takeaways_say_where_runs_kept_their_checkpoint():
    records = [record(3, 8), record(8, 8), record(8, 8), record(1, 8), record(None, None, status="stalled")]
    text = narrative.training_takeaways(records)
    assert "4 of 5 runs finished with status ok; 1 did not" in text
    assert "1 of 4 kept a check strictly inside" in text
    assert "2 kept their last check" in text and "1 kept their first check" in text
    assert "5 minutes of wall time" in text
    assert "last check" not in narrative.training_takeaways([record(3, 8)])
    assert "no main grid" in narrative.training_takeaways([])
    pretraining = {**record(8, 8), "result": {"best_check": 8, "checks": 8, "kept": "last"}}
    text = narrative.training_takeaways([record(3, 8), pretraining])
    assert "1 of 1 kept a check strictly inside" in text and "1 kept their last check by their settings" in text
    assert "still improving" not in text


def test_evaluation_takeaways_name_the_weakest_correlation_and_bm25():
    correlations = pd.DataFrame({"metric": ["MRR@10", "Recall@100"], "pearson": [-0.8, -0.9],
                                 "spearman": [-0.71, -0.88], "runs": [13, 13]})
    results = pd.DataFrame({"model": ["L1-H32", "L1-H64"], "n_train": [800, 400], "cll_test": [3.9, 3.5],
                            "mrr_at_10": [0.05, 0.08]})
    text = narrative.evaluation_takeaways(correlations, {"mrr_at_10": 0.5}, results)
    assert "Over 13 runs" in text and "MRR@10 -0.71, Recall@100 -0.88" in text and "The weakest, MRR@10" in text
    assert "(L1-H64, D = 400: CLL 3.500) reaches MRR@10 0.080; BM25 reaches 0.500" in text


def test_annotation_takeaways_flag_loose_exponents_and_read_rates():
    laws_table = pd.DataFrame([
        {"method": "human", "beta": 0.3, "beta_low": 0.2, "beta_high": 0.6, "delta": 1.0, "r2": 0.99, "status": "ok"},
        {"method": "ict", "beta": 0.1, "beta_low": 0.01, "beta_high": 10.0, "delta": 2.0, "r2": 0.9, "status": "ok"},
        {"method": "weak", "beta": float("nan"), "status": "not fitted: 3 points"}])
    rates = pd.DataFrame([
        {"method": "ict", "reference_n_train": 100, "loss": 3.0, "rate": 9.0, "rate_low": 1.0, "rate_high": 20.0,
         "extrapolated": False},
        {"method": "ict", "reference_n_train": 800, "loss": 2.5, "rate": 4.0, "rate_low": 2.0, "rate_high": 8.0,
         "extrapolated": True},
        {"method": "weak", "reference_n_train": 800, "loss": 2.5, "rate": float("inf"), "rate_low": float("inf"),
         "rate_high": float("inf"), "extrapolated": False}])
    lines = narrative.annotation_takeaways(laws_table, rates).split("\n")
    assert lines[0] == "- **human**: β = 0.3 (0.2 to 0.6), δ = 1, R² 0.990."  # pinned: 0.6 / 0.2 <= 4
    assert "do not pin β down" in lines[1] and lines[2] == "- **weak**: not fitted: 3 points."
    # ict: the largest D its runs reach (100), then the largest D, beyond its runs
    assert lines[3] == ("- At D = 100, one ict pair is worth 0.11 human pairs (rate 9, 95% interval 1 to 20) "
                        "(the largest D whose loss its runs reach).")
    assert "At D = 800, one ict pair is worth 0.25 human pairs (rate 4, 95% interval 2 to 8), extrapolated" in lines[4]
    assert "At D = 800, no number of weak pairs reaches the human loss 2.500: out of reach" in lines[5]
    assert len(lines) == 6
    # with the runs' reach known, a rate beyond them says so, and what the runs are worth
    rates["reach_n_train"] = [300.0, 300.0, float("nan")]
    lines = narrative.annotation_takeaways(laws_table, rates).split("\n")
    assert lines[4] == ("- At D = 800, the human loss 2.500 is beyond the runs of ict: its largest run is worth about "
                        "300 human pairs, and its law, extrapolated, gives a rate of 4 (95% interval 2 to 8), which "
                        "the runs do not measure.")


def test_budget_takeaways_compare_cost_models_at_the_largest_budget():
    rows = [("paper", "without inference", 1e6, 5e8, 1e6, 0.5), ("paper", "with inference", 1e6, 2e7, 1.5e6, 0.7),
            ("paper", "with inference", 1e4, 1e5, 1e3, 2.0)]
    allocations = pd.DataFrame([{"law": law, "cost_model": cost, "budget": z, "n_star": n, "d_star": d, "loss": loss,
                                 "cost_data": 0.6 * d, "cost_train": 1.0, "cost_infer": 0.0, "at_edge": False}
                                for law, cost, z, n, d, loss in rows])
    text = narrative.budget_takeaways(allocations)
    assert "**paper** law, budget 1,000,000 dollars: without inference: N* = 500M, D* = 1M (data 60% of" in text
    assert "from N* = 500M, D* = 1M to N* = 20M, D* = 1.5M: a smaller model." in text
    assert "100k" not in text  # the smaller budget is not described


def test_annotation_text_is_the_profiles_own():
    """Notebook 04's methods table and its account of sizes and seeds come from the profile: the
    keyword count, stop words and sampling, the noise rate, the sizes and the seeds as set."""
    from drscaling import narrative
    from drscaling.annotation.methods import with_defaults

    table = narrative.annotation_methods_table({
        "keywords-stop-sampled": ("keywords", {"k": 7, "stop_words": "en", "sample": True}),
        "noisy_human-0.3": ("noisy_human", {"rate": 0.3}), "human": ("human", {}),
        "ict": ("ict", with_defaults("ict", {}))})
    assert "7 of the passage's terms drawn in proportion" in table and "en stop words left out" in table
    assert "a share 0.3 of the pairs" in table and "5 highest" not in table
    assert "kept in with probability 0.1" in table  # ict's own default, read from its signature
    two = narrative.annotation_design([1250, 80000, 2500], [0, 1], 1000)
    assert "2 sizes" not in two and "3 sizes, D = 1,250, 2,500, 80,000 (1.8 decades), with 2 seeds (0, 1)" in two
    assert "6 runs a method" in two and "1000 bootstrap resamples" in two and "not measured" not in two
    assert "not measured" in narrative.annotation_design([100, 200, 400, 800], [0], 20)
