"""Straightening figures: scores by method and before/after galleries."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from karyoflow.core.plots import save_figure  # noqa: E402


def straightening_scores(scores: pd.DataFrame, out_png: str) -> None:
    """Length kept and band-profile correlation per method, bent and straight apart."""
    ok = scores[scores["ok"]]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    if ok.empty:
        for ax in axes:
            ax.axis("off")
        axes[1].set_title("no crops with known centrelines to score")
        save_figure(fig, out_png)
        return
    for ax, column, label in (
        (axes[0], "length_ratio", "straightened length / true length"),
        (axes[1], "band_correlation", "band profile r with the ideogram"),
        (axes[2], "straightness_px", "spread of the medial line (px)"),
    ):
        sns.boxplot(data=ok, x="method", y=column, hue="shape", ax=ax, showfliers=False)
        ax.set(xlabel="", ylabel=label)
    axes[0].axhline(1, color="grey", lw=0.8, ls="--")
    fig.suptitle("Straightening on synthetic crops with known centrelines", fontsize=10)
    save_figure(fig, out_png)


def straightening_gallery(examples: list, titles: list[str], out_png: str) -> None:
    """One row per bent chromosome: the crop, then each method's result."""
    n = max(len(examples), 1)
    fig, axes = plt.subplots(n, len(titles), figsize=(1.6 * len(titles), 1.6 * n), squeeze=False)
    for r, row in enumerate(examples):
        for c, image in enumerate(row):
            axes[r, c].imshow(image, cmap="gray", vmin=0, vmax=255)
            axes[r, c].axis("off")
            if r == 0:
                axes[r, c].set_title(titles[c], fontsize=8)
    for ax in axes.ravel():
        ax.axis("off")
    save_figure(fig, out_png)
