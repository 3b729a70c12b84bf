"""What a fit returns: :class:`LawFit` (parameters, status, warnings, every start, intervals),
:class:`BootstrapIntervals` and :class:`HoldoutCheck`; plain JSON out and back."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from .forms import LAWS
from .starts import to_internal


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------

def jsonable(v):
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return [jsonable(x) for x in v.tolist()]
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return f if math.isfinite(f) else None
    return v


@dataclass(frozen=True)
class LawFit:
    """One fitted law. ``params`` in the paper's names; everything else says how it went.

    ``status`` is a sentence (converged or not, lmfit's message, bound hits); ``warnings``
    lists everything a reader should know before trusting the numbers (empty: nothing).
    """

    law: str
    params: dict
    r2: float  # coefficient of determination of log L over the points (nan if all losses are equal)
    success: bool  # lmfit's success flag of the winning start
    message: str  # lmfit's message of the winning start
    status: str
    objective: float  # Huber objective (or half the sum of squares) at the optimum
    start: dict  # the starting point that won (reported names)
    starts: list  # every start: {start, params, objective, success, message, nfev}
    bounds_hit: list  # names of parameters on or near a bound
    bounds: dict  # reported name -> (low, high)
    points: dict  # input name -> values, and "losses"
    warnings: list
    options: dict  # huber_delta, loss, exponent_bounds
    intervals: dict | None = None  # parameter -> (low, high), from bootstrap
    bootstrap: dict | None = None  # level, n_resamples, n_failed, n_used, seed, failures

    @property
    def n_points(self) -> int:
        return len(self.points["losses"])

    @property
    def r2_ceiling(self) -> float:
        """The highest R² of log L that any curve of the law's inputs could reach on these points:
        runs at the same inputs (seeds, draws) that differ leave a variance no law explains.
        1.0 when no input is repeated; nan when all losses are equal."""
        logy = np.log(np.asarray(self.points["losses"], dtype=np.float64))
        ss_tot = float(np.sum((logy - logy.mean()) ** 2))
        if ss_tot == 0:
            return math.nan
        return 1.0 - self.pure_error()[0] / ss_tot

    def pure_error(self) -> tuple[float, int]:
        """(sum of squares of log L around each size's mean, number of distinct sizes): the
        spread of the runs at the same inputs (seeds, draws), which no curve of the inputs removes."""
        logy = np.log(np.asarray(self.points["losses"], dtype=np.float64))
        keys = np.column_stack([np.asarray(self.points[k], dtype=np.float64) for k in LAWS[self.law].inputs])
        group = np.unique(keys, axis=0, return_inverse=True)[1].ravel()
        means = np.bincount(group, weights=logy) / np.bincount(group)
        return float(np.sum((logy - means[group]) ** 2)), int(group.max()) + 1

    def _internal(self) -> dict:
        return to_internal(LAWS[self.law], self.params)

    def log_predict(self, *inputs):
        law = LAWS[self.law]
        if len(inputs) != len(law.inputs):
            raise ValueError(f"predict: the {self.law} law takes {len(law.inputs)} argument(s) "
                             f"({', '.join(law.inputs)}), got {len(inputs)}")
        X = tuple(np.asarray(x, dtype=np.float64) for x in inputs)
        return law.logpred(X, **self._internal())

    def predict(self, *inputs):
        """The law's L at the given inputs (same order as the fit function, without losses)."""
        out = np.exp(self.log_predict(*inputs))
        return float(out) if np.ndim(out) == 0 else out

    def residuals(self) -> np.ndarray:
        """log(prediction) - log(observed) at the fitted points."""
        law = LAWS[self.law]
        return self.log_predict(*(self.points[k] for k in law.inputs)) - np.log(self.points["losses"])

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["n_points"] = self.n_points
        d["r2_ceiling"] = self.r2_ceiling  # derived from points; from_dict recomputes it
        return jsonable(d)

    @classmethod
    def from_dict(cls, d: dict) -> "LawFit":
        """Rebuild a fit written by :meth:`to_dict` (e.g. from ``fits.json``)."""
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        kw["points"] = {k: np.asarray(v, dtype=np.float64) for k, v in d["points"].items()}
        if kw.get("intervals") is not None:
            kw["intervals"] = {k: tuple(v) for k, v in kw["intervals"].items()}
        kw["bounds"] = {k: tuple(v) for k, v in kw["bounds"].items()}
        if kw.get("r2") is None:
            kw["r2"] = math.nan
        return cls(**kw)

    def __repr__(self) -> str:
        p = ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
        return f"LawFit({self.law}: {p}; R2={self.r2:.4f}; {self.n_points} points; {self.status})"

    def __str__(self) -> str:
        return "\n".join([repr(self)] + [f"  warning: {w}" for w in self.warnings])


class BootstrapIntervals(dict):
    """``parameter -> (low, high)``, plus how the intervals were made.

    Attributes: ``level``, ``n_resamples``, ``n_failed`` (resamples that could not be fitted
    or did not converge; left out), ``n_used``, ``seed``, ``failures`` (reason -> count),
    ``samples`` (parameter -> array of the refitted values), ``resample`` (points, draws or
    residuals: :func:`drscaling.laws.uncertainty.bootstrap`), ``unit`` (the independent unit:
    "point", or "draw" when the runs' draws were given), ``n_units`` (how many there are),
    ``stratified`` (draws resampled within each stratum, e.g. each shape).
    """

    def __init__(self, intervals, *, level, n_resamples, n_failed, seed, failures, samples, resample="points",
                 unit="point", n_units=None, stratified=False):
        super().__init__(intervals)
        self.level = level
        self.n_resamples = n_resamples
        self.n_failed = n_failed
        self.n_used = n_resamples - n_failed
        self.seed = seed
        self.failures = failures
        self.samples = samples
        self.resample, self.unit, self.n_units, self.stratified = resample, unit, n_units, stratified

    def info(self) -> dict:
        return {"level": self.level, "n_resamples": self.n_resamples, "n_failed": self.n_failed,
                "n_used": self.n_used, "seed": self.seed, "failures": dict(self.failures),
                "resample": self.resample, "unit": self.unit, "n_units": self.n_units, "stratified": self.stratified}


@dataclass(frozen=True)
class HoldoutCheck:
    """A fit without the held-out points and how well it predicts them."""

    fit: LawFit
    holdout_mask: np.ndarray
    inputs: dict  # input name -> held-out values
    observed: np.ndarray
    predicted: np.ndarray
    relative_error: np.ndarray  # predicted / observed - 1
    # the naive prediction "no further improvement": the mean loss of the fitted points at the
    # largest fitted size (at the same other inputs where there are such points)
    naive_predicted: np.ndarray | None = None

    @property
    def max_abs_relative_error(self) -> float:
        return float(np.max(np.abs(self.relative_error)))

    @property
    def mean_abs_relative_error(self) -> float:
        return float(np.mean(np.abs(self.relative_error)))

    @property
    def naive_relative_error(self) -> np.ndarray | None:
        return None if self.naive_predicted is None else self.naive_predicted / self.observed - 1.0

    @property
    def skill(self) -> float | None:
        """1 - the law's mean absolute error / the naive prediction's: above 0 the law
        extrapolates better than "no further improvement", at or below 0 it does not."""
        if self.naive_predicted is None:
            return None
        naive = float(np.mean(np.abs(self.naive_relative_error)))
        return math.nan if naive == 0 else 1.0 - self.mean_abs_relative_error / naive

    def to_dict(self) -> dict:
        return jsonable({
            "fit": self.fit.to_dict(), "holdout_mask": self.holdout_mask, "inputs": self.inputs,
            "observed": self.observed, "predicted": self.predicted, "relative_error": self.relative_error,
            "max_abs_relative_error": self.max_abs_relative_error,
            "mean_abs_relative_error": self.mean_abs_relative_error,
            "naive_predicted": self.naive_predicted, "naive_relative_error": self.naive_relative_error,
            "naive_mean_abs_relative_error": None if self.naive_predicted is None
            else float(np.mean(np.abs(self.naive_relative_error))),
            "skill": self.skill, "extrapolates": None if self.skill is None else bool(self.skill > 0),
        })
