"""scripts/report.py's verdicts come from fits.json: a law whose lack of fit is rejected, or
whose held-out points the naive prediction beats, is reported so, and nothing is typed."""

import importlib.util
import json

from drscaling import paths

spec = importlib.util.spec_from_file_location("report", paths.ROOT / "scripts" / "report.py")
report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(report)


def entry(p_value, skill):
    return {"params": {"B": 1.0, "beta": 0.1, "delta": 0.5}, "r2": 0.98, "r2_ceiling": 0.99,
            "lack_of_fit": {"F": 7.5, "p_value": p_value, "status": "..."},
            "holdout": {"mean_abs_relative_error": 0.01, "naive_mean_abs_relative_error": 0.01 / (1 - skill),
                        "skill": skill, "extrapolates": skill > 0},
            "identifiability": {"not_determined": ["B", "delta"],
                                "local_slopes": [{"input": "n_train", "slope": -0.07, "interval": [-0.08, -0.06]}]},
            "bootstrap": {"resample": "residuals", "unit": "draw", "n_units": 2}}


def test_law_checks_are_read_off_fits_json():
    fits = {"laws": {"model_size": entry(0.3, 0.6), "data_size": entry(0.001, -0.5),
                     "joint": {"status": "not fitted: 3 points"}}}
    rows = report.law_checks(fits)
    model, data = rows[2], rows[3]
    assert len(rows) == 4  # header, rule, the two fitted laws
    assert "not rejected (F 7.5, p 0.3)" in model and "extrapolates (skill 0.60)" in model
    assert "rejected (F 7.5, p 0.001)" in data and "does not extrapolate (skill -0.50)" in data
    assert "B, delta" in data and "-0.07 [-0.08, -0.06]" in data and "residuals (2 draws)" in data


def fake_outputs(tmp_path, monkeypatch, profile: str):
    """A finished profile's outputs (a data-size law fitted to a synthetic study, its results, one
    executed notebook) and a README with the profile's markers, under tmp_path."""
    import json
    import sys
    import warnings

    import numpy as np
    import pandas as pd

    from drscaling import laws

    rng = np.random.default_rng(0)
    rows = [{"run_id": f"r{s}-{d}", "status": "ok", "annotation": "human", "model": "L1-H64", "n_params": 1e5,
             "n_train": d, "seed": s, "sweeps": "data_size", "train_seconds": 10.0, "wall_seconds": 12.0,
             "eval_seconds": 1.0, "cll_test": laws.data_size_law(d, 2e4, 0.3, 1.5) * np.exp(rng.normal(0, 0.01))}
            for s in (0, 1) for d in (250, 500, 1000, 2000, 4000, 8000)]
    results = pd.DataFrame(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        _, fits, _ = laws.fit_study_laws({"data_size": results}, n_resamples=50, seed=0)
    out = tmp_path / "outputs" / profile
    (out / "notebooks").mkdir(parents=True)
    results.to_csv(out / "results.csv", index=False)
    (out / "fits.json").write_text(json.dumps({"laws": fits}, default=float))
    (out / "notebooks" / "02_train_grid.ipynb").write_text(json.dumps(
        {"metadata": {"papermill": {"duration": 600.0, "end_time": "2026-12-07T19:00:00"}}}))
    root = tmp_path / "repo"
    root.mkdir()
    (root / "README.md").write_text(f"# x\n<!-- report:{profile}:start -->\nold\n<!-- report:{profile}:end -->\ntail\n")
    monkeypatch.setenv("DRSCALING_OUTPUTS", str(tmp_path / "outputs"))
    monkeypatch.setattr(report.paths, "ROOT", root)
    monkeypatch.setattr(sys, "argv", ["report.py", "--profile", profile])
    return root


def test_the_readme_keeps_the_laws_and_the_summary_holds_the_whole_report(tmp_path, monkeypatch):
    root = fake_outputs(tmp_path, monkeypatch, "cpu")
    report.main()
    readme = (root / "README.md").read_text()
    summary = (root / "reports" / "cpu" / "summary.md").read_text()
    assert "**Fitted laws**" in readme and "| data_size | beta |" in readme and readme.endswith("tail\n")
    assert "Wall time per stage" not in readme and "[reports/cpu/summary.md](reports/cpu/summary.md)" in readme
    assert "Wall time per stage" in summary and "| `02_train_grid` | 10.0 min |" in summary
    assert "| data_size | beta |" in summary and "old" not in readme
    exps = json.loads((root / "reports" / "cpu" / "exponents.json").read_text())
    assert set(exps) == {"data_size"} and len(exps["data_size"]["beta"]) == 3


def test_a_study_registered_on_criteria_gets_its_verdicts_and_the_languages_table(tmp_path, monkeypatch):
    from drscaling.preregistration import STUDY_CRITERIA

    root = fake_outputs(tmp_path, monkeypatch, "cpu-zh")
    (root / "preregistration").mkdir()
    (root / "preregistration" / "cpu-zh.json").write_text(json.dumps(
        {"kind": "study", "study": "cpu-zh", "compare_with": "cpu", "analysis_commit": "c13e3b6aaaa",
         "criteria": STUDY_CRITERIA, "laws": ["data_size", "model_size"]}))
    (root / "reports" / "cpu").mkdir(parents=True)
    (root / "reports" / "cpu" / "exponents.json").write_text(json.dumps({"data_size": {"beta": [0.08, 0.07, 0.2]}}))
    report.main()
    readme = (root / "README.md").read_text()
    assert "c13e3b6" in readme and "**Fitted laws**" not in readme
    (row,) = [line for line in readme.splitlines() if line.startswith("| data_size | 0.")]
    assert "**holds**" in row, row
    assert "| model_size | — | — | — | — | **does not hold**: not fitted" in readme
    (beta,) = [line for line in readme.splitlines() if line.startswith("| data_size | beta |")]
    assert beta.startswith("| data_size | beta | 0.08 [0.07, 0.2] | 0.3")  # English, then this study's beta
    assert "Chinese above English: data_size beta" in readme
