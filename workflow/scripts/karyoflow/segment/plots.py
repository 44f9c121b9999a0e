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


def found_instances(
    image, truth_masks, windows, summary: dict, out_png: str, title: str, image_title: str
) -> None:
    """Left: one image, annotated outlines green, found masks magenta. Right: recall per
    kind and overall precision, recall and F1 of the found instances."""
    import cv2
    import numpy as np

    fig, (left, right) = plt.subplots(
        1, 2, figsize=(13, 5), gridspec_kw={"width_ratios": [1.4, 1]}, layout="constrained"
    )
    thickness = max(1, round(max(image.shape) / 600))
    rgb = cv2.cvtColor(np.asarray(image, dtype=np.uint8), cv2.COLOR_GRAY2RGB)
    found = [(x0, y0, m) for x0, y0, m in windows]
    for masks, colour, offsets in (
        (truth_masks, (0, 170, 0), None),
        ([m for _, _, m in found], (230, 0, 200), [(x0, y0) for x0, y0, _ in found]),
    ):
        for k, mask in enumerate(masks):
            contours, _ = cv2.findContours(
                mask.astype(np.uint8),
                cv2.RETR_EXTERNAL,
                cv2.CHAIN_APPROX_NONE,
                offset=offsets[k] if offsets else (0, 0),
            )
            cv2.drawContours(rgb, contours, -1, colour, thickness)
    left.imshow(rgb)
    left.axis("off")
    left.set_title(f"{image_title}: annotated green, found magenta", fontsize=9)
    names = [f"{kind}\nn={v['annotated']}" for kind, v in summary["by_kind"].items()]
    values = [v["recall"] or 0 for v in summary["by_kind"].values()]
    names += ["all: precision", "all: recall", "all: F1"]
    values += [summary["precision"] or 0, summary["recall"] or 0, summary["f1"] or 0]
    colours = ["#9ecae1"] * len(summary["by_kind"]) + ["#fdae6b"] * 3
    right.barh(names[::-1], values[::-1], color=colours[::-1])
    for y, value in enumerate(values[::-1]):
        right.text(value + 0.01, y, f"{value:.3f}", va="center", fontsize=8)
    count = summary["count"]
    right.set(
        xlim=(0, 1.12),
        xlabel=f"mask IoU >= {summary['iou_threshold']} (recall per kind, blue)",
        title=(
            f"{summary['n_images']} images: count exact {count['exact_rate']}, "
            f"mean |count error| {count['mean_abs_error']}"
        ),
    )
    fig.suptitle(title, fontsize=10)
    save_figure(fig, out_png)
