"""The paper's budget model (Fang et al. 2024, Section 6) and the allocation it implies.

Money spent on a dense retriever with N non-embedding parameters trained on D annotated
(query, positive) pairs::

    Z(N, D) = Z_data * D + Z_train * N + Z_infer * N

- ``Z_data``  dollars per annotated pair ($0.6 in the paper);
- ``Z_train`` dollars per parameter for training: ``steps * batch * tokens_per_example *
  6 FLOPs`` per parameter, at a GPU's peak FLOP/s times a utilisation, priced per GPU hour
  (10,000 x 256 x (30 + 2x60) x 6 / (312e12 x 0.25) / 3600 x $3.93 = 3.22e-8 $/parameter);
- ``Z_infer`` dollars per parameter for encoding a corpus once: ``pages * tokens_per_page *
  2 FLOPs`` per parameter at the same price (30e12 x 512 x 2 / (312e12 x 0.25) / 3600 x
  $3.93 = 0.43 $/parameter); the corpus size is the main knob.

With the joint law ``L(N, D) = ((A/N)**(alpha/beta) + B/D)**beta + delta`` the best allocation
of a budget Z spends all of it, ``D = (Z - (Z_train + Z_infer) N) / Z_data``, which leaves a
1-D problem in ``log N``. Along that line both ``(A/N)**(alpha/beta)`` and ``B/D(N)`` are convex
in N, so the bracket (and therefore L, a monotone function of it) has a single minimum: a dense
log grid brackets it and a bounded Brent search in log N refines it. The search minimises the
log of the bracket (a log-sum-exp), whose minimiser is L's and which is not flattened by delta.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.optimize

__all__ = [
    "CostModel",
    "optimal_allocation",
    "loss_along_budget",
    "optimum_under_uncertainty",
    "allocation_table",
    "LAW_KEYS",
]

LAW_KEYS = ("A", "B", "alpha", "beta", "delta")
DEFAULT_N_BOUNDS = (1e5, 1e11)
_GRID_POINTS = 2001  # log-spaced bracketing grid over the feasible N range
_EDGE_RTOL = 1e-6  # an optimum within this relative distance of a bound "sits at" it


@dataclass(frozen=True)
class CostModel:
    """Prices of annotation, training and inference; every default is the paper's."""

    annotation_price: float = 0.6  # $ per annotated (query, positive) pair
    train_steps: int = 10_000
    train_batch: int = 256
    tokens_per_example: int = 150  # 30 query tokens + 2 x 60 passage tokens (positive, negative)
    flops_per_param_token_train: float = 6.0  # forward + backward
    gpu_price_per_hour: float = 3.93  # $ per A100 hour
    peak_flops: float = 312e12  # A100 bf16 peak FLOP/s
    utilisation: float = 0.25
    corpus_pages: float = 30e12  # pages encoded once at inference
    tokens_per_page: int = 512
    flops_per_param_token_infer: float = 2.0  # forward only
    include_inference: bool = True

    def __post_init__(self):
        for f in dataclasses.fields(self):
            if f.name == "include_inference":
                continue
            v = getattr(self, f.name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v < 0:
                raise ValueError(f"CostModel.{f.name} = {v!r}: expected a finite number >= 0")
        if self.peak_flops <= 0 or self.utilisation <= 0:
            raise ValueError(f"CostModel: peak_flops ({self.peak_flops!r}) and utilisation "
                             f"({self.utilisation!r}) must be > 0")

    @property
    def dollars_per_flop(self) -> float:
        """GPU price per hour / (3600 s x peak FLOP/s x utilisation)."""
        return self.gpu_price_per_hour / 3600.0 / (self.peak_flops * self.utilisation)

    @property
    def train_flops_per_param(self) -> float:
        return float(self.train_steps) * self.train_batch * self.tokens_per_example * self.flops_per_param_token_train

    @property
    def infer_flops_per_param(self) -> float:
        return float(self.corpus_pages) * self.tokens_per_page * self.flops_per_param_token_infer

    @property
    def z_data(self) -> float:
        """$ per annotated pair."""
        return float(self.annotation_price)

    @property
    def z_train(self) -> float:
        """$ per parameter for training."""
        return self.train_flops_per_param * self.dollars_per_flop

    @property
    def z_infer(self) -> float:
        """$ per parameter for encoding the corpus (0 when ``include_inference`` is False)."""
        return self.infer_flops_per_param * self.dollars_per_flop if self.include_inference else 0.0

    @property
    def z_params(self) -> float:
        """$ per parameter in all: ``z_train + z_infer``."""
        return self.z_train + self.z_infer

    def cost(self, n_params, n_train):
        """``Z_data * D + (Z_train + Z_infer) * N`` in dollars (arrays broadcast)."""
        n = np.asarray(n_params, dtype=np.float64)
        d = np.asarray(n_train, dtype=np.float64)
        out = self.z_data * d + self.z_params * n
        return float(out) if np.ndim(out) == 0 else out

    def split(self, n_params, n_train) -> dict:
        """Dollars spent on data, training and inference."""
        return {"data": self.z_data * float(n_train), "train": self.z_train * float(n_params),
                "infer": self.z_infer * float(n_params)}

    def derivation(self) -> dict:
        """Each constant with its formula in words, its ingredients and its value."""
        s = self
        return {
            "z_data": {
                "formula": "price per annotated (query, positive) pair",
                "ingredients": {"annotation_price": s.annotation_price},
                "value": s.z_data, "unit": "$ per pair",
            },
            "z_train": {
                "formula": ("train_steps x train_batch x tokens_per_example x flops_per_param_token_train "
                            "/ (peak_flops x utilisation) / 3600 x gpu_price_per_hour"),
                "numbers": (f"{s.train_steps} x {s.train_batch} x {s.tokens_per_example} x "
                            f"{s.flops_per_param_token_train:g} / ({s.peak_flops:g} x {s.utilisation:g}) / 3600 x "
                            f"{s.gpu_price_per_hour:g} = {s.z_train:.4g}"),
                "ingredients": {k: getattr(s, k) for k in (
                    "train_steps", "train_batch", "tokens_per_example", "flops_per_param_token_train",
                    "peak_flops", "utilisation", "gpu_price_per_hour")},
                "flops_per_param": s.train_flops_per_param,
                "gpu_seconds_per_param": s.train_flops_per_param / (s.peak_flops * s.utilisation),
                "value": s.z_train, "unit": "$ per parameter",
            },
            "z_infer": {
                "formula": ("corpus_pages x tokens_per_page x flops_per_param_token_infer "
                            "/ (peak_flops x utilisation) / 3600 x gpu_price_per_hour"
                            + ("" if s.include_inference else "; excluded (include_inference=False): 0")),
                "numbers": (f"{s.corpus_pages:g} x {s.tokens_per_page} x {s.flops_per_param_token_infer:g} / "
                            f"({s.peak_flops:g} x {s.utilisation:g}) / 3600 x {s.gpu_price_per_hour:g} = "
                            f"{s.infer_flops_per_param * s.dollars_per_flop:.4g}"),
                "ingredients": {k: getattr(s, k) for k in (
                    "corpus_pages", "tokens_per_page", "flops_per_param_token_infer",
                    "peak_flops", "utilisation", "gpu_price_per_hour", "include_inference")},
                "flops_per_param": s.infer_flops_per_param,
                "gpu_seconds_per_param": s.infer_flops_per_param / (s.peak_flops * s.utilisation),
                "value": s.z_infer, "unit": "$ per parameter",
            },
        }

    def replace(self, **kw) -> "CostModel":
        """A copy with some ingredients changed (unknown names raise)."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = set(kw) - known
        if unknown:
            raise ValueError(f"CostModel.replace: unknown ingredient(s) {sorted(unknown)}; known: {sorted(known)}")
        return dataclasses.replace(self, **kw)


# --------------------------------------------------------------------------------------------

def _law(law_params) -> dict:
    try:
        p = {k: float(law_params[k]) for k in LAW_KEYS}
    except KeyError as e:
        raise ValueError(f"law_params: missing {e.args[0]!r}; the joint law needs {list(LAW_KEYS)}") from None
    for k in ("A", "B", "alpha", "beta"):
        if not (math.isfinite(p[k]) and p[k] > 0):
            raise ValueError(f"law_params[{k!r}] = {p[k]!r}: expected a finite number > 0")
    if not (math.isfinite(p["delta"]) and p["delta"] >= 0):
        raise ValueError(f"law_params['delta'] = {p['delta']!r}: expected a finite number >= 0")
    return p


def _check_bounds(n_bounds):
    lo, hi = (float(v) for v in n_bounds)
    if not (0 < lo < hi and math.isfinite(hi)):
        raise ValueError(f"n_bounds = {n_bounds!r}: expected 0 < low < high, finite")
    return lo, hi


def _n_max(budget, cost_model, n_hi):
    """Largest N the budget allows with at least one annotated pair, capped at n_hi."""
    if cost_model.z_params <= 0:
        return n_hi
    return min(n_hi, (budget - cost_model.z_data) / cost_model.z_params)


def min_feasible_budget(cost_model: CostModel, n_min: float) -> float:
    """Cost of the smallest model (``n_min``) with one annotated pair."""
    return cost_model.z_params * n_min + cost_model.z_data


def _d_of_n(budget, n, cost_model):
    return (budget - cost_model.z_params * n) / cost_model.z_data


def _log_bracket(log_n, budget, p, cost_model):
    """``log((A/N)**(alpha/beta) + B/D(N))`` along the budget line (nan where D <= 0)."""
    n = np.exp(log_n)
    d = _d_of_n(budget, n, cost_model)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_d = np.where(d > 0, np.log(np.where(d > 0, d, 1.0)), np.nan)
    return np.logaddexp((p["alpha"] / p["beta"]) * (math.log(p["A"]) - log_n), math.log(p["B"]) - log_d)


def _loss_from_log_bracket(lb, p):
    return np.exp(p["beta"] * lb) + p["delta"]


def optimal_allocation(budget, law_params: dict, cost_model: CostModel | None = None,
                       n_bounds=DEFAULT_N_BOUNDS) -> dict:
    """The (N, D) with the lowest joint-law loss that costs exactly ``budget`` dollars.

    Returns ``n_star``, ``d_star``, ``loss``, ``cost`` (dollars ``data``/``train``/``infer``/
    ``total``), ``at_edge`` (``None``, ``"lower"`` or ``"upper"``: the optimum sits at that end
    of the searched range, so the true optimum may lie beyond it), ``note`` (words), the range
    searched ``n_range`` and the constants used. Raises ValueError for an infeasible budget.
    """
    cm = CostModel() if cost_model is None else cost_model
    p = _law(law_params)
    lo, hi = _check_bounds(n_bounds)
    budget = float(budget)
    z_min = min_feasible_budget(cm, lo)
    if not (math.isfinite(budget) and budget >= z_min):
        raise ValueError(
            f"budget ${budget:,.2f} is infeasible: the minimum feasible budget is ${z_min:,.2f}, the cost of "
            f"the smallest model in n_bounds (N = {lo:g} parameters at ${cm.z_params:.4g}/parameter for "
            f"training{' and inference' if cm.include_inference else ''}) plus one annotated pair "
            f"(${cm.z_data:g})")
    n_max = _n_max(budget, cm, hi)
    a, b = math.log(lo), math.log(n_max)
    if b - a < 1e-12:
        log_n = a
    else:
        grid = np.linspace(a, b, _GRID_POINTS)
        vals = _log_bracket(grid, budget, p, cm)
        i = int(np.nanargmin(vals))
        left, right = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
        res = scipy.optimize.minimize_scalar(
            lambda x: float(_log_bracket(np.float64(x), budget, p, cm)),
            bounds=(left, right), method="bounded", options={"xatol": 1e-12, "maxiter": 500})
        log_n = float(res.x) if (np.isfinite(res.fun) and res.fun <= vals[i]) else float(grid[i])
        # the bounded method never evaluates the ends exactly: compare with them
        for end in (a, b):
            if _log_bracket(np.float64(end), budget, p, cm) <= _log_bracket(np.float64(log_n), budget, p, cm):
                log_n = end
    n_star = math.exp(log_n)
    n_star = min(max(n_star, lo), n_max)
    d_star = float(_d_of_n(budget, n_star, cm))
    loss = float(_loss_from_log_bracket(_log_bracket(np.float64(math.log(n_star)), budget, p, cm), p))
    span = b - a
    at_edge = None
    note = "interior optimum"
    if span < 1e-12 or abs(log_n - a) <= _EDGE_RTOL * max(span, 1.0):
        at_edge = "lower"
        note = (f"the optimum sits at the lower end of n_bounds (N = {lo:g}): a smaller model would be "
                f"better still; widen n_bounds to find the true optimum")
    elif abs(log_n - b) <= _EDGE_RTOL * max(span, 1.0):
        at_edge = "upper"
        if n_max < hi:
            note = (f"the optimum sits where the budget leaves one annotated pair (N = {n_max:g}); "
                    f"the data term cannot be reduced further")
        else:
            note = (f"the optimum sits at the upper end of n_bounds (N = {hi:g}): a larger model would be "
                    f"better still; widen n_bounds to find the true optimum")
    split = cm.split(n_star, d_star)
    split["total"] = split["data"] + split["train"] + split["infer"]
    return {
        "budget": budget, "n_star": n_star, "d_star": d_star, "loss": loss, "cost": split,
        "at_edge": at_edge, "note": note, "n_range": (lo, n_max), "n_bounds": (lo, hi),
        "z_data": cm.z_data, "z_train": cm.z_train, "z_infer": cm.z_infer, "law_params": p,
    }


def loss_along_budget(budget, law_params: dict, cost_model: CostModel | None = None, n_grid=None):
    """``(n, d, loss)`` along the line that spends ``budget``; nan where D < 1 (infeasible N).

    ``n_grid`` defaults to 400 log-spaced points over ``DEFAULT_N_BOUNDS`` (paper Figures 7, 8).
    """
    cm = CostModel() if cost_model is None else cost_model
    p = _law(law_params)
    n = np.logspace(*np.log10(DEFAULT_N_BOUNDS), 400) if n_grid is None else np.asarray(n_grid, dtype=np.float64)
    d = _d_of_n(float(budget), n, cm)
    feasible = (d >= 1.0) & (n > 0)
    loss = np.full(n.shape, np.nan)
    if np.any(feasible):
        loss[feasible] = _loss_from_log_bracket(_log_bracket(np.log(n[feasible]), float(budget), p, cm), p)
    return n, np.where(feasible, d, np.nan), loss


def optimum_under_uncertainty(budget, param_samples: dict, cost_model: CostModel | None = None,
                              level: float = 0.95, n_bounds=DEFAULT_N_BOUNDS, law_params: dict | None = None) -> dict:
    """The optimum for each bootstrap parameter sample and percentile intervals of N*, D*, L*.

    ``param_samples``: parameter name -> array, one entry per sample (e.g. ``laws.bootstrap``'s
    ``samples``). Samples with invalid parameters (non-finite, non-positive) are left out and
    counted in ``n_failed``. ``law_params`` (optional) is the point estimate, returned as
    ``point`` for comparison. Returns ``samples`` (arrays n_star, d_star, loss, at_edge),
    ``interval`` and ``median`` for n_star, d_star and loss, ``level``, ``n_used``, ``n_failed``.
    """
    if not 0 < level < 1:
        raise ValueError(f"level = {level!r}: expected a number in (0, 1)")
    missing = [k for k in LAW_KEYS if k not in param_samples]
    if missing:
        raise ValueError(f"param_samples: missing {missing}; the joint law needs {list(LAW_KEYS)}")
    arrs = {k: np.atleast_1d(np.asarray(param_samples[k], dtype=np.float64)) for k in LAW_KEYS}
    sizes = {len(v) for v in arrs.values()}
    if len(sizes) != 1:
        raise ValueError(f"param_samples: arrays of different lengths {({k: len(v) for k, v in arrs.items()})}")
    m = sizes.pop()
    cm = CostModel() if cost_model is None else cost_model
    # infeasibility does not depend on the law: raise once, clearly
    z_min = min_feasible_budget(cm, _check_bounds(n_bounds)[0])
    if not float(budget) >= z_min:
        optimal_allocation(budget, {"A": 1, "B": 1, "alpha": 1, "beta": 1, "delta": 0}, cm, n_bounds)
    out = {k: np.full(m, np.nan) for k in ("n_star", "d_star", "loss")}
    edges = np.full(m, None, dtype=object)
    n_failed = 0
    for j in range(m):
        try:
            r = optimal_allocation(budget, {k: arrs[k][j] for k in LAW_KEYS}, cm, n_bounds)
        except ValueError:
            n_failed += 1
            continue
        for k in out:
            out[k][j] = r[k]
        edges[j] = r["at_edge"]
    q = (100 * (1 - level) / 2, 100 * (1 + level) / 2)
    ok = np.isfinite(out["n_star"])
    interval, median = {}, {}
    for k, v in out.items():
        if ok.any():
            interval[k] = tuple(float(x) for x in np.percentile(v[ok], q))
            median[k] = float(np.median(v[ok]))
        else:
            interval[k], median[k] = (math.nan, math.nan), math.nan
    res = {"budget": float(budget), "level": level, "samples": {**out, "at_edge": edges},
           "interval": interval, "median": median, "n_used": int(ok.sum()), "n_failed": n_failed,
           "n_at_edge": int(sum(e is not None for e in edges))}
    if law_params is not None:
        res["point"] = optimal_allocation(budget, law_params, cm, n_bounds)
    return res


def allocation_table(budgets, law_params: dict, cost_model: CostModel | None = None,
                     n_bounds=DEFAULT_N_BOUNDS) -> pd.DataFrame:
    """One row per budget: N*, D*, L*, the dollars on data/train/infer, the edge flag.

    An infeasible budget gets a row of nan with the reason in ``note``.
    """
    cm = CostModel() if cost_model is None else cost_model
    rows = []
    for z in budgets:
        try:
            r = optimal_allocation(z, law_params, cm, n_bounds)
            rows.append({"budget": r["budget"], "n_star": r["n_star"], "d_star": r["d_star"], "loss": r["loss"],
                         "cost_data": r["cost"]["data"], "cost_train": r["cost"]["train"],
                         "cost_infer": r["cost"]["infer"], "at_edge": r["at_edge"], "note": r["note"]})
        except ValueError as e:
            rows.append({"budget": float(z), "n_star": math.nan, "d_star": math.nan, "loss": math.nan,
                         "cost_data": math.nan, "cost_train": math.nan, "cost_infer": math.nan,
                         "at_edge": None, "note": str(e)})
    return pd.DataFrame(rows, columns=["budget", "n_star", "d_star", "loss", "cost_data", "cost_train",
                                       "cost_infer", "at_edge", "note"])


# ---------------------------------------------------------------- notebook 06's tables

def paper_joint_law(reported: dict) -> tuple[dict | None, str]:
    """The joint law the paper reported for MS MARCO (``configs/paper_reported.yaml``, v1) and a
    caveat: a parameter the v1 text does not give is taken from the ``secondary`` block, and
    the caveat names it. ``(None, reason)`` when a parameter is found in neither."""
    v1 = reported["msmarco"]["joint"]["v1"]
    params = {k: v1.get(k) for k in LAW_KEYS}
    missing = [k for k, v in params.items() if v is None]
    secondary = v1.get("secondary") or {}
    filled = [k for k in missing if secondary.get(k) is not None]
    params.update({k: secondary[k] for k in filled})
    unknown = [k for k, v in params.items() if v is None]
    if unknown:
        return None, f"the paper's joint law lacks {', '.join(unknown)} in configs/paper_reported.yaml"
    return params, (f"{', '.join(filled)} from an unverified secondary source" if filled else "")


def allocations(laws_by_name: dict, cost_models: dict, budgets, n_bounds=DEFAULT_N_BOUNDS) -> pd.DataFrame:
    """:func:`allocation_table` for every law (name -> parameters) and cost model (label ->
    CostModel), with columns ``law`` and ``cost_model``."""
    tables = [allocation_table(budgets, params, cost, n_bounds).assign(law=name, cost_model=label)
              for name, params in laws_by_name.items() for label, cost in cost_models.items()]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def uncertainty_table(param_samples: dict, cost_models: dict, budgets, law_params: dict,
                      n_bounds=DEFAULT_N_BOUNDS) -> tuple[pd.DataFrame, list[str]]:
    """95% intervals of N* and D* under the bootstrap refits of a law, one row per (cost model,
    budget); and a message for each budget the refits could not be used at."""
    rows, messages = [], []
    for label, cost in cost_models.items():
        for z in budgets:
            try:
                u = optimum_under_uncertainty(z, param_samples, cost, n_bounds=n_bounds, law_params=law_params)
            except ValueError as e:
                messages.append(f"${z:,.0f} {label}: {e}")
                continue
            (n_lo, n_hi), (d_lo, d_hi) = u["interval"]["n_star"], u["interval"]["d_star"]
            rows.append({"cost_model": label, "budget": float(z), "n_star_low": n_lo, "n_star_high": n_hi,
                         "d_star_low": d_lo, "d_star_high": d_hi, "samples_used": u["n_used"],
                         "samples_at_edge": u["n_at_edge"]})
    return pd.DataFrame(rows), messages


def allocation_records(table: pd.DataFrame, uncertainty: pd.DataFrame, law: str = "this study") -> list[dict]:
    """The rows of :func:`allocations` as JSON-ready records (nan -> None), the rows of ``law``
    with their N* and D* intervals from ``uncertainty`` where it has them."""
    records = []
    for r in table.to_dict("records"):
        if r["law"] == law and len(uncertainty):
            match = uncertainty[(uncertainty["budget"] == r["budget"]) & (uncertainty["cost_model"] == r["cost_model"])]
            if len(match):
                r.update({k: match.iloc[0][k] for k in ("n_star_low", "n_star_high", "d_star_low", "d_star_high")})
        records.append({k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()})
    return records
