"""How far to trust a fitted law beyond its R²: a lack-of-fit test against the per-point means,
and which parameters its points determine (and which combination they do determine instead)."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from .fitting import rival_differences
from .forms import LAWS
from .records import LawFit
from .starts import to_internal

DECADE = 10.0  # an interval whose ends differ by more than this factor does not determine its parameter


def lack_of_fit(fit: LawFit) -> dict:
    """The classical lack-of-fit F test in log space: the law against the saturated model that
    gives every distinct size (every input tuple) its own mean. ``F = (SS_lack / (g - p)) /
    (SS_pure / (n - g))`` with ``SS_pure`` the spread of the draws around their size's mean and
    ``SS_lack = SS_res - SS_pure``; a small ``p_value`` says the law misses the means by more
    than the draws scatter. ``r2_reachable`` is the R² of the saturated model, the most any curve
    could reach. Not testable without repeated sizes or with no more sizes than parameters."""
    ss_pure, g = fit.pure_error()
    n, p = fit.n_points, len(LAWS[fit.law].reported)
    ss_res = float(np.sum(fit.residuals() ** 2))
    out = {"n_points": n, "n_sizes": g, "n_params": p, "ss_residual": ss_res, "ss_pure_error": ss_pure,
           "ss_lack_of_fit": ss_res - ss_pure, "df_lack_of_fit": g - p, "df_pure_error": n - g,
           "r2_reachable": fit.r2_ceiling, "F": None, "p_value": None}
    if n - g < 1 or g - p < 1 or ss_pure <= 0:
        out["status"] = (f"not testable: {g} distinct sizes for {p} parameters and {n - g} repeated points"
                         if ss_pure > 0 or n - g < 1 else "not testable: the repeated points are identical")
        return out
    F = ((ss_res - ss_pure) / (g - p)) / (ss_pure / (n - g))
    p_value = float(stats.f.sf(F, g - p, n - g))
    out.update(F=float(F), p_value=p_value,
               status=f"F = {F:.3g} on ({g - p}, {n - g}) df, p = {p_value:.3g}: "
                      + ("the law misses the per-size means by more than the draws scatter (rejected at 1%)"
                         if p_value < 0.01 else "no evidence of lack of fit at 1%"))
    return out


def rival_parameters(fit: LawFit) -> list[str]:
    """Parameters that other starts, reaching the same objective, put elsewhere: not determined."""
    others = [(st.get("params"), st.get("objective")) for st in fit.starts]
    return sorted({k for diff in rival_differences(fit.params, fit.objective, others, fit.points["losses"])
                   for k in diff})


def local_slopes(fit: LawFit, samples: dict | None = None, level: float = 0.95) -> list[dict]:
    """The law's local slope d log L / d log x for each input x at the geometric middle of the
    sampled range (the other inputs at theirs), with the bootstrap refits' interval: what the
    points determine even when the parameters, traded against each other, are not."""
    law = LAWS[fit.law]
    mids = [float(np.exp(np.mean(np.log(np.unique(fit.points[k]))))) for k in law.inputs]

    def slope(params, j):
        h = 1e-4
        up = tuple(np.array([m * math.exp(h if i == j else 0.0)]) for i, m in enumerate(mids))
        down = tuple(np.array([m * math.exp(-h if i == j else 0.0)]) for i, m in enumerate(mids))
        internal = to_internal(law, params)
        return float((law.logpred(up, **internal) - law.logpred(down, **internal))[0] / (2 * h))

    n = min((len(v) for v in samples.values()), default=0) if samples else 0
    q = (1 - level) / 2
    out = []
    for j, name in enumerate(law.inputs):
        row = {"input": name, "at": mids[j], "slope": slope(fit.params, j), "interval": None}
        if n:
            refits = np.array([slope({k: v[i] for k, v in samples.items()}, j) for i in range(n)])
            refits = refits[np.isfinite(refits)]
            if refits.size:
                row["interval"] = [float(np.quantile(refits, q)), float(np.quantile(refits, 1 - q))]
        out.append(row)
    return out


def identifiability(fit: LawFit, samples: dict | None = None) -> dict:
    """Which parameters the points do not determine (an interval whose ends differ by more than
    a decade or reach zero, or rival optima), and the local slopes they do determine, in words."""
    wide = []
    for k, (lo, hi) in (fit.intervals or {}).items():
        if not (math.isfinite(lo) and math.isfinite(hi)):
            continue
        if (lo <= 0 < hi) or (lo > 0 and hi / lo > DECADE):
            wide.append(k)
    rivals = rival_parameters(fit)
    not_determined = sorted(set(wide) | set(rivals))
    slopes = local_slopes(fit, samples)
    words = []
    if not_determined:
        reasons = ([f"{', '.join(wide)}: 95% interval spans more than a decade or reaches 0"] if wide else []) + \
                  ([f"{', '.join(rivals)}: other starts reach the same objective elsewhere"] if rivals else [])
        words.append(f"not determined by these points: {', '.join(not_determined)} ({'; '.join(reasons)})")
    else:
        words.append("every parameter is determined within a decade")
    for s in slopes:
        interval = "" if s["interval"] is None else f" [{s['interval'][0]:.3g}, {s['interval'][1]:.3g}]"
        words.append(f"determined: d log L / d log {s['input']} = {s['slope']:.3g}{interval} at "
                     f"{s['input']} = {s['at']:.3g} (the middle of the sampled range)")
    return {"not_determined": not_determined, "wide_intervals": wide, "rival_optima": rivals,
            "local_slopes": slopes, "summary": "; ".join(words)}
