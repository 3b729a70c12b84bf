"""This machine's wall-time estimate (make plan, notebooks 02 and 04): the executor's schedule
worked by hand, the progress bar's ETA, the cache of measured times and its keys, and the
estimate of the smoke profile on its real data."""

import json

import pytest

from drscaling import step_times
from drscaling import wall_estimate as estimate
from drscaling.config import load_profile
from drscaling.grid import PlannedRun, RunSpec
from drscaling.grid.execute import GridProgress, run_cost

KEY = "k" * 64


def run(name: str, hidden: int, steps: int, init: str | None = None) -> PlannedRun:
    model = {"layers": 1, "hidden": hidden, **({"init": init} if init else {})}
    spec = RunSpec(profile="p", dataset="toy", data_key=KEY, annotation="human", model=model, n_train=100,
                   seed=0, training={"steps": steps, "note": name})
    return PlannedRun(spec, ("model_size",))


def test_makespan_worked_by_hand():
    pre = [run(f"pre{i}", 8, 10) for i in range(3)]
    rest = [run(f"r{i}", 16, 10 + i, init=pre[0].run_id) for i in range(5)]
    seconds = {p.run_id: 10.0 for p in pre} | {p.run_id: 4.0 for p in rest}
    # pretraining first (3 x 10 s on 2 workers: 20 s), then 5 x 4 s on 2 workers: 12 s
    assert estimate.makespan(pre + rest, seconds, 2) == pytest.approx(20 + 12)
    assert estimate.makespan(pre + rest, seconds, 1) == pytest.approx(30 + 20)
    # the executor starts the costliest run (by run_cost) first: a 9 s run that it starts first
    # ends at 9 s while the other worker takes the four 1 s runs; started last it would end at 11 s
    first = max(rest, key=lambda p: run_cost(p.spec))
    uneven = {p.run_id: (9.0 if p is first else 1.0) for p in rest}
    assert estimate.makespan(rest, uneven, 2) == pytest.approx(9)


def test_progress_eta_counts_the_runs_left():
    bar = GridProgress(3, "runs", False, {"a": 60.0, "b": 60.0, "c": 120.0}, 2, ["a", "b", "c"])
    assert bar.eta_seconds() == pytest.approx(120)  # 240 s of runs on 2 workers
    bar.done({"run_id": "c", "status": "ok"})
    assert bar.eta_seconds() == pytest.approx(60) and bar._postfix()["left"] == 2
    bar.done({"run_id": "a", "status": "ok"})
    assert bar.eta_seconds() == pytest.approx(60)  # one run left: its own time, not half of it
    assert GridProgress(1, "runs", False).eta_seconds() is None  # no estimate: no ETA
    line = bar.line({"run_id": "a", "status": "ok", "wall_seconds": 61.2})
    assert line.startswith("[2/3] ok a (61 s); 1 left, ETA ") and "(1 min)" in line


def test_progress_prints_a_line_per_finished_run(capsys):
    bar = GridProgress(2, "runs", True, {"a": 60.0, "b": 30.0}, 1, ["a", "b"])
    bar.done({"run_id": "a", "status": "ok", "wall_seconds": 50.0})
    bar.done({"run_id": "b", "status": "ok", "skipped": True})  # done before this call: no line
    bar.close()
    lines = [x for x in capsys.readouterr().out.splitlines() if x.startswith("[")]
    assert len(lines) == 1 and lines[0].startswith("[1/2] ok a (50 s); 1 left, ETA ")


def test_cache_measures_once_per_key_and_machine(monkeypatch):
    calls = []

    def measure():
        calls.append(1)
        return 0.5

    assert step_times.cached("train_step", {"machine": "A", "hidden": 8}, measure) == 0.5
    assert step_times.cached("train_step", {"machine": "A", "hidden": 8}, measure) == 0.5
    assert len(calls) == 1
    step_times.cached("train_step", {"machine": "B", "hidden": 8}, measure)
    assert len(calls) == 2
    assert len(json.loads(step_times.cache_path().read_text())) == 2
    step_times.cache_path().write_text("{not json")  # a damaged cache is measured again
    step_times.cached("train_step", {"machine": "A", "hidden": 8}, measure)
    assert len(calls) == 3
    monkeypatch.setattr(step_times, "cpu_model", lambda: "another CPU")
    assert "another CPU" in step_times.machine_key("fp32", 1) and "1 thread" in step_times.machine_key("fp32", 1)


def test_measured_step_grows_with_the_shape():
    work = step_times.Workload(batch_size=8, negatives=8, in_batch_negatives=True, query_width=8, passage_width=16,
                               precision="fp32", threads=1, vocab_size=200)
    small = step_times.measure_train_step(1, 8, work)
    large = step_times.measure_train_step(2, 128, work)
    assert 0 < small < large  # 2 x 128 wide does ~100x the arithmetic of 1 x 8
    assert step_times.measure_matmul_peak("fp32", 1, size=256, repeats=2) > 1e8


def test_smoke_estimate_on_its_real_data(shared_squad, capsys):
    from drscaling.__main__ import main
    from drscaling.datasets import ProcessedData, prepare_dataset

    prof = load_profile("smoke")
    prepare_dataset(prof)
    data = ProcessedData(prof.processed_dir)
    est = estimate.machine_estimate(prof, data, progress=False)
    w = est["widths"]
    assert 0 < w["train_query"] <= prof.training.max_query_length
    assert 0 < w["train_passage"] <= prof.training.max_passage_length
    assert est["evaluation_included"] and est["run_overhead_seconds"] >= 0
    main_runs, annotation = est["notebooks"]["02_train_grid"], est["notebooks"]["04_annotation_quality"]
    assert main_runs["pending"] == main_runs["runs"] > 0 and annotation["pending"] > 0
    assert set(est["per_run"]) and all(s > 0 for s in est["per_run"].values())
    # two workers: no faster than half the runs' sum, no slower than all of it
    total = sum(est["per_run"].values())
    assert total / 2 - 1e-9 <= est["seconds"] <= total + 1e-9
    cache = json.loads(step_times.cache_path().read_text())
    assert any('"kind": "run_overhead"' in k for k in cache) and any('"kind": "train_step"' in k for k in cache)
    assert main(["plan", "--profile", "smoke"]) == 0
    out = capsys.readouterr().out
    n = main_runs["runs"]
    assert "estimate for this machine" in out and f"02_train_grid: {n} of {n} runs pending" in out


def test_plan_vs_actual_compares_notebooks_and_runs(tmp_path):
    import importlib.util

    from drscaling import paths

    spec = importlib.util.spec_from_file_location("plan_vs_actual", paths.ROOT / "scripts" / "plan_vs_actual.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "cpu"
    (out / "notebooks").mkdir(parents=True)
    for name, seconds in (("01_prepare_data", 30.0), ("02_train_grid", 1000.0), ("04_annotation_quality", 500.0)):
        (out / "notebooks" / f"{name}.ipynb").write_text(json.dumps({"metadata": {"papermill": {"duration": seconds}}}))
    for run_id, wall in (("a", 100.0), ("b", 50.0)):
        (out / "runs" / run_id).mkdir(parents=True)
        (out / "runs" / run_id / "result.json").write_text(json.dumps(
            {"wall_seconds": wall, "result": {"train_seconds": wall - 10, "eval_seconds": 8.0}}))
    est = {"profile": "cpu", "machine": "m", "per_run": {"a": 120.0, "b": 40.0, "c": 5.0},
           "per_run_parts": {"a": {"train": 90.0, "checks": 9.0, "evaluation": 10.0},
                             "b": {"train": 30.0, "checks": 2.0, "evaluation": 6.0}},
           "notebooks": {"02_train_grid": {"seconds": 1100.0}, "04_annotation_quality": {"seconds": 400.0}}}
    report = module.compare(est, out)
    assert report["notebooks"]["02_train_grid"]["error"] == pytest.approx(0.1)
    assert report["notebooks"]["04_annotation_quality"]["error"] == pytest.approx(-0.2)
    assert report["training_notebooks"] == {"estimated_s": 1500.0, "actual_s": 1500.0, "error": 0.0}
    assert report["all_notebooks_actual_s"] == 1530.0
    assert report["runs_compared"] == 2  # run c never ran
    assert report["run_ratio_estimated_over_actual"]["median"] == pytest.approx((1.2 + 0.8) / 2)
    assert report["train_ratio_estimated_over_actual"]["max"] == pytest.approx(99 / 90)
