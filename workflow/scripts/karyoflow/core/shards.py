"""Shards: which images (or rows keyed by image) one job of n takes."""

from __future__ import annotations

import pandas as pd


def shard_of(images: pd.DataFrame, shard: int, n_shards: int) -> pd.DataFrame:
    """Every n-th image starting at `shard`: shards stay balanced whatever the order."""
    if not 0 <= shard < n_shards:
        raise ValueError(f"shard {shard} is not in 0..{n_shards - 1}")
    return images.iloc[shard::n_shards]


def rows_of_shard(table: pd.DataFrame, shard: int, n_shards: int) -> pd.DataFrame:
    """The rows of `table` whose image falls in `shard` (images in first-seen order), so
    every row of one image lands in the same shard."""
    images = pd.DataFrame({"image_id": table["image_id"].drop_duplicates()})
    keep = set(shard_of(images, shard, n_shards)["image_id"])
    return table[table["image_id"].isin(keep)]
