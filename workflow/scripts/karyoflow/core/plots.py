"""Figure helpers every stage's figures share: saving, the confusion heatmap, the training-
curve panel."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from karyoflow.core.atomic import atomic_path  # noqa: E402

SPLIT_ORDER = ["train", "val", "test"]


def save_figure(fig: plt.Figure, path: str | Path, dpi: int = 110) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(
            tmp, dpi=dpi, bbox_inches="tight", format=Path(path).suffix.lstrip(".") or "png"
        )
    plt.close(fig)


def confusion_heatmap(counts: pd.DataFrame, out_png: str, title: str, xlabel: str, ylabel: str):
    """Counts (rows true, columns predicted) shown as shares of each row."""
    shares = counts.div(counts.sum(axis=1).replace(0, 1), axis=0)
    n_rows, n_cols = shares.shape
    fig, ax = plt.subplots(figsize=(max(5.0, 0.45 * n_cols + 3), max(4.0, 0.32 * n_rows + 1.5)))
    sns.heatmap(
        shares,
        annot=n_cols * n_rows <= 26 * 26,
        fmt=".2f",
        annot_kws={"fontsize": 6 if n_cols > 3 else 8},
        cmap="Blues",
        vmin=0,
        vmax=1,
        cbar_kws={"label": "share of the row"},
        ax=ax,
    )
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    save_figure(fig, out_png)


def finish_history(fig, right, ylabel: str, title: str, seconds: float, out_png: str) -> None:
    """The score panel of a training-curve figure: axes, duration in the title, saved."""
    right.set(
        xlabel="epoch",
        ylabel=ylabel,
        ylim=(0, 1),
        title=f"{title} (training took {seconds / 60:.1f} min)",
    )
    right.legend(fontsize=8)
    save_figure(fig, out_png)
