"""Segmentation figures: worst and best masks, mask IoU by kind."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from karyoflow.core.plots import save_figure  # noqa: E402


def segmentation_gallery(crops: list, out_png: str, title: str, per_row: int = 8) -> None:
    """Worst (top row) and best (bottom row) masks: truth outline green, prediction magenta.

    `crops` holds (iou, image_id, instance, kind, (image, truth mask, predicted mask)),
    sorted by IoU.
    """
    import cv2
    import numpy as np

    n = min(per_row, max(len(crops) // 2, 1)) if crops else 0
    picks = [("worst", crops[:n]), ("best", crops[-n:] if n else [])]
    fig, axes = plt.subplots(2, max(n, 1), figsize=(1.9 * max(n, 1), 4.6), squeeze=False)
    for r, (name, chosen) in enumerate(picks):
        for c in range(max(n, 1)):
            ax = axes[r, c]
            ax.axis("off")
            if c >= len(chosen):
                continue
            iou, image_id, instance, kind, (image, truth, pred) = chosen[c]
            rgb = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
            for mask, colour in ((truth, (0, 170, 0)), (pred, (230, 0, 200))):
                contours, _ = cv2.findContours(
                    mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE
                )
                cv2.drawContours(rgb, contours, -1, colour, 1)
            ax.imshow(rgb)
            ax.set_title(f"{name} IoU {iou:.2f}\n{image_id}#{instance} {kind}", fontsize=6)
    fig.suptitle(f"{title}: truth green, prediction magenta", fontsize=9)
    save_figure(fig, out_png)


def segmentation_scores(scores: pd.DataFrame, out_png: str, title: str) -> None:
    """IoU distribution per kind of chromosome (isolated, touching, overlapping)."""
    fig, ax = plt.subplots(figsize=(7, 4))
    order = [k for k in ("isolated", "touching", "overlapping") if k in set(scores["kind"])]
    sns.boxplot(data=scores, x="kind", y="iou", order=order, ax=ax, color="#9ecae1")
    counts = scores["kind"].value_counts()
    means = scores.groupby("kind")["iou"].mean()
    ax.set_xticks(range(len(order)))
    ax.set_xticklabels([f"{k}\nn={counts[k]}, mean {means[k]:.3f}" for k in order])
    ax.set(ylim=(0, 1.02), ylabel="mask IoU with the truth", xlabel="", title=title)
    save_figure(fig, out_png)
