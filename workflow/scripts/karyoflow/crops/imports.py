"""Imported crop sets: a labelled crop folder (e.g. the 612-cell G-band set) or a YOLO
karyogram export, cut and placed on canvases like extracted crops."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from karyoflow.core.crop_files import (
    GBAND612_PATTERN,
    chromosome_of_crop,
    find_crop_files,
)
from karyoflow.core.images import read_grayscale
from karyoflow.core.polarity import guess_polarity
from karyoflow.crops.canvas import crops_from_cells, load_crops
from karyoflow.detect.dataset import boxes_from_yolo

log = logging.getLogger(__name__)


BAD_CROP_COLUMNS = ["path", "problem", "detail", "action"]


def import_crop_folder(
    root: str | Path,
    out_npz: str | Path,
    *,
    pattern: str = GBAND612_PATTERN,
    side: int = 96,
    fill: float = 0.9,
    policy: str = "skip",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Crops that come as single-chromosome images (class and cell from the path).

    Returns the crops table (CROP_COLUMNS plus case_id and source_path; image_id is the
    cell, case_id the cell id before its first dot) and the table of files left out.
    """
    from karyoflow.core.errors import BadInputError

    started = time.perf_counter()
    from karyoflow.core.logs import Progress

    found, bad = find_crop_files(root, pattern)
    progress = Progress(log, "read", len(found), every=2000, unit="crop files")
    cells: dict[str, list] = {}
    for n, (path, label, cell) in enumerate(found, start=1):
        progress.update(n)
        try:
            grey, _ = read_grayscale(path)
        except BadInputError as err:
            bad.append((str(path), err.problem, err.detail, "skipped"))
            continue
        grey, mask, polarity = chromosome_of_crop(grey)
        if not mask.any():
            bad.append((str(path), "empty_mask", "no chromosome pixels in the crop", "skipped"))
            continue
        cells.setdefault(cell, []).append((path, label, grey, mask, polarity))
    if policy == "error" and bad:
        raise BadInputError(
            root, "bad_crops", f"{len(bad)} crop file(s) unusable, e.g. {bad[0][0]}: {bad[0][2]}"
        )
    table = crops_from_cells(cells, out_npz, side=side, fill=fill)
    log.info(
        "imported %d crops of %d cells from %s in %.1f s; %d file(s) left out",
        len(table),
        len(cells),
        root,
        time.perf_counter() - started,
        len(bad),
    )
    return table, pd.DataFrame(bad, columns=BAD_CROP_COLUMNS)


def import_crops_files(
    root: str,
    crops: str,
    arrays: str,
    bad_crops: str,
    gallery: str,
    *,
    pattern: str,
    side: int,
    fill: float,
    policy: str,
) -> pd.DataFrame:
    """Rule import_crops."""
    table, bad = import_crop_folder(
        root, arrays, pattern=pattern, side=side, fill=fill, policy=policy
    )
    _write_imported(table, bad, crops, arrays, bad_crops, gallery)
    return table


def import_karyogram_folder(
    root: str | Path, out_npz: str | Path, *, side: int = 96, fill: float = 0.9
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Arranged karyogram images with YOLO boxes (a Roboflow-style export: data.yaml with
    `names`, <split>/images and <split>/labels) -> one crop per box.

    Class ids index `names` (in that export, alphabetical: '1', '10', '11', ...), so they
    are mapped through the names, never used as numbers. The cell is the source
    karyogram (the file name before Roboflow's ".rf." suffix), so copies of one karyogram
    in several splits stay one cell for grouped splits.
    """
    import yaml

    from karyoflow.core.errors import BadInputError
    from karyoflow.core.images import IMAGE_EXTENSIONS
    from karyoflow.core.labels import UnknownLabelError, canonical

    root = Path(root)
    spec = root / "data.yaml"
    if not spec.is_file():
        raise BadInputError(root, "not_found", "no data.yaml with the class names in this folder")
    names = yaml.safe_load(spec.read_text()).get("names")
    if isinstance(names, dict):
        names = [names[k] for k in sorted(names)]
    if not names:
        raise BadInputError(spec, "malformed_yaml", "data.yaml has no `names` list")
    cells: dict[str, list] = {}
    bad = []
    for image_path in sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS):
        label_path = image_path.parent.parent / "labels" / f"{image_path.stem}.txt"
        if image_path.parent.name != "images" or not label_path.is_file():
            bad.append((str(image_path), "missing_labels", f"no {label_path}", "skipped"))
            continue
        try:
            grey, _ = read_grayscale(image_path)
        except BadInputError as err:
            bad.append((str(image_path), err.problem, err.detail, "skipped"))
            continue
        h, w = grey.shape
        cell = image_path.stem.split(".rf.")[0]
        lines = label_path.read_text().split("\n")
        polarity = guess_polarity(grey, boxes_from_yolo(lines, *grey.shape[::-1])[:, 1:])
        for n, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                cls, cx, cy, bw, bh = line.split()[:5]
                label = canonical(names[int(cls)])
                cx, cy, bw, bh = (float(v) for v in (cx, cy, bw, bh))
            except (ValueError, IndexError, UnknownLabelError) as err:
                bad.append((f"{label_path}:{n}", "unknown_label", str(err), "skipped"))
                continue
            x0, x1 = max(int((cx - bw / 2) * w), 0), min(int(np.ceil((cx + bw / 2) * w)), w)
            y0, y1 = max(int((cy - bh / 2) * h), 0), min(int(np.ceil((cy + bh / 2) * h)), h)
            window, mask, _ = chromosome_of_crop(grey[y0:y1, x0:x1], polarity)
            if not mask.any():
                bad.append(
                    (f"{label_path}:{n}", "empty_mask", "no chromosome in the box", "skipped")
                )
                continue
            cells.setdefault(cell, []).append((image_path, label, window, mask, polarity))
    table = crops_from_cells(cells, out_npz, side=side, fill=fill)
    log.info(
        "imported %d crops from %d karyograms in %s; %d problem(s)",
        len(table),
        len(cells),
        root,
        len(bad),
    )
    return table, pd.DataFrame(bad, columns=BAD_CROP_COLUMNS)


def import_karyograms_files(
    root: str, crops: str, arrays: str, bad_crops: str, gallery: str, *, side: int, fill: float
) -> pd.DataFrame:
    """Rule import_karyograms."""
    table, bad = import_karyogram_folder(root, arrays, side=side, fill=fill)
    _write_imported(table, bad, crops, arrays, bad_crops, gallery)
    return table


def _write_imported(table, bad, crops: str, arrays: str, bad_crops: str, gallery: str) -> None:
    """The outputs every crop import writes: table, left-out files, gallery."""
    from karyoflow.core.tables import write_csv, write_parquet
    from karyoflow.crops import plots

    write_parquet(table, crops)
    write_csv(bad, bad_crops, sep="\t")
    canvas, _ = load_crops(arrays)
    plots.crops_gallery(table, canvas, gallery)
