"""The split dataset in the Ultralytics YOLO layout (no torch import here).

    <out>/images/{train,val,test}/<image_id><ext>   symbolic links to the ingested images
    <out>/labels/{train,val,test}/<image_id>.txt    one "class cx cy w h" line per object
    <out>/data.yaml                                 paths and class names

Classes follow karyotype order (1..22, X, Y -> ids 0..23) for `karyotype24`, or a single
class "chromosome" (id 0) for `chromosome`, whose identity the classifier decides later.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from karyoflow.core.atomic import atomic_path
from karyoflow.core.labels import CLASSES, index

TASKS = ("karyotype24", "chromosome")
SPLITS = ("train", "val", "test")


def class_names(task: str) -> list[str]:
    if task not in TASKS:
        raise ValueError(f"detect.task {task!r} is not one of {TASKS}")
    return list(CLASSES) if task == "karyotype24" else ["chromosome"]


def yolo_lines(objects: pd.DataFrame, width: int, height: int, task: str) -> list[str]:
    """YOLO label lines for one image's objects (columns class, xmin, ymin, xmax, ymax)."""
    class_names(task)
    lines = []
    columns = [objects[c].tolist() for c in ("class", "xmin", "ymin", "xmax", "ymax")]
    for label, xmin, ymin, xmax, ymax in zip(*columns, strict=True):
        cls = index(label) if task == "karyotype24" else 0
        cx = (xmin + xmax) / 2 / width
        cy = (ymin + ymax) / 2 / height
        lines.append(
            f"{cls} {cx:.6f} {cy:.6f} {(xmax - xmin) / width:.6f} {(ymax - ymin) / height:.6f}"
        )
    return lines


def boxes_from_yolo(lines: list[str], width: int, height: int) -> np.ndarray:
    """(n, 5) array of class, xmin, ymin, xmax, ymax in pixels from YOLO label lines
    (class cx cy w h, normalised); lines that do not start with five numbers are skipped."""
    rows = []
    for line in lines:
        try:
            rows.append([float(v) for v in line.split()[:5]])
        except ValueError:
            continue
    values = np.array([r for r in rows if len(r) == 5], dtype=float).reshape(-1, 5)
    cls, cx, cy, w, h = values.T
    return np.stack(
        [
            cls,
            (cx - w / 2) * width,
            (cy - h / 2) * height,
            (cx + w / 2) * width,
            (cy + h / 2) * height,
        ],
        axis=1,
    )


def write_yolo_dataset(
    manifest: pd.DataFrame,
    annotations: pd.DataFrame,
    splits: pd.DataFrame,
    out_dir: str | Path,
    task: str,
) -> Path:
    """Write the layout above for every image in `splits`; returns the data.yaml path."""
    out_dir = Path(out_dir).resolve()
    names = class_names(task)
    table = manifest.merge(splits[["image_id", "split"]], on="image_id", how="inner")
    unknown = set(table["split"]) - set(SPLITS)
    if unknown:
        raise ValueError(f"splits table has unknown split names {sorted(unknown)}")
    for split in ("train", "val"):
        if not (table["split"] == split).any():
            raise ValueError(
                f"the {split} split is empty ({len(table)} images in all): a detector needs "
                "training and validation images; use more images or other split fractions"
            )
    by_image = {k: g for k, g in annotations.groupby("image_id", sort=False)}
    empty = annotations.iloc[0:0]
    for split in SPLITS:
        (out_dir / "images" / split).mkdir(parents=True, exist_ok=True)
        (out_dir / "labels" / split).mkdir(parents=True, exist_ok=True)
    for row in table.itertuples(index=False):
        image = Path(row.image_path)
        link = out_dir / "images" / row.split / f"{row.image_id}{image.suffix.lower()}"
        if link.is_symlink() or link.exists():
            link.unlink()
        # a link, not a copy: 5,000 images must not be duplicated on disk
        os.symlink(image.resolve(), link)
        lines = yolo_lines(by_image.get(row.image_id, empty), row.width, row.height, task)
        with atomic_path(out_dir / "labels" / row.split / f"{row.image_id}.txt") as tmp:
            Path(tmp).write_text("\n".join(lines) + ("\n" if lines else ""))
    data = {
        "path": str(out_dir),
        "train": "images/train",
        "val": "images/val",
        "test": "images/test",
        "names": dict(enumerate(names)),
    }
    data_yaml = out_dir / "data.yaml"
    with atomic_path(data_yaml) as tmp:
        Path(tmp).write_text(yaml.safe_dump(data, sort_keys=False))
    return data_yaml


def write_yolo_dataset_files(
    manifest: str, annotations: str, splits: str, out_dir: str, task: str
) -> Path:
    """`write_yolo_dataset` from the ingest (CSV, parquet) and split (CSV) tables on disk."""
    from karyoflow.data.ingest import read_manifest

    return write_yolo_dataset(
        read_manifest(manifest),
        pd.read_parquet(annotations),
        pd.read_csv(splits, dtype={"image_id": str}),
        out_dir,
        task,
    )


def training_seconds(history: pd.DataFrame) -> float:
    """Total training time from Ultralytics' results.csv `time` column.

    The column counts seconds since the start of the current run, and starts again at
    zero when an interrupted training is resumed: the total sums the runs.
    """
    times = pd.to_numeric(history["time"], errors="coerce").dropna().to_numpy()
    if len(times) == 0:
        return 0.0
    restarts = np.nonzero(np.diff(times) < 0)[0]
    return float(times[restarts].sum() + times[-1])
