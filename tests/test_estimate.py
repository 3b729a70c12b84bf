"""make plan: the runs, what they need, and the GPU estimate, with no network and no GPU."""

import json

import pytest
import yaml

from drscaling import estimate
from drscaling.__main__ import main
from drscaling.config import load_profile
from drscaling.grid import RunSpec
from drscaling.model import DualEncoder, count_nonembedding_params


@pytest.mark.parametrize("layers, hidden", [(1, 8), (2, 64), (4, 256)])
def test_nonembedding_params_from_the_shape_match_a_built_model(layers, hidden):
    model = DualEncoder.from_shape(layers, hidden, 100)
    assert estimate.nonembedding_params(layers, hidden) == count_nonembedding_params(model)


def test_bert_base_and_ernie_counts_by_hand():
    # L (12 H^2 + 13 H) + 768 H + 768 for BERT-base: 85,645,056 (README)
    assert estimate.nonembedding_params(12, 768) == 85_645_056
    # an intermediate size other than 4H: ERNIE 3.0 Nano's 4 x 312 with 1,248 is 4H anyway;
    # 2 layers of H = 10, I = 7: 2 (400 + 140 + 90 + 7) + 7,680 + 768
    assert estimate.nonembedding_params(2, 10, 7) == 2 * (400 + 140 + 90 + 7) + 7680 + 768


def test_checkpoint_shape_from_its_config_its_name_or_the_table(tmp_path):
    from transformers import BertConfig, BertModel

    BertModel(BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=3, num_attention_heads=2,
                         intermediate_size=24)).save_pretrained(tmp_path / "tiny")
    assert estimate.checkpoint_shape(str(tmp_path / "tiny")) == ((3, 16, 24), "config.json")
    assert estimate.checkpoint_shape("google/bert_uncased_L-4_H-256_A-4") == ((4, 256, None), "its name")
    assert estimate.checkpoint_shape("nghuyong/ernie-3.0-nano-zh")[0] == (4, 312, 1248)
    shape, why = estimate.checkpoint_shape("someone/unknown-model")
    assert shape is None and "no shape" in why


def test_run_estimate_worked_by_hand():
    training = {"steps": 1000, "batch_size": 128, "max_query_length": 32, "negatives": 256, "max_passage_length": 180,
                "eval_every": 500, "eval_pairs": 100, "eval_pool": 200}
    spec = RunSpec(profile="p", dataset="d", data_key="k", annotation="human", model={"layers": 1, "hidden": 8},
                   n_train=10, seed=0, training=training)
    n = 10_000_000
    est = estimate.run_estimate(spec, n, (1000, 50))
    step = 0.0256 + 1.87e-9 * n  # the reference workload: no token scaling
    per_token = step / 3 / (128 * 32 + 384 * 180)
    assert est.train_seconds == pytest.approx(1000 * step + 2 * (100 * 32 + 200 * 180) * per_token)
    assert est.eval_seconds == pytest.approx((1000 * 180 + 50 * 32) * per_token)
    # half the tokens a step: half the time
    half = estimate.run_estimate(RunSpec(**{**spec.to_dict(), "training": {**training, "batch_size": 64,
                                                                          "negatives": 128}}), n, None)
    assert half.eval_seconds is None
    assert half.train_seconds < est.train_seconds
    assert estimate.run_estimate(spec, None, None).train_seconds is None


def test_plan_of_the_paper_profile_names_every_checkpoint_offline(monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    report = estimate.plan_report(load_profile("paper"))
    sweeps = [s for r in report["runs"] for s in r["sweeps"].split(",")]
    assert sweeps.count("model_size") == 24 and sweeps.count("data_size") == 5
    assert sweeps.count("joint") == 25 and sweeps.count("annotation") == 24
    assert len(report["checkpoints"]) == 24
    assert "google/bert_uncased_L-12_H-768_A-12" in report["checkpoints"]
    assert all(r["gpu_minutes"] > 0 for r in report["runs"])  # every shape known from its name
    assert report["gpu_hours"]["pending"] == pytest.approx(sum(r["gpu_minutes"] for r in report["runs"]) / 60)
    assert main(["plan", "--profile", "paper", "--no-timing"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("profile paper: 64 runs") and "GPU-hours" in out and "collection.tsv: MISSING" in out


def test_plan_of_a_prepared_profile_counts_done_runs_and_the_evaluation(tmp_path, monkeypatch):
    from drscaling import grid

    monkeypatch.setenv("DRSCALING_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("DRSCALING_OUTPUTS", str(tmp_path / "out"))
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"dataset": "toy", "data": {"subset_sizes": [100, 200]},
                                    "grid": {"data_size_shape": {"layers": 1, "hidden": 8}}}))
    prof = load_profile(path)
    prof.processed_dir.mkdir(parents=True)
    (prof.processed_dir / "manifest.json").write_text(json.dumps(
        {"key": "k" * 64, "counts": {"corpus": 1000, "test_pairs": 30, "validation_pairs": 20}}))
    planned = grid.plan_grid(prof, "k" * 64)
    grid.execute_run(planned[0].spec, grid.runs_dir(prof), run_fn=lambda s, d: {"status": "ok"})
    report = estimate.plan_report(prof)
    assert [r["state"] for r in report["runs"]] == ["done", "pending"]
    assert report["evaluation_estimated"] and report["prepared"]
    pending = report["runs"][1]
    assert report["gpu_hours"]["pending"] == pytest.approx(pending["gpu_minutes"] / 60)
    assert report["gpu_hours"]["all"] > report["gpu_hours"]["pending"]
