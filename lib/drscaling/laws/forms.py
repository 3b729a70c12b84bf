"""The laws in their direct forms (for reading) and log-sum-exp forms (for fitting), with their
analytic Jacobians, and the fitter's constants: the paper's three, and the data-size and joint
laws in the transfer form of Hernandez et al. 2021 (pretraining worth an effective ``D_T`` pairs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

HUBER_DELTA = 1e-3  # Huber delta in log space (Hoffmann et al. 2022; Besiroglu et al. 2024)
# huber_delta="auto": 1.345 robust sigmas of a least-squares fit's residuals (Huber's 95%-efficient
# tuning), so that the loss is quadratic over the seed noise and robust beyond it; never below this
HUBER_AUTO_FACTOR, HUBER_AUTO_FLOOR = 1.345, 1e-4
EXPONENT_BOUNDS = (1e-6, 10.0)  # alpha, beta: > 0
LOG_SCALE_BOUNDS = (-700.0, 700.0)  # log_A, log_B: A and B finite in float64
# D_T within these factors of the smallest and largest D. At 1e-4 * min D the transfer form is the
# paper's to 1e-4 relative in D (far below run noise): on that bound no transfer is visible. At
# 1e3 * max D the reducible term varies by under beta * 1e-3 across the points: nothing places D_T.
TRANSFER_BOUNDS = (1e-4, 1e3)
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


def data_size_transfer_law(n_train, B, D_T, beta, delta):
    """``(B/(D + D_T))**beta + delta``, computed directly: the data-size law with the
    pretraining worth ``D_T`` annotated pairs (Hernandez et al. 2021, "Scaling Laws for Transfer")."""
    return (B / (np.asarray(n_train, dtype=np.float64) + D_T)) ** beta + delta


def joint_transfer_law(n_params, n_train, A, B, D_T, alpha, beta, delta):
    """``((A/N)**(alpha/beta) + B/(D + D_T))**beta + delta``, computed directly: the joint law with
    the pretraining worth ``D_T`` annotated pairs, as in the data-size law's transfer form."""
    n = np.asarray(n_params, dtype=np.float64)
    d = np.asarray(n_train, dtype=np.float64)
    return ((A / n) ** (alpha / beta) + B / (d + D_T)) ** beta + delta


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


def _log_joint(log_n, log_d, log_A, log_B, alpha, beta, delta):
    """The joint law's log form from log N and log D (the transfer form: log(D + D_T))."""
    p = (alpha / beta) * (log_A - log_n)
    return np.logaddexp(beta * np.logaddexp(p, log_B - log_d), _log_delta(delta))


def log_joint_law(n_params, n_train, log_A, log_B, alpha, beta, delta):
    """``log L(N, D) = logaddexp(beta * logaddexp((alpha/beta)(log_A - log N), log_B - log D), log delta)``."""
    return _log_joint(np.log(np.asarray(n_params, dtype=np.float64)), np.log(np.asarray(n_train, dtype=np.float64)),
                      log_A, log_B, alpha, beta, delta)


def log_data_size_transfer_law(n_train, log_B, log_D_T, beta, delta):
    """``log L(D) = logaddexp(beta * (log_B - logaddexp(log D, log_D_T)), log delta)``."""
    log_d = np.logaddexp(np.log(np.asarray(n_train, dtype=np.float64)), log_D_T)
    return np.logaddexp(beta * (log_B - log_d), _log_delta(delta))


def log_joint_transfer_law(n_params, n_train, log_A, log_B, log_D_T, alpha, beta, delta):
    """``log L(N, D) = logaddexp(beta * logaddexp((alpha/beta)(log_A - log N), log_B - logaddexp(log D, log_D_T)), log delta)``."""
    log_d = np.logaddexp(np.log(np.asarray(n_train, dtype=np.float64)), log_D_T)
    return _log_joint(np.log(np.asarray(n_params, dtype=np.float64)), log_d, log_A, log_B, alpha, beta, delta)


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
class Law:
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


def _joint_columns(log_n, log_d, log_A, log_B, alpha, beta, delta) -> list:
    """d log L / d(log_A, log_B, alpha, beta, delta) of the joint law at log N, log D (the
    transfer form: log(D + D_T))."""
    c = log_A - log_n
    p = (alpha / beta) * c
    v = np.logaddexp(p, log_B - log_d)
    logl = np.logaddexp(beta * v, _log_delta(delta))
    w = np.exp(beta * v - logl)  # share of the reducible term in L
    r = np.exp(p - v)  # share of the N term inside the bracket
    return [
        w * alpha * r,  # d/dlog_A
        w * beta * (1.0 - r),  # d/dlog_B
        w * r * c,  # d/dalpha
        w * (v - r * p),  # d/dbeta
        np.exp(-logl),  # d/ddelta
    ]


def _joint_jac(X, log_A, log_B, alpha, beta, delta):
    n, d = X
    return np.stack(_joint_columns(np.log(n), np.log(d), log_A, log_B, alpha, beta, delta), axis=-1)


def _joint_transfer_jac(X, log_A, log_B, log_D_T, alpha, beta, delta):
    n, d = X
    log_d = np.logaddexp(np.log(d), log_D_T)
    cols = _joint_columns(np.log(n), log_d, log_A, log_B, alpha, beta, delta)
    d_log_d_t = -cols[1] * np.exp(log_D_T - log_d)  # through log(D + D_T): d/dlog_B x D_T / (D + D_T)
    return np.stack(cols[:2] + [d_log_d_t] + cols[2:], axis=-1)


def _transfer_jac(X, log_B, log_D_T, beta, delta):
    (x,) = X
    log_d = np.logaddexp(np.log(x), log_D_T)
    c = log_B - log_d
    u = beta * c
    logl = np.logaddexp(u, _log_delta(delta))
    w = np.exp(u - logl)  # share of the reducible term in L
    t = np.exp(log_D_T - log_d)  # D_T / (D + D_T)
    return np.stack([w * beta, -w * beta * t, w * c, np.exp(-logl)], axis=-1)


LAWS = {
    "model_size": Law(
        "model_size", ("n_params",), ("log_A", "alpha", "delta"), ("A", "alpha", "delta"),
        lambda X, log_A, alpha, delta: log_model_size_law(X[0], log_A, alpha, delta),
        lambda X, log_A, alpha, delta: _single_jac(X, log_A, alpha, delta),
    ),
    "data_size": Law(
        "data_size", ("n_train",), ("log_B", "beta", "delta"), ("B", "beta", "delta"),
        lambda X, log_B, beta, delta: log_data_size_law(X[0], log_B, beta, delta),
        lambda X, log_B, beta, delta: _single_jac(X, log_B, beta, delta),
    ),
    "joint": Law(
        "joint", ("n_params", "n_train"), ("log_A", "log_B", "alpha", "beta", "delta"),
        ("A", "B", "alpha", "beta", "delta"),
        lambda X, log_A, log_B, alpha, beta, delta: log_joint_law(X[0], X[1], log_A, log_B, alpha, beta, delta),
        _joint_jac,
    ),
    "data_size_transfer": Law(
        "data_size_transfer", ("n_train",), ("log_B", "log_D_T", "beta", "delta"), ("B", "D_T", "beta", "delta"),
        lambda X, log_B, log_D_T, beta, delta: log_data_size_transfer_law(X[0], log_B, log_D_T, beta, delta),
        _transfer_jac,
    ),
    "joint_transfer": Law(
        "joint_transfer", ("n_params", "n_train"), ("log_A", "log_B", "log_D_T", "alpha", "beta", "delta"),
        ("A", "B", "D_T", "alpha", "beta", "delta"),
        lambda X, log_A, log_B, log_D_T, alpha, beta, delta: log_joint_transfer_law(
            X[0], X[1], log_A, log_B, log_D_T, alpha, beta, delta),
        _joint_transfer_jac,
    ),
}
