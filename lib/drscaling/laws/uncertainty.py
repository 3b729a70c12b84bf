"""Uncertainty: bootstrap intervals over runs (all resamples refitted at once, warm-started)
and hold-out checks (fit without some points, predict them)."""

from __future__ import annotations

import dataclasses
import math
import warnings as _warnings

import numpy as np

from .fitting import FIT_FUNCTIONS, LAW_OF_FIT_FUNCTION, as_points, check_options, fit_many, fit_one
from .forms import BATCH_MAX_STEPS, EXPONENT_BOUNDS, HUBER_DELTA, PROBE_STEPS, LAWS, Law
from .records import BootstrapIntervals, HoldoutCheck, LawFit
from .starts import parameter_bounds, default_starts, refit_starts, resample_bounds, to_reported


# --------------------------------------------------------------------------------------------
# Bootstrap and extrapolation
# --------------------------------------------------------------------------------------------

def _law_of(fit_fn) -> Law:
    if fit_fn in LAW_OF_FIT_FUNCTION:
        return LAWS[LAW_OF_FIT_FUNCTION[fit_fn]]
    if isinstance(fit_fn, str) and fit_fn in LAWS:
        return LAWS[fit_fn]
    raise ValueError(f"fit_fn: expected one of {', '.join(fn.__name__ for fn in FIT_FUNCTIONS.values())} "
                     f"(or a law name {list(LAWS)}), got {fit_fn!r}")


def bootstrap(fit_fn, *arrays, n_resamples: int = 1000, seed: int = 0, level: float = 0.95,
              full_fit: LawFit | None = None, refit: str = "warm", **fit_opts) -> BootstrapIntervals:
    """Percentile intervals (``level``, 95%) of each parameter by resampling the points.

    Each of ``n_resamples`` resamples draws as many points as there are, with replacement, and
    is refitted (``full_fit``: reuse a fit of the same points):

    - ``refit="warm"`` (default): all resamples at once (:func:`refit_warm`), warm-started
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
    X, y = as_points(law, arrays, names)
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
            as_points(law, [x[idx] for x in X] + [y[idx]], names)
            fittable.append(idx)
        except ValueError as e:
            fail(f"not fittable: {str(e).split(':', 1)[-1].strip().split(';')[0]}")
    if refit == "warm":
        refits = refit_warm(law, X, y, np.array(fittable, dtype=int).reshape(-1, len(y)), full_fit, fit_opts)
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


def refit_warm(law: Law, X, y, idx: np.ndarray, full_fit: LawFit, fit_opts: dict) -> list:
    """The resamples ``X[idx]``, ``y[idx]`` (``idx``: one row of point indices per resample)
    refitted all at once by :func:`fit_many`: ``(params, None)`` or ``(None, failure)`` each.

    Each resample is fitted to convergence from the full fit's optimum and two grid points;
    then every grid start (the full points' grid) takes PROBE_STEPS steps, and where one got
    lower than that refit it is taken on to convergence and wins: about one resample in a
    hundred has a lower optimum far from the full fit's, and those sit in the intervals' tails.
    The few still not converged after BATCH_MAX_STEPS steps (crawling along a flat valley) are
    finished by lmfit as in a fit, whose verdict counts. The delta and D_T bounds are each
    resample's own (below its smallest loss; relative to its D range).
    """
    if not len(idx):
        return []
    hd, exponent_bounds = check_options(fit_opts.get("huber_delta", HUBER_DELTA), fit_opts.get("loss", "huber"),
                                         fit_opts.get("exponent_bounds", EXPONENT_BOUNDS))
    max_steps = fit_opts.get("max_nfev") or BATCH_MAX_STEPS
    lo, hi = resample_bounds(law, X, y, idx, exponent_bounds)

    def best_of(which, starts, steps):
        """Resamples ``which`` fitted from each of ``starts`` ((k, p), or one (1, p) per resample
        as (w, 1, p)); per resample the refit with the lowest objective: (x, objective, converged)."""
        starts = np.broadcast_to(starts, (len(which),) + np.shape(starts)[-2:])
        k = starts.shape[1]
        rows = np.repeat(which, k)
        eps = 1e-9 * (hi[rows] - lo[rows])
        x0 = np.clip(starts.reshape(len(rows), -1), lo[rows] + eps, hi[rows] - eps)
        x, f, ok, _ = fit_many(law, tuple(a[idx[rows]] for a in X), np.log(y[idx[rows]]), x0, lo[rows], hi[rows],
                                hd, steps)
        best = np.arange(len(which)) * k + f.reshape(len(which), k).argmin(axis=1)
        return x[best], f[best], ok[best]

    def vectors(starts):
        return np.array([[s[k] for k in law.internal] for s in starts])

    everyone = np.arange(len(idx))
    x, f, ok = best_of(everyone, vectors(refit_starts(law, X, y, full_fit.params)), max_steps)
    probe_x, probe_f, _ = best_of(everyone, vectors(default_starts(law, X, y)), PROBE_STEPS)
    lower = np.flatnonzero(probe_f < f)
    if lower.size:
        x[lower], f[lower], ok[lower] = best_of(lower, probe_x[lower, None, :], max_steps)
    out = []
    for i in everyone:
        values = dict(zip(law.internal, x[i]))
        if not ok[i]:  # lmfit takes over where the vectorised solver stopped, as in a fit
            Xb, yb = tuple(a[idx[i]] for a in X), y[idx[i]]
            res = fit_one(law, Xb, np.log(yb), values, parameter_bounds(law, yb, exponent_bounds, Xb), hd,
                           fit_opts.get("max_nfev"))
            if not res["success"]:
                out.append((None, f"did not converge: {res['message']}"))
                continue
            values = res["values"]
        out.append((to_reported(law, values), None))
    return out


def with_bootstrap(fit: LawFit, n_resamples: int, seed: int, level: float,
                    refit: str) -> tuple[LawFit, BootstrapIntervals]:
    """``fit`` with bootstrap intervals over its own points, and the bootstrap."""
    law = LAWS[fit.law]
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
    return with_bootstrap(fit, n_resamples, seed, level, refit)[0]


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
    X, y = as_points(law, arrays, names)
    fit = FIT_FUNCTIONS[law.name](*(x[~mask] for x in X), y[~mask], **fit_opts)
    held = tuple(x[mask] for x in X)
    predicted = np.exp(fit.log_predict(*held))
    observed = y[mask]
    return HoldoutCheck(fit=fit, holdout_mask=mask, inputs={k: v for k, v in zip(law.inputs, held)},
                        observed=observed, predicted=predicted, relative_error=predicted / observed - 1.0)
