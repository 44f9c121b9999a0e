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
    chain = {
        "found": scores.get("placement", {}).get("found"),
        "placed\ncorrectly": scores.get("placement", {}).get("placed_correctly"),
        "count\nexact": scores.get("count", {}).get("exact_rate"),
        "karyotype\nexact": scores["exact_rate"],
        "aneuploidy\nright": scores.get("aneuploidy_sensitivity_right_abnormality"),
    }
    chain = {k: v for k, v in chain.items() if v is not None}
    fig, (ax, chain_ax) = plt.subplots(
        1,
        2,
        figsize=(max(5.0, 1.2 * len(types) + 2) + 5, 4),
        gridspec_kw={"width_ratios": [max(len(types), 2), 4]},
    )
    chain_bars = chain_ax.bar(list(chain), list(chain.values()), color="0.45")
    chain_ax.bar_label(chain_bars, labels=[f"{v:.2f}" for v in chain.values()], fontsize=8)
    chain_ax.set(ylim=(0, 1.1), title="The chain, per chromosome and per cell")
    chain_ax.tick_params(axis="x", labelsize=8)
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
