"""The paper's three scaling laws, how they are fitted, and how much to trust a fit.

N = non-embedding parameters, D = annotated (query, positive) pairs, L = test contrastive
log-likelihood (CLL, "contrastive entropy" in the final version of the paper):

- model size  ``L(N)    = (A/N)**alpha + delta``
- data size   ``L(D)    = (B/D)**beta + delta``
- joint       ``L(N, D) = ((A/N)**(alpha/beta) + B/D)**beta + delta``

Fitting, in the style of Epoch AI's replication of Chinchilla's third approach:

- **Log space, log parameters.** The residual of a point is ``log(prediction) - log(observed)``.
  A and B are fitted as ``log_A``, ``log_B`` (reported as A, B), and the log of a prediction
  is computed by a log-sum-exp form (:func:`log_model_size_law`, :func:`log_data_size_law`,
  :func:`log_joint_law`), finite for any finite parameters, also where ``(A/N)**alpha``
  overflows. ``delta`` is fitted as itself so that ``delta = 0`` (no floor) is reachable:
  ``log(0) = -inf`` and ``logaddexp(x, -inf) = x``.
- **Robust loss.** The objective is the sum of Huber losses of the residuals with a Huber
  delta of 1e-3 in log space (``huber_delta``; ``loss="linear"`` gives plain least squares).
  It is minimised by ``lmfit.minimize(method="least_squares")``, i.e. scipy's
  trust-region-reflective solver with ``loss="huber", f_scale=huber_delta``, which minimises
  exactly that objective (``0.5 r**2`` inside the delta, ``delta*(|r| - delta/2)`` outside).
  Chosen over an explicit Huber objective under L-BFGS (what Chinchilla used) because this
  solver keeps the bounds as they are (lmfit's scalar minimisers map bounded parameters
  through a sine transform, which hides how close a parameter sits to its bound), uses the
  analytic Jacobian given here, and stops on documented tolerance conditions that lmfit
  reports as ``success`` and ``message``. Far from the optimum every residual is in the Huber
  loss's linear part, where that solver crawls, and each of its steps costs about a
  millisecond of Python; so all starts are first taken together towards the optimum by a
  vectorised Levenberg-Marquardt solver of the same objective and bounds (:func:`_fit_many`),
  and lmfit finishes each from there (a few evaluations) and gives the verdict.
- **Bounds.** float64 throughout; ``0 < alpha, beta <= 10``; ``0 <= delta < min(observed L)``;
  ``|log_A|, |log_B| <= 700`` (so A and B stay finite). A parameter ending on or near a bound
  is named in ``bounds_hit`` and explained in ``warnings`` and ``status``.
- **Several starts.** A grid of starting points (exponents x floor fractions, and for the
  joint law how the reducible loss is shared between the N and D terms); ``log_A``/``log_B``
  of each start are set so the start passes through the middle of the data. Every start is
  recorded with its final objective and success flag (``starts``); the lowest objective wins
  (``start``).

Uncertainty: :func:`bootstrap` resamples the points (runs) with replacement and refits each
resample, giving percentile intervals and the number of resamples that failed;
:func:`with_intervals` or ``bootstrap=n`` puts them into the result. A thousand refits one by
one through scipy took minutes per law, so all resamples are refitted at once by
:func:`_fit_many`, warm-started from the full fit's optimum, with every grid start tried for a
few steps to catch a resample whose optimum lies elsewhere (:func:`_refit_warm`);
``refit="grid"`` refits each resample by a fresh fit from the whole grid instead, the slow
reference that the tests hold the fast way to. :func:`holdout_check` fits without some points
and reports the relative error of the predictions for them (extrapolation to the largest N or
D, or the paper's held-out (N, D) points of its joint-law figure).

:func:`paper_reported` reads the values the paper reported (``configs/paper_reported.yaml``).
"""

from __future__ import annotations

import dataclasses
import math
import warnings as _warnings
from dataclasses import dataclass
from typing import Callable, Sequence

import lmfit
import numpy as np

from . import paths

__all__ = [
    "LawFit",
    "HoldoutCheck",
    "BootstrapIntervals",
    "fit_model_size_law",
    "fit_data_size_law",
    "fit_joint_law",
    "fit_law",
    "FIT_FUNCTIONS",
    "bootstrap",
    "with_intervals",
    "holdout_check",
    "holdout_largest",
    "model_size_law",
    "data_size_law",
    "joint_law",
    "log_model_size_law",
    "log_data_size_law",
    "log_joint_law",
    "huber_objective",
    "paper_reported",
    "paper_value",
    "fit_authors_points",
    "fit_study_laws",
    "parameter_table",
]

HUBER_DELTA = 1e-3  # Huber delta in log space (Hoffmann et al. 2022; Besiroglu et al. 2024)
EXPONENT_BOUNDS = (1e-6, 10.0)  # alpha, beta: > 0
LOG_SCALE_BOUNDS = (-700.0, 700.0)  # log_A, log_B: A and B finite in float64
DELTA_MARGIN = 1e-9  # delta <= min(L) * (1 - DELTA_MARGIN), i.e. strictly below the smallest loss
BOUND_TOLERANCE = 1e-4  # a parameter within this fraction of its range of a bound "sits on" it
TOLERANCE = 1e-10  # ftol, xtol, gtol of least_squares
BATCH_MAX_STEPS = 1000  # steps of the vectorised solver before lmfit takes over (a fit, a bootstrap refit)
PROBE_STEPS = 20  # steps of the vectorised solver from each grid start, looking for a lower optimum
R2_WARN = 0.9  # a fit explaining less of the variance of log L gets a warning


# --------------------------------------------------------------------------------------------
# The laws: direct forms (for reading) and log-sum-exp forms (for fitting)
# --------------------------------------------------------------------------------------------

def model_size_law(n_params, A, alpha, delta):
    """``(A/N)**alpha + delta``, computed directly (overflows for extreme parameters)."""
    return (A / np.asarray(n_params, dtype=np.float64)) ** alpha + delta


def data_size_law(n_train, B, beta, delta):
    """``(B/D)**beta + delta``, computed directly."""
    return (B / np.asarray(n_train, dtype=np.float64)) ** beta + delta


def joint_law(n_params, n_train, A, B, alpha, beta, delta):
    """``((A/N)**(alpha/beta) + B/D)**beta + delta``, computed directly."""
    n = np.asarray(n_params, dtype=np.float64)
    d = np.asarray(n_train, dtype=np.float64)
    return ((A / n) ** (alpha / beta) + B / d) ** beta + delta


def _log_delta(delta):
    with np.errstate(divide="ignore"):
        return np.log(np.asarray(delta, dtype=np.float64))


def log_model_size_law(n_params, log_A, alpha, delta):
    """``log L(N) = logaddexp(alpha * (log_A - log N), log delta)``: finite for finite inputs."""
    u = alpha * (log_A - np.log(np.asarray(n_params, dtype=np.float64)))
    return np.logaddexp(u, _log_delta(delta))


def log_data_size_law(n_train, log_B, beta, delta):
    """``log L(D) = logaddexp(beta * (log_B - log D), log delta)``."""
    return log_model_size_law(n_train, log_B, beta, delta)


def log_joint_law(n_params, n_train, log_A, log_B, alpha, beta, delta):
    """``log L(N, D) = logaddexp(beta * logaddexp((alpha/beta)(log_A - log N), log_B - log D), log delta)``."""
    p = (alpha / beta) * (log_A - np.log(np.asarray(n_params, dtype=np.float64)))
    q = log_B - np.log(np.asarray(n_train, dtype=np.float64))
    return np.logaddexp(beta * np.logaddexp(p, q), _log_delta(delta))


def huber_objective(residuals, huber_delta: float | None = HUBER_DELTA) -> float:
    """Sum of Huber losses (``huber_delta=None``: half the sum of squares), as minimised."""
    r = np.abs(np.asarray(residuals, dtype=np.float64))
    if huber_delta is None:
        return float(0.5 * np.sum(r ** 2))
    d = float(huber_delta)
    return float(np.sum(np.where(r <= d, 0.5 * r ** 2, d * (r - 0.5 * d))))


# --------------------------------------------------------------------------------------------
# One description per law: inputs, parameters, log prediction, Jacobian, default starts
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Law:
    name: str
    inputs: tuple[str, ...]  # argument names of the fit function, without losses
    internal: tuple[str, ...]  # lmfit parameter names
    reported: tuple[str, ...]  # names in .params
    logpred: Callable  # (X: tuple of arrays, **internal params) -> log L
    jac: Callable  # (X, **internal) -> (n_points, len(internal))

    @property
    def n_params(self) -> int:
        return len(self.internal)


def _single_jac(X, log_S, e, delta):
    (x,) = X
    c = log_S - np.log(x)
    u = e * c
    logl = np.logaddexp(u, _log_delta(delta))
    w = np.exp(u - logl)
    return np.stack([w * e, w * c, np.exp(-logl)], axis=-1)


def _joint_jac(X, log_A, log_B, alpha, beta, delta):
    n, d = X
    c = log_A - np.log(n)
    p = (alpha / beta) * c
    q = log_B - np.log(d)
    v = np.logaddexp(p, q)
    logl = np.logaddexp(beta * v, _log_delta(delta))
    w = np.exp(beta * v - logl)  # share of the reducible term in L
    r = np.exp(p - v)  # share of the N term inside the bracket
    return np.stack([
        w * alpha * r,  # d/dlog_A
        w * beta * (1.0 - r),  # d/dlog_B
        w * r * c,  # d/dalpha
        w * (v - r * p),  # d/dbeta
        np.exp(-logl),  # d/ddelta
    ], axis=-1)


_LAWS = {
    "model_size": _Law(
        "model_size", ("n_params",), ("log_A", "alpha", "delta"), ("A", "alpha", "delta"),
        lambda X, log_A, alpha, delta: log_model_size_law(X[0], log_A, alpha, delta),
        lambda X, log_A, alpha, delta: _single_jac(X, log_A, alpha, delta),
    ),
    "data_size": _Law(
        "data_size", ("n_train",), ("log_B", "beta", "delta"), ("B", "beta", "delta"),
        lambda X, log_B, beta, delta: log_data_size_law(X[0], log_B, beta, delta),
        lambda X, log_B, beta, delta: _single_jac(X, log_B, beta, delta),
    ),
    "joint": _Law(
        "joint", ("n_params", "n_train"), ("log_A", "log_B", "alpha", "beta", "delta"),
        ("A", "B", "alpha", "beta", "delta"),
        lambda X, log_A, log_B, alpha, beta, delta: log_joint_law(X[0], X[1], log_A, log_B, alpha, beta, delta),
        _joint_jac,
    ),
}

# Default grid of starting points.
_SINGLE_EXPONENTS = (0.1, 0.25, 0.5, 1.0, 2.0)
_DELTA_FRACTIONS = (0.0, 0.25, 0.5, 0.75, 0.95)  # of min(observed L)
_JOINT_ALPHAS = (0.25, 0.6, 1.5)
_JOINT_BETAS = (0.3, 0.7, 1.5)
_JOINT_DELTA_FRACTIONS = (0.0, 0.5, 0.9)
_JOINT_SHARES = (0.25, 0.75)  # share of the N term in the bracket at the middle of the data


def _to_internal(law: _Law, rep: dict) -> dict:
    out = {}
    for k, v in rep.items():
        if k in ("A", "B"):
            out["log_" + k] = math.log(v) if v > 0 else -math.inf
        else:
            out[k] = float(v)
    return out


def _to_reported(law: _Law, internal: dict) -> dict:
    out = {}
    for name, rep in zip(law.internal, law.reported):
        v = float(internal[name])
        out[rep] = math.exp(v) if name.startswith("log_") else v
    return out


def _complete_start(law: _Law, X, y, given: dict) -> dict:
    """A full internal start from a partial reported one, scales set through the data's middle.

    Missing exponents default to 0.5 (alpha, beta), a missing delta to half the smallest
    loss, a missing A (B) so that the law passes through the geometric middle of the points.
    """
    unknown = set(given) - set(law.reported)
    if unknown:
        raise ValueError(f"starts: unknown parameter(s) {sorted(unknown)} for the {law.name} law; "
                         f"expected some of {list(law.reported)}")
    s = _to_internal(law, given)
    l_min = float(np.min(y))
    delta = min(max(s.get("delta", 0.5 * l_min), 0.0), l_min * (1 - 1e-3))
    s["delta"] = delta
    l_mid = float(np.exp(np.mean(np.log(y))))
    reducible = max(l_mid - delta, 1e-3 * l_mid)
    if law.name == "joint":
        alpha = s.setdefault("alpha", 0.5)
        beta = s.setdefault("beta", 0.5)
        share = 0.5
        total = math.log(reducible) / beta  # log of the bracket at the middle
        n_mid = float(np.mean(np.log(X[0])))
        d_mid = float(np.mean(np.log(X[1])))
        if "log_A" not in s:
            s["log_A"] = n_mid + (beta / alpha) * (total + math.log(share))
        if "log_B" not in s:
            s["log_B"] = d_mid + total + math.log(1 - share)
    else:
        e_name, s_name = law.internal[1], law.internal[0]
        e = s.setdefault(e_name, 0.5)
        if s_name not in s:
            s[s_name] = float(np.mean(np.log(X[0]))) + math.log(reducible) / e
    return s


def _default_starts(law: _Law, X, y) -> list[dict]:
    l_min = float(np.min(y))
    starts = []
    if law.name == "joint":
        l_mid = float(np.exp(np.mean(np.log(y))))
        n_mid = float(np.mean(np.log(X[0])))
        d_mid = float(np.mean(np.log(X[1])))
        for alpha in _JOINT_ALPHAS:
            for beta in _JOINT_BETAS:
                for frac in _JOINT_DELTA_FRACTIONS:
                    for share in _JOINT_SHARES:
                        delta = frac * l_min
                        total = math.log(l_mid - delta) / beta
                        starts.append({
                            "log_A": n_mid + (beta / alpha) * (total + math.log(share)),
                            "log_B": d_mid + total + math.log(1 - share),
                            "alpha": alpha, "beta": beta, "delta": delta,
                        })
    else:
        for e in _SINGLE_EXPONENTS:
            for frac in _DELTA_FRACTIONS:
                starts.append(_complete_start(law, X, y, {law.reported[1]: e, "delta": frac * l_min}))
    return starts


def _refit_starts(law: _Law, X, y, best_reported: dict) -> list[dict]:
    """Starts for bootstrap refits: the full fit's optimum and two points of the grid."""
    l_min = float(np.min(y))
    if law.name == "joint":
        others = [{"alpha": 0.6, "beta": 0.7, "delta": 0.5 * l_min}, {"alpha": 0.25, "beta": 1.5, "delta": 0.0}]
    else:
        e = law.reported[1]
        others = [{e: 0.5, "delta": 0.5 * l_min}, {e: 1.0, "delta": 0.0}]
    return [_complete_start(law, X, y, dict(best_reported))] + [_complete_start(law, X, y, o) for o in others]


def _bounds(law: _Law, y, exponent_bounds) -> dict:
    l_min = float(np.min(y))
    b = {}
    for name in law.internal:
        if name.startswith("log_"):
            b[name] = LOG_SCALE_BOUNDS
        elif name == "delta":
            b[name] = (0.0, l_min * (1.0 - DELTA_MARGIN))
        else:
            b[name] = tuple(float(v) for v in exponent_bounds)
    return b


# --------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------

_MEANING = {"n_params": "model sizes (non-embedding parameters)", "n_train": "data sizes (annotated pairs)",
            "losses": "test losses (contrastive log-likelihood)"}


def _as_points(law: _Law, arrays: Sequence, names: Sequence[str]) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    out = []
    for name, a in zip(names, arrays):
        try:
            arr = np.asarray(a, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{name}: expected a 1-D sequence of numbers ({_MEANING[name]}); {e}") from None
        if arr.ndim != 1:
            raise ValueError(f"{name}: expected a 1-D sequence of numbers ({_MEANING[name]}), got shape {arr.shape}")
        out.append(arr)
    n = len(out[0])
    for name, arr in zip(names[1:], out[1:]):
        if len(arr) != n:
            raise ValueError(f"{name}: has {len(arr)} values but {names[0]} has {n}; "
                             f"every argument needs one value per point")
    for name, arr in zip(names, out):
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"{name}[{i}] is {arr[i]}; expected finite positive {_MEANING[name]} "
                             f"({bad.size} non-finite value(s) in all)")
        bad = np.flatnonzero(arr <= 0)
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"{name}[{i}] = {arr[i]:g}; expected {_MEANING[name]} > 0 "
                             f"({bad.size} non-positive value(s) in all)")
    need = law.n_params + 1
    if n < need:
        raise ValueError(f"{names[-1]}: {n} point(s) given; the {law.name} law has {law.n_params} parameters "
                         f"and needs at least {need} points")
    distinct = len({tuple(row) for row in np.column_stack(out[:-1])})
    if distinct < law.n_params:
        what = " and ".join(names[:-1])
        raise ValueError(f"{what}: only {distinct} distinct value(s); the {law.name} law needs at least "
                         f"{law.n_params} distinct {'(N, D) pairs' if law.name == 'joint' else 'values'} "
                         f"to determine its {law.n_params} parameters")
    if law.name == "joint":
        for name, arr in zip(names[:2], out[:2]):
            if len(np.unique(arr)) < 2:
                raise ValueError(f"{name}: all points have the same value {arr[0]:g}; the joint law needs "
                                 f"at least 2 distinct values of each of n_params and n_train")
    return tuple(out[:-1]), out[-1]


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------

def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return [_jsonable(x) for x in v.tolist()]
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

    def _internal(self) -> dict:
        return _to_internal(_LAWS[self.law], self.params)

    def log_predict(self, *inputs):
        law = _LAWS[self.law]
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
        law = _LAWS[self.law]
        return self.log_predict(*(self.points[k] for k in law.inputs)) - np.log(self.points["losses"])

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["n_points"] = self.n_points
        return _jsonable(d)

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
    ``samples`` (parameter -> array of the refitted values).
    """

    def __init__(self, intervals, *, level, n_resamples, n_failed, seed, failures, samples):
        super().__init__(intervals)
        self.level = level
        self.n_resamples = n_resamples
        self.n_failed = n_failed
        self.n_used = n_resamples - n_failed
        self.seed = seed
        self.failures = failures
        self.samples = samples

    def info(self) -> dict:
        return {"level": self.level, "n_resamples": self.n_resamples, "n_failed": self.n_failed,
                "n_used": self.n_used, "seed": self.seed, "failures": dict(self.failures)}


@dataclass(frozen=True)
class HoldoutCheck:
    """A fit without the held-out points and how well it predicts them."""

    fit: LawFit
    holdout_mask: np.ndarray
    inputs: dict  # input name -> held-out values
    observed: np.ndarray
    predicted: np.ndarray
    relative_error: np.ndarray  # predicted / observed - 1

    @property
    def max_abs_relative_error(self) -> float:
        return float(np.max(np.abs(self.relative_error)))

    @property
    def mean_abs_relative_error(self) -> float:
        return float(np.mean(np.abs(self.relative_error)))

    def to_dict(self) -> dict:
        return _jsonable({
            "fit": self.fit.to_dict(), "holdout_mask": self.holdout_mask, "inputs": self.inputs,
            "observed": self.observed, "predicted": self.predicted, "relative_error": self.relative_error,
            "max_abs_relative_error": self.max_abs_relative_error,
            "mean_abs_relative_error": self.mean_abs_relative_error,
        })


# --------------------------------------------------------------------------------------------
# Fitting
# --------------------------------------------------------------------------------------------

def _start_vector(law: _Law, start: dict, bounds: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(x0, lo, hi)`` as arrays in ``law.internal`` order, ``x0`` moved just inside the bounds."""
    lo = np.array([bounds[k][0] for k in law.internal])
    hi = np.array([bounds[k][1] for k in law.internal])
    eps = np.where(np.isfinite(hi - lo), 1e-9 * (hi - lo), 0.0)
    return np.clip(np.array([float(start[k]) for k in law.internal]), lo + eps, hi - eps), lo, hi


def _fit_one(law: _Law, X, logy, start: dict, bounds: dict, huber_delta, max_nfev) -> dict:
    """Fit from one start (normally a warmed-up one, see :func:`_fit`) by ``lmfit.minimize(
    method="least_squares", loss="huber")``, which gives the reported values, success flag and
    message."""
    names = law.internal
    x0, lo, hi = _start_vector(law, start, bounds)

    def residual(p, X, logy):
        return law.logpred(X, **p.valuesdict()) - logy

    def jacobian(p, X, logy):
        return law.jac(X, **p.valuesdict())

    tol = dict(ftol=TOLERANCE, xtol=TOLERANCE, gtol=TOLERANCE)
    nfev = 0
    try:
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            params = lmfit.Parameters()
            for k, v, a, b in zip(names, x0, lo, hi):
                params.add(k, value=float(v), min=float(a), max=float(b))
            kws = {} if huber_delta is None else {"loss": "huber", "f_scale": float(huber_delta)}
            res = lmfit.minimize(residual, params, method="least_squares", args=(X, logy), Dfun=jacobian,
                                 x_scale="jac", max_nfev=max_nfev, **tol, **kws)
            nfev += int(getattr(res, "nfev", 0))
    except Exception as e:  # a start that cannot be evaluated is recorded, not fatal
        return {"values": None, "objective": math.inf, "success": False,
                "message": f"{type(e).__name__}: {e}", "nfev": nfev}
    values = {k: float(res.params[k].value) for k in names}
    r = law.logpred(X, **values) - logy
    obj = huber_objective(r, huber_delta) if np.all(np.isfinite(r)) else math.inf
    return {"values": values, "objective": obj, "success": bool(res.success),
            "message": str(getattr(res, "message", "")), "nfev": nfev}


def _fit_many(law: _Law, X, logy, x0, lo, hi, huber_delta, max_iter: int):
    """Many small fits at once, one per row (vectorised over the rows): the warm-up of every
    start of a fit, and the bootstrap's refits.

    ``X``: the inputs, each ``(m, n)``; ``logy``: ``(m, n)``; ``x0``, ``lo``, ``hi``: ``(m, p)``
    starts and bounds in ``law.internal`` order. Levenberg-Marquardt on iteratively reweighted
    least squares: a step solves ``(J'WJ + lam diag(J'WJ)) s = -J'Wr`` with the Huber weights
    ``W = min(1, huber_delta/|r|)`` of the current residuals (1 for plain least squares), the
    same objective as :func:`_fit_one` minimises. A step is clipped to the bounds; a parameter on
    a bound whose gradient points outwards is held there. An accepted step (lower objective)
    shrinks ``lam``, a rejected one grows it. A row stops, converged, when an accepted step
    lowers its objective by less than TOLERANCE relative (scipy's ftol) or a step moves it by
    less than TOLERANCE relative (xtol); a row that has not converged after ``max_iter`` steps,
    or whose ``lam`` ran away, stops unconverged. Returns ``(x, objective, converged, steps)``.
    """
    m, p = x0.shape
    eye = np.eye(p)

    def evaluate(rows, x):
        with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
            r = law.logpred(tuple(a[rows] for a in X), *x.T[:, :, None]) - logy[rows]
            a = np.abs(r)
            if huber_delta is None:
                loss, w = 0.5 * r * r, np.ones_like(r)
            else:
                inside = a <= huber_delta
                loss = np.where(inside, 0.5 * r * r, huber_delta * (a - 0.5 * huber_delta))
                w = np.where(inside, 1.0, huber_delta / np.maximum(a, huber_delta))
            f = loss.sum(axis=1)
        return np.where(np.isfinite(f), f, np.inf), r, w

    x = np.clip(x0, lo, hi)
    f, r, w = evaluate(np.arange(m), x)
    lam = np.full(m, 1e-3)
    converged = np.zeros(m, dtype=bool)
    active = np.isfinite(f)
    steps = np.zeros(m, dtype=int)
    for _ in range(max_iter):
        rows = np.flatnonzero(active)
        if rows.size == 0:
            break
        steps[rows] += 1
        xa, ra, wa = x[rows], r[rows], w[rows]
        with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
            J = law.jac(tuple(a[rows] for a in X), *xa.T[:, :, None])  # (k, n, p)
            JtW = J.transpose(0, 2, 1) * wa[:, None, :]
            g = (JtW @ ra[:, :, None])[:, :, 0]  # gradient of the objective
            H = JtW @ J
            held = ((xa <= lo[rows]) & (g > 0)) | ((xa >= hi[rows]) & (g < 0))
            d = np.einsum("kpp->kp", H)
            d = np.maximum(d, 1e-12 * d.max(axis=1, keepdims=True) + 1e-300)
            A = H + (lam[rows, None] * d)[:, :, None] * eye
            A[held[:, :, None] | held[:, None, :]] = 0.0  # held parameters: s = 0
            A += held[:, :, None] * eye
            try:
                step = -np.linalg.solve(A, np.where(held, 0.0, g)[:, :, None])[:, :, 0]
            except np.linalg.LinAlgError:  # singular: treat every step as rejected
                step = np.full_like(xa, np.nan)
            xn = np.clip(xa + step, lo[rows], hi[rows])
        fn, rn, wn = evaluate(rows, xn)
        better = fn < f[rows]
        done = (better & (f[rows] - fn <= TOLERANCE * f[rows])) | (
            np.linalg.norm(xn - xa, axis=1) <= TOLERANCE * (TOLERANCE + np.linalg.norm(xa, axis=1)))
        accepted = rows[better]
        x[accepted], f[accepted], r[accepted], w[accepted] = xn[better], fn[better], rn[better], wn[better]
        lam[rows] = np.where(better, np.maximum(lam[rows] / 3, 1e-12), lam[rows] * 4)
        converged[rows[done]] = True
        active[rows[done | (lam[rows] > 1e16)]] = False
    return x, f, converged, steps


def _near_bounds(law: _Law, values: dict, bounds: dict) -> list[tuple[str, str, float]]:
    hits = []
    for name, rep in zip(law.internal, law.reported):
        lo, hi = bounds[name]
        tol = BOUND_TOLERANCE * (hi - lo)
        v = values[name]
        if v <= lo + tol:
            hits.append((rep, "lower", lo))
        elif v >= hi - tol:
            hits.append((rep, "upper", hi))
    return hits


def _bound_warning(law: _Law, rep: str, side: str, bound: float) -> str:
    if rep == "delta" and side == "lower":
        return ("delta sits on its lower bound 0: the points show no irreducible loss floor within this "
                "range, and the exponent and scale absorb it; compare with a fit on a wider range")
    if rep == "delta":
        return (f"delta sits on its upper bound {bound:.6g} (just below the smallest observed loss): the "
                f"fit puts the floor at the best point, so the reducible part and its exponent are "
                f"poorly determined")
    if rep in ("A", "B"):
        return (f"{rep} sits on its {side} bound exp({bound:g}): the scale ran off, so the fit is degenerate "
                f"(typically an exponent near 0)")
    return (f"{rep} sits on its {side} bound {bound:g}: the exponent is not determined by these points "
            f"(too few sizes, too narrow a range, or no visible trend)")


def _check_options(huber_delta, loss, exponent_bounds) -> tuple[float | None, tuple[float, float]]:
    """The Huber delta (None for ``loss="linear"``) and the exponent bounds, checked."""
    if loss not in ("huber", "linear"):
        raise ValueError(f"loss: expected 'huber' or 'linear', got {loss!r}")
    if loss == "huber":
        if not (isinstance(huber_delta, (int, float)) and huber_delta > 0 and math.isfinite(huber_delta)):
            raise ValueError(f"huber_delta: expected a positive number (log-space residual scale), got {huber_delta!r}")
        hd = float(huber_delta)
    else:
        hd = None
    lo, hi = (float(v) for v in exponent_bounds)
    if not (0 < lo < hi):
        raise ValueError(f"exponent_bounds: expected (low, high) with 0 < low < high, got {exponent_bounds!r}")
    return hd, (lo, hi)


def _fit(law: _Law, arrays, names, *, huber_delta=HUBER_DELTA, loss="huber", starts=None,
         exponent_bounds=EXPONENT_BOUNDS, max_nfev=None, bootstrap=0, seed=0, level=0.95) -> LawFit:
    X, y = _as_points(law, arrays, names)
    hd, (lo, hi) = _check_options(huber_delta, loss, exponent_bounds)
    logy = np.log(y)
    bounds = _bounds(law, y, (lo, hi))
    if starts is None:
        start_list = _default_starts(law, X, y)
    else:
        if isinstance(starts, dict) or not len(starts):
            raise ValueError("starts: expected a non-empty list of dicts of starting values, e.g. "
                             f"[{{{', '.join(repr(k) + ': ...' for k in law.reported)}}}]")
        start_list = [_complete_start(law, X, y, dict(s)) for s in starts]

    # Every start at once by the vectorised solver (far from the optimum, where every residual
    # is in the Huber loss's linear part, scipy crawls), then lmfit from where it got to.
    k = len(start_list)
    warm, _, _, steps = _fit_many(law, tuple(np.tile(x, (k, 1)) for x in X), np.tile(logy, (k, 1)),
                                  *(np.array(v) for v in zip(*(_start_vector(law, s, bounds) for s in start_list))),
                                  hd, max_nfev or BATCH_MAX_STEPS)
    records = []
    for s, x, n_steps in zip(start_list, warm, steps):
        out = _fit_one(law, X, logy, dict(zip(law.internal, x)), bounds, hd, max_nfev)
        records.append((s, {**out, "nfev": out["nfev"] + int(n_steps)}))
    finite = [i for i, (_, o) in enumerate(records) if o["values"] is not None and math.isfinite(o["objective"])]
    if not finite:
        msgs = sorted({o["message"] for _, o in records})
        raise RuntimeError(f"{law.name} law: no start could be fitted ({len(records)} tried): {'; '.join(msgs)}")
    best_i = min(finite, key=lambda i: records[i][1]["objective"])
    best_start, best = records[best_i]
    values = best["values"]
    params = _to_reported(law, values)

    r = law.logpred(X, **values) - logy
    ss_res = float(np.sum(r ** 2))
    ss_tot = float(np.sum((logy - logy.mean()) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else math.nan

    warns = []
    if not best["success"]:
        warns.append(f"the best start did not converge: {best['message']}")
    if ss_tot == 0:
        warns.append("all losses are equal: there is no trend to fit and R2 is undefined")
    elif r2 < R2_WARN:
        warns.append(f"R2 of log L is {r2:.3f}: the {law.name} law does not describe these points well")
    hits = _near_bounds(law, values, bounds)
    for rep, side, bound in hits:
        warns.append(_bound_warning(law, rep, side, bound))
    # Another start with (nearly) the same objective but different parameters: ill-determined.
    scale = max(best["objective"], 1e-12 * len(y))
    rivals = []
    for i in finite:
        o = records[i][1]
        if i == best_i or o["objective"] > best["objective"] + 1e-6 * scale + 1e-15:
            continue
        other = _to_reported(law, o["values"])
        diff = [k for k in law.reported
                if abs(other[k] - params[k]) > 0.05 * max(abs(params[k]), 1e-3 * max(float(np.min(y)), 1e-12))]
        if diff:
            rivals.append(diff)
    if rivals:
        warns.append(f"{len(rivals)} other start(s) reached the same objective with different "
                     f"{', '.join(sorted({k for d in rivals for k in d}))}: the parameters are not "
                     f"determined well by these points")
    n_ok = sum(1 for _, o in records if o["success"])
    status = (f"{'converged' if best['success'] else 'did NOT converge'} "
              f"(lmfit success={best['success']}: {best['message'].rstrip('.')}); best of {len(records)} "
              f"start(s), {n_ok} of which converged; "
              + (f"on a bound: {', '.join(h[0] for h in hits)}." if hits else "no parameter on a bound."))

    fit = LawFit(
        law=law.name, params=params, r2=r2, success=best["success"], message=best["message"], status=status,
        objective=best["objective"], start=_to_reported(law, best_start),
        starts=[{"start": _to_reported(law, s),
                 "params": None if o["values"] is None else _to_reported(law, o["values"]),
                 "objective": o["objective"], "success": o["success"], "message": o["message"], "nfev": o["nfev"]}
                for s, o in records],
        bounds_hit=[h[0] for h in hits],
        bounds={rep: (math.exp(bounds[n][0]), math.exp(bounds[n][1])) if n.startswith("log_") else bounds[n]
                for n, rep in zip(law.internal, law.reported)},
        points={**{k: x for k, x in zip(law.inputs, X)}, "losses": y},
        warnings=warns,
        options={"huber_delta": hd, "loss": loss, "exponent_bounds": (lo, hi), "max_nfev": max_nfev},
    )
    if bootstrap:
        fit = with_intervals(fit, n_resamples=int(bootstrap), seed=seed, level=level)
    return fit


def fit_model_size_law(n_params, losses, **opts) -> LawFit:
    """Fit ``L(N) = (A/N)**alpha + delta``; params A, alpha, delta.

    Options: ``huber_delta`` (1e-3), ``loss`` ("huber" | "linear"), ``starts`` (list of dicts
    of starting values in reported names; missing ones are filled in), ``exponent_bounds``
    ((1e-6, 10)), ``max_nfev``, ``bootstrap`` (number of resamples; 0: none), ``seed``, ``level``.
    """
    return _fit(_LAWS["model_size"], (n_params, losses), ("n_params", "losses"), **opts)


def fit_data_size_law(n_train, losses, **opts) -> LawFit:
    """Fit ``L(D) = (B/D)**beta + delta``; params B, beta, delta. Options as :func:`fit_model_size_law`."""
    return _fit(_LAWS["data_size"], (n_train, losses), ("n_train", "losses"), **opts)


def fit_joint_law(n_params, n_train, losses, **opts) -> LawFit:
    """Fit ``L(N, D) = ((A/N)**(alpha/beta) + B/D)**beta + delta``; params A, B, alpha, beta, delta.

    Options as :func:`fit_model_size_law`.
    """
    return _fit(_LAWS["joint"], (n_params, n_train, losses), ("n_params", "n_train", "losses"), **opts)


FIT_FUNCTIONS = {"model_size": fit_model_size_law, "data_size": fit_data_size_law, "joint": fit_joint_law}
_LAW_OF_FN = {fn: name for name, fn in FIT_FUNCTIONS.items()}


def fit_law(law: str, *arrays, **opts) -> LawFit:
    """``fit_law("model_size", n_params, losses)`` etc.: the fit function by the law's name."""
    if law not in FIT_FUNCTIONS:
        raise ValueError(f"law: expected one of {list(FIT_FUNCTIONS)}, got {law!r}")
    return FIT_FUNCTIONS[law](*arrays, **opts)


# --------------------------------------------------------------------------------------------
# Bootstrap and extrapolation
# --------------------------------------------------------------------------------------------

def _law_of(fit_fn) -> _Law:
    if fit_fn in _LAW_OF_FN:
        return _LAWS[_LAW_OF_FN[fit_fn]]
    if isinstance(fit_fn, str) and fit_fn in _LAWS:
        return _LAWS[fit_fn]
    raise ValueError(f"fit_fn: expected one of fit_model_size_law, fit_data_size_law, fit_joint_law "
                     f"(or a law name {list(_LAWS)}), got {fit_fn!r}")


def bootstrap(fit_fn, *arrays, n_resamples: int = 1000, seed: int = 0, level: float = 0.95,
              full_fit: LawFit | None = None, refit: str = "warm", **fit_opts) -> BootstrapIntervals:
    """Percentile intervals (``level``, 95%) of each parameter by resampling the points.

    Each of ``n_resamples`` resamples draws as many points as there are, with replacement, and
    is refitted (``full_fit``: reuse a fit of the same points):

    - ``refit="warm"`` (default): all resamples at once (:func:`_refit_warm`), warm-started
      from the full fit's optimum, with every grid start tried for a few steps;
    - ``refit="grid"``: each resample by the fit function, from the whole default grid of
      starts, as a fresh fit of those points (the slow reference that "warm" is tested against).

    A resample that cannot be fitted (too few distinct points) or whose fit did not converge
    is counted in ``n_failed`` and left out. Deterministic for a seed; both ways draw the same
    resamples.
    """
    law = _law_of(fit_fn)
    fn = FIT_FUNCTIONS[law.name]
    names = law.inputs + ("losses",)
    if len(arrays) != len(names):
        raise ValueError(f"bootstrap: the {law.name} law takes {len(names)} arrays ({', '.join(names)}), "
                         f"got {len(arrays)}")
    if not (isinstance(n_resamples, (int, np.integer)) and n_resamples >= 1):
        raise ValueError(f"n_resamples: expected a positive integer, got {n_resamples!r}")
    if not 0 < level < 1:
        raise ValueError(f"level: expected a number between 0 and 1, got {level!r}")
    if refit not in ("warm", "grid"):
        raise ValueError(f"refit: expected 'warm' or 'grid', got {refit!r}")
    X, y = _as_points(law, arrays, names)
    fit_opts.pop("bootstrap", None)
    starts = fit_opts.pop("starts", None)  # for the full fit only
    if full_fit is None:
        full_fit = fn(*X, y, starts=starts, **fit_opts)
    failures: dict[str, int] = {}

    def fail(reason: str) -> None:
        failures[reason] = failures.get(reason, 0) + 1

    fittable = []  # index arrays of the resamples that can be fitted, in the order drawn
    for idx in np.random.default_rng(seed).integers(0, len(y), (int(n_resamples), len(y))):
        try:
            _as_points(law, [x[idx] for x in X] + [y[idx]], names)
            fittable.append(idx)
        except ValueError as e:
            fail(f"not fittable: {str(e).split(':', 1)[-1].strip().split(';')[0]}")
    if refit == "warm":
        refits = _refit_warm(law, X, y, np.array(fittable, dtype=int).reshape(-1, len(y)), full_fit, fit_opts)
    else:
        refits = [_refit_grid(fn, [x[idx] for x in X], y[idx], fit_opts) for idx in fittable]
    samples = {k: [] for k in law.reported}
    for params, failure in refits:
        if failure:
            fail(failure)
            continue
        for k in law.reported:
            samples[k].append(params[k])
    arrs = {k: np.asarray(v, dtype=np.float64) for k, v in samples.items()}
    n_failed = sum(failures.values())
    q = (1 - level) / 2
    intervals = {}
    for k, v in arrs.items():
        intervals[k] = (float(np.quantile(v, q)), float(np.quantile(v, 1 - q))) if v.size else (math.nan, math.nan)
    if n_failed:
        _warnings.warn(f"bootstrap of the {law.name} law: {n_failed} of {n_resamples} resamples failed "
                       f"and were left out", RuntimeWarning, stacklevel=2)
    return BootstrapIntervals(intervals, level=level, n_resamples=int(n_resamples), n_failed=n_failed,
                              seed=seed, failures=failures, samples=arrs)


def _refit_grid(fn, Xb, yb, fit_opts) -> tuple[dict | None, str | None]:
    """One resample refitted by the fit function: ``(params, None)`` or ``(None, failure)``."""
    try:
        fb = fn(*Xb, yb, **fit_opts)
    except RuntimeError as e:
        return None, f"fit failed: {e}"
    if not fb.success:
        return None, f"did not converge: {fb.message}"
    return fb.params, None


def _refit_warm(law: _Law, X, y, idx: np.ndarray, full_fit: LawFit, fit_opts: dict) -> list:
    """The resamples ``X[idx]``, ``y[idx]`` (``idx``: one row of point indices per resample)
    refitted all at once by :func:`_fit_many`: ``(params, None)`` or ``(None, failure)`` each.

    Each resample is fitted to convergence from the full fit's optimum and two grid points;
    then every grid start (the full points' grid) takes PROBE_STEPS steps, and where one got
    lower than that refit it is taken on to convergence and wins: about one resample in a
    hundred has a lower optimum far from the full fit's, and those sit in the intervals' tails.
    The few still not converged after BATCH_MAX_STEPS steps (crawling along a flat valley) are
    finished by lmfit as in a fit, whose verdict counts. The delta bound is each resample's own
    (below its smallest loss).
    """
    if not len(idx):
        return []
    hd, exponent_bounds = _check_options(fit_opts.get("huber_delta", HUBER_DELTA), fit_opts.get("loss", "huber"),
                                         fit_opts.get("exponent_bounds", EXPONENT_BOUNDS))
    max_steps = fit_opts.get("max_nfev") or BATCH_MAX_STEPS
    bounds = _bounds(law, y, exponent_bounds)
    lo = np.tile([bounds[k][0] for k in law.internal], (len(idx), 1))
    hi = np.tile([bounds[k][1] for k in law.internal], (len(idx), 1))
    hi[:, law.internal.index("delta")] = y[idx].min(axis=1) * (1.0 - DELTA_MARGIN)

    def best_of(which, starts, steps):
        """Resamples ``which`` fitted from each of ``starts`` ((k, p), or one (1, p) per resample
        as (w, 1, p)); per resample the refit with the lowest objective: (x, objective, converged)."""
        starts = np.broadcast_to(starts, (len(which),) + np.shape(starts)[-2:])
        k = starts.shape[1]
        rows = np.repeat(which, k)
        eps = 1e-9 * (hi[rows] - lo[rows])
        x0 = np.clip(starts.reshape(len(rows), -1), lo[rows] + eps, hi[rows] - eps)
        x, f, ok, _ = _fit_many(law, tuple(a[idx[rows]] for a in X), np.log(y[idx[rows]]), x0, lo[rows], hi[rows],
                                hd, steps)
        best = np.arange(len(which)) * k + f.reshape(len(which), k).argmin(axis=1)
        return x[best], f[best], ok[best]

    def vectors(starts):
        return np.array([[s[k] for k in law.internal] for s in starts])

    everyone = np.arange(len(idx))
    x, f, ok = best_of(everyone, vectors(_refit_starts(law, X, y, full_fit.params)), max_steps)
    probe_x, probe_f, _ = best_of(everyone, vectors(_default_starts(law, X, y)), PROBE_STEPS)
    lower = np.flatnonzero(probe_f < f)
    if lower.size:
        x[lower], f[lower], ok[lower] = best_of(lower, probe_x[lower, None, :], max_steps)
    out = []
    for i in everyone:
        values = dict(zip(law.internal, x[i]))
        if not ok[i]:  # lmfit takes over where the vectorised solver stopped, as in a fit
            Xb, yb = tuple(a[idx[i]] for a in X), y[idx[i]]
            res = _fit_one(law, Xb, np.log(yb), values, _bounds(law, yb, exponent_bounds), hd, fit_opts.get("max_nfev"))
            if not res["success"]:
                out.append((None, f"did not converge: {res['message']}"))
                continue
            values = res["values"]
        out.append((_to_reported(law, values), None))
    return out


def _with_bootstrap(fit: LawFit, n_resamples: int, seed: int, level: float,
                    refit: str) -> tuple[LawFit, BootstrapIntervals]:
    """``fit`` with bootstrap intervals over its own points, and the bootstrap."""
    law = _LAWS[fit.law]
    arrays = [fit.points[k] for k in law.inputs] + [fit.points["losses"]]
    opts = {"huber_delta": fit.options["huber_delta"] if fit.options["loss"] == "huber" else HUBER_DELTA,
            "loss": fit.options["loss"], "exponent_bounds": tuple(fit.options["exponent_bounds"]),
            "max_nfev": fit.options.get("max_nfev")}
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore", RuntimeWarning)
        b = bootstrap(FIT_FUNCTIONS[fit.law], *arrays, n_resamples=n_resamples, seed=seed, level=level,
                      full_fit=fit, refit=refit, **opts)
    warns = list(fit.warnings)
    if b.n_failed:
        warns.append(f"bootstrap: {b.n_failed} of {b.n_resamples} resamples failed and were left out "
                     f"({'; '.join(f'{k} x{v}' for k, v in b.failures.items())})")
    if b.n_used < 0.9 * b.n_resamples:
        warns.append(f"bootstrap: only {b.n_used} of {b.n_resamples} resamples were usable; the intervals "
                     f"are unreliable")
    return dataclasses.replace(fit, intervals=dict(b), bootstrap=b.info(), warnings=warns), b


def with_intervals(fit: LawFit, n_resamples: int = 1000, seed: int = 0, level: float = 0.95,
                   refit: str = "warm") -> LawFit:
    """A copy of ``fit`` with bootstrap ``intervals`` (and ``bootstrap`` info) over its own points;
    ``refit`` as for :func:`bootstrap`."""
    return _with_bootstrap(fit, n_resamples, seed, level, refit)[0]


def holdout_largest(values) -> np.ndarray:
    """Mask of the points at the largest value of ``values`` (e.g. the largest N or D)."""
    v = np.asarray(values, dtype=np.float64)
    return v == np.max(v)


def holdout_check(fit_fn, *args, holdout_mask=None, **fit_opts) -> HoldoutCheck:
    """Fit on the points not held out and predict the held-out ones.

    ``holdout_check(fit_model_size_law, n_params, losses, mask)`` (the mask last, or as
    ``holdout_mask=``): a boolean array, True for the points to hold out. Returns the fit,
    the held-out inputs, observed and predicted losses and the relative errors
    ``predicted / observed - 1``.
    """
    law = _law_of(fit_fn)
    names = law.inputs + ("losses",)
    if holdout_mask is None:
        if len(args) != len(names) + 1:
            raise ValueError(f"holdout_check: expected {', '.join(names)} and holdout_mask "
                             f"({len(names) + 1} arrays), got {len(args)}")
        *arrays, holdout_mask = args
    else:
        arrays = list(args)
        if len(arrays) != len(names):
            raise ValueError(f"holdout_check: expected {', '.join(names)} ({len(names)} arrays), got {len(arrays)}")
    n = len(np.asarray(arrays[-1]))
    mask = np.asarray(holdout_mask)
    if mask.dtype != bool:
        raise ValueError(f"holdout_mask: expected a boolean array (True = hold out), got dtype {mask.dtype}")
    if mask.shape != (n,):
        raise ValueError(f"holdout_mask: expected {n} values (one per point), got shape {mask.shape}")
    if not mask.any():
        raise ValueError("holdout_mask: no point is held out; set True for the points to predict")
    if mask.all():
        raise ValueError("holdout_mask: every point is held out; nothing is left to fit")
    X, y = _as_points(law, arrays, names)
    fit = FIT_FUNCTIONS[law.name](*(x[~mask] for x in X), y[~mask], **fit_opts)
    held = tuple(x[mask] for x in X)
    predicted = np.exp(fit.log_predict(*held))
    observed = y[mask]
    return HoldoutCheck(fit=fit, holdout_mask=mask, inputs={k: v for k, v in zip(law.inputs, held)},
                        observed=observed, predicted=predicted, relative_error=predicted / observed - 1.0)


# --------------------------------------------------------------------------------------------
# What the paper reported
# --------------------------------------------------------------------------------------------

PAPER_DATASETS = ("msmarco", "t2ranking")
PAPER_LAWS = ("model_size", "data_size", "joint")
PAPER_VERSIONS = ("v1", "v2")
_PAPER_PARAMS = {"model_size": ("A", "alpha", "delta"), "data_size": ("B", "beta", "delta"),
                 "joint": ("A", "B", "alpha", "beta", "delta")}


def paper_reported(path=None) -> dict:
    """The values the paper reported, ``configs/paper_reported.yaml``, checked.

    ``{dataset: {law: {version: {A/B, alpha/beta, delta, r2, source, [secondary]}}}}``.
    ``None`` where a value was not found in the sources available when the file was written;
    a ``secondary`` block holds values found only in a third-party summary, with its source.
    """
    import yaml

    p = paths.CONFIGS / "paper_reported.yaml" if path is None else paths.resolve(path)
    doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    if not isinstance(doc, dict):
        raise ValueError(f"{p}: expected a mapping at the top")
    for ds in PAPER_DATASETS:
        if ds not in doc:
            raise ValueError(f"{p}: missing dataset {ds!r}")
        for law in PAPER_LAWS:
            for ver in PAPER_VERSIONS:
                try:
                    entry = doc[ds][law][ver]
                except (KeyError, TypeError):
                    raise ValueError(f"{p}: missing {ds}.{law}.{ver}") from None
                if not isinstance(entry.get("source"), str) or not entry["source"].strip():
                    raise ValueError(f"{p}: {ds}.{law}.{ver}: every entry needs a source string")
                blocks = [("", entry)] + ([(".secondary", entry["secondary"])] if "secondary" in entry else [])
                for where, block in blocks:
                    for k in _PAPER_PARAMS[law] + ("r2",):
                        v = block.get(k)
                        if v is not None and not isinstance(v, (int, float)):
                            raise ValueError(f"{p}: {ds}.{law}.{ver}{where}.{k}: expected a number or null, "
                                             f"got {v!r} (write exponents as 3.22e+4: YAML reads 3.22e4 as text)")
    points = doc.get("authors_points")
    if points is not None:
        n, cll = points.get("n_params_mi"), points.get("cll")
        if not (isinstance(n, list) and isinstance(cll, list) and len(n) == len(cll) >= 3
                and all(isinstance(v, (int, float)) and v > 0 for v in n + cll)):
            raise ValueError(f"{p}: authors_points: expected n_params_mi and cll, lists of the same length (3 or "
                             f"more) of positive numbers; got {n!r} and {cll!r}")
    return doc


def paper_value(entry: dict, name: str):
    """A parameter of one reported entry (``reported[dataset][law][version]``): the primary
    value, else the secondary block's (third-party, unchecked), else None."""
    value = entry.get(name)
    if value is None:
        value = (entry.get("secondary") or {}).get(name)
    return value


def fit_authors_points(reported: dict | None = None) -> LawFit:
    """Our model-size fit of the authors' own points (``authors_points``: the released code's
    plot.py, N in 2^20 units as that code counted it), to compare with the law they reported."""
    reported = reported if reported is not None else paper_reported()
    points = reported["authors_points"]
    return fit_model_size_law(np.asarray(points["n_params_mi"], dtype=float) * 2**20, np.asarray(points["cll"]))


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
        fn = {"model_size": model_size_law, "data_size": data_size_law, "joint": joint_law}[self.fit.law]
        n = min(len(v) for v in self.samples.values())
        if n == 0:
            nan = np.full(np.shape(inputs[0]), np.nan)
            return nan, nan
        preds = np.stack([fn(*inputs, **{k: v[i] for k, v in self.samples.items()}) for i in range(n)])
        q = (1 - level) / 2
        return np.quantile(preds, q, axis=0), np.quantile(preds, 1 - q, axis=0)

    def to_dict(self) -> dict:
        d = self.fit.to_dict()
        d["holdout"] = None if self.holdout is None else {
            k: v for k, v in self.holdout.to_dict().items() if k != "fit"}
        if self.holdout is not None:
            d["holdout"]["fit_params"] = _jsonable(self.holdout.fit.params)
        d["bootstrap_samples"] = _jsonable(self.samples)  # for uncertainty downstream (budget optimum)
        return d


def fit_for_study(law: str, *arrays, holdout_mask=None, n_resamples: int = 1000, seed: int = 0,
                  refit: str = "warm") -> StudyFit:
    """Fit ``law`` to the points, add 95% bootstrap intervals (``n_resamples`` resamples of the
    runs, seeded; ``refit`` as for :func:`bootstrap`) with :func:`with_intervals`'s warnings
    and, given ``holdout_mask``, fit without the masked points and predict them."""
    fn = FIT_FUNCTIONS[law]
    fit, b = _with_bootstrap(fn(*arrays), n_resamples, seed, 0.95, refit)
    holdout = None
    if holdout_mask is not None and np.any(holdout_mask):
        try:
            holdout = holdout_check(fn, *arrays, holdout_mask=np.asarray(holdout_mask, dtype=bool))
        except ValueError:  # too few points left without the held-out ones
            holdout = None
    return StudyFit(fit=fit, samples=b.samples, holdout=holdout)


STUDY_INPUTS = {"model_size": ("n_params",), "data_size": ("n_train",), "joint": ("n_params", "n_train")}


def fit_study_laws(points: dict, n_resamples: int = 1000, seed: int = 0,
                   missing: dict | None = None) -> tuple[dict, dict, list[str]]:
    """Notebook 05's fits: each law of ``points`` (law -> the runs of its sweep, a frame with
    run_id, n_params, n_train, cll_test) by :func:`fit_for_study`, holding out the points at
    the largest N (model size, joint) or D (data size). A law with fewer points than its
    parameters + 1 is not fitted. Returns ``(studies, report, lines)``: the StudyFit of each
    fitted law, every law's record for fits.json (with its run ids and ``missing`` runs), and
    what happened in words."""
    missing = missing or {}
    studies, report, lines = {}, {}, []
    for law, frame in points.items():
        needed = len(_LAWS[law].reported) + 1
        if len(frame) < needed:
            report[law] = {"status": f"not fitted: {len(frame)} points, at least {needed} needed",
                           "missing_runs": missing.get(law, [])}
            lines.append(f"{law}: NOT FITTED — only {len(frame)} points (at least {needed} needed).")
            continue
        arrays = [frame[c].to_numpy(float) for c in STUDY_INPUTS[law]] + [frame["cll_test"].to_numpy(float)]
        axis = "n_train" if law == "data_size" else "n_params"
        holdout = holdout_largest(frame[axis].to_numpy(float))
        study = fit_for_study(law, *arrays, holdout_mask=holdout, n_resamples=n_resamples, seed=seed)
        studies[law] = study
        report[law] = {**study.to_dict(), "run_ids": frame["run_id"].tolist(), "missing_runs": missing.get(law, [])}
        lines.append(f"{law}: {study.fit.status}")
        if missing.get(law):
            lines.append(f"   MISSING {len(missing[law])} planned point(s): {', '.join(missing[law])}")
        lines += [f"   warning: {w}" for w in study.fit.warnings]
        if study.holdout is not None:
            errors = ", ".join(f"{100 * e:+.1f}%" for e in study.holdout.relative_error)
            lines.append(f"   extrapolation: fitted without {int(holdout.sum())} point(s) at the largest "
                         f"{'D' if law == 'data_size' else 'N'}, predicted them with relative error {errors}")
    return studies, report, lines


def parameter_table(fits: dict) -> "pandas.DataFrame":
    """Every fitted parameter with its interval, and R², one row each, indexed by (law, parameter)."""
    import pandas as pd

    rows = []
    for law, fit in fits.items():
        for name, value in fit.params.items():
            lo, hi = (fit.intervals or {}).get(name, (math.nan, math.nan))
            rows.append({"law": law, "parameter": name, "value": value, "95% low": lo, "95% high": hi})
        rows.append({"law": law, "parameter": "R² (log L)", "value": fit.r2})
    return pd.DataFrame(rows).set_index(["law", "parameter"])


def compare_with_paper(fits: dict, reported: dict | None = None) -> "pandas.DataFrame":
    """Our fitted values (with 95% intervals) next to the paper's, one row per (law,
    parameter): columns ours, ours_95, and for each dataset and version the paper's value
    (:func:`paper_value`: v2's come from third-party notes, see configs/paper_reported.yaml).
    ``fits``: law name -> LawFit (laws with too few points may be missing)."""
    import pandas as pd

    reported = reported if reported is not None else paper_reported()
    rows = []
    for law_name in ("model_size", "data_size", "joint"):
        fit = fits.get(law_name)
        names = list(_LAWS[law_name].reported) + ["r2"]
        for name in names:
            row = {"law": law_name, "parameter": name}
            if fit is not None:
                row["ours"] = fit.r2 if name == "r2" else fit.params[name]
                if name != "r2" and fit.intervals:
                    lo, hi = fit.intervals[name]
                    row["ours_95"] = f"[{lo:.3g}, {hi:.3g}]"
            for dataset in ("msmarco", "t2ranking"):
                for version in ("v1", "v2"):
                    entry = (reported.get(dataset, {}).get(law_name, {}) or {}).get(version) or {}
                    row[f"paper_{dataset}_{version}"] = paper_value(entry, name)
            rows.append(row)
    return pd.DataFrame(rows)
