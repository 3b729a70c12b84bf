"""The pretraining stage (grid.pretraining): one run per shape on pairs made from the training
passages, which every other run of that shape starts from, and which runs first."""

import json
import os
from pathlib import Path

import pytest
import torch

from drscaling import grid
from drscaling.config import ConfigError, TrainingConfig, load_profile
from drscaling.grid import plan_grid, run_grid
from drscaling.model import DualEncoder
from drscaling.train import build_model
from tests.test_grid import KEY, write_profile

PRE = {"method": "ict", "keep_sentence_prob": 0.1, "n_train": 300, "seed": 0, "training": {"steps": 7}}
SECTION = {"seeds": [0, 1], "model_size_shapes": [{"layers": 1, "hidden": 8}, {"layers": 1, "hidden": 16}],
           "model_size_n_train": 200, "data_size_shape": {"layers": 1, "hidden": 16},
           "annotation_shape": {"layers": 1, "hidden": 32}, "annotation_n_train": [50],
           "annotation_methods": [{"method": "human"}, {"method": "ict", "keep_sentence_prob": 0.1}],
           "pretraining": PRE}


def test_each_shape_is_pretrained_once_and_its_runs_start_from_it(tmp_path):
    prof = load_profile(write_profile(tmp_path, SECTION))
    planned = plan_grid(prof, KEY)
    pre = [p for p in planned if p.sweeps == ("pretraining",)]
    assert sorted(p.spec.model_name for p in pre) == ["L1-H16", "L1-H8"]  # H16 serves two sweeps, once
    for p in pre:
        assert (p.spec.annotation, p.spec.n_train, p.spec.seed, p.spec.annotation_options) == \
            ("ict", 300, 0, {"keep_sentence_prob": 0.1})
        assert p.spec.training["steps"] == 7 and "init" not in p.spec.model
    by_shape = {p.spec.model_name: p.run_id for p in pre}
    rest = [p for p in planned if p not in pre]
    assert len(rest) == 2 * 2 + 2 * 3 - 2  # model size + data size (3 sizes), 2 seeds, H16 at 200 shared
    assert all(p.spec.model["init"] == by_shape[p.spec.model_name] for p in rest)
    # the pretraining is part of a run's id: another pretraining, other runs
    other = load_profile(write_profile(tmp_path, {**SECTION, "pretraining": {**PRE, "n_train": 400}}, name="q"))
    assert not {p.run_id for p in rest} & {p.run_id for p in plan_grid(other, KEY)}
    # the annotation study alone still plans the pretraining of its shape
    ann = plan_grid(prof, KEY, sweeps=("annotation",))
    [ann_pre] = [p for p in ann if p.sweeps == ("pretraining",)]
    assert ann_pre.spec.model_name == "L1-H32"
    assert all(p.spec.model["init"] == ann_pre.run_id for p in ann if p is not ann_pre)
    # the pretraining goes over its pairs once by design: the passes guard leaves it out
    assert not any("pretraining" in m for m in grid.plan_warnings(planned))
    # without the stage, no init
    plain = load_profile(write_profile(tmp_path, {**SECTION, "pretraining": None}, name="r"))
    assert all("init" not in p.spec.model for p in plan_grid(plain, KEY))


def test_seed_run_pretrains_each_shape_once_per_seed(tmp_path):
    prof = load_profile(write_profile(tmp_path, {**SECTION, "pretraining": {**PRE, "seed": "run"}}))
    planned = plan_grid(prof, KEY)
    pre = {(p.spec.model_name, p.spec.seed): p.run_id for p in planned if p.sweeps == ("pretraining",)}
    assert sorted(pre) == [("L1-H16", 0), ("L1-H16", 1), ("L1-H8", 0), ("L1-H8", 1)]
    rest = [p for p in planned if p.sweeps != ("pretraining",)]
    assert rest and all(p.spec.model["init"] == pre[(p.spec.model_name, p.spec.seed)] for p in rest)
    # seed 0's pretraining is the fixed-seed profile's: its seed-0 runs keep their ids
    fixed = {p.run_id for p in plan_grid(load_profile(write_profile(tmp_path, SECTION, name="f")), KEY)}
    assert {p.run_id for p in rest if p.spec.seed == 0} <= fixed
    assert not {p.run_id for p in rest if p.spec.seed == 1} & fixed


@pytest.mark.parametrize("pre, match", [
    ({"method": "human", "n_train": 10}, "pretraining uses no human pair"),
    ({"method": "ict"}, "expected a mapping with method, n_train"),
    ({"method": "ict", "n_train": 0}, r"pretraining.n_train: expected a positive integer"),
    ({"method": "ict", "n_train": 10, "seed": "each"}, r"pretraining.seed: expected a non-negative integer or run"),
    ({"method": "ict", "n_train": 10, "rate": 0.1}, "rate"),
    ({"method": "ict", "n_train": 10, "training": {"no_such": 1}}, "no_such"),
])
def test_pretraining_errors_name_the_field(tmp_path, pre, match):
    prof = load_profile(write_profile(tmp_path, {**SECTION, "pretraining": pre}))
    with pytest.raises(ConfigError, match=match):
        plan_grid(prof, KEY)


def order_run(spec, run_dir):
    """Records when it ran; a run with an init checks that its init finished first."""
    init = spec.model.get("init")
    if init is not None and not (Path(run_dir).parent / init / "result.json").is_file():
        raise RuntimeError(f"{init} has not finished")
    (Path(run_dir) / "log.jsonl").write_text(json.dumps({"pid": os.getpid()}) + "\n")
    return {"status": "ok", "cll_test": 3.0, "n_params": spec.model["hidden"], "steps": 1}


@pytest.mark.parametrize("workers", [1, 2])
def test_pretraining_runs_first_and_a_failed_one_fails_its_dependents(tmp_path, workers):
    prof = load_profile(write_profile(tmp_path, {**SECTION, "workers": workers}))
    planned = plan_grid(prof, KEY)
    records = run_grid(prof, planned, run_fn=order_run, progress=False)
    assert [r["run_id"] for r in records] == [p.run_id for p in planned]  # plan order kept
    assert all(r["status"] == "ok" for r in records), [r.get("error") for r in records]


def failing_pretraining_run(spec, run_dir):
    if spec.model["hidden"] == 8 and "init" not in spec.model:
        raise RuntimeError("pretraining failed")
    return order_run(spec, run_dir)


def test_a_failed_pretraining_fails_only_the_runs_that_start_from_it(tmp_path):
    prof = load_profile(write_profile(tmp_path, SECTION))
    planned = plan_grid(prof, KEY)
    records = run_grid(prof, planned, run_fn=failing_pretraining_run, progress=False)
    failed = {r["run_id"] for r in records if r["status"] == "failed"}
    assert failed == {p.run_id for p in planned if p.spec.model_name == "L1-H8"}


def test_a_missing_pretraining_checkpoint_is_a_clear_error(tmp_path):
    cfg = TrainingConfig(projection_dim=16)
    with pytest.raises(FileNotFoundError, match="no checkpoint of the pretraining run pre-run"):
        build_model({"layers": 1, "hidden": 8, "init": "pre-run"}, 50, cfg, 0, tmp_path)


def test_a_run_starts_from_the_kept_checkpoint_of_its_pretraining(tmp_path):
    cfg = TrainingConfig(projection_dim=16)
    pretrained = DualEncoder.from_shape(1, 8, 50, projection_dim=16, seed=3)
    pretrained.save(tmp_path / "pre-run" / "best")
    model = build_model({"layers": 1, "hidden": 8, "init": "pre-run"}, 50, cfg, 0, tmp_path)
    scratch = build_model({"layers": 1, "hidden": 8}, 50, cfg, 0, tmp_path)
    for (name, a), b, c in zip(model.state_dict().items(), pretrained.state_dict().values(),
                               scratch.state_dict().values()):
        assert torch.equal(a, b), name
    assert not torch.equal(model.projection.weight, scratch.projection.weight)
    with pytest.raises(ValueError, match="another shape"):
        build_model({"layers": 1, "hidden": 16, "init": "pre-run"}, 50, cfg, 0, tmp_path)
