"""Text the notebooks show, written from a profile's own settings and runs (issue 14): no number
of one profile is typed into a notebook's prose, so the text stays true on every profile.

- :func:`describe_setting`: what a profile's laws rest on (data, models, N, budget, selection),
  read from its configuration and, where given, from its runs;
- :func:`setting_table`: two such descriptions side by side (this profile and the paper's);
- :func:`why_numbers_differ`: the same as prose for notebook 05;
- :func:`law_takeaways`: what each fitted law says, from its fit (notebook 05);
- :func:`data_takeaways`, :func:`training_takeaways`, :func:`evaluation_takeaways`,
  :func:`annotation_takeaways`, :func:`budget_takeaways`: the closing text of notebooks 01-04
  and 06, from what each computed.
"""

from __future__ import annotations

import math

import pandas as pd

ASPECTS = ("dataset", "training pairs (largest D)", "models", "N (non-embedding parameters)",
           "steps per run", "queries per step", "negatives per query", "passage tokens", "learning rate",
           "checkpoint kept")


def _num(x: float) -> str:
    """A count for prose: 7,784 / 297k / 1.3M / 100B."""
    x = float(x)
    if x >= 1e9:
        return f"{x / 1e9:.3g}B"
    if x >= 1e6:
        return f"{x / 1e6:.3g}M"
    if x >= 1e5:
        return f"{x / 1e3:.0f}k"
    return f"{x:,.0f}"


def _span(values) -> str:
    values = sorted({float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))})
    if not values:
        return "n/a"
    return _num(values[0]) if len(values) == 1 else f"{_num(values[0])} to {_num(values[-1])}"


def _rates(values) -> str:
    values = sorted({float(v) for v in values})
    return " and ".join(f"{v:g}" for v in values) if values else "n/a"


def _shapes(profile) -> list[dict]:
    g = profile.grid
    shapes = list(g.model_size_shapes) + list(g.joint_shapes)
    shapes += [s for s in (g.data_size_shape,) if s is not None]
    return shapes


def describe_setting(profile, results: pd.DataFrame | None = None, n_range: tuple[float, float] | None = None) -> dict:
    """What the profile's laws rest on, one entry per :data:`ASPECTS`. With ``results`` (the
    rows of its main sweeps, status ok), D, N, steps and learning rates are the runs' own;
    without, they come from the configuration (N from ``n_range`` if given, else unknown)."""
    t, shapes = profile.training, _shapes(profile)
    checkpoints = [s["pretrained"] for s in shapes if "pretrained" in s]
    pre = profile.grid.pretraining
    if checkpoints and len(checkpoints) == len(shapes):
        models = f"{len(set(checkpoints))} pretrained checkpoints, fine-tuned"
    elif pre:
        models = (f"BERT shapes built here, pretrained here on {pre['n_train']:,} {pre['method'].upper()} pairs of the "
                  f"training passages, then fine-tuned")
    else:
        models = "BERT shapes trained from scratch"
    if results is not None and len(results):
        d_max = int(results["n_train"].max())
        n = _span(results["n_params"])
        steps = f"{_span(results['steps'])} steps"
        rate_col = "training.learning_rate"
        rates = _rates(results[rate_col]) if rate_col in results else f"{t.learning_rate:g}"
    else:
        sizes = list(profile.data.subset_sizes or [])
        d_max = max(sizes) if sizes else None
        n = _span(n_range) if n_range else "n/a"
        steps = f"{t.passes:g} passes over D" if t.passes else f"{_num(t.steps)} steps"
        rates = _rates([t.learning_rate] + [s["training"]["learning_rate"] for s in shapes
                                            if "learning_rate" in (s.get("training") or {})])
    if t.passes and results is not None:
        steps += f" ({t.passes:g} passes over D)"
    negatives = f"{t.negatives} random passages" + (" and the batch's other positives" if t.in_batch_negatives else "")
    return {
        "dataset": profile.dataset,
        "training pairs (largest D)": "n/a" if d_max is None else f"{d_max:,}",
        "models": models,
        "N (non-embedding parameters)": n,
        "steps per run": steps,
        "queries per step": str(t.batch_size),
        "negatives per query": negatives,
        "passage tokens": str(t.max_passage_length),
        "learning rate": rates,
        "checkpoint kept": f"best of the {t.select_on}",
    }


def paper_n_range(reported: dict) -> tuple[float, float]:
    """The N of the authors' own model-size points (their code counts in 2^20 parameters)."""
    mi = reported["authors_points"]["n_params_mi"]
    return min(mi) * 2 ** 20, max(mi) * 2 ** 20


def setting_table(ours: dict, reference: dict, names: tuple[str, str] = ("this profile", "paper profile")) -> pd.DataFrame:
    return pd.DataFrame({names[0]: ours, names[1]: reference}).loc[list(ASPECTS)]


def why_numbers_differ(ours: dict, paper: dict, profile_name: str) -> str:
    """Markdown: why this profile's fitted constants cannot be the paper's, from the two
    descriptions (:func:`describe_setting`)."""
    same_data = ours["dataset"] == paper["dataset"]
    lines = [
        f"**Data.** `{ours['dataset']}` with up to {ours['training pairs (largest D)']} training pairs, against the "
        f"paper's `{paper['dataset']}` with up to {paper['training pairs (largest D)']}. "
        + ("The same corpus: CLL values can be compared directly." if same_data else
           "CLL values are not comparable across corpora in absolute terms: the negatives come from other pools."),
        f"**Models.** Here: {ours['models']}, N from {ours['N (non-embedding parameters)']}. The paper: "
        f"{paper['models']}, N from {paper['N (non-embedding parameters)']}. Where N is small, the 768-d "
        f"projection is a large share of it.",
        f"**Budget.** Runs of {ours['steps per run']}, {ours['queries per step']} queries a step, each scored "
        f"against {ours['negatives per query']}, passages cut at {ours['passage tokens']} tokens, learning rate "
        f"{ours['learning rate']}. The paper: {paper['steps per run']}, {paper['queries per step']} queries a step "
        f"against {paper['negatives per query']}, {paper['passage tokens']} passage tokens, learning rate "
        f"{paper['learning rate']}. A run that stops before its data is learnt, or that memorises a small D, moves "
        f"its point, and with it β and δ.",
        f"**Checkpoint.** Profile `{profile_name}` keeps the {ours['checkpoint kept']} checks; the paper kept the "
        f"checkpoint that was best on its test set.",
        "**Fitting.** A Huber loss in log space and bootstrap intervals over runs; the paper's fitting procedure "
        "and its uncertainty are not fully specified, so R² is the closest common ground.",
    ]
    return "\n".join(f"- {line}" for line in lines)


def law_takeaways(report: dict) -> str:
    """Markdown: one line per law of notebook 05's report (fits.json ``laws``): its exponent
    with interval, R², bounds, and how well it predicted the held-out points."""
    names = {"model_size": ("model size", "alpha", "N"), "data_size": ("data size", "beta", "D"),
             "joint": ("joint", "alpha", "N")}
    if "data_size_transfer" in report:  # fitted beside the paper's data-size law (older reports lack it)
        names["data_size_transfer"] = ("data size, transfer form", "beta", "D")
    if "joint_transfer" in report:  # fitted beside the paper's joint law (older reports lack it)
        names["joint_transfer"] = ("joint, transfer form", "alpha", "N")
    lines = []
    for law, (title, exponent, axis) in names.items():
        rec = report.get(law)
        if rec is None or "params" not in rec:
            lines.append(f"**{title}**: {rec['status'] if rec else 'not fitted'}.")
            continue
        value = rec["params"][exponent]
        lo, hi = (rec.get("intervals") or {}).get(exponent, (math.nan, math.nan))
        bound = rec.get("bounds_hit") or []
        ceiling = rec.get("r2_ceiling")
        text = (f"**{title}**: {exponent} = {value:.3g} (95% interval {lo:.3g} to {hi:.3g}), R² {rec['r2']:.3f}"
                + (f" (at most {ceiling:.3f} reachable: the seeds of a point differ)"
                   if ceiling is not None and ceiling < 1 else "")
                + (f"; on a bound: {', '.join(bound)}" if bound else "; no parameter on a bound"))
        if "D_T" in rec["params"]:
            d_lo, d_hi = (rec.get("intervals") or {}).get("D_T", (math.nan, math.nan))
            text += (f"; the pretraining is worth D_T = {rec['params']['D_T']:,.0f} pairs "
                     f"(95% interval {d_lo:,.0f} to {d_hi:,.0f})")
        held = rec.get("holdout")
        if held and held.get("relative_error"):
            errors = ", ".join(f"{100 * e:+.1f}%" for e in held["relative_error"])
            text += f"; fitted without the largest {axis}, it predicts those points {errors} off"
        pinned = lo > 0 and math.isfinite(hi) and hi / lo <= 3  # within a factor 3
        if not pinned:
            text += ". The interval spans more than a factor 3: the runs do not pin this exponent down"
        lines.append(text + ".")
    return _bullets(lines)


def _bullets(lines: list[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)


def data_takeaways(manifest: dict) -> str:
    """Markdown for notebook 01: the data-size axis, the test measure and its chance level, and
    the selection split, from the prepared data's manifest."""
    counts, sizes = manifest["counts"], sorted(manifest.get("subset_sizes") or [])
    k = (manifest.get("data") or {}).get("cll_negatives")
    lines = []
    if sizes:
        lines.append(f"The data-size axis: {len(sizes)} nested subsets of the {counts['train_pairs']:,} training pairs, "
                     f"D = {sizes[0]:,} to {sizes[-1]:,} ({math.log10(sizes[-1] / sizes[0]):.1f} decades); each "
                     "subset holds the smaller ones, so a larger D only adds pairs.")
    if k:
        lines.append(f"Every model is measured on the same {counts['test_pairs']:,} test pairs, each against {k} stored "
                     f"negatives from a pool of {counts['negative_pool']:,} passages: a model that scores every "
                     f"passage alike gets CLL = log({k + 1}) = {math.log(k + 1):.2f}; every point of a law should "
                     "sit well below it.")
    lines.append(f"Checkpoints are chosen on {counts['validation_pairs']:,} validation pairs from articles no training "
                 "pair comes from, never on the test pairs.")
    return _bullets(lines)


def training_takeaways(records: list[dict]) -> str:
    """Markdown for notebook 02: how many runs finished, and where each kept its checkpoint. A
    best check strictly inside the run is the model its data allows; the last check means the
    run was still improving when its steps ran out (its point sits too high), the first that it
    memorised its pairs from the start."""
    if not records:
        return _bullets(["This profile has no main grid: no run here (its study, if any, is notebook 04's)."])
    ok = [r for r in records if r.get("status") == "ok"]
    lines = [f"{len(ok)} of {len(records)} runs finished with status ok"
             + (f"; {len(records) - len(ok)} did not and are no points of the laws." if len(ok) < len(records) else ".")]
    # runs that keep their last check by design (training.keep: last) say nothing of where
    # their optimum lay
    by_design = sum(r.get("result", {}).get("kept") == "last" for r in ok)
    placed = [(r["result"]["best_check"], r["result"]["checks"]) for r in ok
              if r.get("result", {}).get("kept") != "last" and r.get("result", {}).get("best_check")
              and r["result"].get("checks")]
    if by_design:
        lines.append(f"{by_design} kept their last check by their settings (training.keep: last, "
                     "as a pretraining does): they are starting points, not points of a law.")
    if placed:
        inside = sum(1 < b < n for b, n in placed)
        last = sum(b == n for b, n in placed)
        first = sum(b == 1 < n for b, n in placed)
        lines.append(f"{inside} of {len(placed)} kept a check strictly inside the run: the model its data allows.")
        if last:
            lines.append(f"{last} kept their last check: still improving when the steps ran out, so their points "
                         "sit above what their data allows (more steps would lower them).")
        if first:
            lines.append(f"{first} kept their first check: they memorised their pairs from the start (a smaller "
                         "learning rate or fewer passes would help).")
    seconds = sum(r.get("wall_seconds") or 0 for r in records)
    if seconds:
        lines.append(f"The runs took {seconds / 60:,.0f} minutes of wall time added up (runs in parallel overlap).")
    return _bullets(lines)


def evaluation_takeaways(correlations: pd.DataFrame, baseline: dict | None, results: pd.DataFrame) -> str:
    """Markdown for notebook 03: whether CLL orders models as the ranking metrics do (the
    paper's reason to use it), and the best run against BM25."""
    lines = []
    if len(correlations):
        weakest = correlations.loc[correlations["spearman"].abs().idxmin()]
        lines.append(f"Over {int(weakest['runs'])} runs, lower CLL goes with better ranking: Spearman correlations "
                     + ", ".join(f"{r.metric} {r.spearman:.2f}" for r in correlations.itertuples())
                     + f". The weakest, {weakest['metric']}, says how far CLL can stand in for ranking quality here.")
    if len(results) and "mrr_at_10" in results:
        best = results.loc[results["cll_test"].idxmin()]
        text = (f"The run with the lowest CLL ({best['model']}, D = {int(best['n_train']):,}: CLL {best['cll_test']:.3f}) "
                f"reaches MRR@10 {best['mrr_at_10']:.3f}")
        if baseline:
            text += f"; BM25 reaches {baseline['mrr_at_10']:.3f}"
        lines.append(text + ".")
    return _bullets(lines)


def _interval(row, name: str) -> str:
    return f"{row[name]:.3g} ({row[name + '_low']:.3g} to {row[name + '_high']:.3g})"


def annotation_takeaways(laws_table: pd.DataFrame, rates: pd.DataFrame | None) -> str:
    """Markdown for notebook 04: each method's β with its interval (``laws_table``: one row per
    method, :func:`annotation_study.law_table`), which exponents the runs pin down, and each
    method's exchange rate against human pairs at the largest D."""
    lines = []
    for row in laws_table.to_dict("records"):
        method = row["method"]
        if not math.isfinite(row.get("beta", math.nan)):
            lines.append(f"**{method}**: {row['status']}.")
            continue
        pinned = row["beta_low"] > 0 and row["beta_high"] / row["beta_low"] <= 4
        lines.append(f"**{method}**: β = {_interval(row, 'beta')}, δ = {row['delta']:.3g}, R² {row['r2']:.3f}"
                     + ("" if pinned else "; the interval spans more than a factor 4: these runs do not pin β down")
                     + ".")
    if rates is not None and len(rates):
        top_d = rates["reference_n_train"].max()
        for method, frame in rates.groupby("method", sort=False):
            frame = frame.sort_values("reference_n_train")
            within = frame[~frame["extrapolated"].astype(bool) & frame["rate"].map(math.isfinite)]
            if len(within) and within["reference_n_train"].iloc[-1] < top_d:
                lines.append(_rate_sentence(within.iloc[-1]) + " (the largest D whose loss its runs reach).")
            r = frame.iloc[-1]
            if not math.isfinite(r.rate):
                lines.append(f"At D = {r.reference_n_train:,}, no number of {method} pairs reaches the human loss "
                             f"{r.loss:.3f}: out of reach (its floor δ lies above it).")
            elif getattr(r, "status", "") == "below its runs":
                lines.append(_rate_sentence(r) + f", below its runs: its smallest run has {r.smallest_n_train:,} pairs, "
                                                 f"so the rate rests on its law extrapolated downwards.")
            elif r.extrapolated and "reach_n_train" in r and math.isfinite(r.reach_n_train):
                lines.append(f"At D = {r.reference_n_train:,}, the human loss {r.loss:.3f} is beyond the runs of "
                             f"{method}: its largest run is worth about {r.reach_n_train:,.0f} human pairs, and its "
                             f"law, extrapolated, gives a rate of {r.rate:.3g} (95% interval {r.rate_low:.3g} to "
                             f"{r.rate_high:.3g}), which the runs do not measure.")
            else:
                lines.append(_rate_sentence(r) + (", extrapolated beyond its runs" if r.extrapolated else "") + ".")
    return _bullets(lines)


def _rate_sentence(r) -> str:
    return (f"At D = {r.reference_n_train:,}, one {r.method} pair is worth {1 / r.rate:.2g} human pairs "
            f"(rate {r.rate:.3g}, 95% interval {r.rate_low:.3g} to {r.rate_high:.3g})")


def budget_takeaways(allocations: pd.DataFrame) -> str:
    """Markdown for notebook 06: at the largest budget, each law's optimum N* and D* under each
    cost model, and how pricing inference moves it."""
    if not len(allocations):
        return _bullets(["No law to allocate a budget with."])
    top = allocations[allocations["budget"] == allocations["budget"].max()]
    lines = []
    for law, rows in top.groupby("law", sort=False):
        parts = [f"{r.cost_model}: N* = {_num(r.n_star)}, D* = {_num(r.d_star)} (data {r.cost_data / r.budget:.0%} of "
                 f"the budget), loss {r.loss:.3f}" + (" [at the edge of the N range]" if r.at_edge else "")
                 for r in rows.itertuples()]
        lines.append(f"**{law}** law, budget {top['budget'].iloc[0]:,.0f} dollars: " + "; ".join(parts) + ".")
        if len(rows) == 2:
            a, b = rows.itertuples()
            lines.append(f"From {a.cost_model} to {b.cost_model}, the {law} optimum moves from N* = {_num(a.n_star)}, "
                         f"D* = {_num(a.d_star)} to N* = {_num(b.n_star)}, D* = {_num(b.d_star)}: "
                         + ("a smaller model." if b.n_star < a.n_star else "a larger model." if b.n_star > a.n_star
                            else "the same model."))
    return _bullets(lines)


__all__ = ["ASPECTS", "describe_setting", "paper_n_range", "setting_table", "why_numbers_differ", "law_takeaways",
           "data_takeaways", "training_takeaways", "evaluation_takeaways", "annotation_takeaways", "budget_takeaways"]


def annotation_methods_table(methods: dict) -> str:
    """Notebook 04's table of the profile's methods (label -> (method, options with the method's
    defaults filled in: ``AnnotationStudy.settings``)): what each makes the query and the
    positive of, with its own settings."""
    rows = ["| method | query | positive |", "|---|---|---|"]
    for label, (method, options) in methods.items():
        o = options or {}
        if method == "human":
            query, positive = "the dataset's own question", "its passage"
        elif method == "noisy_human":
            query = "the same question"
            positive = f"its passage, except for a share {o['rate']:g} of the pairs, which get a random other training passage"
        elif method == "ict":
            query = "a random sentence of the passage (inverse cloze task)"
            positive = f"the passage without it (kept in with probability {o['keep_sentence_prob']:g})"
        elif method == "crop":
            query = f"a random span of the passage ({o['min_ratio']:g} to {o['max_ratio']:g} of its length)"
            positive = "another, independent random span"
        elif method == "keywords":
            k = o["k"]
            query = (f"{k} of the passage's terms drawn in proportion to their TF-IDF weight" if o.get("sample")
                     else f"the passage's {k} highest TF-IDF terms")
            query += "".join([f", {o['stop_words']} stop words left out" if o.get("stop_words") else "",
                              ", sublinear tf" if o.get("sublinear_tf") else ""])
            positive = "the passage"
        else:  # generated
            model = o.get("model_path")
            query = ("a query written by the generator trained here on the human training pairs" if model == "local"
                     else f"a query written by `{model}`")
            positive = "the passage"
        rows.append(f"| `{label}` | {query} | {positive} |")
    return "\n".join(rows)


def annotation_design(n_train, seeds, n_bootstrap: int) -> str:
    """What notebook 04's laws and intervals rest on, from the profile: its sizes, its seeds
    (draws) and how the bootstrap resamples them."""
    n_train, seeds = sorted(n_train), list(seeds)
    draws = f"{len(seeds)} seed{'s' if len(seeds) > 1 else ''} ({', '.join(str(s) for s in seeds)})"
    text = (f"Each method is trained at {len(n_train)} sizes, D = {', '.join(f'{d:,}' for d in n_train)} "
            f"({math.log10(n_train[-1] / n_train[0]):.1f} decades), with {draws}: {len(n_train) * len(seeds)} runs "
            f"a method for a law of three parameters. A seed is a draw (its pretraining and its fine-tuning), whose "
            f"offset persists across D: the {n_bootstrap} bootstrap resamples redraw the draws' offsets and the runs' "
            f"own residuals around the fit, keeping every D in every resample.")
    if len(seeds) == 1:
        text += (" With one seed the spread between draws is not measured: the intervals hold the runs' scatter "
                 "around the curve only, and a rate near 1 (a method as good as human pairs) is no evidence of a "
                 "difference.")
    return text
