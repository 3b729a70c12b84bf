"""The study's figures (matplotlib / seaborn); each returns its figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from cycler import cycler

from .laws import LAWS

# One look in every figure, readable in grayscale and by colour-blind readers: series differ in
# colour (Okabe-Ito), marker and dash, so a printout without colour still tells them apart.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
DASHES = ["-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 3)), (0, (8, 2, 2, 2))]
plt.rcParams["axes.prop_cycle"] = cycler(color=PALETTE) + cycler(linestyle=DASHES)


def series_style(i: int) -> dict:
    """Colour, marker and dash of the i-th series of a figure (they repeat after 8)."""
    k = i % len(PALETTE)
    return {"color": PALETTE[k], "marker": MARKERS[k], "linestyle": DASHES[k]}


def plot_dataset_statistics(lengths: pd.DataFrame, qpp: pd.Series, title: str = ""):
    """Query and passage length distributions (tokens if present, else words, else characters)
    and the number of questions per passage."""
    measure = next(m for m in ("tokens", "words", "chars") if m in lengths)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    queries = lengths[lengths["kind"] == "query"]
    sns.histplot(queries, x=measure, hue="split", stat="density", common_norm=False, discrete=True,
                 element="step", fill=False, ax=axes[0])
    axes[0].set_title(f"query length ({measure})")
    passages = lengths[lengths["kind"] == "passage"]
    sns.histplot(passages, x=measure, hue="split", stat="density", common_norm=False, bins=60,
                 element="step", fill=False, ax=axes[1])
    axes[1].set_title(f"passage length ({measure})")
    axes[2].bar(qpp.index.astype(int), qpp.values)
    axes[2].set_xlabel("questions per passage")
    axes[2].set_ylabel("passages")
    axes[2].set_title("questions per passage (train)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plain_log_labels(ax, axis: str = "y") -> None:
    """Label a log axis with plain numbers ("3", "4", "0.5") instead of matplotlib's "3x10^0":
    a loss axis spans less than a decade, so its labels are minor ticks."""
    from matplotlib.ticker import FuncFormatter

    target = ax.yaxis if axis == "y" else ax.xaxis
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    target.set_major_formatter(plain)
    target.set_minor_formatter(plain)


def save_figure(fig, path) -> None:
    """Save a figure atomically (PNG, 150 dpi)."""
    from .fileio import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=150, bbox_inches="tight", format=str(path).rsplit(".", 1)[-1])


def plot_training_curves(logs: pd.DataFrame, labels: dict[str, str] | None = None, chance: float | None = None):
    """Training loss and the periodic selection check (CLL) against steps, one line per run."""
    check = [c for c in logs.columns if c.endswith("_cll_check")]
    fig, axes = plt.subplots(1, 2, figsize=(13, 4))
    for run_id, g in logs.groupby("run_id", sort=False):
        label = (labels or {}).get(run_id, run_id)
        axes[0].plot(g["step"], g["train_loss"], label=label)
        for c in check:
            axes[1].plot(g["step"], g[c], label=label)
    axes[0].set(xlabel="step", ylabel="training loss", title="training loss")
    axes[1].set(xlabel="step", ylabel="CLL (check)", title=f"periodic {check[0] if check else 'check'}")
    if chance is not None:
        axes[1].axhline(chance, color="grey", ls=":", label="chance")
    axes[1].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def plot_metrics_vs_cll(results: pd.DataFrame, metrics: dict[str, str], baseline: dict | None = None):
    """The paper's Figure 2: each ranking metric against test CLL, one point per run, with
    Pearson and Spearman correlations; an optional baseline (BM25) as a horizontal line."""
    from scipy import stats

    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 4), squeeze=False)
    rows = []
    for ax, (column, name) in zip(axes[0], metrics.items()):
        x, y = results["cll_test"].astype(float), results[column].astype(float)
        ax.scatter(x, y, s=25)
        if len(x) >= 3:
            pearson, spearman = stats.pearsonr(x, y)[0], stats.spearmanr(x, y)[0]
        else:
            pearson = spearman = float("nan")
        rows.append({"metric": name, "pearson": pearson, "spearman": spearman, "runs": len(x)})
        if baseline and column in baseline:
            ax.axhline(baseline[column], color="grey", ls="--", label="BM25")
            ax.legend()
        ax.set(xlabel="test CLL (lower is better)", ylabel=name, title=f"{name}: Pearson {pearson:.3f}, Spearman {spearman:.3f}")
    fig.tight_layout()
    return fig, pd.DataFrame(rows)


def seed_spread(x, y) -> pd.DataFrame:
    """Per distinct x: the number of runs (seeds), the mean, min and max of y."""
    frame = pd.DataFrame({"x": x, "y": y}).groupby("x")["y"]
    return pd.DataFrame({"runs": frame.size(), "mean": frame.mean(), "min": frame.min(),
                         "max": frame.max()}).reset_index()


def law_label(fit) -> str:
    """A fitted one-variable law as a formula with its values, for a legend."""
    p = fit.params
    if fit.law == "model_size":
        return f"({p['A']:.3g}/N)^{p['alpha']:.2f} + {p['delta']:.2f}"
    if fit.law == "data_size_transfer":
        return f"({p['B']:.3g}/(D + {p['D_T']:.3g}))^{p['beta']:.2f} + {p['delta']:.2f}"
    return f"({p['B']:.3g}/D)^{p['beta']:.2f} + {p['delta']:.2f}"


def add_law_curve(fig, study, name: str):
    """Another law fitted to the same points, as a dashed curve on a figure of
    :func:`plot_single_law` (the data-size law's transfer form beside the paper's form)."""
    import numpy as np

    fit, ax = study.fit, fig.axes[0]
    x = fit.points[LAWS[fit.law].inputs[0]]
    grid = np.geomspace(x.min() / 1.5, x.max() * 1.5, 200)
    ax.plot(grid, fit.predict(grid), ls="--", color=PALETTE[1],
            label=f"{name}: {law_label(fit)}, R² = {fit.r2:.3f}")
    ax.legend(fontsize=7)
    return fig


def plot_single_law(study, xlabel: str, title: str, ax=None):
    """A one-variable law in the paper's style (Figures 3 and 4): log-log axes, the runs, the
    fitted curve with its 95% bootstrap band, the held-out point(s) marked and their
    prediction from the fit without them."""
    import numpy as np

    fit = study.fit
    x_name = LAWS[fit.law].inputs[0]
    x, y = fit.points[x_name], fit.points["losses"]
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 4))
    else:
        fig = ax.figure
    grid = np.geomspace(x.min() / 1.5, x.max() * 1.5, 200)
    low, high = study.band(grid)
    ax.fill_between(grid, low, high, alpha=0.2, label="95% bootstrap band")
    ax.plot(grid, fit.predict(grid), label=f"fit: {law_label(fit)}, R² = {fit.r2:.3f}")
    spread = seed_spread(x, y)
    if (spread["runs"] > 1).any():  # several seeds per point: their mean and range (error bar)
        ax.scatter(x, y, color="black", s=8, alpha=0.4, zorder=3, label="runs (one per seed)")
        ax.errorbar(spread["x"], spread["mean"], yerr=[spread["mean"] - spread["min"], spread["max"] - spread["mean"]],
                    fmt="o", color="black", ms=4, capsize=3, zorder=3, label="mean and range over seeds")
    else:
        ax.scatter(x, y, color="black", zorder=3, label="runs")
    if study.holdout is not None:
        h = study.holdout
        hx = h.inputs[x_name]
        errors = np.asarray(h.relative_error, dtype=float)
        ax.scatter(hx, h.observed, s=120, facecolors="none", edgecolors="red", zorder=4,
                   label=f"held out: predicted {np.mean(h.predicted):.3f}, error "
                         + ", ".join(f"{100 * e:+.1f}%" for e in errors[:3]))
        ax.plot(grid, h.fit.predict(grid), color="red", ls=":", lw=1, label="fit without held-out point(s)")
    ax.set(xscale="log", yscale="log", xlabel=xlabel, ylabel="test CLL", title=title)
    plain_log_labels(ax)
    ax.set_ylim(y.min() / 1.25, y.max() * 1.25)  # the band can explode outside the data; keep the points readable
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_joint_law(study, labels: dict, title: str):
    """The joint law (or its transfer form) in the style of the paper's Figure 6: CLL against D,
    one curve per model size, held-out points marked."""
    import numpy as np

    fit = study.fit
    n, d, y = fit.points["n_params"], fit.points["n_train"], fit.points["losses"]
    held = {}
    if study.holdout is not None:
        h = study.holdout
        held = {(a, b): c for a, b, c in zip(h.inputs["n_params"], h.inputs["n_train"], h.predicted)}
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    grid = np.geomspace(d.min() / 1.5, d.max() * 1.5, 200)
    for i, size in enumerate(sorted(set(n))):
        style = series_style(i)
        mask = n == size
        ax.plot(grid, fit.predict(np.full_like(grid, size), grid), color=style["color"], ls=style["linestyle"],
                marker=style["marker"], markevery=[], label=f"{labels.get(size, f'N={size:,.0f}')} (N={size:,.0f})")
        ax.scatter(d[mask], y[mask], color=style["color"], marker=style["marker"], zorder=3)
        for dd, yy in zip(d[mask], y[mask]):
            if (size, dd) in held:
                ax.scatter([dd], [yy], s=140, facecolors="none", edgecolors="red", zorder=4)
    exponents = {"alpha": "α", "beta": "β", "delta": "δ"}  # the scales (A, B, D_T) with 3 digits
    values = ", ".join(f"{exponents[k]}={v:.2f}" if k in exponents else f"{k}={v:.3g}" for k, v in fit.params.items())
    ax.set(xscale="log", yscale="log", xlabel="D (training pairs)", ylabel="test CLL",
           title=f"{title}\n{values}, R²={fit.r2:.3f} (red circles: held out)")
    plain_log_labels(ax)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_annotation_laws(points: pd.DataFrame, studies: dict, title: str = ""):
    """The paper's Figure 5: test CLL against D (log-log), one colour per annotation method,
    its runs as points and its fitted data-size law as a line (faint outside its runs' D)."""
    import numpy as np

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    labels = list(dict.fromkeys(points["annotation"]))
    d_all = points["n_train"].astype(float)
    grid = np.geomspace(d_all.min() / 1.3, d_all.max() * 1.3, 200)
    for i, label in enumerate(labels):
        style = series_style(i)
        frame = points[points["annotation"] == label]
        legend = label
        if label in studies:
            fit = studies[label].fit
            p = fit.params
            inside = (grid >= frame["n_train"].min()) & (grid <= frame["n_train"].max())
            ax.plot(grid[inside], fit.predict(grid[inside]), color=style["color"], ls=style["linestyle"])
            ax.plot(grid, fit.predict(grid), color=style["color"], ls=style["linestyle"], lw=0.6, alpha=0.5)
            legend = f"{label}: ({p['B']:.3g}/D)^{p['beta']:.2f} + {p['delta']:.2f}"
        ax.scatter(frame["n_train"], frame["cll_test"], color=style["color"], marker=style["marker"], zorder=3,
                   label=legend)
    ax.set(xscale="log", yscale="log", xlabel="D (training pairs)", ylabel="test CLL (human test pairs)",
           title=title or "data-size law per annotation method")
    plain_log_labels(ax)
    y = points["cll_test"].astype(float)
    ax.set_ylim(y.min() / 1.15, y.max() * 1.15)  # a law extrapolated beyond its runs can explode
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_noise_trend(trend: pd.DataFrame):
    """B, beta and delta of the data-size law against the noise rate, with 95% bootstrap
    intervals (rate 0: the clean human pairs)."""
    import numpy as np

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, k in zip(axes, ("B", "beta", "delta")):
        y = trend[k].astype(float).to_numpy()
        lo = trend[f"{k}_low"].astype(float).to_numpy()
        hi = trend[f"{k}_high"].astype(float).to_numpy()
        err = np.vstack([np.clip(y - lo, 0, None), np.clip(hi - y, 0, None)])
        ax.errorbar(trend["noise_rate"], y, yerr=np.nan_to_num(err), fmt="o-", capsize=3)
        ax.set(xlabel="noise rate (share of positives replaced)", ylabel=k, title=f"{k} (95% bootstrap interval)")
        if k == "B":
            ax.set_yscale("log")
    fig.tight_layout()
    return fig


def plot_budget_lines(name: str, law_params: dict, cost_models: dict, budgets, n_grid):
    """The paper's Figures 7 and 8 for one law: predicted loss along each budget line (every N
    spends the rest of the budget on pairs), one panel per cost model, the optimum starred."""
    from . import budget as bud

    fig, axes = plt.subplots(1, len(cost_models), figsize=(6.5 * len(cost_models), 4.2), sharey=True, squeeze=False)
    for ax, (label, cost) in zip(axes[0], cost_models.items()):
        for i, z in enumerate(budgets):
            n, _, loss = bud.loss_along_budget(z, law_params, cost, n_grid)
            style = series_style(i)
            ax.plot(n, loss, color=style["color"], ls=style["linestyle"], label=f"${z:,.0f}")
            try:
                opt = bud.optimal_allocation(z, law_params, cost, n_bounds=(n_grid[0], n_grid[-1]))
            except ValueError:  # this budget cannot pay for the smallest model
                continue
            ax.scatter([opt["n_star"]], [opt["loss"]], color=style["color"], marker="*", s=120, zorder=3)
        ax.set(xscale="log", yscale="log", xlabel="N (non-embedding parameters)", title=f"{name}: {label}")
    axes[0][0].set_ylabel("predicted test CLL")
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_budget_optimum(table: pd.DataFrame):
    """N* and D* against the budget, one line per (law, cost model) of ``budget.allocations``."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.2))
    laws = list(dict.fromkeys(table["law"]))
    for (name, label), g in table.groupby(["law", "cost_model"], sort=False):
        style = series_style(laws.index(name))  # a law: a colour and a marker; a cost model: a dash
        dash = "-" if "with" in label and "without" not in label else "--"
        for ax, column in zip(axes, ("n_star", "d_star")):
            ax.plot(g["budget"], g[column], dash, color=style["color"], marker=style["marker"], label=f"{name}, {label}")
    axes[0].set(xscale="log", yscale="log", xlabel="budget ($)", ylabel="N*", title="optimal model size")
    axes[1].set(xscale="log", yscale="log", xlabel="budget ($)", ylabel="D*", title="optimal annotated pairs")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig
