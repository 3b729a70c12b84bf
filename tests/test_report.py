"""scripts/report.py's verdicts come from fits.json: a law whose lack of fit is rejected, or
whose held-out points the naive prediction beats, is reported so, and nothing is typed."""

import importlib.util

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
