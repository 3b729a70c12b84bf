"""Fitting a law: points checked, a Huber loss on log residuals from a grid of starts (all taken
together by a vectorised solver, then finished and judged by lmfit), bounds reported."""

from __future__ import annotations

import math
from typing import Sequence

import lmfit
import numpy as np

from .forms import (
    BATCH_MAX_STEPS, BOUND_TOLERANCE, EXPONENT_BOUNDS, HUBER_AUTO_FACTOR, HUBER_AUTO_FLOOR, HUBER_DELTA, R2_WARN,
    TOLERANCE, LAWS, Law, huber_objective,
)
from .records import LawFit
from .starts import complete_start, default_starts, parameter_bounds, to_internal, to_reported


# --------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------

_MEANING = {"n_params": "model sizes (non-embedding parameters)", "n_train": "data sizes (annotated pairs)",
            "losses": "test losses (contrastive log-likelihood)"}


def as_points(law: Law, arrays: Sequence, names: Sequence[str]) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
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
# Fitting
# --------------------------------------------------------------------------------------------

def _start_vector(law: Law, start: dict, bounds: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(x0, lo, hi)`` as arrays in ``law.internal`` order, ``x0`` moved just inside the bounds."""
    lo = np.array([bounds[k][0] for k in law.internal])
    hi = np.array([bounds[k][1] for k in law.internal])
    eps = np.where(np.isfinite(hi - lo), 1e-9 * (hi - lo), 0.0)
    return np.clip(np.array([float(start[k]) for k in law.internal]), lo + eps, hi - eps), lo, hi


def fit_one(law: Law, X, logy, start: dict, bounds: dict, huber_delta, max_nfev) -> dict:
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


def fit_many(law: Law, X, logy, x0, lo, hi, huber_delta, max_iter: int):
    """Many small fits at once, one per row (vectorised over the rows): the warm-up of every
    start of a fit, and the bootstrap's refits.

    ``X``: the inputs, each ``(m, n)``; ``logy``: ``(m, n)``; ``x0``, ``lo``, ``hi``: ``(m, p)``
    starts and bounds in ``law.internal`` order. Levenberg-Marquardt on iteratively reweighted
    least squares: a step solves ``(J'WJ + lam diag(J'WJ)) s = -J'Wr`` with the Huber weights
    ``W = min(1, huber_delta/|r|)`` of the current residuals (1 for plain least squares), the
    same objective as :func:`fit_one` minimises. A step is clipped to the bounds; a parameter on
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


def _near_bounds(law: Law, values: dict, bounds: dict) -> list[tuple[str, str, float]]:
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


def _bound_warning(law: Law, rep: str, side: str, bound: float) -> str:
    if rep == "delta" and side == "lower":
        return ("delta sits on its lower bound 0: the points show no irreducible loss floor within this "
                "range, and the exponent and scale absorb it; compare with a fit on a wider range")
    if rep == "delta":
        return (f"delta sits on its upper bound {bound:.6g} (just below the smallest observed loss): the "
                f"fit puts the floor at the best point, so the reducible part and its exponent are "
                f"poorly determined")
    if rep == "D_T" and side == "lower":
        return (f"D_T sits on its lower bound {math.exp(bound):.3g} (1e-4 of the smallest D): no transfer "
                f"is visible in these points, and the law is the paper's "
                f"{'joint' if law.name == 'joint_transfer' else 'data-size'} law")
    if rep == "D_T":
        return (f"D_T sits on its upper bound {math.exp(bound):.3g} (1e3 times the largest D): the points "
                f"show no bend from which to place the pretraining's worth, so B and beta are not determined")
    if rep in ("A", "B"):
        return (f"{rep} sits on its {side} bound exp({bound:g}): the scale ran off, so the fit is degenerate "
                f"(typically an exponent near 0)")
    return (f"{rep} sits on its {side} bound {bound:g}: the exponent is not determined by these points "
            f"(too few sizes, too narrow a range, or no visible trend)")


def check_options(huber_delta, loss, exponent_bounds) -> tuple[float | None, tuple[float, float]]:
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


def rival_differences(params: dict, objective: float, others, losses) -> list[list[str]]:
    """For each other optimum ``(params, objective)`` that reaches the same objective (within
    1e-6 relative): the parameters it puts more than 5% away from ``params``. Any such rival
    means those parameters are not determined by the points."""
    scale = max(objective, 1e-12 * len(losses))
    floor = 1e-3 * max(float(np.min(losses)), 1e-12)
    out = []
    for other, value in others:
        if other is None or value is None or not math.isfinite(value) or value > objective + 1e-6 * scale + 1e-15:
            continue
        diff = [k for k in params if abs(other[k] - params[k]) > 0.05 * max(abs(params[k]), floor)]
        if diff:
            out.append(diff)
    return out


def auto_huber_delta(law: Law, X, y, starts=None, exponent_bounds=EXPONENT_BOUNDS, max_nfev=None) -> float:
    """The Huber delta matched to the points' noise: HUBER_AUTO_FACTOR robust standard deviations
    (1.4826 x the median absolute deviation) of a least-squares fit's log-space residuals, at
    least HUBER_AUTO_FLOOR. With the fixed 1e-3, far below a seed spread of 0.01-0.05, every
    residual is in the linear part and the fit is a least-absolute-deviations one."""
    ls = _fit(law, (*X, y), law.inputs + ("losses",), loss="linear", starts=starts,
              exponent_bounds=exponent_bounds, max_nfev=max_nfev)
    r = law.logpred(X, **to_internal(law, ls.params)) - np.log(y)
    sigma = 1.4826 * float(np.median(np.abs(r - np.median(r))))
    return max(HUBER_AUTO_FACTOR * sigma, HUBER_AUTO_FLOOR)


def _fit(law: Law, arrays, names, *, huber_delta=HUBER_DELTA, loss="huber", starts=None,
         exponent_bounds=EXPONENT_BOUNDS, max_nfev=None) -> LawFit:
    X, y = as_points(law, arrays, names)
    huber_scale = "fixed"
    if loss == "huber" and huber_delta == "auto":
        huber_delta, huber_scale = auto_huber_delta(law, X, y, starts, exponent_bounds, max_nfev), "auto"
    hd, (lo, hi) = check_options(huber_delta, loss, exponent_bounds)
    logy = np.log(y)
    bounds = parameter_bounds(law, y, (lo, hi), X)
    if starts is None:
        start_list = default_starts(law, X, y)
    else:
        if isinstance(starts, dict) or not len(starts):
            raise ValueError("starts: expected a non-empty list of dicts of starting values, e.g. "
                             f"[{{{', '.join(repr(k) + ': ...' for k in law.reported)}}}]")
        start_list = [complete_start(law, X, y, dict(s)) for s in starts]

    # Every start at once by the vectorised solver (far from the optimum, where every residual
    # is in the Huber loss's linear part, scipy crawls), then lmfit from where it got to.
    k = len(start_list)
    warm, _, _, steps = fit_many(law, tuple(np.tile(x, (k, 1)) for x in X), np.tile(logy, (k, 1)),
                                  *(np.array(v) for v in zip(*(_start_vector(law, s, bounds) for s in start_list))),
                                  hd, max_nfev or BATCH_MAX_STEPS)
    records = []
    for s, x, n_steps in zip(start_list, warm, steps):
        out = fit_one(law, X, logy, dict(zip(law.internal, x)), bounds, hd, max_nfev)
        records.append((s, {**out, "nfev": out["nfev"] + int(n_steps)}))
    finite = [i for i, (_, o) in enumerate(records) if o["values"] is not None and math.isfinite(o["objective"])]
    if not finite:
        msgs = sorted({o["message"] for _, o in records})
        raise RuntimeError(f"{law.name} law: no start could be fitted ({len(records)} tried): {'; '.join(msgs)}")
    best_i = min(finite, key=lambda i: records[i][1]["objective"])
    best_start, best = records[best_i]
    values = best["values"]
    params = to_reported(law, values)

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
    rivals = rival_differences(params, best["objective"],
                               [(to_reported(law, records[i][1]["values"]), records[i][1]["objective"])
                                for i in finite if i != best_i], y)
    if rivals:
        warns.append(f"{len(rivals)} other start(s) reached the same objective with different "
                     f"{', '.join(sorted({k for d in rivals for k in d}))}: the parameters are not "
                     f"determined well by these points")
    n_ok = sum(1 for _, o in records if o["success"])
    status = (f"{'converged' if best['success'] else 'did NOT converge'} "
              f"(lmfit success={best['success']}: {best['message'].rstrip('.')}); best of {len(records)} "
              f"start(s), {n_ok} of which converged; "
              + (f"on a bound: {', '.join(h[0] for h in hits)}." if hits else "no parameter on a bound."))

    return LawFit(
        law=law.name, params=params, r2=r2, success=best["success"], message=best["message"], status=status,
        objective=best["objective"], start=to_reported(law, best_start),
        starts=[{"start": to_reported(law, s),
                 "params": None if o["values"] is None else to_reported(law, o["values"]),
                 "objective": o["objective"], "success": o["success"], "message": o["message"], "nfev": o["nfev"]}
                for s, o in records],
        bounds_hit=[h[0] for h in hits],
        bounds={rep: (math.exp(bounds[n][0]), math.exp(bounds[n][1])) if n.startswith("log_") else bounds[n]
                for n, rep in zip(law.internal, law.reported)},
        points={**{k: x for k, x in zip(law.inputs, X)}, "losses": y},
        warnings=warns,
        options={"huber_delta": hd, "huber_scale": huber_scale if loss == "huber" else None, "loss": loss,
                 "exponent_bounds": (lo, hi), "max_nfev": max_nfev},
    )


def fit_model_size_law(n_params, losses, **opts) -> LawFit:
    """Fit ``L(N) = (A/N)**alpha + delta``; params A, alpha, delta.

    Options: ``huber_delta`` (1e-3; "auto": matched to the points' noise, :func:`auto_huber_delta`), ``loss`` ("huber" | "linear"), ``starts`` (list of dicts
    of starting values in reported names; missing ones are filled in), ``exponent_bounds``
    ((1e-6, 10)), ``max_nfev``. Intervals: :func:`drscaling.laws.uncertainty.with_intervals`.
    """
    return _fit(LAWS["model_size"], (n_params, losses), ("n_params", "losses"), **opts)


def fit_data_size_law(n_train, losses, **opts) -> LawFit:
    """Fit ``L(D) = (B/D)**beta + delta``; params B, beta, delta. Options as :func:`fit_model_size_law`."""
    return _fit(LAWS["data_size"], (n_train, losses), ("n_train", "losses"), **opts)


def fit_joint_law(n_params, n_train, losses, **opts) -> LawFit:
    """Fit ``L(N, D) = ((A/N)**(alpha/beta) + B/D)**beta + delta``; params A, B, alpha, beta, delta.

    Options as :func:`fit_model_size_law`.
    """
    return _fit(LAWS["joint"], (n_params, n_train, losses), ("n_params", "n_train", "losses"), **opts)


def fit_data_size_transfer_law(n_train, losses, **opts) -> LawFit:
    """Fit ``L(D) = (B/(D + D_T))**beta + delta`` (the transfer form: the pretraining is worth
    ``D_T`` annotated pairs); params B, D_T, beta, delta. D_T is bounded to 1e-4 x min D ..
    1e3 x max D; on its lower bound the fit is the paper's data-size law. Options as
    :func:`fit_model_size_law`.
    """
    return _fit(LAWS["data_size_transfer"], (n_train, losses), ("n_train", "losses"), **opts)


def fit_joint_transfer_law(n_params, n_train, losses, **opts) -> LawFit:
    """Fit ``L(N, D) = ((A/N)**(alpha/beta) + B/(D + D_T))**beta + delta`` (the joint law in the
    transfer form: the pretraining is worth ``D_T`` annotated pairs); params A, B, D_T, alpha,
    beta, delta. D_T is bounded as in :func:`fit_data_size_transfer_law`; on its lower bound the
    fit is the paper's joint law. Options as :func:`fit_model_size_law`.
    """
    return _fit(LAWS["joint_transfer"], (n_params, n_train, losses), ("n_params", "n_train", "losses"), **opts)


FIT_FUNCTIONS = {"model_size": fit_model_size_law, "data_size": fit_data_size_law, "joint": fit_joint_law,
                 "data_size_transfer": fit_data_size_transfer_law, "joint_transfer": fit_joint_transfer_law}
LAW_OF_FIT_FUNCTION = {fn: name for name, fn in FIT_FUNCTIONS.items()}


def fit_law(law: str, *arrays, **opts) -> LawFit:
    """``fit_law("model_size", n_params, losses)`` etc.: the fit function by the law's name."""
    if law not in FIT_FUNCTIONS:
        raise ValueError(f"law: expected one of {list(FIT_FUNCTIONS)}, got {law!r}")
    return FIT_FUNCTIONS[law](*arrays, **opts)
