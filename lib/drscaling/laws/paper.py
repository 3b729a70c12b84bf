"""The paper's values (``configs/paper_reported.yaml``), our fitter on the authors' own points,
and our fits beside the paper's."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import paths
from .fitting import fit_model_size_law
from .forms import LAWS
from .records import LawFit

if TYPE_CHECKING:  # annotations only
    import pandas


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
        names = list(LAWS[law_name].reported) + ["r2"]
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
