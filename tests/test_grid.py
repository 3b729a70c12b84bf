"""The training grid: run ids, plan expansion, one run's life cycle, executors, results."""

import json
import math
import os
import sys
import time
from pathlib import Path

import pytest
import yaml

from drscaling import grid
from drscaling.__main__ import main
from drscaling.config import ConfigError, load_profile
from drscaling.fileio import read_json, write_json
from drscaling.grid import PlannedRun, RunFolderError, RunSpec, collect_results, execute_run, plan_grid, run_grid

KEY = "k" * 64


# ---------------------------------------------------------------- fake trainers (module level: Ray ships them)

def _log(run_dir: Path, **fields):
    with open(run_dir / "log.jsonl", "a") as f:
        f.write(json.dumps(fields) + "\n")


def calls(run_dir: Path) -> int:
    log = Path(run_dir) / "log.jsonl"
    return len(log.read_text().splitlines()) if log.exists() else 0


def fake_run(spec: RunSpec, run_dir: Path) -> dict:
    _log(run_dir, event="train", pid=os.getpid())
    layers = spec.model.get("layers", 12)
    return {"status": "ok", "cll_test": 5.0 - 0.5 * layers - spec.n_train / 1e4, "cll_validation": 4.0,
            "mrr_at_10": 0.1 * layers, "n_params": layers * spec.model.get("hidden", 768) * 100,
            "steps": spec.training["steps"], "train_seconds": 0.01,
            "outputs_env": os.environ.get("DRSCALING_OUTPUTS")}


def flaky_run(spec, run_dir):
    """Fails for the 3-layer shape."""
    if spec.model.get("layers") == 3:
        _log(run_dir, event="boom")
        raise RuntimeError(f"boom in {spec.model_name}")
    return fake_run(spec, run_dir)


def crashing_run(spec, run_dir):
    """Kills its worker process for seed 7 (Ray only!)."""
    if spec.seed == 7:
        os._exit(3)
    return fake_run(spec, run_dir)


class Interrupted(BaseException):
    pass


def interrupted_run(spec, run_dir):
    (run_dir / "checkpoint.pt").write_bytes(b"partial")
    _log(run_dir, event="step", step=1)
    raise Interrupted()


# ---------------------------------------------------------------- helpers

def write_profile(tmp_path, grid_section, name="p", training=None, subset_sizes=(100, 200, 400)) -> Path:
    doc = {"dataset": "toy", "data": {"subset_sizes": list(subset_sizes)}, "grid": grid_section}
    if training is not None:
        doc["training"] = training
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


SHAPES = [{"layers": 1, "hidden": 32}, {"layers": 2, "hidden": 64},
          {"layers": 3, "hidden": 64, "training": {"learning_rate": 5e-4, "warmup_steps": 7}}]
GRID = {"model_size_shapes": SHAPES, "data_size_shape": {"layers": 2, "hidden": 64}}


def spec(**changes) -> RunSpec:
    d = dict(profile="p", dataset="toy", data_key=KEY, annotation="human", model={"layers": 2, "hidden": 128},
             n_train=80000, seed=0, training={"steps": 100, "learning_rate": 1e-3})
    d.update(changes)
    return RunSpec(**d)


def by_id(records):
    return {r["run_id"]: r for r in records}


# ---------------------------------------------------------------- run ids

def test_run_id_stable_readable_and_sensitive():
    s = spec()
    assert s.run_id == spec().run_id == RunSpec.from_dict(json.loads(json.dumps(s.to_dict()))).run_id
    assert s.run_id.startswith("human-L2-H128-D80000-s0-") and len(s.run_id.rsplit("-", 1)[1]) == 10
    variants = [spec(seed=1), spec(n_train=40000), spec(model={"layers": 4, "hidden": 128}),
                spec(training={"steps": 100, "learning_rate": 2e-3}), spec(training={"steps": 101, "learning_rate": 1e-3}),
                spec(training={"steps": 100, "learning_rate": 1e-3, "bf16": False}), spec(data_key="x" * 64),
                spec(dataset="other"), spec(annotation="ict")]
    ids = {v.run_id for v in variants}
    assert len(ids) == len(variants) and s.run_id not in ids
    assert spec(profile="other").run_id == s.run_id  # the profile's name is not part of the run
    pre = spec(model={"pretrained": "google/bert_uncased_L-2_H-128_A-2"})
    assert pre.run_id.startswith("human-bert_uncased_L-2_H-128_A-2-D80000-s0-")
    assert spec(model={"pretrained": "/ckpt/a b?/"}).run_id.startswith("human-a_b-D80000")
    assert RunSpec.from_dict(pre.to_dict()) == pre and hash(RunSpec.from_dict(pre.to_dict())) == hash(pre)


def test_run_spec_copies_its_dicts_and_rejects_bad_models():
    training = {"steps": 100}
    s = spec(training=training)
    training["steps"] = 5
    assert s.training["steps"] == 100
    with pytest.raises(ValueError, match="RunSpec.model"):
        spec(model={"layers": 2})
    with pytest.raises(ValueError, match="RunSpec.annotation"):
        spec(annotation="a/b")


# ---------------------------------------------------------------- planning

def test_plan_expansion_dedup_and_overrides(tmp_path):
    profile = load_profile(write_profile(tmp_path, {**GRID, "seeds": [0, 1]}, training={"steps": 10}))
    planned = plan_grid(profile, KEY)
    # model size: 3 shapes at D=400 (the largest); data size: L2-H64 at 100, 200, 400 (400 shared)
    assert len(planned) == 2 * (3 + 3 - 1)
    assert len({p.run_id for p in planned}) == len(planned)
    point = {(p.spec.model_name, p.spec.n_train, p.spec.seed): p for p in planned}
    assert point[("L2-H64", 400, 0)].sweeps == ("model_size", "data_size")
    assert point[("L1-H32", 400, 1)].sweeps == ("model_size",)
    assert point[("L2-H64", 100, 0)].sweeps == ("data_size",)
    l3 = point[("L3-H64", 400, 0)].spec
    assert l3.training["learning_rate"] == 5e-4 and l3.training["warmup_steps"] == 7 and l3.training["steps"] == 10
    assert point[("L1-H32", 400, 0)].spec.training["learning_rate"] == profile.training.learning_rate
    assert set(l3.training) == set(point[("L1-H32", 400, 0)].spec.training)  # the full TrainingConfig
    assert all(p.spec.data_key == KEY and p.spec.dataset == "toy" and p.spec.annotation == "human" for p in planned)
    assert [p.run_id for p in plan_grid(profile, KEY)] == [p.run_id for p in planned]
    assert {p.run_id for p in plan_grid(profile, "y" * 64)}.isdisjoint(p.run_id for p in planned)

    joint = {**GRID, "joint_shapes": SHAPES[:2], "joint_n_train": [100, 400], "model_size_n_train": 200,
             "data_size_n_train": [100, 200], "annotation": "ict"}
    planned = plan_grid(load_profile(write_profile(tmp_path, joint)), KEY)
    tags = {(p.spec.model_name, p.spec.n_train): p.sweeps for p in planned}
    assert tags == {("L1-H32", 200): ("model_size",), ("L2-H64", 200): ("model_size", "data_size"),
                    ("L3-H64", 200): ("model_size",), ("L2-H64", 100): ("data_size", "joint"),
                    ("L1-H32", 100): ("joint",), ("L1-H32", 400): ("joint",), ("L2-H64", 400): ("joint",)}
    assert all(p.run_id.startswith("ict-") for p in planned)
    pre = plan_grid(load_profile(write_profile(tmp_path, {"model_size_shapes": [{"pretrained": "google/bert-mini"}]})), KEY)
    assert [p.spec.model for p in pre] == [{"pretrained": "google/bert-mini"}]
    assert plan_grid(load_profile(write_profile(tmp_path, {})), KEY) == []


@pytest.mark.parametrize("section, match", [
    ({"model_size_shapes": [{"layers": 2, "hidden": 64, "training": {"learning_rat": 1e-4}}]},
     r"model_size_shapes\[0\] \(L2-H64\): training: unknown key\(s\) \['learning_rat'\]"),
    ({"data_size_shape": {"layers": 2, "hidden": 64, "training": {"steps": "many"}}},
     r"data_size_shape \(L2-H64\): training\.steps: expected int"),
    ({"model_size_shapes": [{"layers": 2}]}, r"model_size_shapes\[0\] \(L2-HNone\): hidden: expected a positive integer"),
    ({"model_size_shapes": [{"layers": 0, "hidden": 64}]}, r"layers: expected a positive integer, got 0"),
    ({"joint_shapes": [{"layers": 2, "hidden": 64, "pretrained": "x"}]}, r"joint_shapes\[0\].*not both"),
    ({"joint_shapes": [{"layers": 2, "hidden": 64, "heads": 2}]}, r"unknown key\(s\) \['heads'\]"),
    ({"joint_shapes": ["L2-H64"]}, r"joint_shapes\[0\].*expected a mapping"),
    ({"model_size_shapes": [{"layers": 2, "hidden": 64}], "model_size_n_train": 300},
     r"model_size_n_train: n_train 300 is not one of data\.subset_sizes \[100, 200, 400\]"),
    ({"data_size_shape": {"layers": 2, "hidden": 64}, "data_size_n_train": [100, 150]},
     r"data_size_n_train: n_train 150 is not one of data\.subset_sizes \[100, 200, 400\]"),
    ({"joint_shapes": [{"layers": 2, "hidden": 64}], "joint_n_train": [1000]}, r"n_train 1000 is not one of"),
    ({"data_size_n_train": [100]}, r"data_size_n_train is set but grid\.data_size_shape is not"),
    ({"model_size_shapes": [{"layers": 2, "hidden": 64}], "seeds": [0, 0]}, r"seeds: expected distinct"),
])
def test_plan_errors(tmp_path, section, match):
    with pytest.raises(ConfigError, match=match):  # a few are caught by the profile's loader already
        plan_grid(load_profile(write_profile(tmp_path, section)), KEY)


def test_plan_needs_subset_sizes(tmp_path):
    profile = load_profile(write_profile(tmp_path, {"data_size_shape": {"layers": 1, "hidden": 32}}, subset_sizes=()))
    with pytest.raises(ConfigError, match="needs data.subset_sizes"):
        plan_grid(profile, KEY)


# ---------------------------------------------------------------- one run

def test_execute_run_writes_skips_and_records(tmp_path):
    s, root = spec(), tmp_path / "runs"
    seen = []

    def counting(sp, run_dir):
        seen.append(sp.run_id)
        return fake_run(sp, run_dir)

    first = execute_run(s, root, run_fn=counting, sweeps=("model_size",))
    run_dir = root / s.run_id
    assert first["status"] == "ok" and not first["skipped"] and first["run_dir"] == str(run_dir)
    assert sorted(p.name for p in run_dir.iterdir()) == ["log.jsonl", "result.json", "spec.json"]
    stored = read_json(run_dir / "result.json")
    assert stored["run_id"] == s.run_id and stored["spec"] == s.to_dict() and stored["sweeps"] == ["model_size"]
    assert stored["result"]["cll_test"] == fake_run(s, tmp_path)["cll_test"] and stored["host"]
    assert stored["wall_seconds"] >= 0 and RunSpec.from_dict(stored["spec"]) == s
    assert read_json(run_dir / "spec.json")["spec"] == s.to_dict()
    second = execute_run(s, root, run_fn=counting)
    assert second["skipped"] and second["result"] == stored["result"] and seen == [s.run_id]
    # a later plan that tags the finished run otherwise (it left the joint grid) is what the
    # record says; the run's own result.json keeps the sweeps it ran for
    third = execute_run(s, root, run_fn=counting, sweeps=("data_size",))
    assert third["skipped"] and third["sweeps"] == ["data_size"] and seen == [s.run_id]
    assert read_json(run_dir / "result.json")["sweeps"] == ["model_size"]


def test_local_workers_run_side_by_side_costliest_first_and_keep_plan_order(tmp_path):
    profile = load_profile(write_profile(tmp_path, {**GRID, "workers": 2}))
    planned = plan_grid(profile, KEY)
    execute_run(planned[0].spec, grid.runs_dir(profile), run_fn=fake_run)  # done before: skipped
    records = run_grid(profile, planned, run_fn=flaky_run, progress=False)
    assert [r["run_id"] for r in records] == [p.run_id for p in planned]
    assert records[0]["skipped"] and not any(r["skipped"] for r in records[1:])
    pids = {read_json(Path(r["run_dir"]) / "result.json")["run_id"]: json.loads(
        (Path(r["run_dir"]) / "log.jsonl").read_text().splitlines()[-1])["pid"] for r in records if r["status"] == "ok"}
    assert pids[records[0]["run_id"]] == os.getpid()  # run here before
    assert all(pid != os.getpid() for rid, pid in pids.items() if rid != records[0]["run_id"])  # in workers
    failed = [r for r in records if r["status"] == "failed"]
    assert [r["spec"]["model"]["layers"] for r in failed] == [3]
    assert "boom in L3-H64" in read_json(Path(failed[0]["run_dir"]) / "error.json")["error"]["message"]
    # the costliest run first: steps x width
    costs = [grid.run_cost(p.spec) for p in planned]
    assert grid.run_cost(spec(model={"layers": 1, "hidden": 128})) > grid.run_cost(spec(model={"layers": 1, "hidden": 8}))
    assert grid.run_cost(spec(model={"layers": 2, "hidden": 64})) == 2 * grid.run_cost(spec(model={"layers": 1, "hidden": 64}))
    assert len(costs) == len(planned)


def test_joint_seeds_plan_the_joint_grid_for_its_own_seeds(tmp_path):
    section = {"seeds": [0, 1], "joint_seeds": [0], "data_size_shape": {"layers": 1, "hidden": 32},
               "joint_shapes": [{"layers": 1, "hidden": 32}, {"layers": 2, "hidden": 64}], "joint_n_train": [100, 400]}
    planned = plan_grid(load_profile(write_profile(tmp_path, section)), KEY)
    tags = {(p.spec.model_name, p.spec.n_train, p.spec.seed): p.sweeps for p in planned}
    # the data-size sweep has both seeds; the joint grid seed 0 only; a run in both is tagged
    # joint for seed 0 alone
    assert sorted(k for k, t in tags.items() if "data_size" in t) == sorted(
        ("L1-H32", d, s) for d in (100, 200, 400) for s in (0, 1))
    assert sorted(k for k, t in tags.items() if "joint" in t) == sorted(
        (m, d, 0) for m in ("L1-H32", "L2-H64") for d in (100, 400))
    assert tags[("L1-H32", 400, 1)] == ("data_size",) and tags[("L1-H32", 400, 0)] == ("data_size", "joint")
    assert len(planned) == 6 + 2
    without = plan_grid(load_profile(write_profile(tmp_path, {**section, "joint_seeds": None}, name="q")), KEY)
    assert sum("joint" in p.sweeps for p in without) == 8  # null: every seed
    with pytest.raises(ConfigError, match="joint_seeds"):
        plan_grid(load_profile(write_profile(tmp_path, {**section, "joint_seeds": [0, 0]}, name="r")), KEY)


def test_a_shape_with_its_own_seeds_gets_more_draws_in_its_sweep(tmp_path):
    small = {"layers": 1, "hidden": 8, "seeds": [0, 1, 2, 3]}
    section = {"seeds": [0, 1], "model_size_shapes": [small, {"layers": 1, "hidden": 64}], "model_size_n_train": 400,
               "joint_shapes": [small, {"layers": 1, "hidden": 16}], "joint_n_train": [100, 400],
               "pretraining": {"method": "ict", "n_train": 100, "seed": "run"}}
    planned = plan_grid(load_profile(write_profile(tmp_path, section)), KEY)
    tags = {(p.spec.annotation, p.spec.model_name, p.spec.n_train, p.spec.seed): p.sweeps for p in planned}
    assert sorted(k[1:] for k, t in tags.items() if "model_size" in t) == sorted(
        [("L1-H8", 400, s) for s in range(4)] + [("L1-H64", 400, s) for s in (0, 1)])
    assert sorted(k[1:] for k, t in tags.items() if "joint" in t) == sorted(
        [("L1-H8", d, s) for d in (100, 400) for s in range(4)] + [("L1-H16", d, s) for d in (100, 400) for s in (0, 1)])
    # a pretraining per seed of the runs, seeds 2 and 3 for L1-H8 only
    assert sorted(k[1:] for k, t in tags.items() if t == ("pretraining",)) == sorted(
        [("L1-H8", 100, s) for s in range(4)] + [(m, 100, s) for m in ("L1-H64", "L1-H16") for s in (0, 1)])
    assert tags[("human", "L1-H8", 400, 3)] == ("model_size", "joint")
    # seed first, then sweep: seeds 2 and 3 come after every run of seeds 0 and 1
    assert [p.spec.seed for p in planned if p.sweeps != ("pretraining",)] == sorted(
        p.spec.seed for p in planned if p.sweeps != ("pretraining",))
    bad = {**section, "model_size_shapes": [{"layers": 1, "hidden": 8, "seeds": [0, 0]}]}
    with pytest.raises(ConfigError, match=r"model_size_shapes\[0\] \(L1-H8\): seeds: expected distinct"):
        plan_grid(load_profile(write_profile(tmp_path, bad, name="r")), KEY)


def test_workers_must_be_a_positive_integer(tmp_path):
    with pytest.raises(ConfigError, match="grid.workers"):
        load_profile(write_profile(tmp_path, {**GRID, "workers": 0}))


def test_failure_retry_and_grid_goes_on(tmp_path):
    profile = load_profile(write_profile(tmp_path, GRID))
    planned = plan_grid(profile, KEY)
    records = run_grid(profile, planned, run_fn=flaky_run, progress=False)
    assert [r["run_id"] for r in records] == [p.run_id for p in planned]
    status = {r["spec"]["model"]["layers"]: r["status"] for r in records if r["spec"]["n_train"] == 400}
    assert status == {1: "ok", 2: "ok", 3: "failed"} and len(records) == 5
    failed = next(r for r in records if r["status"] == "failed")
    run_dir = Path(failed["run_dir"])
    err = read_json(run_dir / "error.json")
    assert err["error"]["type"] == "RuntimeError" and "boom in L3-H64" in err["error"]["message"]
    assert "flaky_run" in err["error"]["traceback"] and err["spec"]["model"]["layers"] == 3 and err["time"]
    assert not (run_dir / "result.json").exists()

    again = by_id(run_grid(profile, planned, run_fn=fake_run, progress=False))
    assert again[failed["run_id"]]["status"] == "ok" and not again[failed["run_id"]]["skipped"]
    assert not (run_dir / "error.json").exists() and (run_dir / "result.json").exists()
    assert calls(run_dir) == 2  # the failed try, then the retry
    others = [r for r in again.values() if r["run_id"] != failed["run_id"]]
    assert all(r["skipped"] for r in others) and all(calls(r["run_dir"]) == 1 for r in others)


def test_nan_loss_and_not_learning_are_done_bad_status_is_not(tmp_path):
    root = tmp_path / "runs"

    def nan_run(sp, run_dir):
        return {"status": "nan_loss", "cll_test": math.nan, "steps": 3}

    def stalled(sp, run_dir):
        return {"status": "not_learning", "cll_test": 5.5}

    def bad(sp, run_dir):
        return {"cll_test": 1.0}

    rec = execute_run(spec(seed=1), root, run_fn=nan_run)
    # strict JSON: a NaN result is stored as null
    assert rec["status"] == "nan_loss" and read_json(Path(rec["run_dir"]) / "result.json")["result"]["cll_test"] is None
    assert execute_run(spec(seed=1), root, run_fn=bad)["skipped"]
    assert execute_run(spec(seed=2), root, run_fn=stalled)["status"] == "not_learning"
    assert execute_run(spec(seed=2), root, run_fn=bad)["skipped"]
    rec = execute_run(spec(seed=3), root, run_fn=bad)
    assert rec["status"] == "failed" and "no valid status" in rec["error"]["message"]
    assert not (Path(rec["run_dir"]) / "result.json").exists()


def test_interrupted_run_leaves_no_result(tmp_path):
    s, root = spec(), tmp_path / "runs"
    with pytest.raises(Interrupted):
        execute_run(s, root, run_fn=interrupted_run)
    run_dir = root / s.run_id
    assert (run_dir / "checkpoint.pt").exists() and (run_dir / "spec.json").exists()
    assert not (run_dir / "result.json").exists() and not (run_dir / "error.json").exists()
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".")]  # no temporary files left
    assert not execute_run(s, root, run_fn=fake_run)["skipped"]  # still pending: it runs
    assert calls(run_dir) == 2


def test_interrupted_result_write_leaves_no_result(tmp_path, monkeypatch):
    """Killed while result.json is being written: the file is absent, not half-written."""
    real_dumps = json.dumps

    def dying_dumps(obj, *a, **k):
        if isinstance(obj, dict) and "wall_seconds" in obj and "result" in obj and k.get("indent"):
            raise Interrupted()
        return real_dumps(obj, *a, **k)

    monkeypatch.setattr("drscaling.fileio.json.dumps", dying_dumps)
    s = spec()
    with pytest.raises(Interrupted):
        execute_run(s, tmp_path / "runs", run_fn=fake_run)
    run_dir = tmp_path / "runs" / s.run_id
    assert not (run_dir / "result.json").exists()
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".result.json")]


def test_spec_file_mismatch_raises(tmp_path):
    s, root = spec(), tmp_path / "runs"
    write_json(root / s.run_id / "spec.json", {"run_id": s.run_id, "spec": spec(seed=9).to_dict(), "sweeps": []})
    with pytest.raises(RunFolderError, match="holds another spec"):
        execute_run(s, root, run_fn=fake_run)
    assert not (root / s.run_id / "log.jsonl").exists()


# ---------------------------------------------------------------- results

def test_collect_results(tmp_path):
    profile = load_profile(write_profile(tmp_path, GRID))
    planned = plan_grid(profile, KEY)
    run_grid(profile, planned, run_fn=flaky_run, progress=False)
    old = spec(profile=profile.name, dataset="toy", n_train=100, model={"layers": 9, "hidden": 16})
    execute_run(old, grid.runs_dir(profile), run_fn=fake_run)  # a run of older settings
    (grid.runs_dir(profile) / "in-progress").mkdir()

    df = collect_results(profile)
    assert len(df) == 6 and set(df["run_id"]) == {p.run_id for p in planned} | {old.run_id}
    row = df.set_index("run_id").loc[planned[1].run_id]
    assert (row["status"], row["model"], row["layers"], row["hidden"], row["n_train"], row["seed"]) == \
        ("ok", "L2-H64", 2, 64, 400, 0)
    assert row["sweeps"] == "model_size,data_size" and row["mrr_at_10"] == pytest.approx(0.2)
    assert row["training.steps"] == profile.training.steps and row["steps"] == profile.training.steps
    failed = df[df["status"] == "failed"]
    assert len(failed) == 1 and failed.iloc[0]["layers"] == 3 and "boom" in failed.iloc[0]["error"]
    assert failed.iloc[0]["error_type"] == "RuntimeError" and math.isnan(failed.iloc[0]["n_params"])
    ok = df[df["status"] == "ok"]
    assert list(ok["n_params"]) == sorted(ok["n_params"])  # sorted by size, failed (no n_params) last
    assert list(df.columns[:4]) == ["run_id", "status", "annotation", "model"]

    planned_only = collect_results(profile, planned)
    assert set(planned_only["run_id"]) == {p.run_id for p in planned}
    d = planned_only.set_index("run_id")
    assert d.loc[planned[-1].run_id, "sweeps"] == "data_size"
    assert list(planned_only[planned_only["n_train"] == 400].sort_values("layers")["sweeps"]) == \
        ["model_size", "model_size,data_size", "model_size"]
    assert df.iloc[-1]["status"] == "failed"  # no n_params: sorted last
    assert collect_results(load_profile(write_profile(tmp_path, {}, name="empty"))).empty


# ---------------------------------------------------------------- command line

def test_cli_dry_run_and_missing_data(tmp_path, capsys):
    path = write_profile(tmp_path, GRID)
    assert main(["grid", "--profile", str(path), "--dry-run"]) == 0
    out = capsys.readouterr()
    assert "not prepared yet" in out.err and "5 runs in" in out.out and "5 pending" in out.out
    assert main(["grid", "--profile", str(path)]) == 2
    assert "error:" in (err := capsys.readouterr().err) and "prepare --profile" in err

    profile = load_profile(path)
    write_json(profile.processed_dir / "manifest.json", {"key": KEY})
    planned = plan_grid(profile, KEY)
    execute_run(planned[0].spec, grid.runs_dir(profile), run_fn=fake_run)
    execute_run(planned[2].spec, grid.runs_dir(profile), run_fn=flaky_run)
    assert main(["grid", "--profile", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert planned[1].run_id in out and "model_size,data_size" in out
    assert "1 done, 1 failed, 3 pending" in out
    assert main(["grid", "--profile", str(write_profile(tmp_path, {"data_size_n_train": [7]}, name="bad"))]) == 2
    assert "error:" in capsys.readouterr().err


# ---------------------------------------------------------------- Ray

def _comparable(records):
    return {r["run_id"]: (r["status"], r["sweeps"], r.get("result"), (r.get("error") or {}).get("message"))
            for r in records}


def test_ray_executor(tmp_path, monkeypatch):
    import ray
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import the tests
    assert not ray.is_initialized()
    local_profile = load_profile(write_profile(tmp_path, GRID, name="local"))
    ray_profile = load_profile(write_profile(tmp_path, GRID, name="ray"))
    planned = plan_grid(ray_profile, KEY)
    local = run_grid(local_profile, planned, executor="local", run_fn=flaky_run, progress=False)

    # 1. a local cluster that run_grid starts, and stops
    t0 = time.time()
    first = run_grid(ray_profile, planned, executor="ray", run_fn=flaky_run, progress=False)
    print(f"ray grid: {time.time() - t0:.1f} s")
    assert not ray.is_initialized()
    assert [r["run_id"] for r in first] == [p.run_id for p in planned]
    assert _comparable(first) == _comparable(local)
    assert [r["status"] for r in first].count("failed") == 1
    assert all(r["result"]["outputs_env"] == os.environ["DRSCALING_OUTPUTS"] for r in first if r["status"] == "ok")
    failed = next(r for r in first if r["status"] == "failed")
    assert (Path(failed["run_dir"]) / "error.json").exists()
    assert Path(failed["run_dir"]).parent == grid.runs_dir(ray_profile)
    assert {p.name for p in grid.runs_dir(ray_profile).iterdir()} == {p.run_id for p in planned}

    # 2. an existing cluster, started with other environment variables: the retry of the failed
    # run gets the driver's; a worker that dies is recorded by the driver; the rest is skipped.
    real = os.environ["DRSCALING_OUTPUTS"]
    monkeypatch.setenv("DRSCALING_OUTPUTS", str(tmp_path / "decoy"))
    ray.init(num_cpus=2, object_store_memory=80 * 1024**2, include_dashboard=False)
    try:
        monkeypatch.setenv("DRSCALING_OUTPUTS", real)
        crash = PlannedRun(RunSpec(**{**planned[0].spec.to_dict(), "seed": 7}), ("model_size",))
        second = by_id(run_grid(ray_profile, planned + [crash], executor="ray", run_fn=crashing_run, progress=False))
        assert ray.is_initialized()  # not started by run_grid: left running
    finally:
        ray.shutdown()
    retried = second[failed["run_id"]]
    assert retried["status"] == "ok" and not retried["skipped"] and retried["result"]["outputs_env"] == real
    assert not (Path(failed["run_dir"]) / "error.json").exists()
    dead = second[crash.run_id]
    assert dead["status"] == "failed" and dead["where"].startswith("driver")
    assert read_json(grid.runs_dir(ray_profile) / crash.run_id / "error.json")["status"] == "failed"
    for p in planned:
        if p.run_id != failed["run_id"]:
            assert second[p.run_id]["skipped"] and calls(grid.runs_dir(ray_profile) / p.run_id) == 1

    # 3. everything done: no cluster, no task
    t0 = time.time()
    third = run_grid(ray_profile, planned, executor="ray", run_fn=crashing_run, progress=False)
    assert all(r["skipped"] for r in third) and not ray.is_initialized() and time.time() - t0 < 5
    assert len(collect_results(ray_profile)) == len(planned) + 1


# ---------------------------------------------------------------- the annotation sweep

ANNOTATION = {**GRID, "data_size_n_train": [100, 200, 400], "annotation_n_train": [100, 150],
              "annotation_methods": [{"method": "human"}, {"method": "ict", "keep_sentence_prob": 0.2},
                                     {"method": "noisy_human", "rate": 0.3}, {"method": "noisy_human", "rate": 0.5}]}


def test_annotation_sweep_is_planned_only_when_asked(tmp_path):
    profile = load_profile(write_profile(tmp_path, ANNOTATION))
    main_runs = plan_grid(profile, KEY)
    assert all(p.sweeps != ("annotation",) and p.spec.annotation == "human" for p in main_runs)
    runs = plan_grid(profile, KEY, sweeps=("annotation",))
    assert [(p.spec.annotation_label, p.spec.n_train) for p in runs] == [
        (label, d) for label in ("human", "ict", "noisy_human-0.3", "noisy_human-0.5") for d in (100, 150)]
    assert all(p.spec.model == {"layers": 2, "hidden": 64} for p in runs)  # data_size_shape by default
    by_label = {(p.spec.annotation_label, p.spec.n_train): p for p in runs}
    assert by_label[("ict", 100)].spec.annotation_options == {"keep_sentence_prob": 0.2}
    assert by_label[("noisy_human-0.3", 100)].run_id.startswith("noisy_human-0.3-L2-H64-D100-s0-")
    # human at a D of the data-size sweep is that very run: trained once
    data_size = {p.spec.n_train: p.run_id for p in main_runs if "data_size" in p.sweeps}
    assert by_label[("human", 100)].run_id == data_size[100]
    both = plan_grid(profile, KEY, sweeps=grid.SWEEPS)
    tags = {p.run_id: p.sweeps for p in both}
    assert tags[data_size[100]] == ("data_size", "annotation")
    assert len(both) == len(main_runs) + len(runs) - 1
    with pytest.raises(ValueError, match="unknown"):
        plan_grid(profile, KEY, sweeps=("annotations",))
    shaped = load_profile(write_profile(tmp_path, {**ANNOTATION, "annotation_shape": {"layers": 1, "hidden": 32}}))
    assert {p.spec.model_name for p in plan_grid(shaped, KEY, sweeps=("annotation",))} == {"L1-H32"}


def test_empty_annotation_options_keep_old_run_ids():
    old_style = spec()  # planned before annotation_options existed: the key is absent from its dict
    assert "annotation_options" not in old_style.to_dict()
    assert RunSpec.from_dict(old_style.to_dict()) == old_style
    noisy = spec(annotation="noisy_human", annotation_options={"rate": 0.3})
    assert noisy.to_dict()["annotation_options"] == {"rate": 0.3}
    assert RunSpec.from_dict(noisy.to_dict()) == noisy
    assert noisy.run_id.startswith("noisy_human-0.3-L2-H128-D80000-s0-")
    assert spec(annotation="noisy_human", annotation_options={"rate": 0.5}).digest != noisy.digest


@pytest.mark.parametrize("section, match", [
    ({"annotation_methods": [{"method": "ict"}]}, r"annotation_methods: needs grid\.annotation_shape"),
    ({**GRID, "annotation_methods": [{"method": "ict"}]}, r"annotation_n_train: expected distinct positive"),
    ({**GRID, "annotation_n_train": [100, 100], "annotation_methods": [{"method": "ict"}]}, r"distinct positive"),
    ({**GRID, "annotation_n_train": [100], "annotation_methods": [{"method": "magic"}]},
     r"annotation_methods\[0\]: unknown annotation method 'magic'"),
    ({**GRID, "annotation_n_train": [100], "annotation_methods": [{"method": "crop", "k": 5}]},
     r"annotation_methods\[0\]: method 'crop' takes no option"),
    ({**GRID, "annotation_n_train": [100], "annotation_methods": [{"method": "human"}, {"method": "noisy_human"}]},
     r"annotation_methods\[1\]: method 'noisy_human' needs the option\(s\) \['rate'\]"),
    ({**GRID, "annotation_n_train": [100], "annotation_methods": ["ict"]}, r"annotation_methods\[0\]: expected a mapping"),
    ({**GRID, "annotation_n_train": [100], "annotation_methods": [{"method": "ict"}, {"method": "ict", "keep_sentence_prob": 0.5}]},
     r"annotation_methods\[1\]: a second 'ict' with other options"),
    ({**GRID, "annotation_n_train": [100]}, r"annotation_n_train/annotation_shape are set but grid\.annotation_methods is empty"),
])
def test_annotation_plan_errors(tmp_path, section, match):
    with pytest.raises(ConfigError, match=match):
        plan_grid(load_profile(write_profile(tmp_path, section)), KEY, sweeps=("annotation",))


def test_collect_results_labels_annotations(tmp_path):
    profile = load_profile(write_profile(tmp_path, ANNOTATION))
    runs = plan_grid(profile, KEY, sweeps=("annotation",))
    run_grid(profile, runs, run_fn=fake_run, progress=False)
    table = collect_results(profile, runs)
    assert set(table["annotation"]) == {"human", "ict", "noisy_human-0.3", "noisy_human-0.5"}
    noisy = table[table["annotation"] == "noisy_human-0.5"]
    assert (noisy["annotation_method"] == "noisy_human").all() and (noisy["annotation.rate"] == 0.5).all()
    assert (table["sweeps"] == "annotation").all()


# ---------------------------------------------------------------- parallel workers die with their parent

def sleeping_run(spec: RunSpec, run_dir: Path) -> dict:
    (Path(run_dir) / "pid").write_text(str(os.getpid()))
    time.sleep(120)
    return fake_run(spec, run_dir)


PARENT = """
import sys
from drscaling import grid
from drscaling.config import load_profile
from tests.test_grid import sleeping_run, KEY
if __name__ == "__main__":
    profile = load_profile(sys.argv[1])
    grid.run_grid(profile, grid.plan_grid(profile, KEY), run_fn=sleeping_run, progress=False)
"""


def test_workers_die_when_the_grid_process_is_killed(tmp_path):
    import signal
    import subprocess

    profile_path = write_profile(tmp_path, {"data_size_shape": {"layers": 1, "hidden": 32}, "workers": 2})
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    env = {**os.environ, "DRSCALING_OUTPUTS": str(tmp_path / "out"),
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])}
    parent = subprocess.Popen([sys.executable, str(script), str(profile_path)], env=env)
    pids: list[int] = []
    try:
        deadline = time.time() + 60
        while time.time() < deadline and len(pids) < 2:
            pids = [int(p.read_text()) for p in (tmp_path / "out").glob("*/runs/*/pid") if p.read_text()]
            time.sleep(0.2)
        assert len(pids) == 2, "the two workers did not start their runs"
        parent.send_signal(signal.SIGKILL)  # no clean-up of any kind in the parent
        parent.wait(timeout=10)
        deadline = time.time() + 10
        alive = pids
        while alive and time.time() < deadline:
            time.sleep(0.2)
            alive = [pid for pid in pids if Path(f"/proc/{pid}").exists() and
                     "Z" not in (Path(f"/proc/{pid}/stat").read_text().split()[2:3] or ["Z"])]
        assert not alive, f"workers {alive} outlived their killed parent"
    finally:
        parent.kill()
        for pid in pids:  # whatever the outcome, no sleeping worker stays behind
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_a_later_training_setting_at_its_default_keeps_run_ids():
    """eval_bf16 came after runs were planned: at its default (false) it is left out of the
    spec, so those runs keep their ids; set, it makes another run."""
    base = spec()
    assert spec(training={**base.training, "eval_bf16": False}).run_id == base.run_id
    assert "eval_bf16" not in spec(training={**base.training, "eval_bf16": False}).training
    assert spec(training={**base.training, "eval_bf16": True}).run_id != base.run_id
    assert spec(training={**base.training, "dropout": None}).run_id == base.run_id
    assert spec(training={**base.training, "dropout": 0.3}).run_id != base.run_id
    assert spec(training={**base.training, "keep": "best"}).run_id == base.run_id
    assert spec(training={**base.training, "keep": "last"}).run_id != base.run_id
    assert spec(training={**base.training, "projection_init": "torch"}).run_id == base.run_id
    assert spec(training={**base.training, "projection_init": "bert"}).run_id != base.run_id


def test_results_table_puts_the_record_first_and_keeps_the_rest():
    import pandas as pd

    results = pd.DataFrame({"training.learning_rate": [2e-3], "cll_test": [3.1], "run_id": ["r1"]})
    table = grid.results_table(results)
    assert list(table.columns[: len(grid.RESULT_COLUMNS)]) == grid.RESULT_COLUMNS
    assert list(table.columns[len(grid.RESULT_COLUMNS):]) == ["training.learning_rate"]
    assert table.loc[0, "cll_test"] == 3.1 and table.loc[0, "mrr_at_10"] is None
    assert list(results.columns) == ["training.learning_rate", "cll_test", "run_id"]  # the input is left alone


def test_a_joint_shape_with_its_own_n_train_takes_only_those_sizes(tmp_path):
    # L1-H8 near chance at the smallest D leaves the joint grid there, but keeps its other points
    section = {"seeds": [0], "model_size_shapes": [{"layers": 1, "hidden": 8}], "model_size_n_train": 400,
               "joint_shapes": [{"layers": 1, "hidden": 8, "n_train": [400, 200]}, {"layers": 1, "hidden": 16}],
               "joint_n_train": [100, 200, 400]}
    planned = plan_grid(load_profile(write_profile(tmp_path, section)), KEY)
    joint = sorted((p.spec.model_name, p.spec.n_train) for p in planned if "joint" in p.sweeps)
    assert joint == [("L1-H16", 100), ("L1-H16", 200), ("L1-H16", 400), ("L1-H8", 200), ("L1-H8", 400)]
    # the model-size run of L1-H8 at 400 is the joint one: the same spec, so one run with both tags
    tags = {(p.spec.model_name, p.spec.n_train): p.sweeps for p in planned}
    assert tags[("L1-H8", 400)] == ("model_size", "joint") and len(planned) == 5
    bad = {**section, "joint_shapes": [{"layers": 1, "hidden": 8, "n_train": [800]}]}
    with pytest.raises(ConfigError, match=r"joint_shapes\[0\] \(L1-H8\): n_train: expected distinct sizes among"):
        plan_grid(load_profile(write_profile(tmp_path, bad, name="r")), KEY)
    elsewhere = {**section, "model_size_shapes": [{"layers": 1, "hidden": 8, "n_train": [400]}]}
    with pytest.raises(ConfigError, match=r"model_size_shapes\[0\] \(L1-H8\): n_train: only a joint shape"):
        plan_grid(load_profile(write_profile(tmp_path, elsewhere, name="s")), KEY)
