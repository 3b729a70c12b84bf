"""The annotation-quality study (paper Section 5, notebook 04): one data-size law per way of
annotating, and what the laws say about how the methods trade against each other.

- :func:`fit_methods` fits ``L(D) = (B/D)**beta + delta`` to each method's runs with
  :func:`drscaling.laws.fit_for_study` (Huber loss in log space, bootstrap over runs);
- :func:`pairs_needed` inverts a law: the D at which it reaches a loss L,
  ``D = B / (L - delta)**(1/beta)`` (infinite when L <= delta: that loss is out of reach);
- :func:`exchange_rates` reads off the laws how many pairs of a method are worth one pair of
  the reference (human) method at the losses the reference reaches at given D, with
  bootstrap intervals;
- :func:`noise_trend` lines up the noisy_human fits by noise rate, with the clean human fit
  at rate 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import grid, laws
from .generator import quality_by_method
from .methods import model_available, new_query_per_round, with_defaults
from .pairs import stored_pairs, training_passages

NEEDED_POINTS = 4  # the data-size law has three parameters


def available_methods(planned, n_train_values, n_human: int, n_passages: int) -> tuple[dict, dict]:
    """Which of a profile's annotation methods can run here: ``({label: (method, options)},
    {label: why not})``, in plan order. A method is skipped when its generator model is not at
    hand, or when the largest D asks for more pairs than it can make: the human training pairs
    (``n_human``) for human and noisy_human, one query per training passage (``n_passages``) for
    a method that would repeat a passage's query (top-k keywords, a generator); ICT, crop and
    sampled keywords make another pair when a passage comes round again. ``planned``: the
    plan's runs (pretraining runs are not methods)."""
    methods, skipped = {}, {}
    for p in planned:
        label = p.spec.annotation_label
        if "annotation" not in p.sweeps or label in methods or label in skipped:
            continue
        ok, why = model_available(p.spec.annotation, p.spec.annotation_options)
        if p.spec.annotation in ("human", "noisy_human"):
            cap, source = n_human, "the human training pairs give"
        elif new_query_per_round(p.spec.annotation, p.spec.annotation_options):
            cap, source = math.inf, ""
        else:
            cap, source = n_passages, "one query per passage gives"
        if ok and max(n_train_values) > cap:
            ok, why = False, (f"D = {max(n_train_values):,} asked, but {source} at most {cap:,} "
                              f"pairs here; lower grid.annotation_n_train")
        if ok:
            methods[label] = (p.spec.annotation, p.spec.annotation_options)
        else:
            skipped[label] = why
    return methods, skipped


def fit_methods(results: pd.DataFrame, n_resamples: int = 1000, seed: int = 0) -> tuple[dict, dict]:
    """Fit the data-size law to each annotation label's runs with status ok.

    ``results``: columns ``annotation`` (the label), ``n_train``, ``cll_test``, ``status``,
    ``run_id``. Returns ``(studies, report)``: label -> StudyFit for the fitted methods, and
    label -> a JSON-able record for every method (fitted or why not).
    """
    for column in ("annotation", "n_train", "cll_test", "status", "run_id"):
        if column not in results:
            raise KeyError(f"results: missing column {column!r} (expected the runs of the annotation sweep)")
    from tqdm.auto import tqdm

    studies, report = {}, {}
    groups = results.groupby("annotation", sort=False)
    for label, frame in tqdm(groups, total=groups.ngroups, desc="fit per method", unit="method", mininterval=2):
        ok = frame[frame["status"] == "ok"].sort_values("n_train")
        left_out = frame[frame["status"] != "ok"]
        record = {"run_ids": ok["run_id"].tolist(),
                  "left_out": dict(zip(left_out["run_id"], left_out["status"]))}
        if ok["n_train"].nunique() < NEEDED_POINTS:
            record["status"] = (f"not fitted: {ok['n_train'].nunique()} distinct D with status ok, "
                                f"at least {NEEDED_POINTS} needed")
            report[label] = record
            continue
        d, y = ok["n_train"].to_numpy(float), ok["cll_test"].to_numpy(float)
        holdout = d == d.max() if len(d) > NEEDED_POINTS else None  # needs 4 points left
        # each seed a draw (one shape per study): its offset persists across D
        study = laws.fit_for_study("data_size", d, y, holdout_mask=holdout, n_resamples=n_resamples, seed=seed,
                                   draws=laws.run_draws(ok))
        studies[label] = study
        report[label] = {**study.to_dict(), **record}
    return studies, report


def pairs_needed(loss, B, beta, delta):
    """D at which ``(B/D)**beta + delta`` equals ``loss``; inf where loss <= delta."""
    loss, B, beta, delta = (np.asarray(v, dtype=np.float64) for v in (loss, B, beta, delta))
    gap = loss - delta
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # in logs: a tiny beta (a flat law) sends D to 0 or inf instead of overflowing
        log_d = np.log(B) - np.log(np.where(gap > 0, gap, 1.0)) / beta
        out = np.where(gap > 0, np.exp(log_d), np.inf)
    return float(out) if out.ndim == 0 else out


def _samples(study) -> np.ndarray:
    """(n, 3) bootstrap refits of B, beta, delta."""
    s = study.samples
    return np.column_stack([np.asarray(s[k], dtype=np.float64) for k in ("B", "beta", "delta")])


def _quantile(values: np.ndarray, q: float) -> float:
    # no interpolation: some ratios are infinite (a loss out of a resample's reach)
    return float(np.quantile(values, q, method="inverted_cdf")) if len(values) else math.nan


def exchange_rates(studies: dict, reference: str = "human", at_n_train=(), level: float = 0.95) -> pd.DataFrame:
    """How many pairs of each method are worth one reference pair.

    For each D in ``at_n_train``: the loss the reference law predicts at D, the D' at which
    each other method's law reaches that loss, and the rate D'/D (inf: the method's floor
    delta lies above that loss). The interval pairs the i-th bootstrap refit of the reference
    with the i-th of the method, the loss being the reference refit's at D. :func:`fit_methods`
    draws every method's resamples from the same seed, so methods with as many runs (the same D
    and seeds) are resampled with the same indices: a **paired** resample, which is right when
    the runs of a D and seed share their pretraining and their subset of passages, so that their
    noise is shared too: with the draws' offsets and the points' residuals resampled
    (:func:`drscaling.laws.bootstrap`'s ``residuals``), the same offsets' and residuals' positions
    are drawn for both (a resample that failed for one method and not the other shifts the
    pairing from there on; ``resamples`` counts the pairs used). ``extrapolated`` marks a D'
    outside the method's runs (beyond its largest or below its smallest);
    ``on_bound`` names parameters of either fit on a bound (a beta on its lower bound is a flat
    law: its rates are not determined).

    ``reach_n_train`` is what the method's largest run is worth in reference pairs: the D at
    which the reference law reaches the loss the method's law gives at its largest D. ``status``
    says what a rate rests on: ``within its runs`` (D' inside the method's runs: a measured
    rate), ``beyond its runs`` (the law extrapolated past the method's largest run, whose loss
    is that of ``reach_n_train`` reference pairs: the runs do not reach this loss), ``below its
    runs`` (D' smaller than the method's smallest run: the law extrapolated downwards, where no
    run of the method was made) or ``out of reach`` (the method's floor delta lies above the
    loss).
    """
    if reference not in studies:
        raise KeyError(f"exchange_rates: no fitted law for the reference method {reference!r} "
                       f"(fitted: {sorted(studies)})")
    ref = studies[reference]
    rb = ref.fit.params
    ref_samples = _samples(ref)
    q = (1 - level) / 2
    rows = []
    for label, study in studies.items():
        if label == reference:
            continue
        p = study.fit.params
        ms = _samples(study)
        n = min(len(ref_samples), len(ms))
        d_min, d_max = (float(f(study.fit.points["n_train"])) for f in (np.min, np.max))
        reach = pairs_needed(laws.data_size_law(d_max, p["B"], p["beta"], p["delta"]), rb["B"], rb["beta"], rb["delta"])
        for d in at_n_train:
            loss = float(laws.data_size_law(d, rb["B"], rb["beta"], rb["delta"]))
            needed = pairs_needed(loss, p["B"], p["beta"], p["delta"])
            if n:
                loss_b = laws.data_size_law(d, ref_samples[:n, 0], ref_samples[:n, 1], ref_samples[:n, 2])
                rate_b = pairs_needed(loss_b, ms[:n, 0], ms[:n, 1], ms[:n, 2]) / d
            else:
                rate_b = np.array([])
            rows.append({
                "method": label, "reference": reference, "reference_n_train": int(d), "loss": loss,
                "n_train_needed": needed, "rate": needed / d,
                "rate_low": _quantile(rate_b, q), "rate_high": _quantile(rate_b, 1 - q),
                "unreachable_share": float(np.mean(~np.isfinite(rate_b))) if len(rate_b) else math.nan,
                "extrapolated": bool(needed > d_max or needed < d_min), "resamples": int(n),
                "reach_n_train": reach, "smallest_n_train": int(d_min),
                "status": ("out of reach" if not math.isfinite(needed) else "beyond its runs" if needed > d_max
                           else "below its runs" if needed < d_min else "within its runs"),
                "on_bound": ",".join(study.fit.bounds_hit + [f"human:{b}" for b in ref.fit.bounds_hit]),
            })
    return pd.DataFrame(rows, columns=["method", "reference", "reference_n_train", "loss", "n_train_needed", "rate",
                                       "rate_low", "rate_high", "unreachable_share", "extrapolated", "resamples", "reach_n_train",
                                       "smallest_n_train", "status", "on_bound"])


def law_table(studies: dict, report: dict) -> pd.DataFrame:
    """One row per method: B, beta, delta with their bootstrap intervals, R², points, status."""
    rows = []
    for label, rec in report.items():
        row = {"method": label, "points": len(rec.get("run_ids", [])), "status": rec.get("status")}
        if label in studies:
            fit = studies[label].fit
            row.update(r2=fit.r2, bootstrap_failed=(fit.bootstrap or {}).get("n_failed"))
            for k in ("B", "beta", "delta"):
                row[k] = fit.params[k]
                lo, hi = (fit.intervals or {}).get(k, (math.nan, math.nan))
                row[f"{k}_low"], row[f"{k}_high"] = lo, hi
        rows.append(row)
    cols = ["method", "B", "B_low", "B_high", "beta", "beta_low", "beta_high", "delta", "delta_low", "delta_high",
            "r2", "points", "bootstrap_failed", "status"]
    return pd.DataFrame(rows).reindex(columns=cols)


def noise_trend(table: pd.DataFrame, rates: dict, clean: str = "human") -> pd.DataFrame:
    """The rows of :func:`law_table` for ``clean`` (rate 0) and each noisy label (label -> rate),
    sorted by rate."""
    chosen = {clean: 0.0, **rates}
    out = table[table["method"].isin(chosen)].copy()
    out.insert(1, "noise_rate", out["method"].map(chosen))
    return out.sort_values("noise_rate").reset_index(drop=True)


__all__ = ["fit_methods", "pairs_needed", "exchange_rates", "law_table", "noise_trend"]


# ---------------------------------------------------------------- notebook 04's study, as one object

RESULT_COLUMNS = ["run_id", "annotation", "model", "n_params", "n_train", "seed", "cll_test", "cll_validation",
                  "mrr_at_10", "ndcg_at_10", "recall_at_100", "train_passages", "noisy_pairs", "best_step",
                  "train_seconds", "eval_seconds", "status"]


def no_study_record(prof) -> dict:
    """annotation.json of a profile without an annotation study (notebooks 05 and 06 run on)."""
    reason = f"{prof.path}: grid.annotation_methods is empty: this profile has no annotation study"
    return {"profile": prof.name, "study": False, "reason": reason, "complete": True, "failed": []}


@dataclass
class AnnotationStudy:
    """Notebook 04's study of a profile, stage by stage: :func:`plan_study` decides which methods
    run here and their runs; :meth:`pairs_overview` shows their pairs; :meth:`assess_generators`
    the generator trained here; :meth:`train` runs the grid; :meth:`analyse` fits one data-size
    law per method, the noise trend and the exchange rates; :meth:`record` is annotation.json."""

    profile: object
    data: object
    n_train: list
    methods: dict  # label -> (method, options), in plan order
    skipped: dict  # label -> why it cannot run here
    planned: list  # the study's runs and the pretraining runs they start from
    n_passages: int
    n_human: int
    generators: dict = field(default_factory=dict)
    records: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    results: pd.DataFrame | None = None  # every study run, ordered by method and D
    ok: pd.DataFrame | None = None  # the runs with status ok: the laws' points
    studies: dict = field(default_factory=dict)
    report: dict = field(default_factory=dict)
    laws: pd.DataFrame | None = None
    trend: pd.DataFrame | None = None
    rates: pd.DataFrame | None = None

    @property
    def study_runs(self) -> list:
        return [p for p in self.planned if "annotation" in p.sweeps]

    def settings(self) -> dict:
        """label -> (method, its options with the method's defaults filled in)."""
        return {label: (m, with_defaults(m, o)) for label, (m, o) in self.methods.items()}

    def summary(self) -> str:
        return (f"{len(self.methods)} methods x {len(self.n_train)} sizes D = {self.n_train}: {len(self.planned)} "
                f"runs; {self.n_passages:,} training passages, {self.n_human:,} human training pairs")

    def pairs_overview(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Per method, the pairs of the largest D (made now if not stored yet): how many, from how
        many distinct passages, mean query and positive words, the noisy share; and two examples."""
        d_max = max(self.n_train)
        rows, examples = [], []
        for label, (method, options) in self.methods.items():
            pairs = stored_pairs(self.data, method, d_max, seed=self.profile.grid.seeds[0], options=options)
            rows.append({"method": label, "pairs": len(pairs), "distinct_passages": pairs["pid"].nunique(),
                         "query_words": pairs["query"].str.split().str.len().mean(),
                         "positive_words": pairs["positive"].str.split().str.len().mean(),
                         "noisy_share": float(pairs["noisy"].mean()) if "noisy" in pairs else 0.0})
            for _, r in pairs.head(2).iterrows():
                examples.append({"method": label, "query": r["query"][:120], "positive": r["positive"][:160] + "…"})
        return pd.DataFrame(rows), pd.DataFrame(examples)

    def assess_generators(self, n: int = 200, seed: int = 0) -> dict:
        """The quality of each generator trained here that a method writes with (trained now if
        not cached): :func:`drscaling.annotation.generator.quality_by_method`."""
        self.generators = quality_by_method(self.data, self.methods, n=n, seed=seed)
        return self.generators

    def train(self, executor=None, ray_address=None, estimates=None) -> list[str]:
        """Run the study's runs (finished ones are skipped); one line per run that is not ok.
        Then :meth:`check_failures`."""
        self.records = grid.run_grid(self.profile, self.planned, executor=executor, ray_address=ray_address,
                                     estimates=estimates)
        problems = [r for r in self.records if r["status"] != "ok"]
        lines = [f"{len(self.records)} runs: {sum(not r.get('skipped') for r in self.records)} trained now, "
                 f"{sum(bool(r.get('skipped')) for r in self.records)} were done; {len(problems)} not ok"]
        for r in problems:
            if r["status"] == "failed":
                lines.append(f"FAILED {r['run_id']}: {r['error']['type']}: {r['error']['message']}")
            else:
                lines.append(f"{r['status'].upper()} {r['run_id']}: stopped after {r['result']['steps']} steps "
                             f"(not a data point)")
        return lines

    def check_failures(self) -> list:
        """A failed run stops the stage (annotation.json is not written and the next ``make
        reproduce`` retries it), unless the profile says ``allow_missing_runs: true``."""
        self.failed = grid.check_failures(self.records, self.profile, "the annotation study",
                                          self.profile.outputs_dir / "annotation.json")
        return self.failed

    def analyse(self, n_bootstrap: int = 1000, seed: int = 0) -> None:
        """The study's results table, one data-size law per method (:func:`fit_methods`), the
        laws' table, the noise trend (noisy_human rates against human) and the exchange rates."""
        results = grid.collect_results(self.profile, self.study_runs)
        results["annotation"] = pd.Categorical(results["annotation"], categories=list(self.methods), ordered=True)
        results = results.sort_values(["annotation", "n_train"]).reset_index(drop=True)
        results["annotation"] = results["annotation"].astype(str)
        self.results = results
        self.ok = results[results["status"] == "ok"]
        self.studies, self.report = fit_methods(self.ok, n_resamples=n_bootstrap, seed=seed)
        self.laws = law_table(self.studies, {k: self.report[k] for k in self.methods if k in self.report})
        noisy = {label: float(opts["rate"]) for label, (method, opts) in self.methods.items()
                 if method == "noisy_human"}
        self.trend = noise_trend(self.laws, noisy) if noisy and "human" in self.methods else None
        self.rates = (exchange_rates(self.studies, "human", at_n_train=self.n_train)
                      if "human" in self.studies else None)

    def metric_table(self, metric: str) -> pd.DataFrame:
        """``metric`` (e.g. cll_test, mrr_at_10) of the ok runs: methods x D."""
        return self.ok.pivot_table(index="annotation", columns="n_train", values=metric, sort=False)

    def results_table(self) -> pd.DataFrame:
        """Every study run, the main columns first (tables/annotation_results.csv)."""
        return self.results.reindex(columns=RESULT_COLUMNS + [c for c in self.results.columns
                                                              if c not in RESULT_COLUMNS])

    def law_lines(self) -> list[str]:
        """Each method's fit status, and its warnings."""
        lines = []
        for label in self.methods:
            rec = self.report.get(label, {"status": "no run finished with status ok"})
            lines.append(f"{label}: {rec['status']}")
            lines += [f"   warning: {w}" for w in rec.get("warnings", [])]
        return lines

    def rate_lines(self) -> list[str]:
        """Each exchange rate in words, with its interval and what it rests on."""
        def fmt(x):
            return "out of reach" if not np.isfinite(x) else f"x{x:.3g}"

        if self.rates is None:
            return ["the human law was not fitted: no exchange rates"]
        lines = []
        for _, r in self.rates.iterrows():
            needed = ("no finite number of" if not np.isfinite(r["n_train_needed"])
                      else f"{r.n_train_needed:,.0f}")
            lines.append(f"{r['method']}: at the loss {r['loss']:.3f} that human pairs reach with "
                         f"{r['reference_n_train']:,} pairs, it needs {needed} pairs: "
                         f"rate {fmt(r['rate'])} (95% interval {fmt(r['rate_low'])} to {fmt(r['rate_high'])})"
                         + ("" if r["status"] == "within its runs" else
                            f" [below its runs: its smallest run has {r['smallest_n_train']:,} pairs]"
                            if r["status"] == "below its runs" else
                            f" [{r['status']}: its largest run is worth {r['reach_n_train']:,.0f} human pairs]"))
        return lines

    def record(self, n_bootstrap: int, seed: int) -> dict:
        """annotation.json: the study's settings, its runs' statuses, the laws, rates and trend."""
        study_runs = {p.run_id for p in self.study_runs}  # not the pretraining
        return {
            "profile": self.profile.name, "n_train": self.n_train, "n_bootstrap": n_bootstrap, "seed": seed,
            "methods": [{"label": label, "method": m, "options": o} for label, (m, o) in self.methods.items()],
            "skipped": self.skipped,
            "runs": {r["run_id"]: r["status"] for r in self.records if r["run_id"] in study_runs},
            "pretraining_runs": {r["run_id"]: r["status"] for r in self.records if r["run_id"] not in study_runs},
            "complete": not self.failed, "failed": self.failed,
            "laws": self.report,
            "exchange_rates": None if self.rates is None else self.rates.replace([np.inf], None).to_dict(
                orient="records"),
            "noise_trend": None if self.trend is None else self.trend.to_dict(orient="records"),
            "generators": self.generators,
        }


def plan_study(prof, data) -> AnnotationStudy | None:
    """The annotation study of profile ``prof`` on its prepared ``data``: the methods that can
    run here (:func:`available_methods`) and their planned runs; None when the profile has none."""
    planned_all = grid.plan_grid(prof, data.manifest["key"], sweeps=("annotation",))
    if not planned_all:
        return None
    n_train = sorted(prof.grid.annotation_n_train)
    n_passages = len(training_passages(data))
    n_human = len(data.train_order)
    methods, skipped = available_methods(planned_all, n_train, n_human, n_passages)
    planned = [p for p in planned_all if "annotation" not in p.sweeps or p.spec.annotation_label in methods]
    return AnnotationStudy(prof, data, n_train, methods, skipped, planned, n_passages, n_human)
