# %% [markdown]
# # 06 · Budget allocation
#
# **The question** (the paper's Section 6): given a budget, how large a model and how many
# annotated pairs? With the joint law
#
# $$L(N, D) = \left[\left(\frac{A}{N}\right)^{\alpha/\beta} + \frac{B}{D}\right]^{\beta} + \delta$$
#
# and the cost of a model of N parameters trained on D annotated pairs (and, in the paper's second
# model, of encoding the corpus with it),
#
# $$Z(N, D) = Z_{\mathrm{data}} \, D + Z_{\mathrm{train}} \, N + Z_{\mathrm{infer}} \, N,$$
#
# the best allocation minimises $L$ along the budget line $Z(N, D) = \text{budget}$. Every price is a named
# ingredient of `drscaling.budget.CostModel` with the paper's value as default; the derivation is
# shown below. The optimum is computed for the law the paper reported and for the joint law this
# study fitted (notebook 05), with an interval from the bootstrap refits of the latter.

# %% tags=["parameters"]
# Parameters (papermill replaces this cell from configs/<profile>.yaml)
profile = "cpu"         # a profile name in configs/, or a path to a profile YAML
budgets = [1e4, 1e5, 1e6, 1e7, 1e8]   # dollars
annotation_price = 0.6                # $ per annotated pair
gpu_price_per_hour = 3.93             # $ per A100 hour
corpus_pages = 30e12                  # pages encoded at inference: the main knob of Z_infer
n_uncertainty_samples = 1000          # bootstrap refits used for the interval on N* and D*

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from drscaling import budget as bud
from drscaling import laws
from drscaling.config import load_profile
from drscaling.fileio import read_json, write_json
from drscaling.plots import plot_budget_lines, plot_budget_optimum, save_figure

prof = load_profile(profile)
with_inference = bud.CostModel(annotation_price=annotation_price, gpu_price_per_hour=gpu_price_per_hour,
                               corpus_pages=corpus_pages)
without_inference = with_inference.replace(include_inference=False)
pd.DataFrame(with_inference.derivation()).T

# %% [markdown]
# ## The two laws
#
# - **paper**: the joint law the paper reported for MS MARCO (v1, section 6, eqs 9-11:
#   `configs/paper_reported.yaml`, every parameter from the paper's text).
# - **this study**: the joint law notebook 05 fitted to this profile's runs (`fits.json`); N is in
#   the range of its runs, so optima far outside that range are extrapolations.

# %%
paper_params, caveat = bud.paper_joint_law(laws.paper_reported())
fits = read_json(prof.outputs_dir / "fits.json")
if fits.get("missing_runs") and not prof.allow_missing_runs:  # 05 refuses this too; fits.json may be older
    raise RuntimeError(f"{prof.outputs_dir / 'fits.json'} was fitted without {len(fits['missing_runs'])} planned run(s) "
                       f"and {prof.path} does not say allow_missing_runs: true: rerun `make reproduce`")
for m in fits.get("missing_runs", []):
    print(f"MISSING from the fits: {m['run_id']} ({m['status']})")
joint = fits["laws"].get("joint", {})
law_params = {}
if paper_params is not None:
    law_params["paper"] = paper_params
else:
    print(caveat)
if "params" in joint:
    law_params["this study"] = joint["params"]
else:
    print(f"this study's joint law was not fitted: {joint.get('status')}")
pd.DataFrame(law_params).T.assign(note=lambda t: [caveat if k == "paper" else "notebook 05" for k in t.index])

# %% [markdown]
# ## Loss along the budget line (paper Figures 7 and 8)
#
# For each budget, every N on the line spends the rest on annotation; the optimum is marked.
# Left: training and annotation only (Figure 7); right: with the cost of encoding the corpus
# (Figure 8).

# %%
n_grid = np.geomspace(1e4, 1e11, 400)
figures = prof.outputs_dir / "figures"
cost_models = {"without inference cost": without_inference, "with inference cost": with_inference}
for name, params in law_params.items():
    fig = plot_budget_lines(name, params, cost_models, budgets, n_grid)
    save_figure(fig, figures / f"budget_line_{name.replace(' ', '_')}.png")


# %% [markdown]
# ## The optimum against the budget

# %% tags=["slide"]
cost_models = {"without inference": without_inference, "with inference": with_inference}
allocations = bud.allocations(law_params, cost_models, budgets, n_bounds=(n_grid[0], n_grid[-1]))
save_figure(plot_budget_optimum(allocations), figures / "budget_optimum.png")
allocations[["law", "cost_model", "budget", "n_star", "d_star", "loss", "cost_data", "cost_train", "cost_infer", "at_edge", "note"]]


# %% [markdown]
# ## Uncertainty of this study's optimum
#
# The optimum under each bootstrap refit of the joint law (notebook 05), as a 95% interval on N*
# and D*.

# %%
uncertainty = pd.DataFrame()
samples = joint.get("bootstrap_samples")
if samples and "this study" in law_params:
    samples = {k: np.asarray(v, dtype=float)[:n_uncertainty_samples] for k, v in samples.items()}
    uncertainty, messages = bud.uncertainty_table(samples, cost_models, budgets, law_params["this study"],
                                                  n_bounds=(n_grid[0], n_grid[-1]))
    print("\n".join(messages))
uncertainty


# %%
write_json(prof.outputs_dir / "budget.json", {
    "profile": prof.name, "cost_model": with_inference.derivation(), "laws": law_params,
    "paper_caveat": caveat, "optima": bud.allocation_records(allocations, uncertainty),
    "missing_runs": fits.get("missing_runs", [])})
print(f"wrote {prof.outputs_dir / 'budget.json'}")


# %% [markdown]
# ## What to take away
#
# The optimum at the largest budget for each law and cost model, and how pricing inference
# moves it.

# %%
from IPython.display import Markdown

from drscaling import narrative

Markdown(narrative.budget_takeaways(allocations))

# %% [markdown]
# ## Explore (interactive)
#
# Move the sliders to see how the optimum moves with the budget, the price of a pair, the GPU
# price and the corpus size. (Needs a live kernel; the figures above are the static record.)

# %%
import ipywidgets as widgets

def explore(log10_budget=6.0, annotation_price=annotation_price, gpu_price=gpu_price_per_hour,
            log10_pages=math.log10(corpus_pages), law=next(iter(law_params), None)):
    cost = bud.CostModel(annotation_price=annotation_price, gpu_price_per_hour=gpu_price, corpus_pages=10 ** log10_pages)
    plot_budget_lines(law, law_params[law], {"with inference cost": cost}, [10 ** log10_budget], n_grid)
    plt.show()

if law_params:
    widgets.interact(explore, log10_budget=(3.0, 9.0, 0.25), annotation_price=(0.01, 5.0, 0.01),
                     gpu_price=(0.5, 10.0, 0.1), log10_pages=(6.0, 14.0, 0.25), law=list(law_params))
