"""Dataset figures: objects per image, instances per class, karyotypes, image sizes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from karyoflow.core.labels import CLASSES  # noqa: E402
from karyoflow.core.plots import SPLIT_ORDER, save_figure  # noqa: E402


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
