"""The real trainer through the grid: the smoke grid on a local Ray cluster gives the same
results as the local executor (runs are deterministic on the CPU), and nothing is retrained."""

import pytest

from drscaling import grid
from drscaling.config import load_profile
from drscaling.datasets import prepare_dataset


def test_smoke_grid_on_ray_equals_local(shared_squad, tmp_path, monkeypatch):
    profile = load_profile("smoke")
    key = prepare_dataset(profile).manifest["key"]
    # a pretraining run and a run fine-tuned from it: enough to compare the executors (and the
    # dependency between stages), at half the cost of four
    planned = grid.plan_grid(profile, key)[:2]
    assert planned[0].sweeps == ("pretraining",) and planned[1].spec.model["init"] == planned[0].run_id

    monkeypatch.setenv("DRSCALING_OUTPUTS", str(tmp_path / "ray-outputs"))
    on_ray = grid.run_grid(profile, planned, executor="ray", progress=False)
    monkeypatch.setenv("DRSCALING_OUTPUTS", str(tmp_path / "local-outputs"))
    local = grid.run_grid(profile, planned, executor="local", progress=False)

    assert [r["status"] for r in on_ray] == ["ok"] * 2 == [r["status"] for r in local]
    for a, b in zip(on_ray, local):
        assert a["run_id"] == b["run_id"]
        assert a["result"]["cll_test"] == pytest.approx(b["result"]["cll_test"], rel=1e-9)
        assert a["result"]["mrr_at_10"] == pytest.approx(b["result"]["mrr_at_10"], rel=1e-9)
    assert (tmp_path / "ray-outputs" / "smoke" / "runs" / planned[0].run_id / "result.json").is_file()
    again = grid.run_grid(profile, planned, executor="local", progress=False)
    assert all(r["skipped"] for r in again)
