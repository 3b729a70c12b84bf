# %% [markdown]
# # 01 · Prepare the data
#
# First stage of the replication of *Scaling Laws For Dense Retrieval* (Fang et al., SIGIR 2024).
# The paper measures every model by its **contrastive log-likelihood** (CLL) on test pairs, each
# positive scored against 256 random corpus negatives, averaged over 10 draws. This notebook turns
# the raw dataset into everything the later stages read:
#
# | output in `data/processed/<dataset>/` | what it is |
# |---|---|
# | `corpus.parquet`, `queries.parquet`, `qrels.parquet` | passages, queries and relevant pairs of the splits train / validation / test |
# | `train_order.parquet` | one seeded ranking of the training pairs: the nested subsets of size D (the data-size axis) are its first D rows |
# | `negative_pool.npy`, `cll_negatives_{test,validation}.npy` | the evaluation's negative pool (no test or validation positive in it) and the stored draws, so every model sees identical negatives |
# | `tokenizer/` | a WordPiece vocabulary trained on the training texts, for models trained from scratch |
# | `manifest.json` | source checksums, settings, seeds and counts; a rerun with the same inputs does nothing |
#
# For SQuAD: test = the official dev set; validation = whole training articles held out (no paragraph
# shared with training), used for checkpoint selection; train = the rest. All logic lives in
# `drscaling.datasets`; this notebook calls it and shows what came out.

# %% tags=["parameters"]
# Parameters (papermill replaces this cell from configs/<profile>.yaml)
profile = "cpu"         # a profile name in configs/, or a path to a profile YAML
n_examples = 3          # training pairs shown with their passages and their tokens

# %%
import dataclasses

import numpy as np
import pandas as pd
from IPython.display import display

from drscaling.config import load_profile
from drscaling.datasets import prepare_dataset
from drscaling.datasets import statistics as stats
from drscaling.fileio import save_table
from drscaling.logs import show_messages
from drscaling.plots import plot_dataset_statistics, save_figure

show_messages()  # the library's progress messages, shown below the cells
prof = load_profile(profile)
print(f"profile {prof.name}: {prof.description}")
pd.Series(dataclasses.asdict(prof.data), name="data settings").to_frame()

# %% [markdown]
# ## Prepare (or recognise an up-to-date preparation)
#
# Finds the source files (for SQuAD: `../shared/datasets/squad-v1.1/`, then `data/raw/squad/`, else the
# official download), checks them by SHA-256 and skips the work if the manifest says this exact
# preparation is already there.

# %%
data = prepare_dataset(prof)
manifest = data.manifest
display(pd.DataFrame(manifest["sources"]).T)
pd.Series(manifest["seeds"], name="seed").to_frame()

# %% [markdown]
# ## Splits and counts
#
# One row per split: queries, (query, positive) pairs, distinct positive passages, articles
# (`groups`) and questions per passage. The corpus row counts every passage and the negative pool.

# %% tags=["slide"]
summary = stats.split_summary(data)
tables = prof.outputs_dir / "tables"
tables.mkdir(parents=True, exist_ok=True)
save_table(summary, tables / "data_statistics.csv", index=True)
summary

# %% [markdown]
# ## Lengths and questions per passage
#
# Lengths in whitespace words, or in characters where the text has no spaces between words
# (Chinese: a whitespace "word" would be a whole clause), and in tokens of the trained WordPiece
# vocabulary (without `[CLS]` and `[SEP]`). The token percentiles are what the training stage's
# maximum query and passage lengths should be chosen from.

# %%
tokenizer = data.tokenizer()
print(f"lengths in {stats.LENGTH_UNITS[stats.length_unit(data)]} and in tokens")
lengths = stats.length_frame(data, tokenizer)
display(stats.length_summary(lengths))
qpp = stats.questions_per_passage(data, "train")
fig = plot_dataset_statistics(lengths, qpp, title=f"{prof.dataset} ({prof.name} profile)")
save_figure(fig, prof.outputs_dir / "figures" / "data_statistics.png")

# %% [markdown]
# ## Nested training subsets (the data-size axis)
#
# Subset D is the first D pairs of one seeded permutation of the training pairs, so each subset
# contains every smaller one.

# %%
stats.subset_table(data)  # raises if a subset does not hold the smaller ones

# %% [markdown]
# ## The evaluation draw
#
# The pool holds every corpus passage that is no test or validation positive. For each evaluated
# pair the draw stores K negatives x R repeats (the paper: 256 x 10), as corpus rows.

# %%
print("\n".join(stats.evaluation_draws(data)))  # raises if a positive is in the pool
print(f"chance level of the CLL: log({manifest['data']['cll_negatives']} + 1) = {np.log(manifest['data']['cll_negatives'] + 1):.2f}")

# %% [markdown]
# ## A few training examples

# %%
examples = data.subset(len(data.train_order)).head(n_examples)
queries = data.queries("train").set_index("qid")["text"]
passages = data.corpus.set_index("pid")["text"]
for qid, pid in examples.itertuples(index=False):
    print(f"Q: {queries[qid]}")
    print(f"   tokens: {tokenizer.tokenize(queries[qid])}")
    print(f"P: {passages[pid][:300]}...\n")

# %% [markdown]
# ## What to take away
#
# What this preparation gives the later notebooks, read from its manifest.

# %%
from IPython.display import Markdown

from drscaling import narrative

Markdown(narrative.data_takeaways(manifest))
