"""A pre-registered confirmation: what a primary run's laws predict for a run on fresh draws,
frozen before that run, and the verdict once it has run.

:func:`predictions` reads the primary's fits.json and results.csv and the confirmation's plan:
each exponent with its 95% interval, and each law's predicted loss (with the primary's bootstrap
band) at every size the confirmation will train, the held-out ones (largest N, largest D)
marked. ``scripts/preregister.py`` writes it with the commit and the profiles' digests, and it is
committed before the confirmation's first run. :func:`verdicts` then says, law by law, whether
the confirmation confirmed it, and why not (CRITERIA).
"""

from __future__ import annotations

import math

import numpy as np

from . import laws

# What counts as confirmed, for every law: fixed here, before any confirmation run.
CRITERIA = {
    "exponent_in_primary_interval": "each exponent of the confirmation's fit lies in the primary's 95% interval",
    "held_out_within": 0.05,  # the primary law predicts the confirmation's mean loss at each held-out size within 5%
    "beats_naive": "the confirmation's own hold-out check beats 'no further improvement' (skill > 0)",
    "lack_of_fit_p_at_least": 0.01,  # lack of fit not rejected at 1% (where testable)
}
EXPONENTS = ("alpha", "beta")


def _sizes(frame, law: str) -> list[tuple]:
    cols = laws.STUDY_INPUTS[law]
    return sorted({tuple(float(v) for v in row) for row in frame[list(cols)].itertuples(index=False)})


def predictions(primary_fits: dict, primary_results, confirm_sizes: dict) -> dict:
    """law -> the primary's exponents with intervals and its predicted loss at each of the
    confirmation's sizes (``confirm_sizes``: law -> list of input tuples, e.g. (N,) or (N, D))."""
    out = {}
    for law, sizes in confirm_sizes.items():
        rec = primary_fits["laws"].get(law, {})
        if "params" not in rec or not sizes:
            out[law] = {"status": rec.get("status", "not fitted in the primary run")}
            continue
        fit = laws.LawFit.from_dict(rec)
        samples = {k: np.asarray(v, dtype=np.float64) for k, v in (rec.get("bootstrap_samples") or {}).items()}
        study = laws.StudyFit(fit=fit, samples=samples, holdout=None)
        inputs = [np.array([s[i] for s in sizes]) for i in range(len(sizes[0]))]
        predicted = np.exp(fit.log_predict(*inputs))
        low, high = study.band(*inputs)
        largest = max(s[0] for s in sizes)
        out[law] = {
            "exponents": {k: {"primary": fit.params[k], "interval": list((fit.intervals or {}).get(k, (math.nan,) * 2))}
                          for k in EXPONENTS if k in fit.params},
            "points": [{"inputs": dict(zip(laws.STUDY_INPUTS[law], s)), "held_out": s[0] == largest,
                        "predicted_loss": float(p), "band": [float(lo), float(hi)]}
                       for s, p, lo, hi in zip(sizes, predicted, low, high)],
            "primary_checks": {"lack_of_fit_p": (rec.get("lack_of_fit") or {}).get("p_value"),
                               "hold_out_skill": (rec.get("holdout") or {}).get("skill"),
                               "not_determined": (rec.get("identifiability") or {}).get("not_determined")},
        }
    return out


def confirm_sizes_from_plan(planned, n_params_of: dict) -> dict:
    """law -> the sizes the confirmation trains for it (N from ``n_params_of``: model label ->
    N, as the primary counted it; the shapes are the same)."""
    import pandas as pd

    rows = [{"model": p.spec.model_name, "n_train": p.spec.n_train, "sweeps": ",".join(p.sweeps)}
            for p in planned if p.sweeps and "pretraining" not in p.sweeps]
    frame = pd.DataFrame(rows)
    frame["n_params"] = frame["model"].map(n_params_of)
    points = laws.sweep_points(frame)
    return {law: _sizes(f, law) for law, f in points.items() if len(f)}


def verdicts(registered: dict, confirm_fits: dict, confirm_results) -> dict:
    """law -> {"confirmed": bool | None, "reasons": [...], "checks": {...}} for each law the
    pre-registration predicted, from the confirmation's fits.json and results (status ok)."""
    out = {}
    ok = confirm_results[confirm_results["status"] == "ok"]
    points = laws.sweep_points(ok)
    for law, pred in registered["laws"].items():
        rec = confirm_fits["laws"].get(law, {})
        if "points" not in pred:
            out[law] = {"confirmed": None, "reasons": [f"no prediction: {pred.get('status')}"], "checks": {}}
            continue
        if "params" not in rec:
            out[law] = {"confirmed": False, "reasons": [f"not fitted in the confirmation: {rec.get('status')}"],
                        "checks": {}}
            continue
        checks, reasons = {}, []
        for name, e in pred["exponents"].items():
            lo, hi = e["interval"]
            value = rec["params"][name]
            checks[f"{name} in the primary's interval"] = bool(lo <= value <= hi)
            if not lo <= value <= hi:
                reasons.append(f"{name} {value:.3g} outside the primary's 95% interval [{lo:.3g}, {hi:.3g}]")
        frame = points.get(law)
        cols = laws.STUDY_INPUTS[law]
        for p in (q for q in pred["points"] if q["held_out"]):
            mask = np.ones(len(frame), dtype=bool)
            for c in cols:
                mask &= np.isclose(frame[c].to_numpy(float), p["inputs"][c])
            if not mask.any():
                reasons.append(f"held-out size {p['inputs']} has no run with status ok")
                checks[f"held out {p['inputs']}"] = False
                continue
            observed = float(frame.loc[mask, "cll_test"].mean())
            error = p["predicted_loss"] / observed - 1
            good = abs(error) <= CRITERIA["held_out_within"]
            checks[f"held out {p['inputs']}: predicted {p['predicted_loss']:.4g}, observed {observed:.4g}"] = good
            if not good:
                reasons.append(f"at {p['inputs']} the primary law predicted {p['predicted_loss']:.4g}, the "
                               f"confirmation's mean is {observed:.4g} ({100 * error:+.1f}%, more than "
                               f"{100 * CRITERIA['held_out_within']:.0f}%)")
        skill = (rec.get("holdout") or {}).get("skill")
        if skill is not None:
            checks["beats 'no further improvement'"] = bool(skill > 0)
            if skill <= 0:
                reasons.append(f"its hold-out check does not beat 'no further improvement' (skill {skill:.2f})")
        p_value = (rec.get("lack_of_fit") or {}).get("p_value")
        if p_value is not None:
            checks["lack of fit not rejected at 1%"] = bool(p_value >= CRITERIA["lack_of_fit_p_at_least"])
            if p_value < CRITERIA["lack_of_fit_p_at_least"]:
                reasons.append(f"lack of fit rejected (p = {p_value:.2g})")
        out[law] = {"confirmed": not reasons, "reasons": reasons, "checks": checks}
    return out
