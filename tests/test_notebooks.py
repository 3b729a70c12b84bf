import json
import math
import re
import os
import subprocess

import pandas as pd
import pytest
import yaml

from drscaling import paths
from drscaling.config import ConfigError, load_profile
from drscaling.datasets import ProcessedData
from drscaling.notebook_runner import declared_parameters, notebook_parameters, run_notebook

NOTEBOOKS = sorted(paths.NOTEBOOKS.glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert not cell["outputs"] and cell["execution_count"] is None, f"{path.name} has outputs"
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells tagged 'parameters'"
    assert "profile" in declared_parameters(path)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_paired_script_matches_the_notebook(path):
    """Each notebook's percent-format script (jupytext.toml) holds the same cells: a review of
    the script's diff is a review of the notebook."""
    import jupytext

    script = path.with_suffix(".py")
    assert script.is_file(), f"{script} is missing: run make sync-notebooks"
    paired = jupytext.read(script)
    nb = json.loads(path.read_text())

    def cells(cells):
        return [(c["cell_type"], "".join(c["source"]).strip(), c.get("metadata", {}).get("tags", [])) for c in cells]

    assert cells(paired.cells) == cells(nb["cells"]), f"{path.name} and {script.name} differ: run make sync-notebooks"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_functions_are_short(path):
    """Logic lives in the library: a function defined in a notebook cell is at most 10 lines."""
    import ast

    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(line for line in cell["source"] if not line.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                assert length <= 10, f"{path.name}: {node.name} is {length} lines; move it into the library"


def test_unknown_notebook_parameter_names_key_and_notebook(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"dataset": "x", "notebooks": {"01_prepare_data": {"n_exampels": 2}}}))
    with pytest.raises(ConfigError, match=r"notebooks\.01_prepare_data: \['n_exampels'\] not a parameter of "
                                          r"notebook 01_prepare_data\.ipynb"):
        notebook_parameters(load_profile(path), "01_prepare_data")


def test_unknown_notebook_name(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"dataset": "x", "notebooks": {"01_prepare_dat": {}}}))
    with pytest.raises(ConfigError, match=r"p\.yaml: notebooks\.01_prepare_dat: no notebook .01_prepare_dat."):
        notebook_parameters(load_profile(path), "01_prepare_data")


def test_shipped_profiles_pass_only_declared_parameters():
    for yaml_path in paths.CONFIGS.glob("*.yaml"):
        if yaml_path.stem == "paper_reported":
            continue
        profile = load_profile(yaml_path.stem)
        for name in profile.notebooks:
            assert notebook_parameters(profile, name)["profile"] == profile.name


def make(target: str, env: dict | None = None):
    """``make <target> PROFILE=smoke`` in the project root, with the test's data and outputs folders."""
    return subprocess.run(["make", "--no-print-directory", target, "PROFILE=smoke"], cwd=paths.ROOT,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=600)


REQUIRED_COLUMNS = ["run_id", "annotation", "model", "layers", "hidden", "n_params", "n_train", "seed", "cll_test",
                    "cll_validation", "mrr_at_10", "ndcg_at_10", "recall_at_100", "steps", "train_seconds", "status"]


def steps_span(steps) -> str:
    lo, hi = int(steps.min()), int(steps.max())
    return f"{lo} steps" if lo == hi else f"{lo} to {hi} steps"


def outputs_text(executed) -> str:
    """Everything an executed notebook shows (text and rich outputs), as one string."""
    nb = json.loads(executed.read_text())
    return "".join("".join(value) if isinstance(value, list) else str(value)
                   for cell in nb["cells"] for out in cell.get("outputs", [])
                   for value in [*out.get("data", {}).values(), out.get("text", "")])


def test_notebooks_01_to_06_on_smoke(shared_squad, tmp_path, browser):
    profile = load_profile("smoke")
    executed = run_notebook("01_prepare_data", "smoke")
    assert executed == profile.outputs_dir / "notebooks" / "01_prepare_data.ipynb"
    nb = json.loads(executed.read_text())
    assert nb["metadata"]["papermill"]["parameters"] == {"profile": "smoke", "n_examples": 2}
    assert all(c.get("execution_count") for c in nb["cells"] if c["cell_type"] == "code")
    # what notebook 01 recorded agrees with the manifest it read
    table = pd.read_csv(profile.outputs_dir / "tables" / "data_statistics.csv", index_col="split")
    counts = json.loads((profile.processed_dir / "manifest.json").read_text())["counts"]
    for split in ("train", "validation", "test"):
        assert table.loc[split, "pairs"] == counts[f"{split}_pairs"]
    assert table.loc["corpus", "passages"] == counts["corpus"]
    assert (profile.outputs_dir / "figures" / "data_statistics.png").stat().st_size > 10_000

    # 02 trains the smoke grid: 4 shapes x D=800, 1 shape x 4 sizes, 2 x 3 joint = 9 distinct runs,
    # after the pretraining run of each of the 4 shapes: 13. Through make, with one run made to
    # fail: make ends non-zero naming it, after training the other 12, and writes no grid.json;
    # the next make retries that run and only it.
    from drscaling import grid

    runs = profile.outputs_dir / "runs"
    planned = grid.plan_grid(profile, json.loads((profile.processed_dir / "manifest.json").read_text())["key"])
    victim = planned[1].run_id
    assert planned[0].sweeps == ("pretraining",) and "init" in planned[1].spec.model
    failed = make("02_train_grid", env={grid.FAIL_ENV: victim})
    assert failed.returncode != 0 and f"{victim}: InjectedFailure: failed on purpose" in failed.stderr
    assert "1 of 13 runs" in failed.stderr and not (runs / "grid.json").exists()
    done = {p.run_id: (runs / p.run_id / "result.json").stat().st_mtime_ns for p in planned if p.run_id != victim}
    assert len(done) == 12 and (runs / victim / "error.json").is_file()
    retried = make("02_train_grid")
    assert retried.returncode == 0, retried.stderr
    assert {r: (runs / r / "result.json").stat().st_mtime_ns for r in done} == done  # not retrained
    assert (runs / victim / "result.json").is_file() and not (runs / victim / "error.json").exists()
    summary = json.loads((runs / "grid.json").read_text())
    assert summary["counts"] == {"ok": 13} and summary["complete"] is True
    assert make("02_train_grid").stdout.count("run-notebook") == 0  # complete: nothing to do
    shown = outputs_text(profile.outputs_dir / "notebooks" / "02_train_grid.ipynb")
    assert "L1-H96" in shown and "projection_share" in shown  # the shapes' parameter table
    assert re.search(r"human-L1-H32-D800-s0-\w+: loss of this batch", shown)  # the data-size shape, largest D
    run_notebook("03_evaluate", "smoke")
    results = pd.read_csv(profile.outputs_dir / "results.csv")
    assert list(results.columns[: 3]) == ["run_id", "annotation", "model"]
    assert set(REQUIRED_COLUMNS) <= set(results.columns)
    assert len(results) == 13 and (results["status"] == "ok").all()
    assert sorted(zip(results["model"], results["n_train"])) == [
        ("L1-H32", 100), ("L1-H32", 200), ("L1-H32", 400), ("L1-H32", 570), ("L1-H32", 800), ("L1-H48", 570),
        ("L1-H48", 800), ("L1-H64", 200), ("L1-H64", 400), ("L1-H64", 570), ("L1-H64", 800), ("L1-H96", 570),
        ("L1-H96", 800)]
    pretraining = results[results["sweeps"] == "pretraining"]
    assert set(pretraining["annotation"]) == {"ict"} and set(pretraining["n_train"]) == {570}
    assert (results["cll_test"] > 0).all() and results["mrr_at_10"].between(0, 1).all()
    provenance_columns = {"trainer_version", "precision", "wall_seconds", "train_seconds", "provenance.commit",
                          "provenance.dirty", "provenance.torch", "provenance.transformers", "provenance.numpy",
                          "provenance.drscaling", "provenance.python", "provenance.cpu", "provenance.cpu_count",
                          "provenance.gpu"}
    assert provenance_columns <= set(results.columns), provenance_columns - set(results.columns)
    assert (results["provenance.commit"].str.len() == 40).all() and (results["trainer_version"] >= 1).all()
    for run_id, cll in zip(results["run_id"], results["cll_test"]):  # traceable to its run folder
        record = json.loads((profile.outputs_dir / "runs" / run_id / "result.json").read_text())
        assert record["result"]["cll_test"] == pytest.approx(cll)
    correlations = pd.read_csv(profile.outputs_dir / "tables" / "ranking_vs_cll.csv")
    assert set(correlations["metric"]) == {"MRR@10", "NDCG@10", "Recall@100"}

    # 04 trains the annotation sweep (5 methods x 4 sizes; human at 100 and 200 are 02's runs)
    # and fits one data-size law per method
    run_notebook("04_annotation_quality", "smoke")
    study = json.loads((profile.outputs_dir / "annotation.json").read_text())
    labels = ["human", "ict", "generated-local", "keywords-stop-sublinear", "noisy_human-0.5"]
    assert [m["label"] for m in study["methods"]] == labels and study["skipped"] == {} and study["n_train"] == [50, 100, 200, 280]
    assert len(study["runs"]) == 20 and set(study["runs"].values()) == {"ok"}
    assert list(study["pretraining_runs"]) == list(pretraining.loc[pretraining["model"] == "L1-H32", "run_id"])
    shared = set(results.loc[results["sweeps"].str.contains("data_size"), "run_id"]) & set(study["runs"])
    assert len(shared) == 2  # human at D = 100 and 200: trained once, by notebook 02
    runs = pd.read_csv(profile.outputs_dir / "tables" / "annotation_results.csv").set_index("run_id")
    for label in labels:
        entry = study["laws"][label]
        assert entry["n_points"] == 4 and entry["points"]["losses"] == pytest.approx(
            [runs.loc[r, "cll_test"] for r in entry["run_ids"]])
    assert runs.loc[runs["annotation"] == "noisy_human-0.5", "noisy_pairs"].tolist() == [25, 50, 100, 140]
    assert (runs.loc[runs["annotation"] == "ict", "train_passages"] == runs.loc[runs["annotation"] == "ict", "n_train"]).all()
    assert len(study["exchange_rates"]) == 4 * 4 and {r["method"] for r in study["exchange_rates"]} == set(labels[1:])
    assert [r["noise_rate"] for r in study["noise_trend"]] == [0.0, 0.5]
    generator = study["generators"]["generated-local"]  # its quality, measured on validation passages
    assert generator["train_pairs"] == len(ProcessedData(profile.processed_dir).qrels("train"))
    assert math.isfinite(generator["validation_loss"]) and 0 <= generator["rouge_l"] <= 1
    assert 0 <= generator["copy_rate"] <= 1 and len(generator["examples"]) == min(10, generator["n"]) > 0
    assert generator["folder"].startswith("generators/")  # relative: a rerun elsewhere records the same
    for name in ("annotation_laws", "annotation_noise"):
        assert (profile.outputs_dir / "figures" / f"{name}.png").is_file()
    stored = sorted(p.name.split("-D")[0] for p in (profile.processed_dir / "annotations").glob("*.parquet"))
    assert set(stored) == set(labels) - {"human"}  # human pairs are the prepared subsets themselves

    # 05 fits the three laws to those points and records every fit
    run_notebook("05_fit_scaling_laws", "smoke")
    fits = json.loads((profile.outputs_dir / "fits.json").read_text())
    assert fits["n_bootstrap"] == 100
    for law, n_points in (("model_size", 4), ("data_size", 4), ("joint", 6)):
        entry = fits["laws"][law]
        assert entry["n_points"] == n_points and len(entry["run_ids"]) == n_points
        assert set(entry["intervals"]) == set(entry["params"]) and entry["status"]
        assert entry["points"]["losses"] == pytest.approx(
            [results.set_index("run_id").loc[r, "cll_test"] for r in entry["run_ids"]])
    for name in ("law_model_size", "law_data_size", "law_joint"):
        assert (profile.outputs_dir / "figures" / f"{name}.png").is_file()
    assert (profile.outputs_dir / "tables" / "laws_vs_paper.csv").is_file()
    # its prose is written from the smoke runs, not typed for the cpu profile
    text = outputs_text(profile.outputs_dir / "notebooks" / "05_fit_scaling_laws.ipynb")
    main = results[results["status"].eq("ok") & results["sweeps"].str.contains("model_size|data_size|joint")]
    for fragment in (f"up to {main['n_train'].max():,} training pairs", steps_span(main["steps"]),
                     "Profile `smoke`", f"R\u00b2 {fits['laws']['data_size']['r2']:.3f}"):
        assert fragment in text, fragment

    # 06 allocates budgets with the paper's and this fit's joint law; each optimum spends the budget
    run_notebook("06_budget_allocation", "smoke")
    allocation = json.loads((profile.outputs_dir / "budget.json").read_text())
    assert {r["law"] for r in allocation["optima"]} == {"paper", "this study"}
    assert len(allocation["optima"]) == 2 * 2 * 2  # laws x cost models x budgets
    for r in allocation["optima"]:
        assert r["cost_data"] + r["cost_train"] + r["cost_infer"] == pytest.approx(r["budget"], rel=1e-6)
    assert allocation["laws"]["this study"] == pytest.approx(fits["laws"]["joint"]["params"])

    # make html / make slides: every figure of the executed notebooks is in the page and the deck
    # (as inline PNG) and renders in a headless browser, with nothing fetched from the network
    from drscaling import presentation

    figures = sum("image/png" in out.get("data", {}) for path in presentation.executed_notebooks(profile)
                  for cell in json.loads(path.read_text())["cells"] for out in cell.get("outputs", []))
    assert figures >= 10
    for target in ("html", "slides"):
        built = make(target)
        assert built.returncode == 0 and "run-notebook" not in built.stdout, built.stdout + built.stderr
    report, deck = profile.outputs_dir / presentation.REPORT_FILE, profile.outputs_dir / presentation.SLIDES_FILE
    for page in (report, deck):
        assert len(re.findall(r'<img [^>]*src="data:image/png', page.read_text())) == figures, page
    assert "Profile <code>smoke</code>" in report.read_text()  # 05's generated text, rendered
    if browser is not None:  # (the browser tests skip without Chromium, and fail under CI=true)
        seen = browser.inspect(report)
        assert seen["images"] == seen["rendered"] == figures and seen["external"] == []
        assert seen["math"] == seen["math_laid_out"] >= 10  # the notebooks' equations, as MathML
        seen = browser.inspect(deck)
        assert seen["images"] == seen["rendered"] == figures and seen["reveal"]["ready"] and seen["external"] == []

    # an incomplete grid: 05 refuses it, unless the profile allows missing runs; then fits.json,
    # the figures and 06's budget.json name the missing point (a copy of smoke.yaml with
    # allow_missing_runs: true, under the same name, so the same outputs folder)
    from papermill.exceptions import PapermillExecutionError

    csv = profile.outputs_dir / "results.csv"
    complete = csv.read_text()
    broken = results.astype({"error": object})
    victim = broken.loc[(broken["model"] == "L1-H48") & (broken["sweeps"] == "model_size"), "run_id"].item()
    broken.loc[broken["run_id"] == victim, ["status", "error"]] = ["failed", "RuntimeError: boom"]
    broken.to_csv(csv, index=False)
    with pytest.raises(PapermillExecutionError, match="IncompleteGridError"):
        run_notebook("05_fit_scaling_laws", "smoke")
    allowing = tmp_path / "allow" / "smoke.yaml"
    allowing.parent.mkdir()
    allowing.write_text((paths.CONFIGS / "smoke.yaml").read_text() + "allow_missing_runs: true\n")
    run_notebook("05_fit_scaling_laws", allowing)
    partial = json.loads((profile.outputs_dir / "fits.json").read_text())
    assert [m["run_id"] for m in partial["missing_runs"]] == [victim]
    assert partial["laws"]["model_size"]["missing_runs"] == [victim] and partial["laws"]["data_size"]["missing_runs"] == []
    # three model sizes are left, one fewer than the law needs: it says so instead of fitting
    assert partial["laws"]["model_size"]["status"] == "not fitted: 3 points, at least 4 needed"
    run_notebook("06_budget_allocation", allowing)
    assert [m["run_id"] for m in json.loads((profile.outputs_dir / "budget.json").read_text())["missing_runs"]] == [victim]
    csv.write_text(complete)

    # one JSON policy: every JSON file the study wrote is strict JSON (NaN and infinity as null)
    def no_constants(name):
        raise AssertionError(f"non-strict JSON constant {name}")

    written = [*profile.outputs_dir.rglob("*.json"), *profile.outputs_dir.rglob("*.ipynb"),
               *profile.processed_dir.rglob("*.json")]
    assert len(written) > 40
    for path in written:
        json.loads(path.read_text(), parse_constant=no_constants)
    for path in profile.outputs_dir.rglob("*.jsonl"):
        for line in path.read_text().splitlines():
            json.loads(line, parse_constant=no_constants)

    # a second pass trains nothing: every run is skipped
    planned = grid.plan_grid(profile, json.loads((profile.processed_dir / "manifest.json").read_text())["key"],
                             sweeps=grid.SWEEPS)
    records = grid.run_grid(profile, planned, run_fn=lambda spec, run_dir: pytest.fail("a finished run was retrained"))
    assert all(r["skipped"] for r in records)


def test_failed_notebook_is_kept_aside(tmp_path, shared_squad):
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump({"dataset": "broken", "data": {"validation_groups": 100000}}))
    with pytest.raises(Exception, match="validation_groups"):
        run_notebook("01_prepare_data", path)
    out = paths.outputs_dir("broken") / "notebooks"
    assert (out / "01_prepare_data.failed.ipynb").exists() and not (out / "01_prepare_data.ipynb").exists()


# notebook parameters for the tests of half a study: what they check needs no BM25 and few resamples
CHEAP_NOTEBOOKS = {"03_evaluate": {"bm25": False}, "04_annotation_quality": {"n_bootstrap": 10},
                   "05_fit_scaling_laws": {"n_bootstrap": 10}, "06_budget_allocation": {"n_uncertainty_samples": 10}}


def test_profile_without_annotation_study_runs_to_the_end(shared_squad, tmp_path):
    """Notebook 04 on a profile with no annotation study writes an annotation.json that says so
    instead of failing (smoke's main grid, shorter runs). 05 and 06 read nothing of 04's: the
    chain test runs them, and the next test runs them on a profile with no main grid."""
    doc = yaml.safe_load((paths.CONFIGS / "smoke.yaml").read_text())
    for key in ("annotation_n_train", "annotation_methods", "pretraining"):  # (no pretraining: fewer runs)
        doc["grid"].pop(key)
    doc["training"]["steps"] = 20
    doc["notebooks"] = CHEAP_NOTEBOOKS
    path = tmp_path / "smoke-plain.yaml"
    path.write_text(yaml.safe_dump(doc))
    profile = load_profile(path)
    for name in ("01_prepare_data", "02_train_grid", "03_evaluate", "04_annotation_quality"):
        run_notebook(name, path)
    study = json.loads((profile.outputs_dir / "annotation.json").read_text())
    assert study["study"] is False and study["complete"] is True and "no annotation study" in study["reason"]
    assert not (profile.outputs_dir / "tables" / "annotation_results.csv").exists()
    assert "This profile has no annotation study." in outputs_text(
        profile.outputs_dir / "notebooks" / "04_annotation_quality.ipynb")


def test_profile_with_only_an_annotation_study_runs_to_the_end(shared_squad, tmp_path):
    """The shape of the cpu-annotation profile: no main grid, only notebook 04's study (with its
    shape's pretraining, planned by 04 itself). 02, 03, 05 and 06 say there is nothing to do
    instead of failing; 04 fits its laws (smoke data, two methods, shorter runs)."""
    doc = yaml.safe_load((paths.CONFIGS / "smoke.yaml").read_text())
    for key in ("model_size_shapes", "model_size_n_train", "data_size_shape", "data_size_n_train", "joint_shapes",
                "joint_n_train"):
        doc["grid"].pop(key)
    doc["grid"]["annotation_shape"] = {"layers": 1, "hidden": 32}
    doc["grid"]["annotation_methods"] = [{"method": "human"}, {"method": "noisy_human", "rate": 0.5}]
    doc["training"]["steps"] = 20
    doc["notebooks"] = CHEAP_NOTEBOOKS
    path = tmp_path / "smoke-annotation.yaml"
    path.write_text(yaml.safe_dump(doc))
    profile = load_profile(path)
    for name in ("01_prepare_data", "02_train_grid", "03_evaluate", "04_annotation_quality",
                 "05_fit_scaling_laws", "06_budget_allocation"):
        run_notebook(name, path)
    assert "This profile has no main grid" in outputs_text(profile.outputs_dir / "notebooks" / "02_train_grid.ipynb")
    assert json.loads((profile.outputs_dir / "runs" / "grid.json").read_text())["counts"] == {}
    study = json.loads((profile.outputs_dir / "annotation.json").read_text())
    assert study["complete"] is True and len(study["runs"]) == 8 and len(study["pretraining_runs"]) == 1
    assert {"human", "noisy_human-0.5"} == {label for label, law in study["laws"].items() if "params" in law}
    fits = json.loads((profile.outputs_dir / "fits.json").read_text())
    assert all(law["status"].startswith("not fitted: 0 points") for law in fits["laws"].values())
    assert (profile.outputs_dir / "budget.json").is_file()
