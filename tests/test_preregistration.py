"""The confirmation is the cpu profile on fresh draws only, and its verdicts follow the
pre-registered criteria: a confirmation drawn from the primary's law is confirmed, one drawn
from another law is not, with the reason."""

import warnings

import numpy as np
import pandas as pd
import yaml

from drscaling import laws, paths
from drscaling.config import load_profile
from drscaling.grid import SWEEPS, plan_grid
from drscaling.preregistration import confirm_sizes_from_plan, predictions, verdicts

D = [2500, 5000, 10000, 20000, 40000, 80000]


def test_cpu_confirm_is_cpu_with_fresh_draws_only():
    def normalised(name):
        text = (paths.ROOT / "configs" / f"{name}.yaml").read_text()
        d = yaml.safe_load(text)
        d.pop("description"), d.pop("dataset"), d["data"].pop("seed")
        d["grid"].pop("seeds")
        for key in ("model_size_shapes", "joint_shapes"):
            for shape in d["grid"][key]:
                shape.pop("seeds", None)
        return d

    assert normalised("cpu") == normalised("cpu-confirm")
    cpu, confirm = load_profile("cpu"), load_profile("cpu-confirm")
    assert confirm.processed_dir != cpu.processed_dir and confirm.data.seed != cpu.data.seed
    a, b = (plan_grid(p, "k" * 64, sweeps=SWEEPS) for p in (cpu, confirm))
    assert not {r.spec.seed for r in a} & {r.spec.seed for r in b}
    sizes = confirm_sizes_from_plan(b, {f"L1-H{h}": h * 1000 for h in (8, 16, 24, 32, 64, 128)})
    assert sizes["data_size"] == [(float(d),) for d in D] and len(sizes["model_size"]) == 6


def study(beta, seed, seeds=(0, 1)):
    """A data-size sweep's results drawn from a law with draw offsets and run noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in seeds:
        offset = rng.normal(0, 0.02)
        for d in D:
            loss = laws.data_size_law(d, 2e4, beta, 1.5) * np.exp(offset + rng.normal(0, 0.005))
            rows.append({"run_id": f"r{s}-{d}", "model": "L1-H64", "n_params": 1e5, "n_train": d, "seed": s,
                         "cll_test": loss, "sweeps": "data_size", "status": "ok"})
    return pd.DataFrame(rows)


def fits_of(results):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        _, report, _ = laws.fit_study_laws({"data_size": results}, n_resamples=100, seed=0)
    return {"laws": report}


def test_a_confirmation_from_the_same_law_is_confirmed_and_one_from_another_is_not():
    primary = study(0.3, seed=1)
    registered = {"laws": predictions(fits_of(primary), primary, {"data_size": [(float(d),) for d in D]})}
    pred = registered["laws"]["data_size"]
    assert [p["held_out"] for p in pred["points"]] == [False] * 5 + [True]
    lo, hi = pred["exponents"]["beta"]["interval"]
    assert lo < 0.3 < hi
    same = study(0.3, seed=2, seeds=(100, 101))
    verdict = verdicts(registered, fits_of(same), same)["data_size"]
    assert verdict["confirmed"] is True, verdict["reasons"]
    other = study(0.6, seed=2, seeds=(100, 101))
    verdict = verdicts(registered, fits_of(other), other)["data_size"]
    assert verdict["confirmed"] is False
    assert any("outside the primary's 95% interval" in r for r in verdict["reasons"])
    assert any("predicted" in r and "more than 5%" in r for r in verdict["reasons"])


def test_make_report_shows_the_verdicts():
    import importlib.util

    spec = importlib.util.spec_from_file_location("report", paths.ROOT / "scripts" / "report.py")
    report = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(report)
    primary = study(0.3, seed=1)
    registered = {"primary": "cpu", "confirm": "cpu-confirm", "analysis_commit": "abcdef0123",
                  "laws": predictions(fits_of(primary), primary, {"data_size": [(float(d),) for d in D]})}
    other = study(0.6, seed=2, seeds=(100, 101))
    lines = report.confirmation_section(registered, fits_of(other), other)
    (row,) = [line for line in lines if line.startswith("| data_size")]
    assert "**not confirmed**" in row and "outside the primary's 95% interval" in row and "abcdef0" in lines[1]
