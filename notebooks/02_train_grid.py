# %% [markdown]
# # 02 · Train the grid
#
# **The question** (the paper's Sections 3-4): how does a dense retriever's loss change with the
# number of its parameters N and of its annotated training pairs D? To answer it, this notebook
# trains one dual encoder per point of the profile's grid.
#
# **The objective.** A dual encoder $E$ maps a query and a passage to vectors; their score is
# $s(q, p) = E(q)^\top E(p)$. Each step takes a batch of $B$ queries with their positives $p_i^+$ and
# $K$ random corpus passages shared by the batch (with in-batch negatives, the other queries'
# positives count as negatives too), and minimises the contrastive loss
#
# $$\mathcal{L} = -\frac{1}{B} \sum_{i=1}^{B} \log \frac{e^{s(q_i, p_i^+)}}{e^{s(q_i, p_i^+)} + \sum_{p^- \in \mathcal{N}_i} e^{s(q_i, p^-)}}$$
#
# The study's measure, the **contrastive log-likelihood** (CLL) on the test pairs, is the same
# quantity with the 256 stored negatives of notebook 01 (10 draws, averaged). Chance is
# $\log(257) \approx 5.55$.
#
# **What N counts.** The paper's N is the number of non-embedding parameters: the transformer
# layers plus the projection to 768 dimensions ($768 H + 768$ for hidden size $H$), not the token and
# position embeddings. For the small shapes of a CPU profile the projection is most of N (table
# below).
#
# The grid:
#
# - the **model-size sweep**: every shape at one data size D (the paper's Figure 3);
# - the **data-size sweep**: one shape at every D (Figure 4);
# - the **joint grid**: shapes x data sizes, for the joint law (Figure 6).
#
# Each run is a folder `outputs/<profile>/runs/<run_id>/` (spec.json, log.jsonl, the best checkpoint,
# result.json written last). A run with result.json is done and skipped, so rerunning this notebook
# after an interruption continues where it stopped; a run killed mid-training resumes from its
# last saved state. Training follows the paper: each query's positive against random corpus
# negatives shared by the batch (plus, optionally, the other queries' positives), AdamW with
# warmup, validation CLL every few steps with the best checkpoint kept (selected on validation,
# never on test). Each run ends with its full evaluation: test and validation CLL on the stored
# draws of notebook 01, and ranking metrics over the whole corpus.
#
# The same grid runs outside notebooks: `python -m drscaling grid --profile <profile> [--executor ray]`.

# %% tags=["parameters"]
# Parameters (papermill replaces this cell from configs/<profile>.yaml)
profile = "cpu"         # a profile name in configs/, or a path to a profile YAML
executor = None      # None: the profile's grid.executor ("local" or "ray")
ray_address = None   # an existing Ray cluster ("auto", "ray://host:10001"); None: start one

# %%
import dataclasses
import math

import pandas as pd
from IPython.display import display

from drscaling import grid
from drscaling.config import load_profile
from drscaling.datasets import ProcessedData
from drscaling.plots import plot_training_curves, save_figure

prof = load_profile(profile)
data = ProcessedData(prof.processed_dir)
planned = grid.plan_grid(prof, data.manifest["key"])
print(f"profile {prof.name}: {len(planned)} runs in {grid.runs_dir(prof)}")
for message in grid.plan_warnings(planned):  # e.g. a largest D that the steps barely see
    print(f"WARNING: {message}")
display(pd.Series(dataclasses.asdict(prof.training), name="training settings").to_frame())
grid.plan_table(prof, planned)

# %% [markdown]
# ## What it will cost on this machine
#
# Before training: a few steps of each shape timed here (in the precision the runs will use), a
# forward pass for the checks and the final evaluation, and one one-step run for what a run costs
# besides (cached in `outputs/machine/`, keyed by the CPU model, precision and threads), times
# the planned steps, spread over the workers as the executor spreads them. The progress bar
# below counts the runs left against this estimate. `make plan` prints the same before anything
# runs.

# %%
from drscaling.wall_estimate import format_machine_estimate, machine_estimate

wall_estimate = machine_estimate(prof, data)
print(format_machine_estimate(wall_estimate) if wall_estimate else
      "a GPU is present: see `make plan` for the GPU estimate (this machine's estimate times CPU steps)")

# %% [markdown]
# ## What N counts, shape by shape
#
# Every shape of this profile built from scratch: its embedding parameters (not in N), its
# transformer layers and its projection (both in N), and the projection's share of N.
#

# %% tags=["slide"]
from drscaling.model import shape_table

shapes = [p.spec.model for p in planned if "layers" in p.spec.model]
table = shape_table(shapes, vocab_size=len(data.tokenizer()))
(table.style.format({"projection_share": "{:.0%}"}, thousands=",") if len(table)
 else "every shape of this profile is a pretrained checkpoint")


# %% [markdown]
# ## Run
#
# Finished runs are skipped. A run that fails is recorded (error.json) and the grid goes on with
# the others; at the end, if some run failed, this notebook stops with the list of failed runs and
# the first line of each error, `runs/grid.json` (this stage's output) is not written, and
# `make reproduce` ends non-zero: the next `make reproduce` retries exactly those runs. (With
# `allow_missing_runs: true` in the profile, grid.json is written with `"complete": false`, the
# later notebooks go on without the failed points and name them, and the next `make reproduce`
# retries them.) A run that does not learn (loss and validation CLL still near chance long after
# warmup) or whose loss becomes NaN is stopped and recorded with that status: a finished outcome,
# but not a data point for the laws.

# %%
records = grid.run_grid(prof, planned, executor=executor, ray_address=ray_address,
                        estimates=wall_estimate and wall_estimate["per_run"])
status = pd.DataFrame([{"run_id": r["run_id"], "status": r["status"], "this call": "skipped" if r.get("skipped") else "ran",
                        "wall_seconds": r.get("wall_seconds")} for r in records],
                      columns=["run_id", "status", "this call", "wall_seconds"])  # (a profile with no main grid: none)
display(status["status"].value_counts().to_frame())
problems = [r for r in records if r["status"] != "ok"]
if not problems:
    print(f"All {len(records)} runs finished with status ok.")
for r in problems:
    if r["status"] == "failed":
        print(f"FAILED {r['run_id']}: {r['error']['type']}: {r['error']['message']}")
    else:
        print(f"{r['status'].upper()} {r['run_id']}: stopped after {r['result']['steps']} steps; "
              "it is recorded but is not a data point for the laws")
chance = math.log(data.manifest["data"]["cll_negatives"] + 1)
for message in grid.stalled_runs(prof, planned, chance):
    print(f"WARNING: {message}")
# the stage's output, only if every run finished (else RunsFailedError names the failed runs)
grid.write_summary(prof, records)

# %% [markdown]
# ## One batch, made visible
#
# The kept checkpoint of one run (the data-size shape at its largest D, where there is one) scores
# the first training queries against their positives and a few random passages: the rows are the
# terms of the loss above (each query's own positive on the diagonal when the batch's positives
# count as negatives). The loss printed is the trainer's own function applied to this batch.
#

# %%
from drscaling.train import example_batch_of_run

by_d = sorted((p for p in planned if "data_size" in p.sweeps), key=lambda p: p.spec.n_train)
candidates = by_d or [p for p in planned if "pretraining" not in p.sweeps]
try:
    if not candidates:
        raise FileNotFoundError("this profile has no main grid")
    example = candidates[-1]
    scores, loss = example_batch_of_run(grid.runs_dir(prof) / example.run_id, example.spec, data)
    print(f"{example.run_id}: loss of this batch {loss:.3f}; chance log({scores.shape[1]}) = {math.log(scores.shape[1]):.3f}")
    display(scores.round(2))
except FileNotFoundError as e:  # the run failed (allow_missing_runs), or there is none: no example
    print(f"no example: {e}")


# %% [markdown]
# ## Training curves
#
# The training loss and the periodic validation check (CLL of the first validation pairs against
# negatives from a fixed sub-pool; the selection criterion) for every run.

# %%
logs = grid.training_logs(prof, [p.run_id for p in planned])
if len(logs):
    labels = {p.run_id: f"{p.spec.model_name} D={p.spec.n_train:,}" for p in planned}
    chance = math.log(min(data.manifest["data"]["cll_negatives"], prof.training.eval_pool) + 1)
    fig = plot_training_curves(logs, labels, chance=chance)
    save_figure(fig, prof.outputs_dir / "figures" / "training_curves.png")

# %% [markdown]
# ## What to take away
#
# How the runs ended, from their records: a point of a law is only as good as the checkpoint its
# run kept (best check strictly inside the run: the model its data allows).

# %%
from IPython.display import Markdown

from drscaling import narrative

Markdown(narrative.training_takeaways(records))
