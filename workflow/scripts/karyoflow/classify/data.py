"""Classifier inputs: straightened crops, their classes, cells, splits and relative length.

Row i of a straighten output belongs to row i of its crops table. Images are scaled to
`input_size` (area averaging) and kept as uint8 (a quarter of float32's memory: 2.3 kB a
crop at 48 px); they become 0..1 floats a batch at a time (`unit_scale`). Relative length = the straightened length
over the median of its cell, a scale-free size cue (the canvas also keeps each cell's
common scale). Splits come from the crops table (synthetic: by image = cell) or, for
imported crop sets, are drawn by case (the cell id before its first dot), never by crop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np
import pandas as pd

from karyoflow.core.labels import CLASS_INDEX, GROUP_INDEX_OF_CLASS, UnknownLabelError, canonical

log = logging.getLogger(__name__)


@dataclass
class CropSet:
    table: pd.DataFrame  # crop_id, image_id (cell), case_id, split, true_class, label
    images: np.ndarray  # (n, s, s, 1) uint8; the model sees unit_scale(images)
    relative_length: np.ndarray  # (n,) float32

    def subset(self, rows) -> CropSet:
        rows = np.asarray(rows)
        return CropSet(
            self.table.iloc[rows].reset_index(drop=True),
            self.images[rows],
            self.relative_length[rows],
        )

    def split(self, name: str) -> CropSet:
        return self.subset(np.flatnonzero(self.table["split"].to_numpy() == name))

    @property
    def labels(self) -> np.ndarray:
        return self.table["label"].to_numpy(dtype=int)

    @staticmethod
    def concat(parts: list[CropSet]) -> CropSet:
        """One set of several (same input size), rows in the order given."""
        sizes = {part.images.shape[1:] for part in parts}
        if len(sizes) > 1:
            raise ValueError(f"crop sets of different image shapes cannot be joined: {sizes}")
        return CropSet(
            pd.concat([part.table for part in parts], ignore_index=True),
            np.concatenate([part.images for part in parts]),
            np.concatenate([part.relative_length for part in parts]),
        )


def class_label(value) -> int:
    """Class index of a true_class cell, -1 where there is none (unmatched crops)."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or str(value) == "":
        return -1
    try:
        return CLASS_INDEX[canonical(value)]
    except UnknownLabelError:
        return -1


def resize_images(canvases: np.ndarray, input_size: int, rows=None) -> np.ndarray:
    """uint8 canvases (n, side, side) -> uint8 (len(rows), input_size, input_size, 1);
    rows (default all) picks canvases without copying the full-size ones first."""
    canvases = np.asarray(canvases)
    rows = np.arange(len(canvases)) if rows is None else np.asarray(rows, dtype=int)
    out = np.empty((len(rows), input_size, input_size, 1), dtype=np.uint8)
    for i, row in enumerate(rows):
        canvas = canvases[row]
        if canvas.shape[0] != input_size:
            canvas = cv2.resize(canvas, (input_size, input_size), interpolation=cv2.INTER_AREA)
        out[i, :, :, 0] = canvas
    return out


def unit_scale(images: np.ndarray) -> np.ndarray:
    """uint8 images -> float32 in 0..1, what the models take."""
    return np.asarray(images, dtype=np.float32) / np.float32(255.0)


def relative_lengths(lengths: np.ndarray, cell_ids) -> np.ndarray:
    frame = pd.DataFrame({"length": np.asarray(lengths, float), "cell": np.asarray(cell_ids)})
    median = frame.groupby("cell")["length"].transform("median")
    relative = (frame["length"] / median.replace(0, np.nan)).fillna(1.0)
    return relative.to_numpy(dtype=np.float32)


def case_splits(table: pd.DataFrame, *, test_fraction: float, val_fraction: float, seed: int):
    """Split label per row, drawn by case (all cells of a case together)."""
    from karyoflow.data.splits import make_splits

    cells = table[["image_id", "case_id"]].drop_duplicates("image_id")
    splits = make_splits(
        cells,
        test_fraction=test_fraction,
        val_fraction=val_fraction,
        seed=seed,
        group_column="case_id",
    )
    return table["image_id"].map(dict(zip(splits["image_id"], splits["split"], strict=True)))


def load_crop_set(
    crops: str,
    straight_table: str,
    straight: str,
    *,
    input_size: int,
    labelled_only: bool = True,
    case_split: dict | None = None,
) -> CropSet:
    """A crops table with its straightened arrays, ready for a model.

    case_split ({test_fraction, val_fraction, seed}): draw splits by case where the
    crops table has none (imported crop sets); without it, splits stay as they are.
    """
    table = pd.read_parquet(crops).reset_index(drop=True)
    rows = pd.read_parquet(straight_table)
    if (
        len(rows) != len(table)
        or not (rows["crop_id"].to_numpy() == table["crop_id"].to_numpy()).all()
    ):
        raise ValueError(f"{straight_table} does not belong to {crops} (crop ids differ)")
    with np.load(straight) as data:
        canvases = data["canvas"]
    if "case_id" not in table:
        table["case_id"] = table["image_id"].astype(str).str.split(".").str[0]
    table["label"] = [class_label(v) for v in table["true_class"]]
    table["straight_ok"] = rows["ok"].to_numpy()
    lengths = rows["length_px"].to_numpy(dtype=float)
    keep = (
        np.flatnonzero(table["label"].to_numpy() >= 0) if labelled_only else np.arange(len(table))
    )
    if "split" not in table:
        table["split"] = ""
    table["split"] = table["split"].fillna("")
    if case_split is not None and (table["split"] == "").any():
        table["split"] = case_splits(table, **case_split)
    relative = relative_lengths(lengths, table["image_id"])
    table = table.iloc[keep].reset_index(drop=True)
    columns = ["crop_id", "image_id", "case_id", "split", "true_class", "label", "straight_ok"]
    log.info(
        "%d crops (%d cells) from %s; splits: %s",
        len(table),
        table["image_id"].nunique(),
        crops,
        table["split"].value_counts().to_dict(),
    )
    return CropSet(table[columns], resize_images(canvases, input_size, keep), relative[keep])


def group_labels(labels: np.ndarray) -> np.ndarray:
    return np.asarray(GROUP_INDEX_OF_CLASS)[np.asarray(labels, int)]


def augmenter(augment: dict, seed: int):
    """Keras preprocessing layers (active only when called with training=True)."""
    import keras

    layers = []
    if augment.get("flip", True):
        # Mirror only: turning a straightened chromosome upside down would swap its arms.
        layers.append(keras.layers.RandomFlip("horizontal", seed=seed))
    if augment.get("rotation_deg", 0):
        layers.append(
            keras.layers.RandomRotation(
                augment["rotation_deg"] / 360.0, fill_mode="constant", seed=seed
            )
        )
    if augment.get("zoom", 0):
        layers.append(keras.layers.RandomZoom(augment["zoom"], fill_mode="constant", seed=seed))
    if augment.get("contrast", 0):
        layers.append(keras.layers.RandomContrast(augment["contrast"], seed=seed))
    return keras.Sequential(layers, name="augment") if layers else None


def dataset(
    crop_set: CropSet,
    *,
    head: str,
    batch: int,
    seed: int,
    augment: dict | None = None,
    shuffle: bool = False,
):
    """tf.data pipeline of ({image, relative_length}, targets) batches."""
    import tensorflow as tf

    targets = {"class": crop_set.labels}
    if head == "two_stage":
        targets["group"] = group_labels(crop_set.labels)
    inputs = {"image": crop_set.images, "relative_length": crop_set.relative_length[:, None]}
    data = tf.data.Dataset.from_tensor_slices((inputs, targets))
    if shuffle:
        data = data.shuffle(len(crop_set.labels), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch)
    layers = augmenter(augment, seed) if augment else None

    def prepare(x, y):
        # uint8 in memory; 0..1 floats a batch at a time
        image = tf.cast(x["image"], tf.float32) / 255.0
        if layers is not None:
            image = tf.clip_by_value(layers(image, training=True), 0.0, 1.0)
        return {"image": image, "relative_length": x["relative_length"]}, y

    data = data.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    return data.prefetch(tf.data.AUTOTUNE)
