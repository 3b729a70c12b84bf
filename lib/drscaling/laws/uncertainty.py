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
from .starts import default_starts, parameter_bounds, refit_starts, resample_bounds, to_internal, to_reported


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


def resample_indices(n_points: int, n_resamples: int, seed: int, draws=None, strata=None) -> list[np.ndarray]:
    """Point indices of each bootstrap resample.

    Without ``draws``: ``n_points`` points with replacement. With ``draws`` (a label per point:
    the points of one draw, e.g. a shape's seed with its pretraining, whose offset persists
    across D): whole draws with replacement, as many as there are, each bringing all its points;
    with ``strata`` too (a label per point, constant within a draw, e.g. the shape), as many
    draws as each stratum has, from that stratum only, so that every stratum (every N) stays in
    every resample. A resample's length is then the sum of its draws' sizes."""
    rng = np.random.default_rng(seed)
    if draws is None:
        return list(rng.integers(0, n_points, (int(n_resamples), n_points)))
    draws = np.asarray(draws).astype(str)
    strata = np.zeros(n_points, dtype=int).astype(str) if strata is None else np.asarray(strata).astype(str)
    if len(draws) != n_points or len(strata) != n_points:
        raise ValueError(f"draws and strata: expected a label per point ({n_points}), got {len(draws)} and "
                         f"{len(strata)}")
    groups = {}  # stratum -> [point indices of each of its draws]
    for d in dict.fromkeys(draws):
        members = np.flatnonzero(draws == d)
        if len(set(strata[members])) != 1:
            raise ValueError(f"draw {d!r} spans several strata ({sorted(set(strata[members]))}): a draw must lie "
                             f"in one stratum")
        groups.setdefault(strata[members[0]], []).append(members)
    out = []
    for _ in range(int(n_resamples)):
        picked = [units[i] for units in groups.values() for i in rng.integers(0, len(units), len(units))]
        out.append(np.concatenate(picked))
    return out


RESAMPLE = ("points", "draws", "residuals")


def residual_resamples(law: Law, X, y, full_fit: LawFit, draws, n_resamples: int, seed: int) -> list[np.ndarray]:
    """Losses of ``n_resamples`` synthetic studies at the same inputs, drawn around the full fit
    with the noise structure of the runs: each draw's offset (the mean log-space residual of its
    points, which persists across its D) resampled among the draws' offsets, plus each point's
    own residual (what is left of it) resampled among all points'. Both sets are centred and
    inflated for the degrees of freedom the fit used (offsets by G/(G-1) for G draws, point
    residuals by n/(n - p - G + 1)); a study whose every draw is one point gets ordinary residual
    resampling, inflated by n/(n - p)."""
    n, p = len(y), len(law.reported)
    logfit = law.logpred(X, **to_internal(law, full_fit.params))
    r = np.log(y) - logfit
    _, code = np.unique(np.asarray(draws).astype(str), return_inverse=True)
    G = int(code.max()) + 1
    offset = np.bincount(code, weights=r, minlength=G) / np.bincount(code, minlength=G)
    own = r - offset[code]
    if G == n:  # one point per draw: the offsets are the residuals
        offset, own = offset * math.sqrt(n / max(n - p, 1)), np.zeros(n)
    else:
        offset = offset * math.sqrt(G / max(G - 1, 1))
        own = own * math.sqrt(n / max(n - p - G + 1, 1))
    offset, own = offset - offset.mean(), own - own.mean()
    rng = np.random.default_rng(seed)
    return [np.exp(logfit + rng.choice(offset, G)[code] + rng.choice(own, n)) for _ in range(int(n_resamples))]


def bootstrap(fit_fn, *arrays, n_resamples: int = 1000, seed: int = 0, level: float = 0.95,
              full_fit: LawFit | None = None, refit: str = "warm", resample: str = "points", draws=None,
              strata=None, **fit_opts) -> BootstrapIntervals:
    """Percentile intervals (``level``, 95%) of each parameter by resampling the runs.

    What a resample is (``resample``):

    - ``"points"`` (default): as many points as there are, with replacement;
    - ``"draws"``: whole draws (``draws``: a label per point), within ``strata`` if given
      (:func:`resample_indices`);
    - ``"residuals"``: the points' inputs kept, their losses drawn around the full fit with
      each draw's offset and each point's residual resampled (:func:`residual_resamples`;
      ``draws`` as above, every point its own draw if not given). With few draws (the cpu
      profile's data-size sweep has two), resampling whole draws gives intervals that cover a
      known exponent far less often than they say (tests/test_coverage.py); this one keeps
      every size in every resample and the draws' shared noise in each.

    Each resample is refitted (``full_fit``: reuse a fit of the same points):

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
    if resample not in RESAMPLE:
        raise ValueError(f"resample: expected one of {RESAMPLE}, got {resample!r}")
    if resample == "draws" and draws is None:
        raise ValueError("resample='draws' needs draws (a label per point)")
    X, y = as_points(law, arrays, names)
    fit_opts.pop("bootstrap", None)
    starts = fit_opts.pop("starts", None)  # for the full fit only
    if full_fit is None:
        full_fit = fn(*X, y, starts=starts, **fit_opts)
    if full_fit.options["loss"] == "huber":  # refits use the full fit's delta ("auto" is decided there)
        fit_opts["huber_delta"] = full_fit.options["huber_delta"]
    failures: dict[str, int] = {}

    def fail(reason: str) -> None:
        failures[reason] = failures.get(reason, 0) + 1

    if resample == "residuals":  # every resample is a new set of losses at the same inputs
        labels = np.arange(len(y)) if draws is None else draws
        losses = residual_resamples(law, X, y, full_fit, labels, n_resamples, seed)
        X, y = tuple(np.tile(x, len(losses)) for x in X), np.concatenate(losses)
        resamples = list(np.arange(len(y)).reshape(len(losses), -1))
    else:
        resamples = resample_indices(len(y), n_resamples, seed, draws if resample == "draws" else None, strata)
    fittable = []  # index arrays of the resamples that can be fitted, in the order drawn
    for idx in resamples:
        try:
            as_points(law, [x[idx] for x in X] + [y[idx]], names)
            fittable.append(idx)
        except ValueError as e:
            fail(f"not fittable: {str(e).split(':', 1)[-1].strip().split(';')[0]}")
    if refit == "warm":
        # resamples of whole draws may differ in length: each length is refitted as one batch
        refits = [None] * len(fittable)
        for length in sorted({len(idx) for idx in fittable}):
            which = [i for i, idx in enumerate(fittable) if len(idx) == length]
            batch = np.array([fittable[i] for i in which], dtype=int).reshape(-1, length)
            for i, r in zip(which, refit_warm(law, X, y, batch, full_fit, fit_opts)):
                refits[i] = r
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
    n_points = len(full_fit.points["losses"])
    unit = "point" if draws is None else "draw"
    n_units = n_points if draws is None else len(set(np.asarray(draws).astype(str)))
    return BootstrapIntervals(intervals, level=level, n_resamples=int(n_resamples), n_failed=n_failed,
                              seed=seed, failures=failures, samples=arrs, resample=resample, unit=unit,
                              n_units=n_units, stratified=resample == "draws" and strata is not None)


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


def with_bootstrap(fit: LawFit, n_resamples: int, seed: int, level: float, refit: str, resample: str = "points",
                   draws=None, strata=None) -> tuple[LawFit, BootstrapIntervals]:
    """``fit`` with bootstrap intervals over its own points, and the bootstrap (``resample``,
    ``draws``, ``strata``: as for :func:`bootstrap`)."""
    law = LAWS[fit.law]
    arrays = [fit.points[k] for k in law.inputs] + [fit.points["losses"]]
    opts = {"huber_delta": fit.options["huber_delta"] if fit.options["loss"] == "huber" else HUBER_DELTA,
            "loss": fit.options["loss"], "exponent_bounds": tuple(fit.options["exponent_bounds"]),
            "max_nfev": fit.options.get("max_nfev")}
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore", RuntimeWarning)
        b = bootstrap(FIT_FUNCTIONS[fit.law], *arrays, n_resamples=n_resamples, seed=seed, level=level,
                      full_fit=fit, refit=refit, resample=resample, draws=draws, strata=strata, **opts)
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
    ``predicted / observed - 1``, and beside them the naive prediction "no further
    improvement" (:func:`naive_prediction`): a law that does not beat it does not extrapolate.
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
                        observed=observed, predicted=predicted, relative_error=predicted / observed - 1.0,
                        naive_predicted=naive_prediction(X, y, mask))


def naive_prediction(X, y, mask) -> np.ndarray:
    """For each held-out point, "no further improvement": the mean loss of the fitted points
    at the largest fitted value of the first input (N, or D for the data-size laws), among
    those with the held-out point's other inputs (the joint law: the same D) when there are
    any, else among all of them."""
    fitted = ~mask
    top = fitted & (X[0] == np.max(X[0][fitted]))
    out = []
    for j in np.flatnonzero(mask):
        same = top.copy()
        for x in X[1:]:
            same &= x == x[j]
        out.append(float(np.mean(y[same if same.any() else top])))
    return np.array(out)
