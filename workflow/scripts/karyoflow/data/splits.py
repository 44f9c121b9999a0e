"""Train/validation/test splits by group (image, case, ...), never by object.

The protocol of the YOLOv10+SAM karyotyping paper: hold out ``test_fraction`` of the groups
as test, then ``val_fraction`` of the remaining groups as validation, the rest is training.
Counts round up, as scikit-learn's ``train_test_split`` does for the held-out part.
"""

from __future__ import annotations

import logging
import math
import numbers

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

SPLITS: tuple[str, ...] = ("train", "val", "test")


def make_splits(
    manifest: pd.DataFrame,
    *,
    test_fraction: float = 0.25,
    val_fraction: float = 0.15,
    seed: int = 0,
    group_column: str = "image_id",
) -> pd.DataFrame:
    """Assign every image of ``manifest`` to "train", "val" or "test".

    Groups (the distinct values of ``group_column``, e.g. a case id so that all cells of
    one patient stay together) are sorted, shuffled with ``numpy.random.default_rng(seed)``
    and cut: the first ceil(test_fraction * n) groups are test, the next
    ceil(val_fraction * rest) val, the rest train. The result depends only on the set of
    groups and the seed, not on row order. With 3 or more groups every split gets at least
    one group; with 2 there is no val split, with 1 everything is train.

    Returns a DataFrame with columns ``image_id`` and ``split``, one row per image id,
    sorted by image id.
    """
    _check_fraction("test_fraction", test_fraction)
    _check_fraction("val_fraction", val_fraction)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an integer, got {seed!r}")
    for column in {"image_id", group_column}:
        if column not in manifest.columns:
            raise ValueError(
                f"manifest has no column {column!r} (columns: {', '.join(manifest.columns)})"
            )
    if manifest.empty:
        raise ValueError("manifest is empty: there are no images to split")

    pairs = pd.DataFrame(
        {"image_id": manifest["image_id"].astype(str), "group": manifest[group_column].astype(str)}
    ).drop_duplicates()
    if pairs["image_id"].duplicated().any():
        clashing = sorted(pairs.loc[pairs["image_id"].duplicated(), "image_id"])[:5]
        raise ValueError(
            f"image ids belong to more than one {group_column!r} group, e.g. {clashing}"
        )

    groups = np.array(sorted(pairs["group"].unique()), dtype=object)
    n_test, n_val = _split_sizes(len(groups), test_fraction, val_fraction)
    shuffled = groups[np.random.default_rng(seed).permutation(len(groups))]
    split_of = dict.fromkeys(shuffled[:n_test], "test")
    split_of.update(dict.fromkeys(shuffled[n_test : n_test + n_val], "val"))
    split_of.update(dict.fromkeys(shuffled[n_test + n_val :], "train"))

    result = pd.DataFrame({"image_id": pairs["image_id"], "split": pairs["group"].map(split_of)})
    return result.sort_values("image_id", kind="stable").reset_index(drop=True)


def _check_fraction(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number strictly between 0 and 1, got {value!r}")
    if not 0 < value < 1:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {value}")


def _split_sizes(n: int, test_fraction: float, val_fraction: float) -> tuple[int, int]:
    """Number of test and val groups out of ``n``."""
    if n < 3:
        logger.warning("only %d group(s): not enough for train, val and test splits", n)
        return (1 if n == 2 else 0), 0
    # Clamp so that val and train keep at least one group each.
    n_test = min(max(_ceil(test_fraction * n), 1), n - 2)
    rest = n - n_test
    n_val = min(max(_ceil(val_fraction * rest), 1), rest - 1)
    return n_test, n_val


def _ceil(x: float) -> int:
    # 0.1 * 30 is 3.0000000000000004 in floating point; that must give 3, not 4.
    return math.ceil(x - 1e-9)


def write_image_list(
    manifest: str, out_csv: str, splits: str | None = None, split: str | None = None
) -> pd.DataFrame:
    """The image_id and image_path of every image in the manifest CSV, or of one split."""
    from karyoflow.data.ingest import read_manifest
    from karyoflow.core.tables import write_csv

    images = read_manifest(manifest)[["image_id", "image_path"]]
    if split is not None:
        splits = pd.read_csv(splits, dtype={"image_id": str})
        images = images[images["image_id"].isin(splits.loc[splits["split"] == split, "image_id"])]
    logger.info("%d images listed%s", len(images), f" (split {split})" if split else "")
    write_csv(images, out_csv)
    return images
