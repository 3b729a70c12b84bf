"""Stage completion tells the truth: failed runs stop the stage (its output is not written), the
next call retries exactly them; an incomplete grid is refused unless the profile allows it."""

import json
import math

import pandas as pd
import pytest
import yaml

from drscaling import grid
from drscaling.config import load_profile
from drscaling.fileio import dumps, read_json, write_json
from drscaling.provenance import TRAINER_VERSION

SHAPES = [{"layers": 1, "hidden": h} for h in (8, 16, 24, 32)]


def profile(tmp_path, allow=False):
    path = tmp_path / ("allow.yaml" if allow else "strict.yaml")
    path.write_text(yaml.safe_dump({"dataset": "toy", "allow_missing_runs": allow,
                                    "data": {"subset_sizes": [10, 20]},
                                    "grid": {"model_size_shapes": SHAPES, "model_size_n_train": 20}}))
    return load_profile(path)


def fake_run(spec, run_dir):
    return {"status": "ok", "cll_test": 1.0 / spec.model["hidden"], "n_params": spec.model["hidden"] ** 2}


def run_with_failures(prof, fail: set[str]):
    def fn(spec, run_dir):
        if spec.run_id in fail:
            raise ValueError(f"boom in {spec.model_name}\nsecond line of the message")
        return fake_run(spec, run_dir)

    planned = grid.plan_grid(prof, "key")
    return planned, grid.run_grid(prof, planned, run_fn=fn, progress=False)


def test_failed_runs_stop_the_stage_and_only_they_are_retried(tmp_path):
    prof = profile(tmp_path)
    planned = grid.plan_grid(prof, "key")
    victim = planned[2].run_id
    write_json(grid.summary_path(prof), {"complete": True})  # an older success must not survive
    _, records = run_with_failures(prof, {victim})
    with pytest.raises(grid.RunsFailedError) as err:
        grid.write_summary(prof, records)
    message = str(err.value)
    assert f"{victim}: ValueError: boom in L1-H24" in message and "second line" not in message
    assert "1 of 4 runs" in message and not grid.summary_path(prof).exists()
    # the next call retries exactly the failed run
    retried = []
    records = grid.run_grid(prof, planned, run_fn=lambda s, d: retried.append(s.run_id) or fake_run(s, d),
                            progress=False)
    assert retried == [victim]
    grid.write_summary(prof, records)
    summary = read_json(grid.summary_path(prof))
    assert summary["complete"] is True and summary["counts"] == {"ok": 4}
    assert summary["trainer_version"] == TRAINER_VERSION


def test_allow_missing_runs_writes_an_incomplete_summary(tmp_path):
    prof = profile(tmp_path, allow=True)
    planned, records = run_with_failures(prof, {grid.plan_grid(prof, "key")[0].run_id})
    grid.write_summary(prof, records)
    summary = read_json(grid.summary_path(prof))
    assert summary["complete"] is False and len(summary["failed"]) == 1
    assert summary["failed"][0].startswith(planned[0].run_id)
    # the Makefile reruns a stage whose output says so: the exact text it looks for
    assert '"complete": false' in grid.summary_path(prof).read_text()


def test_incomplete_grid_is_refused_unless_allowed(tmp_path):
    prof = profile(tmp_path)
    planned = grid.plan_grid(prof, "key")
    grid.run_grid(prof, planned[:2], run_fn=fake_run, progress=False)  # the other two never ran
    results = grid.collect_results(prof, planned)
    assert results["status"].tolist().count("pending") == 2 and len(results) == 4
    with pytest.raises(grid.IncompleteGridError, match=r"2 planned run\(s\) of profile strict are not finished"):
        grid.require_complete(prof, results, "05_fit_scaling_laws")
    allowing = profile(tmp_path, allow=True)
    missing = grid.require_complete(allowing, results, "05_fit_scaling_laws")
    assert sorted(m["run_id"] for m in missing) == sorted(p.run_id for p in planned[2:])
    assert {m["status"] for m in missing} == {"pending"} and all(m["sweeps"] == "model_size" for m in missing)


def test_results_carry_provenance_and_one_trainer_version(tmp_path):
    prof = profile(tmp_path)
    planned = grid.plan_grid(prof, "key")
    grid.run_grid(prof, planned, run_fn=fake_run, progress=False)
    results = grid.collect_results(prof, planned)
    for column in ("trainer_version", "provenance.commit", "provenance.dirty", "provenance.torch",
                   "provenance.cpu", "provenance.cpu_count", "provenance.python"):
        assert results[column].notna().all(), column
    assert grid.check_trainer_versions(results, "here") == TRAINER_VERSION
    mixed = pd.concat([results, results.head(1).assign(trainer_version=TRAINER_VERSION + 1)])
    with pytest.raises(ValueError, match="different or unversioned trainers"):
        grid.check_trainer_versions(mixed, "here")


def test_one_json_policy():
    obj = {"a": math.nan, "b": [1.0, math.inf, -math.inf], "c": {"d": 2}}
    text = dumps(obj)
    assert json.loads(text, parse_constant=pytest.fail) == {"a": None, "b": [1.0, None, None], "c": {"d": 2}}
    import numpy as np

    assert json.loads(dumps({"x": np.float64("nan"), "y": np.array([1.5, np.nan])})) == {"x": None, "y": [1.5, None]}
