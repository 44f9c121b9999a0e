"""Classification figures: training curves and the straightening x head ablation."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from karyoflow.core.plots import finish_history, save_figure  # noqa: E402


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
    finish_history(fig, right, "accuracy", "Accuracy", seconds, out_png)


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
