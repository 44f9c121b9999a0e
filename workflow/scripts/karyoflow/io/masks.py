"""Instance masks on disk: one compressed .npz per image, each mask cut to its window.

Masks may overlap (crossing chromosomes), so they are not stored as one label map.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from karyoflow.io.atomic import atomic_path


def save_masks(path: str | Path, windows: list[tuple[int, int, np.ndarray]]) -> None:
    """Write masks given as (x0, y0, bool array) windows."""
    origins = np.array([(x0, y0) for x0, y0, _ in windows], dtype=np.int32).reshape(-1, 2)
    shapes = np.array([m.shape for _, _, m in windows], dtype=np.int32).reshape(-1, 2)
    bits = [np.packbits(m.astype(bool).ravel()) for _, _, m in windows]
    offsets = np.cumsum([0] + [len(b) for b in bits]).astype(np.int64)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(
                handle,
                origins=origins,
                shapes=shapes,
                offsets=offsets,
                bits=np.concatenate(bits) if bits else np.zeros(0, np.uint8),
            )


def load_masks(path: str | Path) -> list[tuple[int, int, np.ndarray]]:
    with np.load(path) as data:
        origins, shapes, offsets, bits = (data[k] for k in ("origins", "shapes", "offsets", "bits"))
    out = []
    for i, ((x0, y0), (h, w)) in enumerate(zip(origins, shapes, strict=True)):
        flat = np.unpackbits(bits[offsets[i] : offsets[i + 1]], count=int(h * w))
        out.append((int(x0), int(y0), flat.reshape(h, w).astype(bool)))
    return out
