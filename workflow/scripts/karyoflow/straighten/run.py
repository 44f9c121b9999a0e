"""Straightening a crop set in shards (every n-th image's crops per job) and merging the
shards in the crop table's order."""

from __future__ import annotations

import numpy as np

from karyoflow.straighten.methods import straighten

STRAIGHT_COLUMNS = [
    "crop_id",
    "straight_index",
    "method",
    "ok",
    "reason",
    "length_px",
    "flipped",
    "polarity_confidence",
    "shrunk_to_fit",
]


def place_on_canvas(image: np.ndarray, side: int) -> tuple[np.ndarray, bool]:
    """Centre a straightened chromosome on a side x side canvas (shrunk only if too big)."""
    from karyoflow.crops.canvas import to_canvas

    return to_canvas(image, np.ones(image.shape, bool), 1.0, side, "bright")


def straighten_canvases(canvases: np.ndarray, crop_ids, method: str, progress_every=2000):
    """Straightened canvases (same size, same scale) and one table row per crop."""
    import logging

    from karyoflow.core.logs import Progress

    progress = Progress(
        logging.getLogger(__name__),
        "straightened",
        len(canvases),
        every=progress_every,
        unit="crops",
    )
    side = canvases.shape[1] if len(canvases) else 0
    out, rows = np.zeros_like(canvases), []
    for i, (canvas, crop_id) in enumerate(zip(canvases, crop_ids, strict=True)):
        result = straighten(canvas, method=method)
        placed, shrunk = place_on_canvas(np.where(result.mask, result.image, 0), side)
        out[i] = placed
        rows.append(
            (
                crop_id,
                i,
                method,
                result.ok,
                result.reason,
                round(result.length_px, 2),
                result.flipped,
                result.polarity_confidence,
                shrunk,
            )
        )
        progress.update(i + 1)
    import pandas as pd

    return out, pd.DataFrame(rows, columns=STRAIGHT_COLUMNS)


def straighten_crops_files(
    crops: str,
    arrays: str,
    table: str,
    straight: str,
    *,
    method: str,
    shard: int = 0,
    n_shards: int = 1,
):
    """Rule straighten: the crops of one shard of a crop set's images, in one batch job."""
    import pandas as pd

    from karyoflow.core.atomic import atomic_path
    from karyoflow.core.shards import rows_of_shard
    from karyoflow.core.tables import write_parquet
    from karyoflow.crops.canvas import load_crops

    crops_table = rows_of_shard(pd.read_parquet(crops), shard, n_shards)
    canvases, _ = load_crops(arrays)
    canvases = canvases[crops_table["crop_index"].to_numpy(dtype=int)]
    out, rows = straighten_canvases(canvases, crops_table["crop_id"], method)
    write_parquet(rows, table)
    with atomic_path(straight) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, canvas=out)
    return rows


def merge_straightened_files(
    crops: str, tables: list[str], shard_arrays: list[str], table: str, straight: str
):
    """Rule merge_straightened: the shards' straightened crops as one set in the crop
    table's row order (as one unsharded job writes it), straight_index into the array."""
    import pandas as pd

    from karyoflow.core.atomic import atomic_path
    from karyoflow.core.tables import write_parquet

    parts, canvases = [], []
    for table_path, array_path in zip(tables, shard_arrays, strict=True):
        part = pd.read_parquet(table_path)
        with np.load(array_path) as data:
            canvases.append(data["canvas"][part["straight_index"].to_numpy(dtype=int)])
        parts.append(part)
    rows = pd.concat(parts, ignore_index=True)
    canvas = np.concatenate(canvases)
    order = pd.Series(np.arange(len(rows)), index=rows["crop_id"])
    crop_ids = pd.read_parquet(crops, columns=["crop_id"])["crop_id"]
    if len(crop_ids) != len(rows) or set(crop_ids) != set(rows["crop_id"]):
        raise ValueError(f"the straightened shards {list(tables)} do not cover {crops}")
    positions = order.loc[crop_ids].to_numpy()
    rows = rows.iloc[positions].assign(straight_index=np.arange(len(rows)))
    write_parquet(rows.reset_index(drop=True), table)
    with atomic_path(straight) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, canvas=canvas[positions])
    return rows
