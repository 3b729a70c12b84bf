"""Where a fit starts and what it may reach: the default grid of starting points (through the
middle of the data), the refit starts of a bootstrap, and the bounds of each parameter."""

from __future__ import annotations

import math

import numpy as np

from .forms import DELTA_MARGIN, LOG_SCALE_BOUNDS, TRANSFER_BOUNDS, Law


# Default grid of starting points.
_SINGLE_EXPONENTS = (0.1, 0.25, 0.5, 1.0, 2.0)
_DELTA_FRACTIONS = (0.0, 0.25, 0.5, 0.75, 0.95)  # of min(observed L)
_JOINT_ALPHAS = (0.25, 0.6, 1.5)
_JOINT_BETAS = (0.3, 0.7, 1.5)
_JOINT_DELTA_FRACTIONS = (0.0, 0.5, 0.9)
_JOINT_SHARES = (0.25, 0.75)  # share of the N term in the bracket at the middle of the data
_TRANSFER_DELTA_FRACTIONS = (0.0, 0.5, 0.9)  # fewer floors: D_T multiplies the grid


def to_internal(law: Law, rep: dict) -> dict:
    out = {}
    for k, v in rep.items():
        if "log_" + k in law.internal:  # A, B, D_T: fitted as their logs
            out["log_" + k] = math.log(v) if v > 0 else -math.inf
        else:
            out[k] = float(v)
    return out


def to_reported(law: Law, internal: dict) -> dict:
    out = {}
    for name, rep in zip(law.internal, law.reported):
        v = float(internal[name])
        out[rep] = math.exp(v) if name.startswith("log_") else v
    return out


def complete_start(law: Law, X, y, given: dict) -> dict:
    """A full internal start from a partial reported one, scales set through the data's middle.

    Missing exponents default to 0.5 (alpha, beta), a missing delta to half the smallest
    loss, a missing D_T to the smallest D, a missing A (B) so that the law passes through the
    geometric middle of the points.
    """
    unknown = set(given) - set(law.reported)
    if unknown:
        raise ValueError(f"starts: unknown parameter(s) {sorted(unknown)} for the {law.name} law; "
                         f"expected some of {list(law.reported)}")
    s = to_internal(law, given)
    l_min = float(np.min(y))
    delta = min(max(s.get("delta", 0.5 * l_min), 0.0), l_min * (1 - 1e-3))
    s["delta"] = delta
    l_mid = float(np.exp(np.mean(np.log(y))))
    reducible = max(l_mid - delta, 1e-3 * l_mid)
    if law.name in ("joint", "joint_transfer"):
        alpha = s.setdefault("alpha", 0.5)
        beta = s.setdefault("beta", 0.5)
        share = 0.5
        total = math.log(reducible) / beta  # log of the bracket at the middle
        n_mid = float(np.mean(np.log(X[0])))
        d_mid = float(np.mean(np.log(X[1])))
        if law.name == "joint_transfer":  # the D term at the middle: B / (D_mid + D_T)
            d_mid = float(np.logaddexp(d_mid, s.setdefault("log_D_T", float(np.log(np.min(X[1]))))))
        if "log_A" not in s:
            s["log_A"] = n_mid + (beta / alpha) * (total + math.log(share))
        if "log_B" not in s:
            s["log_B"] = d_mid + total + math.log(1 - share)
    elif law.name == "data_size_transfer":
        beta = s.setdefault("beta", 0.5)
        log_d_t = s.setdefault("log_D_T", float(np.log(np.min(X[0]))))  # worth the smallest sweep point
        if "log_B" not in s:  # (B / (D_mid + D_T))**beta = reducible at the geometric middle D_mid
            s["log_B"] = float(np.logaddexp(np.mean(np.log(X[0])), log_d_t)) + math.log(reducible) / beta
    else:
        e_name, s_name = law.internal[1], law.internal[0]
        e = s.setdefault(e_name, 0.5)
        if s_name not in s:
            s[s_name] = float(np.mean(np.log(X[0]))) + math.log(reducible) / e
    return s


def default_starts(law: Law, X, y) -> list[dict]:
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
    elif law.name == "joint_transfer":  # the joint grid with one share, x D_T at the ends of D
        for d_t in (float(np.min(X[1])), float(np.max(X[1]))):
            for alpha in _JOINT_ALPHAS:
                for beta in _JOINT_BETAS:
                    for frac in _JOINT_DELTA_FRACTIONS:
                        starts.append(complete_start(law, X, y, {"D_T": d_t, "alpha": alpha, "beta": beta,
                                                                  "delta": frac * l_min}))
    elif law.name == "data_size_transfer":
        for d_t in _transfer_grid(X[0]):
            for e in _SINGLE_EXPONENTS:
                for frac in _TRANSFER_DELTA_FRACTIONS:
                    starts.append(complete_start(law, X, y, {"D_T": d_t, "beta": e, "delta": frac * l_min}))
    else:
        for e in _SINGLE_EXPONENTS:
            for frac in _DELTA_FRACTIONS:
                starts.append(complete_start(law, X, y, {law.reported[1]: e, "delta": frac * l_min}))
    return starts


def _transfer_grid(d) -> list[float]:
    """D_T of the starts: from well below the smallest D to above the largest."""
    lo, hi = float(np.min(d)), float(np.max(d))
    return [0.01 * lo, lo, math.sqrt(lo * hi), hi, 10.0 * hi]


def refit_starts(law: Law, X, y, best_reported: dict) -> list[dict]:
    """Starts for bootstrap refits: the full fit's optimum and two points of the grid."""
    l_min = float(np.min(y))
    if law.name == "joint":
        others = [{"alpha": 0.6, "beta": 0.7, "delta": 0.5 * l_min}, {"alpha": 0.25, "beta": 1.5, "delta": 0.0}]
    elif law.name == "joint_transfer":  # the joint law's, with a transfer worth the smallest D
        d_min = float(np.min(X[1]))
        others = [{"D_T": d_min, "alpha": 0.6, "beta": 0.7, "delta": 0.5 * l_min},
                  {"D_T": d_min, "alpha": 0.25, "beta": 1.5, "delta": 0.0}]
    elif law.name == "data_size_transfer":  # a transfer worth the smallest D, and next to none
        d_min = float(np.min(X[0]))
        others = [{"D_T": d_min, "beta": 0.5, "delta": 0.5 * l_min}, {"D_T": 0.01 * d_min, "beta": 1.0, "delta": 0.0}]
    else:
        e = law.reported[1]
        others = [{e: 0.5, "delta": 0.5 * l_min}, {e: 1.0, "delta": 0.0}]
    return [complete_start(law, X, y, dict(best_reported))] + [complete_start(law, X, y, o) for o in others]


def parameter_bounds(law: Law, y, exponent_bounds, X=None) -> dict:
    """Bounds of each internal parameter; ``X`` (the inputs) is needed for D_T's, which are
    relative to the smallest and largest D (TRANSFER_BOUNDS)."""
    l_min = float(np.min(y))
    b = {}
    for name in law.internal:
        if name == "log_D_T":
            d = _train_sizes(law, X)
            b[name] = (math.log(TRANSFER_BOUNDS[0] * float(np.min(d))),
                       math.log(TRANSFER_BOUNDS[1] * float(np.max(d))))
        elif name.startswith("log_"):
            b[name] = LOG_SCALE_BOUNDS
        elif name == "delta":
            b[name] = (0.0, l_min * (1.0 - DELTA_MARGIN))
        else:
            b[name] = tuple(float(v) for v in exponent_bounds)
    return b


def _train_sizes(law: Law, X) -> np.ndarray:
    """The D of the points (the input D_T is measured against)."""
    return np.asarray(X[law.inputs.index("n_train")])


def resample_bounds(law: Law, X, y, idx, exponent_bounds) -> tuple[np.ndarray, np.ndarray]:
    """``(lo, hi)``, one row per resample ``idx`` (rows of point indices): the bounds of a fit
    of that resample alone (delta below its smallest loss, D_T relative to its D range)."""
    bounds = parameter_bounds(law, y, exponent_bounds, X)
    lo = np.tile([bounds[k][0] for k in law.internal], (len(idx), 1))
    hi = np.tile([bounds[k][1] for k in law.internal], (len(idx), 1))
    hi[:, law.internal.index("delta")] = y[idx].min(axis=1) * (1.0 - DELTA_MARGIN)
    if "log_D_T" in law.internal:
        j, d = law.internal.index("log_D_T"), _train_sizes(law, X)[idx]
        lo[:, j] = np.log(TRANSFER_BOUNDS[0] * d.min(axis=1))
        hi[:, j] = np.log(TRANSFER_BOUNDS[1] * d.max(axis=1))
    return lo, hi
