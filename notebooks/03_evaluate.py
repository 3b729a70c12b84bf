# %% [markdown]
# # 03 · Evaluate: results table and the metric's validity
#
# Collects every run of the grid into `outputs/<profile>/results.csv` (one row per run: model,
# N = non-embedding parameters, D = training pairs, test and validation CLL, ranking metrics, steps,
# wall time, status) and reproduces the paper's Figure 2: do ranking metrics over the whole corpus
# follow the contrastive log-likelihood? If they do, CLL is a fair, smooth stand-in for them, and
# the laws fitted to it (notebook 05) speak about retrieval quality.
#
# **The question** (the paper's Section 3.2, Figure 2): is the contrastive log-likelihood a fair
# stand-in for ranking quality? For a test pair $(q, p^+)$ and a draw $r$ of $K = 256$ negatives
# $\mathcal{N}_r$ from the pool stored by notebook 01,
#
# $$\mathrm{CLL}(q, p^+) = \frac{1}{R} \sum_{r=1}^{R} -\log \frac{e^{s(q, p^+)}}{e^{s(q, p^+)} + \sum_{p^- \in \mathcal{N}_r} e^{s(q, p^-)}}$$
#
# averaged over $R = 10$ draws, then over the test pairs. Lower is better; a model that scores every
# passage alike gets $\log(K + 1) = \log 257 \approx 5.55$.

# %% tags=["parameters"]
# Parameters (papermill replaces this cell from configs/<profile>.yaml)
profile = "cpu"         # a profile name in configs/, or a path to a profile YAML
bm25 = True   # compute the BM25 reference (about 25 s on SQuAD)
bm25_language = "en"   # BM25's text processing: "en" (words, English stop words) or "zh" (characters)

# %%
import json

import pandas as pd
from IPython.display import display

from drscaling import grid
from drscaling.config import load_profile
from drscaling.datasets import ProcessedData
from drscaling.fileio import save_table, write_json
from drscaling.plots import plot_metrics_vs_cll, save_figure

prof = load_profile(profile)
data = ProcessedData(prof.processed_dir)
planned = grid.plan_grid(prof, data.manifest["key"])
results = grid.collect_results(prof, planned)  # a planned run without a record is "pending"
# an incomplete grid stops here, unless the profile says allow_missing_runs: true
missing = grid.require_complete(prof, results, "03_evaluate")
for m in missing:
    print(f"MISSING {m['run_id']} ({m['status']}{': ' + m['error'] if m['error'] else ''})")
trainer_version = grid.check_trainer_versions(results[results["status"] != "pending"], "03_evaluate")
print(f"{len(planned)} planned runs, trained by trainer version {trainer_version}")
results["status"].value_counts().to_frame()

# %% [markdown]
# ## `results.csv`
#
# The leading columns are the study's record of each run; every setting of the run (`training.*`)
# and everything its result recorded follow, so each number can be traced to its run folder.
# `n_params` is our exact non-embedding count (transformer layers + projection);
# `n_params_paper_code` is the count the paper's released code printed (it also counted BERT's
# unused pooler).
# The `provenance.*` columns say what made each number: the trainer's version (also part of the
# run id), the commit and whether the checkout had changes (`provenance.dirty`), the versions of
# torch, transformers, tokenizers, numpy and this library, Python, the CPU and its core count,
# the GPU, and the host; `precision` and `train_seconds` / `wall_seconds` say how it ran.

# %%
table = grid.results_table(results)  # the study's record of each run first (grid.RESULT_COLUMNS), then the rest
save_table(table, prof.outputs_dir / "results.csv")
table[grid.RESULT_COLUMNS]

# %% [markdown]
# ## BM25 reference
#
# BM25 (bm25s, English stop words) on the same test queries and corpus: the sparse baseline a dense
# model trained from scratch is measured against.

# %%
bm25_path = prof.outputs_dir / "bm25.json"
baseline = json.loads(bm25_path.read_text()) if bm25_path.is_file() else None
if bm25 and (baseline is None or baseline.get("language", "en") != bm25_language):  # computed once per language
    from drscaling.ranking import bm25_metrics, bm25_settings
    baseline = {**bm25_metrics(data, "test", **bm25_settings(bm25_language)), "language": bm25_language}
    write_json(bm25_path, baseline)
pd.Series(baseline, name="BM25").to_frame() if baseline else None

# %% [markdown]
# ## Ranking metrics against CLL (the paper's Figure 2)
#
# One point per run that finished with status ok. The paper found a strong correlation between
# CLL and ranking metrics on MS MARCO; here is the same check on this profile's runs.

# %% tags=["slide"]
ok = table[table["status"] == "ok"]
metrics = {"mrr_at_10": "MRR@10", "ndcg_at_10": "NDCG@10", "recall_at_100": "Recall@100"}
if len(ok):
    fig, correlations = plot_metrics_vs_cll(ok, metrics, baseline)
    save_figure(fig, prof.outputs_dir / "figures" / "ranking_vs_cll.png")
    save_table(correlations, prof.outputs_dir / "tables" / "ranking_vs_cll.csv")
    display(correlations)
else:
    print("no run finished with status ok: nothing to plot")

# %% [markdown]
# ## What to take away
#
# Whether CLL can stand in for ranking quality on these runs, and where the best of them stands
# against BM25.

# %%
from IPython.display import Markdown

from drscaling import narrative

Markdown(narrative.evaluation_takeaways(correlations if len(ok) else pd.DataFrame(), baseline, ok))
