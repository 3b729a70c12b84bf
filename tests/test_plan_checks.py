"""The planning guard: a sweep whose largest D the steps barely see, and shapes that stall near
chance, are named (warnings; --strict refuses)."""

import math

import pytest
import yaml

from drscaling import grid
from drscaling.__main__ import main
from drscaling.config import ConfigError, load_profile


def profile(tmp_path, steps, batch=16, name="p"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({
        "dataset": "toy", "data": {"subset_sizes": [100, 1000]},
        "training": {"steps": steps, "batch_size": batch},
        "grid": {"data_size_shape": {"layers": 1, "hidden": 8}, "data_size_n_train": [100, 1000]}}))
    return load_profile(path)


def test_a_largest_d_seen_fewer_than_2_5_times_is_named(tmp_path):
    # 100 steps x 16 = 1,600 pairs: 16 passes over D = 100, 1.6 over D = 1,000
    planned = grid.plan_grid(profile(tmp_path, steps=100), "key")
    [message] = grid.plan_warnings(planned)
    assert "sweep data_size: 1 of 2 runs" in message and "D = 1,000" in message and "1.60 passes" in message
    with pytest.warns(grid.PlanWarning, match="1.60 passes"):
        grid.warn_about_plan(planned)
    with pytest.raises(ConfigError, match="cannot show its laws"):
        grid.warn_about_plan(planned, strict=True)
    # 157 steps x 16 = 2,512 pairs: 2.51 passes over the largest D, no warning
    assert grid.plan_warnings(grid.plan_grid(profile(tmp_path, steps=157, name="q"), "key")) == []


def test_shapes_that_stall_near_chance_are_named(tmp_path):
    prof = profile(tmp_path, steps=1000)
    planned = grid.plan_grid(prof, "key")
    chance = math.log(257)
    results = {planned[0].run_id: {"status": "ok", "cll_test": chance - 0.4},  # within 1 nat: stalled
               planned[1].run_id: {"status": "ok", "cll_test": chance - 2.0}}
    grid.run_grid(prof, planned, run_fn=lambda spec, d: results[spec.run_id], progress=False)
    [message] = grid.stalled_runs(prof, planned, chance)
    assert message.startswith("shape L1-H8: 1 run(s) within 1.0 nat of chance") and "D = 100 s0" in message
    with pytest.raises(ConfigError, match="L1-H8"):
        grid.warn_about_plan(planned, prof, chance, strict=True)


def test_grid_strict_refuses_on_the_command_line(tmp_path, capsys):
    prof = profile(tmp_path, steps=10)
    assert main(["grid", "--profile", str(prof.path), "--dry-run"]) == 0
    assert "warning: sweep data_size: 2 of 2 runs" in capsys.readouterr().err
    assert main(["grid", "--profile", str(prof.path), "--dry-run", "--strict"]) == 2
    assert "cannot show its laws (--strict)" in capsys.readouterr().err
