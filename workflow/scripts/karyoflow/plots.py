"""Figures for the Snakemake report (matplotlib/seaborn, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from karyoflow.io.atomic import atomic_path  # noqa: E402
from karyoflow.labels import CLASSES  # noqa: E402

SPLIT_ORDER = ["train", "val", "test"]


def save_figure(fig: plt.Figure, path: str | Path, dpi: int = 110) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(
            tmp, dpi=dpi, bbox_inches="tight", format=Path(path).suffix.lstrip(".") or "png"
        )
    plt.close(fig)


def data_summary(
    manifest_csv: str, annotations_parquet: str, splits_csv: str, out_png: str
) -> None:
    """Four panels: objects per image, instances per class, karyotypes, image sizes; by split."""
    manifest = pd.read_csv(manifest_csv, dtype={"image_id": str}, keep_default_na=False)
    splits = pd.read_csv(splits_csv, dtype={"image_id": str})
    annotations = pd.read_parquet(annotations_parquet)
    manifest = manifest.merge(splits, on="image_id", how="left")
    annotations = annotations.merge(splits, on="image_id", how="left")
    hue_order = [s for s in SPLIT_ORDER if s in set(manifest["split"])]

    sns.set_theme(style="whitegrid", context="notebook")
    fig, axes = plt.subplots(2, 2, figsize=(14, 9))
    sns.histplot(
        data=manifest,
        x="n_objects",
        hue="split",
        hue_order=hue_order,
        multiple="stack",
        discrete=True,
        ax=axes[0, 0],
    )
    axes[0, 0].set(
        title=f"Chromosomes per image ({len(manifest)} images)",
        xlabel="annotated objects",
        ylabel="images",
    )

    sns.countplot(
        data=annotations,
        x="class",
        hue="split",
        hue_order=hue_order,
        order=list(CLASSES),
        ax=axes[0, 1],
    )
    axes[0, 1].set(
        title=f"Instances per class ({len(annotations)} objects)",
        xlabel="class",
        ylabel="instances",
    )
    axes[0, 1].tick_params(axis="x", labelsize=8)

    karyotypes = manifest["karyotype"].replace("", "unknown")
    order = karyotypes.value_counts().index[:15]
    sns.countplot(y=karyotypes, order=order, ax=axes[1, 0], color=sns.color_palette()[0])
    axes[1, 0].set(title="Karyotypes (from truth or annotation counts)", xlabel="images", ylabel="")

    sns.scatterplot(
        data=manifest,
        x="width",
        y="height",
        hue="split",
        hue_order=hue_order,
        ax=axes[1, 1],
        alpha=0.7,
    )
    axes[1, 1].set(title="Image sizes", xlabel="width (px)", ylabel="height (px)")
    fig.tight_layout()
    save_figure(fig, out_png)


def detection_confusion(counts: pd.DataFrame, out_png: str, title: str = "Detection") -> None:
    """Row-normalised confusion matrix: true class (rows) against predicted class (columns)."""
    confusion_heatmap(
        counts,
        out_png,
        f"{title}: share of each true class per predicted class (IoU ≥ 0.5)",
        xlabel="predicted (background = missed)",
        ylabel="true (background = false alarm)",
    )


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
    from karyoflow.yolo_data import training_seconds

    _finish_history(
        fig, right, "validation score", "Validation mAP", training_seconds(history), out_png
    )


def _finish_history(fig, right, ylabel: str, title: str, seconds: float, out_png: str) -> None:
    """The score panel of a training-curve figure: axes, duration in the title, saved."""
    right.set(
        xlabel="epoch",
        ylabel=ylabel,
        ylim=(0, 1),
        title=f"{title} (training took {seconds / 60:.1f} min)",
    )
    right.legend(fontsize=8)
    save_figure(fig, out_png)


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


def crops_gallery(
    table: pd.DataFrame, canvases, out_png: str, n_cells: int = 3, per_row: int = 24
) -> None:
    """The crops of the first cells in karyotype order where known, `per_row` to a line."""
    import numpy as np

    cells = list(dict.fromkeys(table["image_id"]))[:n_cells]
    order = {c: i for i, c in enumerate(CLASSES)}
    side = canvases.shape[1] if len(canvases) else 32
    strips = []
    for cell in cells:
        group = table[table["image_id"] == cell].copy()
        group["rank"] = [order.get(c, 99) for c in group["true_class"]]
        group = group.sort_values(["rank", "length_px"], ascending=[True, False])
        indices, labels = group["crop_index"].tolist(), group["true_class"].tolist()
        for start in range(0, len(indices), per_row):
            strip = np.zeros((side, side * per_row), np.uint8)
            for k, index in enumerate(indices[start : start + per_row]):
                strip[:, k * side : (k + 1) * side] = canvases[index]
            title = f"{cell} ({len(group)} crops)" if start == 0 else ""
            names = " ".join(c or "?" for c in labels[start : start + per_row])
            strips.append((strip, title, names))
    fig, axes = plt.subplots(
        max(len(strips), 1), 1, figsize=(14, 0.75 * max(len(strips), 1) + 0.4), squeeze=False
    )
    for ax, (strip, title, names) in zip(axes[:, 0], strips, strict=False):
        ax.imshow(strip, cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"{title}  true classes: {names}", fontsize=7, loc="left")
        ax.axis("off")
    if not strips:
        axes[0, 0].axis("off")
        axes[0, 0].set_title("no crops")
    save_figure(fig, out_png, dpi=130)


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


def classifier_history(history: pd.DataFrame, out_png: str, title: str) -> None:
    """Loss and accuracy per epoch, training against validation (as in the blog study)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
    for column, name in (("loss", "training"), ("val_loss", "validation")):
        if column in history:
            left.plot(history["epoch"], history[column], marker="o", ms=3, label=name)
    left.set(xlabel="epoch", ylabel="loss", title=f"Loss: {title}")
    left.legend(fontsize=8)
    for column, name in (("class_accuracy", "training"), ("val_class_accuracy", "validation")):
        if column in history:
            right.plot(history["epoch"], history[column], marker="o", ms=3, label=name)
    seconds = float(history["seconds"].iloc[-1]) if len(history) else 0.0
    _finish_history(fig, right, "accuracy", "Accuracy", seconds, out_png)


def classification_ablation(ablation: pd.DataFrame, out_png: str) -> None:
    """Test accuracy of every straightening x head x decision variant, side by side."""
    frame = ablation.assign(
        variant=ablation["straighten"] + " / " + ablation["head"],
        decision=ablation["decision"].replace({"assignment": "cell assignment"}),
    )
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * frame["variant"].nunique() + 2), 4.5))
    sns.barplot(frame, x="variant", y="accuracy", hue="decision", ax=ax)
    for container in ax.containers:
        ax.bar_label(container, fmt="%.3f", fontsize=7, padding=2)
    low = max(0.0, float(frame["accuracy"].min()) - 0.1) if len(frame) else 0.0
    n = int(frame["n"].iloc[0]) if len(frame) else 0
    cells = int(frame["n_cells"].iloc[0]) if len(frame) else 0
    ax.set(
        ylim=(low, 1.0),
        xlabel="straightening / head",
        ylabel="test accuracy per crop",
        title=f"Ablation on the same test cells ({n} crops, {cells} cells)",
    )
    ax.tick_params(axis="x", rotation=20)
    save_figure(fig, out_png)


def karyotype_evaluation(scores: dict, out_png: str) -> None:
    """Exact karyotype calls per type of true karyotype."""
    types = list(scores["by_type"])
    rates = [scores["by_type"][t]["exact_rate"] for t in types]
    counts = [scores["by_type"][t]["n"] for t in types]
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(types) + 2), 4))
    bars = ax.bar(types, rates, color=sns.color_palette("deep", max(len(types), 1)))
    ax.bar_label(
        bars, labels=[f"{r:.2f} (n={n})" for r, n in zip(rates, counts, strict=True)], fontsize=8
    )

    def share(value):
        return "n/a" if value is None else f"{value:.2f}"

    ax.set(
        ylim=(0, 1.1),
        ylabel="exact numerical karyotype",
        title=(
            f"Calls on {scores['n_cells']} cells: exact {scores['exact_rate']:.2f}; aneuploidy "
            f"sensitivity {share(scores['aneuploidy_sensitivity'])}, "
            f"specificity {share(scores['aneuploidy_specificity'])}"
        ),
    )
    save_figure(fig, out_png)
