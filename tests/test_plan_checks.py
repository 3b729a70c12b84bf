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
    # the guard reads validation, never test: run 0 is near chance on validation only, run 1 on test only
    results = {planned[0].run_id: {"status": "ok", "cll_validation": chance - 0.4, "cll_test": chance - 2.0},
               planned[1].run_id: {"status": "ok", "cll_validation": chance - 2.0, "cll_test": chance - 0.4}}
    grid.run_grid(prof, planned, run_fn=lambda spec, d: results[spec.run_id], progress=False)
    [message] = grid.stalled_runs(prof, planned, chance)
    assert message.startswith("shape L1-H8: 1 run(s) within 1.0 nat of chance") and "D = 100 s0" in message
    assert "D = 1,000" not in message and f"validation CLL {round(chance - 0.4, 3)}" in message
    with pytest.raises(ConfigError, match="L1-H8"):
        grid.warn_about_plan(planned, prof, chance, strict=True)


def test_a_pretraining_run_near_chance_is_no_stall(tmp_path):
    """Pretraining on weak pairs (ICT) scores near chance by design; only the sweeps' runs that
    start from it are points of a law."""
    path = tmp_path / "pre.yaml"
    path.write_text(yaml.safe_dump({
        "dataset": "toy", "data": {"subset_sizes": [100, 1000]}, "training": {"steps": 1000, "batch_size": 16},
        "grid": {"data_size_shape": {"layers": 1, "hidden": 8}, "data_size_n_train": [100, 1000],
                 "pretraining": {"method": "ict", "n_train": 100}}}))
    prof = load_profile(path)
    planned = grid.plan_grid(prof, "key")
    chance = math.log(257)
    assert [p.sweeps for p in planned][0] == ("pretraining",)
    near = {p.run_id: {"status": "ok", "cll_validation": chance - (0.4 if p.sweeps == ("pretraining",) else 2.0)}
            for p in planned}
    grid.run_grid(prof, planned, run_fn=lambda spec, d: near[spec.run_id], progress=False)
    assert grid.stalled_runs(prof, planned, chance) == []


def test_grid_strict_refuses_on_the_command_line(tmp_path, capsys):
    prof = profile(tmp_path, steps=10)
    assert main(["grid", "--profile", str(prof.path), "--dry-run"]) == 0
    assert "warning: sweep data_size: 2 of 2 runs" in capsys.readouterr().err
    assert main(["grid", "--profile", str(prof.path), "--dry-run", "--strict"]) == 2
    assert "cannot show its laws (--strict)" in capsys.readouterr().err


def test_steps_from_d_worked_by_hand():
    from drscaling.config import TrainingConfig

    cfg = TrainingConfig(steps=999, batch_size=64, passes=2.5, min_steps=150, checks_per_pass=4, warmup_fraction=0.1)
    small = cfg.for_n_train(2500)  # 2.5 x 2500 / 64 = 97.7 -> 98 steps, below min_steps
    assert (small.steps, small.eval_every, small.warmup_steps) == (150, 10, 15)  # 2500/64/4 = 9.8 checks apart
    large = cfg.for_n_train(80000)  # 2.5 x 80000 / 64 = 3125 steps; a check every 312.5 -> 312 steps
    assert (large.steps, large.eval_every, large.warmup_steps) == (3125, 312, 312)
    assert large.for_n_train(80000) == large  # idempotent: a planned spec stays as planned
    plain = TrainingConfig(steps=800, eval_every=100, warmup_steps=80)
    assert plain.for_n_train(123) == plain  # without passes nothing changes
    with pytest.raises(ConfigError, match="training.passes"):
        TrainingConfig(passes=0)


def test_plan_gives_each_d_its_passes(tmp_path):
    path = tmp_path / "passes.yaml"
    path.write_text(yaml.safe_dump({
        "dataset": "toy", "data": {"subset_sizes": [100, 1000]},
        "training": {"steps": 5, "batch_size": 10, "passes": 3, "checks_per_pass": 2},
        "grid": {"data_size_shape": {"layers": 1, "hidden": 8}}}))
    planned = grid.plan_grid(load_profile(path), "key")
    assert [(p.spec.n_train, p.spec.training["steps"], p.spec.training["eval_every"]) for p in planned] == [
        (100, 30, 5), (1000, 300, 50)]
    assert grid.plan_warnings(planned) == [] and {round(grid.passes(p.spec), 6) for p in planned} == {3.0}
