"""Study-level helpers: a law with its bootstrap intervals and hold-out check (:class:`StudyFit`),
notebook 05's fits of every sweep, and the parameter table."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from .diagnostics import identifiability, lack_of_fit
from .fitting import FIT_FUNCTIONS
from .forms import LAWS
from .records import HoldoutCheck, LawFit, jsonable
from .starts import to_internal
from .uncertainty import holdout_check, holdout_largest, with_bootstrap

if TYPE_CHECKING:  # annotations only
    import pandas


# --------------------------------------------------------------------------------------------
# The study's use: one call per law for notebook 05
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StudyFit:
    """A law fitted to the study's points: the fit with bootstrap intervals, the bootstrap's
    parameter samples (for prediction bands) and the hold-out check (None if too few points)."""

    fit: LawFit
    samples: dict  # parameter -> array of bootstrap refits
    holdout: HoldoutCheck | None

    def band(self, *inputs, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Pointwise ``level`` interval of the law's prediction over the bootstrap refits."""
        law = LAWS[self.fit.law]
        n = min(len(v) for v in self.samples.values())
        if n == 0:
            nan = np.full(np.shape(inputs[0]), np.nan)
            return nan, nan
        X = tuple(np.asarray(x, dtype=np.float64) for x in inputs)
        preds = np.stack([np.exp(law.logpred(X, **to_internal(law, {k: v[i] for k, v in self.samples.items()})))
                          for i in range(n)])
        q = (1 - level) / 2
        return np.quantile(preds, q, axis=0), np.quantile(preds, 1 - q, axis=0)

    def to_dict(self) -> dict:
        d = self.fit.to_dict()
        d["holdout"] = None if self.holdout is None else {
            k: v for k, v in self.holdout.to_dict().items() if k != "fit"}
        if self.holdout is not None:
            d["holdout"]["fit_params"] = jsonable(self.holdout.fit.params)
        d["lack_of_fit"] = jsonable(self.lack_of_fit)
        d["identifiability"] = jsonable(self.identifiability)
        d["bootstrap_samples"] = jsonable(self.samples)  # for uncertainty downstream (budget optimum)
        return d

    @cached_property
    def lack_of_fit(self) -> dict:
        return lack_of_fit(self.fit)

    @cached_property
    def identifiability(self) -> dict:
        return identifiability(self.fit, self.samples)

    def lines(self) -> list[str]:
        """The fit's checks in words: lack of fit, the held-out points against the naive
        prediction, and what the points determine."""
        lof = self.lack_of_fit
        out = [f"   lack of fit: {lof['status']}; R² {self.fit.r2:.4f} (reachable {lof['r2_reachable']:.4f})"]
        if self.holdout is not None and self.holdout.naive_predicted is not None:
            held = self.holdout
            naive = float(np.mean(np.abs(held.naive_relative_error)))
            verdict = "extrapolates" if held.skill > 0 else "does NOT extrapolate"
            out.append(f"   hold-out: mean |error| {100 * held.mean_abs_relative_error:.2f}% against {100 * naive:.2f}% "
                       f"for 'no further improvement' (skill {held.skill:.2f}): the law {verdict}")
        out.append(f"   identifiability: {self.identifiability['summary']}")
        return out


def fit_for_study(law: str, *arrays, holdout_mask=None, n_resamples: int = 1000, seed: int = 0,
                  refit: str = "warm", draws=None) -> StudyFit:
    """Fit ``law`` to the points with the Huber loss's scale matched to their noise
    (``huber_delta="auto"``), add 95% bootstrap intervals (``n_resamples`` resamples, seeded;
    ``refit`` as for :func:`bootstrap`) with :func:`with_intervals`'s warnings and, given
    ``holdout_mask``, fit without the masked points and predict them. With ``draws`` (a label
    per point: the run's shape and seed) the bootstrap resamples the draws' offsets and the
    points' residuals (``resample="residuals"``); without, the points."""
    fn = FIT_FUNCTIONS[law]
    fit, b = with_bootstrap(fn(*arrays, huber_delta="auto"), n_resamples, seed, 0.95, refit,
                            resample="points" if draws is None else "residuals", draws=draws)
    holdout = None
    if holdout_mask is not None and np.any(holdout_mask):
        try:
            holdout = holdout_check(fn, *arrays, holdout_mask=np.asarray(holdout_mask, dtype=bool),
                                    huber_delta="auto")
        except ValueError:  # too few points left without the held-out ones
            holdout = None
    return StudyFit(fit=fit, samples=b.samples, holdout=holdout)


STUDY_INPUTS = {name: law.inputs for name, law in LAWS.items()}  # the results columns of each law's inputs
# the sweep whose runs each law fits (the transfer forms: the data-size and joint sweeps', beside the paper's forms)
STUDY_SWEEPS = {"model_size": "model_size", "data_size": "data_size", "joint": "joint",
                "data_size_transfer": "data_size", "joint_transfer": "joint"}


def in_sweep(sweeps, name: str) -> bool:
    """Whether a results row's ``sweeps`` cell (comma-separated tags; empty or NaN: none) holds ``name``."""
    return isinstance(sweeps, str) and name in sweeps.split(",")


def sweep_points(results: "pandas.DataFrame") -> dict:
    """Each law's points (law -> its rows of ``results``, in STUDY_SWEEPS' order): the rows
    tagged with the law's sweep. Filter the rows (status ok) first."""
    return {law: results[results["sweeps"].apply(in_sweep, name=sweep)] for law, sweep in STUDY_SWEEPS.items()}


def fit_study_laws(points: dict, n_resamples: int = 1000, seed: int = 0,
                   missing: dict | None = None, workers: int = 1) -> tuple[dict, dict, list[str]]:
    """Notebook 05's fits: each law of ``points`` (law -> the runs of its sweep, a frame with
    run_id, n_params, n_train, cll_test) by :func:`fit_for_study`, holding out the points at
    the largest N (model size, joint) or D (data size and its transfer form). A law with fewer
    points than its parameters + 1 is not fitted. ``workers`` > 1: the laws are fitted side by
    side in that many processes, the costliest (most parameters, then most points) first; each
    law's bootstrap is seeded on its own, so the results are the same as with one. Returns
    ``(studies, report, lines)``: the StudyFit of each fitted law, every law's record for
    fits.json (with its run ids and ``missing`` runs), and what happened in words."""
    missing = missing or {}
    jobs, draws = {}, {}  # law -> (arrays, hold-out mask); law -> each point's draw
    for law, frame in points.items():
        if len(frame) >= len(LAWS[law].reported) + 1:
            arrays = [frame[c].to_numpy(float) for c in STUDY_INPUTS[law]] + [frame["cll_test"].to_numpy(float)]
            axis = STUDY_INPUTS[law][0]  # the largest N (model size, joint) or D
            jobs[law] = (arrays, holdout_largest(frame[axis].to_numpy(float)))
            draws[law] = run_draws(frame)
    fitted = _fit_jobs(jobs, n_resamples, seed, workers, draws)
    studies, report, lines = {}, {}, []
    for law, frame in points.items():
        needed = len(LAWS[law].reported) + 1
        if law not in jobs:
            report[law] = {"status": f"not fitted: {len(frame)} points, at least {needed} needed",
                           "missing_runs": missing.get(law, [])}
            lines.append(f"{law}: NOT FITTED — only {len(frame)} points (at least {needed} needed).")
            continue
        axis, holdout = STUDY_INPUTS[law][0], jobs[law][1]
        study = studies[law] = fitted[law]
        report[law] = {**study.to_dict(), "run_ids": frame["run_id"].tolist(), "missing_runs": missing.get(law, [])}
        if law == "model_size":
            report[law]["n_definitions"] = model_size_by_n_definition(frame, n_resamples, seed, fitted=study)
        lines.append(f"{law}: {study.fit.status}")
        if missing.get(law):
            lines.append(f"   MISSING {len(missing[law])} planned point(s): {', '.join(missing[law])}")
        lines += [f"   warning: {w}" for w in study.fit.warnings]
        if study.holdout is not None:
            errors = ", ".join(f"{100 * e:+.1f}%" for e in study.holdout.relative_error)
            lines.append(f"   extrapolation: fitted without {int(holdout.sum())} point(s) at the largest "
                         f"{'D' if axis == 'n_train' else 'N'}, predicted them with relative error {errors}")
        lines += study.lines()
    return studies, report, lines


# What N counts, for the model-size law beside this study's own count (notebook 05, fits.json)
N_DEFINITIONS = {
    "non_embedding": "this study's N: every parameter but the embeddings, the H -> 768 projection included",
    "without_projection": "the same without the projection (H x 768 + 768), which is 89% of L1-H8's N",
    "paper_code": "the paper's released code: non-embedding including BERT's unused pooler (H^2 + H) and the "
                  "projection, in units of 2^20; the count the paper's A and alpha are comparable with",
}


def n_definitions(frame) -> dict:
    """Each definition of N (N_DEFINITIONS) for the runs of ``frame`` (columns n_params,
    n_params_paper_code, hidden, training.projection_dim); a definition whose columns are
    missing is left out."""
    out = {"non_embedding": frame["n_params"].to_numpy(float)}
    if {"hidden", "training.projection_dim"} <= set(frame.columns):
        dim = frame["training.projection_dim"].to_numpy(float)
        out["without_projection"] = out["non_embedding"] - frame["hidden"].to_numpy(float) * dim - dim
    if "n_params_paper_code" in frame:
        out["paper_code"] = frame["n_params_paper_code"].to_numpy(float) / 2 ** 20
    return out


def model_size_by_n_definition(frame, n_resamples: int = 1000, seed: int = 0, fitted: StudyFit | None = None) -> dict:
    """The model-size law fitted with each definition of N (:func:`n_definitions`) to the same
    runs, as :func:`fit_for_study` fits it: alpha with its 95% interval, A, delta and R² each.
    Rescaling N (the paper code's 2^20) moves only A; leaving the projection out or counting the
    pooler changes how the shapes' sizes compare, and so alpha. ``fitted``: the law already
    fitted to these runs with this study's N (not fitted again)."""
    y, draws = frame["cll_test"].to_numpy(float), run_draws(frame)
    out = {}
    for name, n in n_definitions(frame).items():
        if np.any(n <= 0):
            out[name] = {"status": "not fitted: a count is not positive", "meaning": N_DEFINITIONS[name]}
            continue
        fit = (fitted if name == "non_embedding" and fitted is not None else
               fit_for_study("model_size", n, y, n_resamples=n_resamples, seed=seed, draws=draws)).fit
        out[name] = {"meaning": N_DEFINITIONS[name], "alpha": fit.params["alpha"],
                     "alpha_interval": (fit.intervals or {}).get("alpha"), "A": fit.params["A"],
                     "delta": fit.params["delta"], "r2": fit.r2, "n": n.tolist()}
    return jsonable(out)


def n_definition_table(by_definition: dict) -> "pandas.DataFrame":
    """One row per definition of N: alpha [95% interval], A, R², what it counts."""
    import pandas as pd

    rows = {}
    for name, rec in by_definition.items():
        if "alpha" not in rec:
            rows[name] = {"alpha [95%]": rec["status"], "A": "", "R²": "", "what N counts": rec["meaning"]}
            continue
        lo, hi = rec["alpha_interval"] or (math.nan, math.nan)
        rows[name] = {"alpha [95%]": f"{rec['alpha']:.3g} [{lo:.3g}, {hi:.3g}]", "A": f"{rec['A']:.3g}",
                      "R²": f"{rec['r2']:.4f}", "what N counts": rec["meaning"]}
    return pd.DataFrame.from_dict(rows, orient="index")


def run_draws(frame) -> np.ndarray | None:
    """Each run's draw: its shape and seed (a shape's seed fixes its pretraining and its
    fine-tuning, whose offset persists across D); None when the frame has no seed column."""
    if "seed" not in frame:
        return None
    shape = frame["model"].astype(str) if "model" in frame else "model"
    return (shape + "-s" + frame["seed"].astype(str)).to_numpy()


def _fit_jobs(jobs: dict, n_resamples: int, seed: int, workers: int, draws: dict | None = None) -> dict:
    """``{law: StudyFit}`` of ``jobs`` (law -> (arrays, hold-out mask)), in ``workers`` processes."""
    def options(law):
        return {"holdout_mask": jobs[law][1], "n_resamples": n_resamples, "seed": seed,
                "draws": (draws or {}).get(law)}

    if workers <= 1 or len(jobs) <= 1:
        return {law: fit_for_study(law, *jobs[law][0], **options(law)) for law in jobs}
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    order = sorted(jobs, key=lambda law: (len(LAWS[law].reported), len(jobs[law][1])), reverse=True)
    # spawn: a fresh interpreter, whatever the caller has loaded or threaded (a notebook kernel)
    with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {law: pool.submit(fit_for_study, law, *jobs[law][0], **options(law)) for law in order}
        return {law: futures[law].result() for law in jobs}


def parameter_table(fits: dict) -> "pandas.DataFrame":
    """Every fitted parameter with its interval, and R², one row each, indexed by (law, parameter)."""
    import pandas as pd

    rows = []
    for law, fit in fits.items():
        for name, value in fit.params.items():
            lo, hi = (fit.intervals or {}).get(name, (math.nan, math.nan))
            rows.append({"law": law, "parameter": name, "value": value, "95% low": lo, "95% high": hi})
        rows.append({"law": law, "parameter": "R² (log L)", "value": fit.r2})
        rows.append({"law": law, "parameter": "R² reachable (seed spread)", "value": fit.r2_ceiling})
    columns = ["law", "parameter", "value", "95% low", "95% high"]  # also when no law was fitted
    return pd.DataFrame(rows, columns=columns).set_index(["law", "parameter"])


def side_by_side(report: dict, names=("data_size", "data_size_transfer")) -> "pandas.DataFrame":
    """Laws fitted to the same points, one column each (notebook 05: the paper's data-size law
    and its transfer form), from their records in fits.json's ``laws``: each parameter with its
    95% interval, R², the parameters on a bound, and the held-out points' prediction; a law
    that was not fitted shows why."""
    import pandas as pd

    columns = {}
    for name in names:
        rec = report.get(name) or {"status": "not fitted"}
        if "params" not in rec:
            columns[name] = {"status": rec["status"]}
            continue
        col = {}
        for k, v in rec["params"].items():
            lo, hi = (rec.get("intervals") or {}).get(k, (math.nan, math.nan))
            col[k] = f"{v:.4g} [{lo:.3g}, {hi:.3g}]"
        col["R² (log L)"] = f"{rec['r2']:.4f}"
        if rec.get("r2_ceiling") is not None:
            col["R² reachable (seed spread)"] = f"{rec['r2_ceiling']:.4f}"
        col["on a bound"] = ", ".join(rec["bounds_hit"]) or "none"
        held = rec.get("holdout")
        if held:
            col["held out: observed"] = ", ".join(f"{v:.4g}" for v in held["observed"])
            col["held out: predicted (error)"] = ", ".join(
                f"{p:.4g} ({100 * e:+.2f}%)" for p, e in zip(held["predicted"], held["relative_error"]))
        columns[name] = col
    rows = list(dict.fromkeys(k for col in columns.values() for k in col))
    params = ("A", "B", "D_T", "alpha", "beta", "delta")  # first, in one order for every law
    order = [k for k in params if k in rows] + [k for k in rows if k not in params]
    return pd.DataFrame(columns).reindex(order).fillna("—")
