# %% [markdown]
# # 04 · Annotation quality: one data-size law per way of annotating
#
# The paper (Section 5) trained the same model on (query, positive) pairs annotated in different
# ways and compared their data-size laws $L(D) = (B/D)^{\beta} + \delta$. Here the same: the profile's
# data-size shape, trained with the same settings at the same D for every method, evaluated on
# the **same human-annotated test pairs** (test CLL, notebook 03's metric). The methods
# (`drscaling.annotate`):
#
# | method | query | positive |
# |---|---|---|
# | `human` | the dataset's own question | its passage |
# | `noisy_human-r` | the same question | its passage, except for exactly a share r of the pairs, which get a random other training passage |
# | `ict` | a random sentence of the passage (inverse cloze task) | the passage without it (kept in with a small probability) |
# | `crop` | a random span of the passage | another, independent random span |
# | `keywords` | the passage's 5 highest TF-IDF terms | the passage |
# | `generated-<model>` | a query written by a text-generation model (docT5query, an LLM) | the passage |
#
# Every weak method draws its passages from the same training passages as `human`, one query per
# passage (seeded), so D is capped by the number of training passages. Each method's pairs are
# made once and kept under `data/processed/<dataset>/annotations/`. Runs go through the same grid
# as notebook 02 (a finished run is skipped; `human` at a D of the data-size sweep is that very
# run), and the same command runs them outside notebooks:
# `python -m drscaling grid --profile <profile> --sweeps annotation`.
#
# A profile without an annotation study (`grid.annotation_methods` empty) gets an `annotation.json`
# that says so (`"study": false`), every cell below does nothing, and notebooks 05 and 06 run on.

# %% tags=["parameters"]
# Parameters (papermill replaces this cell from configs/<profile>.yaml)
profile = "cpu"         # a profile name in configs/, or a path to a profile YAML
n_bootstrap = 1000   # bootstrap resamples of the runs per method (95% intervals)
seed = 0                # seed of the bootstrap resamples
executor = None      # None: the profile's grid.executor ("local" or "ray")
ray_address = None   # an existing Ray cluster ("auto", "ray://host:10001"); None: start one

# %%
import math

import numpy as np
import pandas as pd
from IPython.display import display

from drscaling import annotate, annotation_study, grid, query_generator
from drscaling.config import load_profile
from drscaling.datasets import ProcessedData
from drscaling.fileio import save_table, write_json
from drscaling.plots import plot_annotation_laws, plot_noise_trend, save_figure

prof = load_profile(profile)
data = ProcessedData(prof.processed_dir)
planned_all = grid.plan_grid(prof, data.manifest["key"], sweeps=("annotation",))
# a profile without an annotation study: say so in annotation.json, and every cell below does
# nothing, so that the notebooks after this one still run
study = bool(planned_all)
if not study:
    reason = f"{prof.path}: grid.annotation_methods is empty: this profile has no annotation study"
    write_json(prof.outputs_dir / "annotation.json",
               {"profile": prof.name, "study": False, "reason": reason, "complete": True, "failed": []})
    print(f"NO ANNOTATION STUDY. {reason}; annotation.json says so and the cells below do nothing.")
if study:
    n_train_values = sorted(prof.grid.annotation_n_train)
    n_passages = len(annotate.training_passages(data))
    n_human = len(data.train_order)

    # what each method can do here: a generator model must be at hand; D must fit the data
    methods, skipped = annotation_study.available_methods(planned_all, n_train_values, n_human, n_passages)
    for label, why in skipped.items():
        print(f"SKIPPED {label}: {why}")
    # the study's runs, and the pretraining runs they start from (grid.pretraining, if any)
    planned = [p for p in planned_all if "annotation" not in p.sweeps or p.spec.annotation_label in methods]
    print(f"{len(methods)} methods x {len(n_train_values)} sizes D = {n_train_values}: {len(planned)} runs; "
          f"{n_passages:,} training passages, {n_human:,} human training pairs")
    display(grid.plan_table(prof, planned))

# %% [markdown]
# ## The pairs each method makes
#
# The pairs of the largest D, as the runs at that D read them (made now if they are not stored
# yet). `distinct_passages` is how many training passages the positives come from;
# `noisy_share` is the share of positives replaced by a random passage.

# %%
if study:
    d_max = max(n_train_values)
    rows, examples = [], []
    for label, (method, options) in methods.items():
        pairs = annotate.stored_pairs(data, method, d_max, seed=prof.grid.seeds[0], options=options)
        rows.append({"method": label, "pairs": len(pairs), "distinct_passages": pairs["pid"].nunique(),
                     "query_words": pairs["query"].str.split().str.len().mean(),
                     "positive_words": pairs["positive"].str.split().str.len().mean(),
                     "noisy_share": float(pairs["noisy"].mean()) if "noisy" in pairs else 0.0})
        for _, r in pairs.head(2).iterrows():
            examples.append({"method": label, "query": r["query"][:120], "positive": r["positive"][:160] + "…"})
    display(pd.DataFrame(rows).round(3))
    with pd.option_context("display.max_colwidth", 170):
        display(pd.DataFrame(examples))

# %% [markdown]
# ## The query generator trained here (docT5query's recipe, without a hub)
#
# A `generated-local` method writes its queries with a small T5 trained from scratch on this
# dataset's training pairs only (passage → human question), as docT5query was trained on MS MARCO's
# human pairs. It is trained once and cached under `data/processed/<dataset>/generators/`. It has a
# copy mechanism (a pointer-generator): each word it writes is drawn from a mixture of its vocabulary
# and the words of its passage, weighted by where it attends,
#
# $$p(w) = g\,p_{\text{vocab}}(w) + (1-g)\sum_{i:\,x_i = w} a_i ,$$
#
# with $a_i$ its attention on passage token $x_i$ and $g$ a learnt gate. Without it, this small
# model trained for about one pass over the pairs wrote the same generic question for every
# passage; questions reuse their passage's rare words, which the copy lets it write. Its quality on
# held-out validation passages:
#
# - **validation loss**: the mean cross-entropy per question token, $-\frac{1}{|q|}\sum_t \log p(q_t \mid q_{<t}, p)$;
# - **ROUGE-L**: the F1 of the longest common subsequence of words between the generated and the
#   human question (0 to 1);
# - **copy rate**: the share of generated queries that are a verbatim span of their passage (a
#   generator that copies writes ICT-like queries, not questions).
#

# %%
if study:
    generators = query_generator.quality_by_method(data, methods, n=200, seed=seed)
    if not generators:
        print("no method of this profile writes its queries with a generator trained here")
    for label, q in generators.items():
        loss = "n/a" if q["validation_loss"] is None else f"{q['validation_loss']:.3f}"
        print(f"{label}: trained in {q['train_seconds'] / 60:.1f} min on {q['train_pairs']:,} training pairs; "
              f"validation loss {loss}, ROUGE-L {q['rouge_l']:.3f}, copy rate {q['copy_rate']:.1%} "
              f"on {q['n']} validation passages")
        with pd.option_context("display.max_colwidth", 120):
            display(pd.DataFrame(q["examples"])[["human", "generated", "passage"]])


# %% [markdown]
# ## Train
#
# Finished runs are skipped; a failed run is recorded and the grid goes on with the others, then
# the notebook stops with the list of failed runs (the next `make reproduce` retries exactly
# those); a run that does not learn is stopped and recorded as such (not a data point).
#
#
# Before training, what the runs left will cost on this machine (drscaling.estimate, as in
# notebook 02: steps timed here, cached); the progress bar counts the runs left against it.

# %%
if study:
    from drscaling.estimate import format_machine_estimate, machine_estimate

    wall_estimate = machine_estimate(prof, data)
    print(format_machine_estimate(wall_estimate) if wall_estimate else
          "a GPU is present: see `make plan` for the GPU estimate (this machine's estimate times CPU steps)")
    records = grid.run_grid(prof, planned, executor=executor, ray_address=ray_address,
                            estimates=wall_estimate and wall_estimate["per_run"])
    study_runs = {p.run_id for p in planned if "annotation" in p.sweeps}  # not the pretraining
    problems = [r for r in records if r["status"] != "ok"]
    print(f"{len(records)} runs: {sum(not r.get('skipped') for r in records)} trained now, "
          f"{sum(bool(r.get('skipped')) for r in records)} were done; {len(problems)} not ok")
    for r in problems:
        if r["status"] == "failed":
            print(f"FAILED {r['run_id']}: {r['error']['type']}: {r['error']['message']}")
        else:
            print(f"{r['status'].upper()} {r['run_id']}: stopped after {r['result']['steps']} steps (not a data point)")
    # a failed run stops the stage here (annotation.json is not written and the next
    # `make reproduce` retries it), unless the profile says allow_missing_runs: true
    failed = grid.check_failures(records, prof, "the annotation study", prof.outputs_dir / "annotation.json")

# %% [markdown]
# ## Results
#
# Test CLL (lower is better; chance is log(K+1) for K stored negatives) and MRR@10 over the whole
# corpus, per method and D. All on the human test pairs.

# %%
if study:
    results = grid.collect_results(prof, [p for p in planned if "annotation" in p.sweeps])
    results["annotation"] = pd.Categorical(results["annotation"], categories=list(methods), ordered=True)
    results = results.sort_values(["annotation", "n_train"]).reset_index(drop=True)
    results["annotation"] = results["annotation"].astype(str)
    ok = results[results["status"] == "ok"]
    cll = ok.pivot_table(index="annotation", columns="n_train", values="cll_test", sort=False)
    mrr = ok.pivot_table(index="annotation", columns="n_train", values="mrr_at_10", sort=False)
    print("test CLL"); display(cll.round(3))
    print("MRR@10"); display(mrr.round(3))
    COLUMNS = ["run_id", "annotation", "model", "n_params", "n_train", "seed", "cll_test", "cll_validation", "mrr_at_10",
               "ndcg_at_10", "recall_at_100", "train_passages", "noisy_pairs", "best_step", "train_seconds",
               "eval_seconds", "status"]
    table = results.reindex(columns=COLUMNS + [c for c in results.columns if c not in COLUMNS])
    save_table(table, prof.outputs_dir / "tables" / "annotation_results.csv")

# %% [markdown]
# ## One data-size law per method (the paper's Figure 5)
#
# Fitted with `drscaling.laws` as in notebook 05: Huber loss in log space, bounds, a grid of
# starts, 95% intervals by bootstrap over the method's runs. Read the intervals as indicative
# only: with four D per method, a resample needs three distinct D to be fitted at all (about a
# third are not, counted in `bootstrap_failed`), and one with exactly three distinct D is fitted
# exactly through them, so the bootstrap distribution is made of a handful of distinct refits and
# an estimate can sit at the edge of its own interval. Four points pin three parameters only
# loosely; a fifth D per method (one more run per method) is the way to firmer intervals. The
# curves are solid over the runs' D and dotted beyond.

# %% tags=["slide"]
if study:
    studies, report = annotation_study.fit_methods(ok, n_resamples=n_bootstrap, seed=seed)
    for label in methods:
        rec = report.get(label, {"status": "no run finished with status ok"})
        print(f"{label}: {rec['status']}")
        for w in rec.get("warnings", []):
            print(f"   warning: {w}")
    laws_table = annotation_study.law_table(studies, {k: report[k] for k in methods if k in report})
    save_table(laws_table, prof.outputs_dir / "tables" / "annotation_laws.csv")
    display(laws_table.drop(columns="status").round(4))
    fig = plot_annotation_laws(ok, studies, f"data-size law per annotation method ({ok['model'].iloc[0]})")
    save_figure(fig, prof.outputs_dir / "figures" / "annotation_laws.png")

# %% [markdown]
# ## Noise as a dial
#
# `noisy_human-r` keeps the human questions and replaces a share r of the positives with random
# training passages; rate 0 is `human` itself. How B, β and δ move with r:

# %%
if study:
    noisy = {label: float(opts["rate"]) for label, (method, opts) in methods.items() if method == "noisy_human"}
    trend = None
    if noisy and "human" in methods:
        trend = annotation_study.noise_trend(laws_table, noisy)
        display(trend.drop(columns="status").round(4))
        save_figure(plot_noise_trend(trend), prof.outputs_dir / "figures" / "annotation_noise.png")
    else:
        print("no noisy_human method (or no human method) in this profile")

# %% [markdown]
# ## What the laws imply: how many weak pairs are worth one human pair
#
# For each D of the study, the loss $L = L_{\mathrm{human}}(D)$ the human law reaches with D pairs,
# and the number of pairs $D'$ another method's law needs to reach the same L,
# $D' = B_m \,/\, (L - \delta_m)^{1/\beta_m}$: the exchange rate is $D'/D$ (2 means a pair of
# that method is worth half a human pair). Infinite when the method's floor δ lies above L: no
# amount of that method's pairs reaches the loss. The 95% interval pairs bootstrap refits of the
# two laws; `unreachable_share` is the share of refits for which L is out of reach;
# `extrapolated` marks a D' beyond the method's largest run (the law is then used outside its
# data: `status` says "beyond its runs", and `reach_n_train` is what its largest run is worth in
# human pairs, the loss its runs stop at); `on_bound` names fitted parameters on a bound (a β on its lower bound is a flat law,
# whose rates mean nothing). Each point is one run with one seed: run-to-run noise is not in
# these intervals beyond what the scatter of the points shows, so a rate near 1 (a method as
# good as human pairs) is no evidence of a difference; `grid.seeds: [0, 1, 2]` measures that noise
# at three times the cost.

# %%
if study:
    rates = None
    if "human" in studies:
        rates = annotation_study.exchange_rates(studies, "human", at_n_train=n_train_values)
        save_table(rates, prof.outputs_dir / "tables" / "annotation_exchange_rates.csv")
        display(rates.round(3))
        def fmt(x):
            return "out of reach" if not np.isfinite(x) else f"x{x:.3g}"
        for _, r in rates.iterrows():
            print(f"{r['method']}: at the loss {r['loss']:.3f} that human pairs reach with {r['reference_n_train']:,} pairs, "
                  f"it needs {'no finite number of' if not np.isfinite(r['n_train_needed']) else f'{r.n_train_needed:,.0f}'} pairs: "
                  f"rate {fmt(r['rate'])} (95% interval {fmt(r['rate_low'])} to {fmt(r['rate_high'])})"
                  + ("" if r["status"] == "within its runs" else f" [{r['status']}: its largest run is worth "
                                                                    f"{r['reach_n_train']:,.0f} human pairs]"))
    else:
        print("the human law was not fitted: no exchange rates")

# %%
if study:
    write_json(prof.outputs_dir / "annotation.json", {
        "profile": prof.name, "n_train": n_train_values, "n_bootstrap": n_bootstrap, "seed": seed,
        "methods": [{"label": label, "method": m, "options": o} for label, (m, o) in methods.items()],  # in order
        "skipped": skipped,
        "runs": {r["run_id"]: r["status"] for r in records if r["run_id"] in study_runs},
        "pretraining_runs": {r["run_id"]: r["status"] for r in records if r["run_id"] not in study_runs},
        "complete": not failed, "failed": failed,
        "laws": report,
        "exchange_rates": None if rates is None else rates.replace([np.inf], None).to_dict(orient="records"),
        "noise_trend": None if trend is None else trend.to_dict(orient="records"),
        "generators": generators,
    })
    print(f"wrote {prof.outputs_dir / 'annotation.json'}")

# %% [markdown]
# ## What to take away
#
# Each method's data-size exponent with its 95% interval, and what one of its pairs is worth in
# human pairs at the study's largest D.

# %%
from IPython.display import Markdown

from drscaling import narrative

Markdown(narrative.annotation_takeaways(laws_table, rates) if study else
         "This profile has no annotation study.")
