"""The study's figures (matplotlib / seaborn); each returns its figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns


def plot_dataset_statistics(lengths: pd.DataFrame, qpp: pd.Series, title: str = ""):
    """Query and passage length distributions (tokens if present, else words) and the
    number of questions per passage."""
    measure = "tokens" if "tokens" in lengths else "words"
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
