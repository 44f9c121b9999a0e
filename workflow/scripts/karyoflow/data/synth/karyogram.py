"""Arrange a synthetic cell's chromosomes as a karyogram (the ground-truth layout).

Rows follow the standard layout: 1-5 / 6-12, X / 13-18 / 19-22, Y. Each chromosome is
re-rendered straight, p arm up; homologues stand side by side and every row is aligned
at the centromere.
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from karyoflow.data.synth.chromosome import render
from karyoflow.data.synth.metaphase import SyntheticCell

KARYOGRAM_ROWS: tuple[tuple[str, ...], ...] = (
    ("1", "2", "3", "4", "5"),
    ("6", "7", "8", "9", "10", "11", "12", "X"),
    ("13", "14", "15", "16", "17", "18"),
    ("19", "20", "21", "22", "Y"),
)


def render_karyogram(
    cell: SyntheticCell, background: int = 250, gap: int = 6, margin: int = 16
) -> np.ndarray:
    """A grey karyogram image of the cell, straightened chromosomes in standard order."""
    by_class: dict[str, list] = {}
    for placed in cell.chromosomes:
        upright = placed.rendered.extras.get("upright")  # a real crop, as it came
        if upright is None:
            spec = replace(
                placed.rendered.spec,
                shape="straight",
                turn=0.0,
                angle=np.pi / 2,
                subpixel=(0.0, 0.0),
            )
            upright = render(spec)
        by_class.setdefault(placed.rendered.spec.cls, []).append(upright)

    label_height = 22
    row_images = []
    for row in KARYOGRAM_ROWS:
        slots = []
        for cls in row:
            members = by_class.get(cls, [])
            above = max((r.centromere[1] for r in members), default=10.0)
            below = max((r.alpha.shape[0] - r.centromere[1] for r in members), default=10.0)
            width = sum(r.alpha.shape[1] for r in members) + gap * max(len(members) - 1, 0)
            slots.append((cls, members, above, below, max(width, 30)))
        above = int(np.ceil(max(s[2] for s in slots)))
        below = int(np.ceil(max(s[3] for s in slots)))
        height = above + below + label_height
        total_width = sum(s[4] for s in slots) + 4 * gap * (len(slots) + 1)
        alpha_row = np.zeros((height, total_width), np.float32)
        x = 4 * gap
        label_positions = []
        for cls, members, _, _, slot_width in slots:
            cx = x
            for r in members:
                h, w = r.alpha.shape
                top = int(round(above - r.centromere[1]))
                window = alpha_row[top : top + h, cx : cx + w]
                np.maximum(window, r.alpha[: window.shape[0], : window.shape[1]], out=window)
                cx += w + gap
            label_positions.append((cls, x + slot_width // 2))
            x += slot_width + 4 * gap
        row_image = (background * (1 - alpha_row)).astype(np.uint8)
        for cls, centre_x in label_positions:
            size = cv2.getTextSize(cls, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)[0]
            cv2.putText(
                row_image,
                cls,
                (centre_x - size[0] // 2, height - 6),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.5,
                0,
                1,
                cv2.LINE_AA,
            )
        row_images.append(row_image)

    width = max(r.shape[1] for r in row_images) + 2 * margin
    rows = [
        np.pad(r, ((0, 0), (margin, width - r.shape[1] - margin)), constant_values=background)
        for r in row_images
    ]
    body = np.vstack(
        [np.vstack([r, np.full((gap * 2, width), background, np.uint8)]) for r in rows]
    )
    return np.pad(body, ((margin, margin), (0, 0)), constant_values=background)
