"""Crop figures: a gallery of a crop set's canvases by class."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from karyoflow.core.labels import CLASSES  # noqa: E402
from karyoflow.core.plots import save_figure  # noqa: E402


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
