"""Detection figures: confusion matrix, precision-recall curves, training history."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from karyoflow.core.plots import confusion_heatmap, finish_history, save_figure  # noqa: E402


def detection_confusion(counts: pd.DataFrame, out_png: str, title: str = "Detection") -> None:
    """Row-normalised confusion matrix: true class (rows) against predicted class (columns)."""
    confusion_heatmap(
        counts,
        out_png,
        f"{title}: share of each true class per predicted class (IoU ≥ 0.5)",
        xlabel="predicted (background = missed)",
        ylabel="true (background = false alarm)",
    )


def precision_recall(curves: dict, out_png: str, overall: dict) -> None:
    """Precision-recall curves at IoU 0.5, one line per class."""
    fig, ax = plt.subplots(figsize=(6.5, 5))
    palette = sns.color_palette("husl", max(len(curves), 1))
    for colour, (name, (recall, precision)) in zip(palette, curves.items(), strict=False):
        ax.plot(recall, precision, color=colour, lw=1.5 if len(curves) == 1 else 0.8, label=name)
    ax.set(
        xlim=(0, 1.01),
        ylim=(0, 1.02),
        xlabel="recall",
        ylabel="precision",
        title=(
            f"Precision-recall at IoU 0.5: mAP50 {overall['map50']:.3f}, "
            f"mAP50-95 {overall['map50_95']:.3f}"
        ),
    )
    if curves:
        ax.legend(fontsize=6 if len(curves) > 3 else 9, ncol=2 if len(curves) > 12 else 1)
    save_figure(fig, out_png)


def detector_history(history_csv: str, out_png: str) -> None:
    """Training losses and validation mAP per epoch, from Ultralytics' results.csv."""
    history = pd.read_csv(history_csv)
    history.columns = [c.strip() for c in history.columns]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
    for column in ("train/box_loss", "train/cls_loss", "train/dfl_loss", "val/box_loss"):
        if column in history:
            left.plot(history["epoch"], history[column], label=column)
    left.set(xlabel="epoch", ylabel="loss", title="Detector losses")
    left.legend(fontsize=8)
    for column, name in (("metrics/mAP50(B)", "mAP50"), ("metrics/mAP50-95(B)", "mAP50-95")):
        if column in history:
            right.plot(history["epoch"], history[column], marker="o", ms=3, label=name)
    from karyoflow.detect.dataset import training_seconds

    finish_history(
        fig, right, "validation score", "Validation mAP", training_seconds(history), out_png
    )
