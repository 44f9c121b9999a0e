"""Train/validation/test splits by group (image, case, ...), never by object.

The protocol of the YOLOv10+SAM karyotyping paper: hold out ``test_fraction`` of the groups
as test, then ``val_fraction`` of the remaining groups as validation, the rest is training.
Counts round up, as scikit-learn's ``train_test_split`` does for the held-out part.
"""

from __future__ import annotations

import json
import logging
import math
import numbers
from pathlib import Path

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


def source_groups(manifest: pd.DataFrame) -> pd.Series:
    """Per image of ``manifest``, the group a split must keep together: the real cell its
    chromosomes came from where the generator's truth file names one (``source_cell``,
    cells built from a crop folder), else the image itself.

    Two synthetic cells built from the same real cell share its chromosomes (turned and
    scaled), so a split by synthetic image would put one real chromosome in training and
    test; grouping by the source cell keeps them on one side.
    """
    groups = manifest["image_id"].astype(str).copy()
    if "truth_path" not in manifest.columns:
        return groups
    for row, path in manifest["truth_path"].items():
        if isinstance(path, str) and path:
            source = json.loads(Path(path).read_text()).get("source_cell", "")
            if source:
                groups[row] = f"source_cell:{source}"
    return groups


UNLISTED = "unlisted"


def read_id_list(path: str | Path) -> set[str]:
    """Image ids of a split list: one entry per line, a bare id or a file path (the stem
    of its last component is the id, as ingestion names images); blanks and # skipped."""
    ids = set()
    for line in Path(path).read_text(encoding="utf-8-sig").splitlines():
        entry = line.strip()
        if entry and not entry.startswith("#"):
            ids.add(Path(entry.replace("\\", "/")).stem)
    if not ids:
        raise ValueError(f"split list {path} names no image")
    return ids


def splits_from_lists(
    manifest: pd.DataFrame,
    *,
    test_ids: set[str],
    train_ids: set[str] | None = None,
    val_fraction: float = 0.15,
    seed: int = 0,
) -> pd.DataFrame:
    """An official split honoured: the listed test images are test; validation is carved
    from the training images (all others where no train list is given) as
    ceil(val_fraction x n) of them, shuffled by image with `seed`. Images on neither list
    get the split "unlisted" (no stage uses them), and are logged."""
    _check_fraction("val_fraction", val_fraction)
    ids = manifest["image_id"].astype(str)
    split = pd.Series("train", index=manifest.index, dtype=object)
    split[ids.isin(test_ids)] = "test"
    if train_ids is not None:
        split[~ids.isin(test_ids) & ~ids.isin(train_ids)] = UNLISTED
    both = sorted(set(test_ids) & set(train_ids or ()))
    if both:
        raise ValueError(f"images on both the train and the test list, e.g. {both[:5]}")
    pool = np.array(sorted(ids[split == "train"]), dtype=object)
    n_val = min(_ceil(val_fraction * len(pool)), max(len(pool) - 1, 0))
    val = set(pool[np.random.default_rng(seed).permutation(len(pool))[:n_val]])
    split[ids.isin(val)] = "val"
    counts = split.value_counts().to_dict()
    logger.info("official split: %s", counts)
    if counts.get(UNLISTED):
        logger.warning("%d image(s) are on neither split list and are left out", counts[UNLISTED])
    missing = len(set(test_ids) - set(ids))
    if missing:
        logger.warning("%d test-list image(s) are not in this dataset", missing)
    result = pd.DataFrame({"image_id": ids, "split": split})
    return result.sort_values("image_id", kind="stable").reset_index(drop=True)


def find_split_list(name: str, roots: list[str | Path]) -> Path:
    """A split list by path, or (relative) by name anywhere under the dataset roots."""
    path = Path(name)
    if path.is_file():
        return path
    if not path.is_absolute():
        for root in roots:
            found = sorted(Path(root).rglob(path.name)) if Path(root).is_dir() else []
            if found:
                return found[0]
    raise FileNotFoundError(
        f"split list {name!r} is neither a file nor found under {', '.join(map(str, roots))}"
    )


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
    from karyoflow.core.tables import write_csv
    from karyoflow.data.ingest import read_manifest

    images = read_manifest(manifest)[["image_id", "image_path"]]
    if split is not None:
        splits = pd.read_csv(splits, dtype={"image_id": str})
        images = images[images["image_id"].isin(splits.loc[splits["split"] == split, "image_id"])]
    logger.info("%d images listed%s", len(images), f" (split {split})" if split else "")
    write_csv(images, out_csv)
    return images
