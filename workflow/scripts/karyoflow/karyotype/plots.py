"""Karyotype figures: calls against the truth."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from karyoflow.core.plots import save_figure  # noqa: E402


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
