# %% [markdown]
# # 04 · Annotation quality: one data-size law per way of annotating
#
# The paper (Section 5) trained the same model on (query, positive) pairs annotated in different
# ways and compared their data-size laws $L(D) = (B/D)^{\beta} + \delta$. Here the same: the profile's
# data-size shape, trained with the same settings at the same D for every method, evaluated on
# the **same human-annotated test pairs** (test CLL, notebook 03's metric). The methods
# (`drscaling.annotation.methods`; the study itself is `drscaling.annotation.study`) are the
# profile's, listed below the plan with their settings.
#
# Every weak method draws its passages from the same training passages as `human` (seeded). A method
# that would repeat a passage's query (top-k keywords, a generator) makes one per passage, so its D
# is capped by the number of training passages; ICT, crop and sampled keywords make another pair
# when a passage comes round again. Each method's pairs are
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
import pandas as pd
from IPython.display import Markdown, display

from drscaling import grid, narrative
from drscaling.annotation.study import no_study_record, plan_study
from drscaling.config import load_profile
from drscaling.datasets import ProcessedData
from drscaling.fileio import save_table, write_json
from drscaling.plots import plot_annotation_laws, plot_noise_trend, save_figure

prof = load_profile(profile)
data = ProcessedData(prof.processed_dir)
# what each method can do here (a generator model must be at hand; D must fit the data), and
# the study's runs with the pretraining runs they start from (grid.pretraining, if any)
st = plan_study(prof, data)
study = st is not None
if not study:
    # say so in annotation.json; every cell below does nothing, so the notebooks after this one run
    record = no_study_record(prof)
    write_json(prof.outputs_dir / "annotation.json", record)
    print(f"NO ANNOTATION STUDY. {record['reason']}; annotation.json says so and the cells below do nothing.")
if study:
    for label, why in st.skipped.items():
        print(f"SKIPPED {label}: {why}")
    print(st.summary())
    display(Markdown(narrative.annotation_methods_table(st.settings())))
    display(grid.plan_table(prof, st.planned))

# %% [markdown]
# ## The pairs each method makes
#
# The pairs of the largest D, as the runs at that D read them (made now if they are not stored
# yet). `distinct_passages` is how many training passages the positives come from;
# `noisy_share` is the share of positives replaced by a random passage.

# %%
if study:
    overview, examples = st.pairs_overview()
    display(overview.round(3))
    with pd.option_context("display.max_colwidth", 170):
        display(examples)

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
    generators = st.assess_generators(n=200, seed=seed)
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
# Before training, what the runs left will cost on this machine (drscaling.wall_estimate, as in
# notebook 02: steps timed here, cached); the progress bar counts the runs left against it.

# %%
if study:
    from drscaling.wall_estimate import format_machine_estimate, machine_estimate

    wall_estimate = machine_estimate(prof, data)
    print(format_machine_estimate(wall_estimate) if wall_estimate else
          "a GPU is present: see `make plan` for the GPU estimate (this machine's estimate times CPU steps)")
    print("\n".join(st.train(executor=executor, ray_address=ray_address,
                              estimates=wall_estimate and wall_estimate["per_run"])))
    # a failed run stops the stage here (annotation.json is not written and the next
    # `make reproduce` retries it), unless the profile says allow_missing_runs: true
    st.check_failures()

# %% [markdown]
# ## Results
#
# Test CLL (lower is better; chance is log(K+1) for K stored negatives) and MRR@10 over the whole
# corpus, per method and D. All on the human test pairs.

# %%
if study:
    # the runs' table, one data-size law per method, the noise trend and the exchange rates
    st.analyse(n_bootstrap=n_bootstrap, seed=seed)
    print("test CLL")
    display(st.metric_table("cll_test").round(3))
    print("MRR@10")
    display(st.metric_table("mrr_at_10").round(3))
    save_table(st.results_table(), prof.outputs_dir / "tables" / "annotation_results.csv")

# %% [markdown]
# ## One data-size law per method (the paper's Figure 5)
#
# Fitted with `drscaling.laws` as in notebook 05: Huber loss in log space, bounds, a grid of
# starts, 95% intervals by bootstrap (below: what they rest on, from the profile). The curves are
# solid over the runs' D and dotted beyond.

# %% tags=["slide"]
if study:
    display(Markdown(narrative.annotation_design(st.n_train, prof.grid.seeds, n_bootstrap)))
    print("\n".join(st.law_lines()))
    save_table(st.laws, prof.outputs_dir / "tables" / "annotation_laws.csv")
    display(st.laws.drop(columns="status").round(4))
    fig = plot_annotation_laws(st.ok, st.studies, f"data-size law per annotation method ({st.ok['model'].iloc[0]})")
    save_figure(fig, prof.outputs_dir / "figures" / "annotation_laws.png")

# %% [markdown]
# ## Noise as a dial
#
# `noisy_human-r` keeps the human questions and replaces a share r of the positives with random
# training passages; rate 0 is `human` itself. How B, β and δ move with r:

# %%
if study:
    if st.trend is not None:
        display(st.trend.drop(columns="status").round(4))
        save_figure(plot_noise_trend(st.trend), prof.outputs_dir / "figures" / "annotation_noise.png")
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
# two laws, drawn with the same random choices of offsets and residuals (paired: the runs of a D
# and seed share their pretraining and passages); `unreachable_share` is the share of refits for which L is out of reach;
# `extrapolated` marks a D' outside the method's runs, where the law is used outside its data:
# `status` says "beyond its runs" (`reach_n_train` is what its largest run is worth in human
# pairs, the loss its runs stop at) or "below its runs" (D' smaller than its smallest run,
# `smallest_n_train`); `on_bound` names fitted parameters on a bound (a β on its lower bound is a flat law,
# whose rates mean nothing). The intervals hold the draws' spread as far as the profile's seeds
# measure it (above).

# %%
if study:
    if st.rates is not None:
        save_table(st.rates, prof.outputs_dir / "tables" / "annotation_exchange_rates.csv")
        display(st.rates.round(3))
    print("\n".join(st.rate_lines()))

# %%
if study:
    write_json(prof.outputs_dir / "annotation.json", st.record(n_bootstrap, seed))
    print(f"wrote {prof.outputs_dir / 'annotation.json'}")

# %% [markdown]
# ## What to take away
#
# Each method's data-size exponent with its 95% interval, and what one of its pairs is worth in
# human pairs at the study's largest D.

# %%
Markdown(narrative.annotation_takeaways(st.laws, st.rates) if study else
         "This profile has no annotation study.")
