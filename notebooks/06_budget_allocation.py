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
profile = "cpu"
budgets = [1e4, 1e5, 1e6, 1e7, 1e8]   # dollars
annotation_price = 0.6                # $ per annotated pair
gpu_price_per_hour = 3.93             # $ per A100 hour
corpus_pages = 30e12                  # pages encoded at inference: the main knob of Z_infer
n_uncertainty_samples = 1000          # bootstrap refits used for the interval on N* and D*

# %%
import json
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display

from drscaling import budget as bud
from drscaling import laws
from drscaling.config import load_profile
from drscaling.fileio import read_json, write_json
from drscaling.plots import save_figure

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
reported = laws.paper_reported()["msmarco"]["joint"]["v1"]
paper_params = {k: reported.get(k) for k in ("A", "B", "alpha", "beta", "delta")}
caveat = ""
if any(v is None for v in paper_params.values()) and reported.get("secondary"):
    missing = [k for k, v in paper_params.items() if v is None]
    paper_params.update({k: reported["secondary"][k] for k in missing})
    caveat = f"{', '.join(missing)} from an unverified secondary source"
fits = read_json(prof.outputs_dir / "fits.json")
if fits.get("missing_runs") and not prof.allow_missing_runs:  # 05 refuses this too; fits.json may be older
    raise RuntimeError(f"{prof.outputs_dir / 'fits.json'} was fitted without {len(fits['missing_runs'])} planned run(s) "
                       f"and {prof.path} does not say allow_missing_runs: true: rerun `make reproduce`")
for m in fits.get("missing_runs", []):
    print(f"MISSING from the fits: {m['run_id']} ({m['status']})")
joint = fits["laws"].get("joint", {})
law_params = {}
if all(v is not None for v in paper_params.values()):
    law_params["paper"] = paper_params
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
for name, params in law_params.items():
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.2), sharey=True)
    for ax, (label, cost) in zip(axes, [("without inference cost", without_inference), ("with inference cost", with_inference)]):
        for i, z in enumerate(budgets):
            n, d, loss = bud.loss_along_budget(z, params, cost, n_grid)
            ax.plot(n, loss, color=f"C{i}", label=f"${z:,.0f}")
            try:
                opt = bud.optimal_allocation(z, params, cost, n_bounds=(n_grid[0], n_grid[-1]))
                ax.scatter([opt["n_star"]], [opt["loss"]], color=f"C{i}", marker="*", s=120, zorder=3)
            except ValueError:
                pass
        ax.set(xscale="log", yscale="log", xlabel="N (non-embedding parameters)", title=f"{name}: {label}")
    axes[0].set_ylabel("predicted test CLL")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, figures / f"budget_line_{name.replace(' ', '_')}.png")

# %% [markdown]
# ## The optimum against the budget

# %%
rows = []
for name, params in law_params.items():
    for label, cost in [("without inference", without_inference), ("with inference", with_inference)]:
        table = bud.allocation_table(budgets, params, cost, n_bounds=(n_grid[0], n_grid[-1]))
        rows.append(table.assign(law=name, cost_model=label))
allocations = pd.concat(rows, ignore_index=True)
fig, axes = plt.subplots(1, 2, figsize=(13, 4.2))
for (name, label), g in allocations.groupby(["law", "cost_model"], sort=False):
    style = "-" if label == "with inference" else "--"
    axes[0].plot(g["budget"], g["n_star"], style, marker="o", label=f"{name}, {label}")
    axes[1].plot(g["budget"], g["d_star"], style, marker="o", label=f"{name}, {label}")
axes[0].set(xscale="log", yscale="log", xlabel="budget ($)", ylabel="N*", title="optimal model size")
axes[1].set(xscale="log", yscale="log", xlabel="budget ($)", ylabel="D*", title="optimal annotated pairs")
axes[0].legend(fontsize=7)
fig.tight_layout()
save_figure(fig, figures / "budget_optimum.png")
allocations[["law", "cost_model", "budget", "n_star", "d_star", "loss", "cost_data", "cost_train", "cost_infer", "at_edge", "note"]]

# %% [markdown]
# ## Uncertainty of this study's optimum
#
# The optimum under each bootstrap refit of the joint law (notebook 05), as a 95% interval on N*
# and D*.

# %%
uncertainty = []
samples = joint.get("bootstrap_samples")
if samples and "this study" in law_params:
    samples = {k: np.asarray(v, dtype=float)[:n_uncertainty_samples] for k, v in samples.items()}
    for label, cost in [("without inference", without_inference), ("with inference", with_inference)]:
        for z in budgets:
            try:
                u = bud.optimum_under_uncertainty(z, samples, cost, n_bounds=(n_grid[0], n_grid[-1]),
                                                  law_params=law_params["this study"])
            except ValueError as e:
                print(f"${z:,.0f} {label}: {e}")
                continue
            uncertainty.append({"cost_model": label, "budget": z,
                                "n_star_low": u["interval"]["n_star"][0], "n_star_high": u["interval"]["n_star"][1],
                                "d_star_low": u["interval"]["d_star"][0], "d_star_high": u["interval"]["d_star"][1],
                                "samples_used": u["n_used"], "samples_at_edge": u["n_at_edge"]})
uncertainty = pd.DataFrame(uncertainty)
uncertainty

# %%
records = []
for r in allocations.to_dict("records"):
    match = uncertainty[(uncertainty["budget"] == r["budget"]) & (uncertainty["cost_model"] == r["cost_model"])] \
        if r["law"] == "this study" and len(uncertainty) else pd.DataFrame()
    if len(match):
        r.update({k: match.iloc[0][k] for k in ("n_star_low", "n_star_high", "d_star_low", "d_star_high")})
    records.append({k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()})
write_json(prof.outputs_dir / "budget.json", {
    "profile": prof.name, "cost_model": with_inference.derivation(), "laws": law_params,
    "paper_caveat": caveat, "optima": records, "missing_runs": fits.get("missing_runs", [])})
print(f"wrote {prof.outputs_dir / 'budget.json'}")

# %% [markdown]
# ## Explore (interactive)
#
# Move the sliders to see how the optimum moves with the budget, the price of a pair, the GPU
# price and the corpus size. (Needs a live kernel; the figures above are the static record.)

# %%
import ipywidgets as widgets

def explore(log10_budget=6.0, annotation_price=annotation_price, gpu_price=gpu_price_per_hour,
            log10_pages=math.log10(corpus_pages), law=next(iter(law_params), None)):
    if law is None:
        return
    cost = bud.CostModel(annotation_price=annotation_price, gpu_price_per_hour=gpu_price, corpus_pages=10 ** log10_pages)
    z = 10 ** log10_budget
    n, d, loss = bud.loss_along_budget(z, law_params[law], cost, n_grid)
    plt.figure(figsize=(6, 3.5))
    plt.plot(n, loss)
    try:
        opt = bud.optimal_allocation(z, law_params[law], cost, n_bounds=(n_grid[0], n_grid[-1]))
        plt.scatter([opt["n_star"]], [opt["loss"]], marker="*", s=150, color="red",
                    label=f"N* = {opt['n_star']:.3g}, D* = {opt['d_star']:.3g}")
        plt.legend()
    except ValueError as e:
        plt.title(str(e)[:80])
    plt.xscale("log"); plt.yscale("log"); plt.xlabel("N"); plt.ylabel("predicted CLL")
    plt.show()

if law_params:
    widgets.interact(explore, log10_budget=(3.0, 9.0, 0.25), annotation_price=(0.01, 5.0, 0.01),
                     gpu_price=(0.5, 10.0, 0.1), log10_pages=(6.0, 14.0, 0.25), law=list(law_params))
