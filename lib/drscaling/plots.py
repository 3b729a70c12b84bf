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
