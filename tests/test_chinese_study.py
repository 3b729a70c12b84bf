"""The Chinese study end to end (issue 27): notebooks 01-06 on the smoke-zh profile, over the real
CMRC 2018 trial and DRCD test files (one pool, converted to simplified, test and validation held
out as whole articles, character-level BM25), checked by what the notebooks record. Slow (about
5 minutes on 2 cores): run with `make test-slow`."""

import json
import math

import pandas as pd
import pytest

from drscaling.config import load_profile
from drscaling.datasets import ProcessedData
from drscaling.notebook_runner import run_notebook
from drscaling.ranking import bm25_run, ranking_metrics
from test_notebooks import outputs_text

NOTEBOOKS = ["01_prepare_data", "02_train_grid", "03_evaluate", "04_annotation_quality", "05_fit_scaling_laws",
             "06_budget_allocation"]
MAIN_SWEEPS = "model_size|data_size|joint"


@pytest.mark.slow
def test_notebooks_01_to_06_on_smoke_zh(shared_chinese):
    profile = load_profile("smoke-zh")
    for name in NOTEBOOKS:
        run_notebook(name, profile)
    out = profile.outputs_dir

    # 01: one pool of both files, simplified, lengths counted in characters
    data = ProcessedData(profile.processed_dir)
    counts = data.manifest["counts"]
    assert set(data.manifest["sources"]) == {"pool[0]", "pool[1]"}
    assert (counts["test_groups"], counts["validation_groups"]) == (20, 10)
    table = pd.read_csv(out / "tables" / "data_statistics.csv", index_col="split")
    for split in ("train", "validation", "test"):
        assert table.loc[split, "pairs"] == counts[f"{split}_pairs"] > 0
    text = "".join(data.corpus["text"].head(500))
    assert not set("這們國臺灣資") & set(text) and {"这", "们", "国"} & set(text)  # t2s: no traditional left
    assert "lengths in characters" in outputs_text(out / "notebooks" / "01_prepare_data.ipynb")

    # 02 / 03: every run finished, and the human runs learned (test CLL below chance, log(K + 1))
    results = pd.read_csv(out / "results.csv")
    assert len(results) == 13 and (results["status"] == "ok").all()
    chance = math.log(profile.data.cll_negatives + 1)
    main = results[results["sweeps"].str.contains(MAIN_SWEEPS)]
    assert len(main) == 9 and (main["cll_test"] < chance).all(), main[["run_id", "cll_test"]]
    assert results["mrr_at_10"].between(0, 1).all()

    # BM25 over characters: far above BM25 over whitespace words (each clause one token)
    bm25 = json.loads((out / "bm25.json").read_text())
    assert bm25["language"] == "zh" and bm25["n_queries"] == counts["test_queries"]
    queries = data.queries("test")
    words = ranking_metrics(bm25_run(data.corpus["text"].tolist(), data.corpus["pid"].tolist(),
                                     queries["text"].tolist(), queries["qid"].tolist(), stopwords=None),
                            data.qrels("test"))
    assert bm25["mrr_at_10"] > 0.7 and bm25["mrr_at_10"] > words["mrr_at_10"] + 0.4, (bm25, words)

    # 04: every annotation method's runs (Chinese ICT sentences, character keywords, the generator)
    study = json.loads((out / "annotation.json").read_text())
    labels = ["human", "ict", "generated-local", "keywords-stop-sublinear", "noisy_human-0.5"]
    assert [m["label"] for m in study["methods"]] == labels and study["skipped"] == {}
    assert len(study["runs"]) == 20 and set(study["runs"].values()) == {"ok"}
    assert all(study["laws"][label]["n_points"] == 4 for label in labels)

    # 05: the three laws fitted to the main grid's points (the transfer forms need more points)
    fits = json.loads((out / "fits.json").read_text())
    cll = results.set_index("run_id")["cll_test"]
    for law, n_points in (("model_size", 4), ("data_size", 4), ("joint", 6)):
        entry = fits["laws"][law]
        assert entry["n_points"] == n_points and entry["points"]["losses"] == pytest.approx(cll[entry["run_ids"]].tolist())
        assert entry["params"] and all(math.isfinite(v) for v in entry["params"].values()), (law, entry["status"])

    # 06: each optimum spends its budget
    allocation = json.loads((out / "budget.json").read_text())
    assert len(allocation["optima"]) == 2 * 2 * 2
    for r in allocation["optima"]:
        assert r["cost_data"] + r["cost_train"] + r["cost_infer"] == pytest.approx(r["budget"], rel=1e-6)
