"""Pre-registration. A confirmation: what a primary run's laws predict for a run on fresh draws,
frozen before that run, and the verdict once it has run.

:func:`predictions` reads the primary's fits.json and results.csv and the confirmation's plan:
each exponent with its 95% interval, and each law's predicted loss (with the primary's bootstrap
band) at every size the confirmation will train, the held-out ones (largest N, largest D)
marked. ``scripts/preregister.py`` writes it with the commit and the profiles' digests, and it is
committed before the confirmation's first run. :func:`verdicts` then says, law by law, whether
the confirmation confirmed it, and why not (CRITERIA).

A study with no earlier run to predict it (a second language) is pre-registered on criteria
alone: :data:`STUDY_CRITERIA`, judged on its own fits by :func:`study_verdicts`.
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


# What a study's own laws must show when no earlier run predicts them (issue 27: cpu-zh, a
# second language): fixed here, before its first run, like CRITERIA.
STUDY_CRITERIA = {
    "r2_at_least": 0.95,  # the law fits its points (R² in log space, fits.json)
    "lack_of_fit_p_at_least": 0.01,  # lack of fit not rejected at 1%; a law it cannot be tested on fails
    "held_out_within": 0.05,  # fitted without the largest N (the largest D for data size), the law predicts the mean loss there within 5%
    "beats_naive": "that hold-out prediction beats 'no further improvement' (skill > 0)",
}


def held_out_sizes(holdout: dict) -> list[dict]:
    """The held-out sizes of a fits.json ``holdout`` record, each with the law's prediction, the
    mean of the runs observed there (its draws) and the relative error of the prediction."""
    cols = list(holdout["inputs"])
    groups: dict[tuple, list[int]] = {}
    for i, size in enumerate(zip(*(holdout["inputs"][c] for c in cols))):
        groups.setdefault(tuple(float(v) for v in size), []).append(i)
    out = []
    for size, idx in sorted(groups.items()):
        predicted = float(np.mean([holdout["predicted"][i] for i in idx]))  # one value per size
        observed = float(np.mean([holdout["observed"][i] for i in idx]))
        out.append({"inputs": dict(zip(cols, size)), "predicted": predicted, "observed": observed,
                    "n_runs": len(idx), "error": predicted / observed - 1})
    return out


def study_verdicts(registered_laws, fits: dict) -> dict:
    """law -> {"holds": bool, "reasons": [...], "checks": {...}} for each pre-registered law of a
    study without a primary run, from its own fits.json (STUDY_CRITERIA)."""
    out = {}
    for law in registered_laws:
        rec = fits["laws"].get(law, {})
        if "params" not in rec:
            out[law] = {"holds": False, "reasons": [f"not fitted: {rec.get('status', 'no such law in fits.json')}"],
                        "checks": {}}
            continue
        checks, reasons = {}, []
        r2 = rec.get("r2")
        checks[f"R² {r2:.3f} >= {STUDY_CRITERIA['r2_at_least']}"] = good = r2 is not None and r2 >= STUDY_CRITERIA["r2_at_least"]
        if not good:
            reasons.append(f"R² {r2:.3f} below {STUDY_CRITERIA['r2_at_least']}")
        p_value = (rec.get("lack_of_fit") or {}).get("p_value")
        if p_value is None:
            checks["lack of fit not rejected at 1%"] = False
            reasons.append(f"lack of fit not testable: {(rec.get('lack_of_fit') or {}).get('status', 'no test')}")
        else:
            checks["lack of fit not rejected at 1%"] = good = p_value >= STUDY_CRITERIA["lack_of_fit_p_at_least"]
            if not good:
                reasons.append(f"lack of fit rejected (p = {p_value:.2g})")
        holdout = rec.get("holdout")
        if not holdout or "predicted" not in holdout:
            checks["held out"] = False
            reasons.append("no hold-out check in fits.json")
        else:
            for s in held_out_sizes(holdout):
                good = abs(s["error"]) <= STUDY_CRITERIA["held_out_within"]
                checks[f"held out {s['inputs']}: predicted {s['predicted']:.4g}, observed {s['observed']:.4g}"] = good
                if not good:
                    reasons.append(f"at {s['inputs']} the law fitted without it predicted {s['predicted']:.4g}, the "
                                   f"runs' mean is {s['observed']:.4g} ({100 * s['error']:+.1f}%, more than "
                                   f"{100 * STUDY_CRITERIA['held_out_within']:.0f}%)")
            skill = holdout.get("skill")
            checks["beats 'no further improvement'"] = good = skill is not None and skill > 0
            if not good:
                reasons.append(f"its hold-out prediction does not beat 'no further improvement' (skill {skill})")
        out[law] = {"holds": not reasons, "reasons": reasons, "checks": checks}
    return out
