"""Tiny labelled crop folders in the 612-cell G-band layout, for classifier tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def crop_tree(root: Path, cells: list[str], sex: str = "XY", seed: int = 0) -> None:
    """<cell>.tiff/clase<k>/clase<k>_<copy>_<cell>.tiff: dark banded bars on white whose
    length falls with the class number, two per autosome plus the sex chromosomes."""
    rng = np.random.default_rng(seed)
    for cell in cells:
        classes = [k for k in range(1, 23) for _ in range(2)] + [
            23 if s == "X" else 24 for s in sex
        ]
        for copy, k in enumerate(classes):
            length = 64 - 2 * k
            grey = np.full((length + 8, 18), 250, np.uint8)
            band = 40 + 120 * ((np.arange(length) // (2 + k % 5)) % 2)
            grey[4:-4, 5:13] = np.clip(band[:, None] + rng.normal(0, 6, (length, 8)), 0, 255)
            folder = root / f"{cell}.tiff" / f"clase{k}"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(grey).save(folder / f"clase{k}_{copy}_{cell}.tiff")
