"""Chromosome crops: each instance cut out by its mask, bright on a black canvas.

As in the blog study, the chromosome is bright on black. Unlike a resize-to-fit, every
crop of one cell is scaled by the same factor (the cell's scale), so relative length
within a cell survives: size is a feature. The factor maps the cell's longest
chromosomes (the 95th percentile of mask lengths) to `fill` of the canvas side. Crops
that would still overflow the canvas are shrunk to fit and flagged.

Per shard: one .npz with `canvas` (n, side, side) uint8, and the raw grey windows and
their masks (ragged, packed as in karyoflow.io.masks); one table row per crop.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from karyoflow.io.atomic import atomic_path
from karyoflow.io.images import read_grayscale
from karyoflow.io.masks import load_masks

log = logging.getLogger("karyoflow.crops")

CROP_COLUMNS = [
    "crop_id",
    "image_id",
    "instance_id",
    "crop_file",
    "crop_index",
    "true_class",
    "split",
    "det_class",
    "det_confidence",
    "mask_score",
    "length_px",
    "area_px",
    "cell_scale",
    "shrunk_to_fit",
    "xmin",
    "ymin",
    "xmax",
    "ymax",
]


def mask_length(mask: np.ndarray) -> float:
    """Length of the mask's longest side of its minimum-area rectangle, in pixels."""
    points = cv2.findNonZero(mask.astype(np.uint8))
    if points is None:
        return 0.0
    (_, _), (w, h), _ = cv2.minAreaRect(points)
    return float(max(w, h))


def cell_scale(lengths: np.ndarray, side: int, fill: float) -> float:
    """Scale that maps the cell's long chromosomes (95th percentile) to fill * side."""
    lengths = np.asarray(lengths, dtype=float)
    lengths = lengths[lengths > 0]
    if len(lengths) == 0:
        return 1.0
    return fill * side / float(np.percentile(lengths, 95))


def to_canvas(
    grey: np.ndarray, mask: np.ndarray, scale: float, side: int, polarity: str = "dark"
) -> tuple[np.ndarray, bool]:
    """The masked chromosome, bright on black, scaled and centred on a side x side canvas."""
    bright = (255 - grey) if polarity == "dark" else grey.copy()
    bright = np.where(mask, bright, 0).astype(np.uint8)
    h, w = bright.shape
    shrunk = max(h, w) * scale > side
    if shrunk:
        scale = side / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(bright, (nw, nh), interpolation=interpolation)
    canvas = np.zeros((side, side), dtype=np.uint8)
    y0, x0 = (side - nh) // 2, (side - nw) // 2
    canvas[y0 : y0 + nh, x0 : x0 + nw] = resized
    return canvas, shrunk


def save_crops(path, canvases, windows) -> None:
    """canvases (n, side, side); windows: (grey window, bool mask) per crop."""
    shapes = np.array([g.shape for g, _ in windows], dtype=np.int32).reshape(-1, 2)
    sizes = shapes.prod(axis=1) if len(shapes) else np.zeros(0, int)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    grey = np.concatenate([g.ravel() for g, _ in windows]) if windows else np.zeros(0, np.uint8)
    mask = np.concatenate([m.ravel() for _, m in windows]) if windows else np.zeros(0, bool)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(
                handle,
                canvas=np.asarray(canvases, dtype=np.uint8),
                shapes=shapes,
                offsets=offsets,
                grey=grey,
                mask=np.packbits(mask),
                n_mask=np.array([mask.size]),
            )


def load_crops(path) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    with np.load(path) as data:
        canvas, shapes, offsets = data["canvas"], data["shapes"], data["offsets"]
        grey = data["grey"]
        mask = np.unpackbits(data["mask"], count=int(data["n_mask"][0])).astype(bool)
    windows = []
    for i, (h, w) in enumerate(shapes):
        a, b = offsets[i], offsets[i + 1]
        windows.append((grey[a:b].reshape(h, w), mask[a:b].reshape(h, w)))
    return canvas, windows


def true_classes(instances: pd.DataFrame, annotations: pd.DataFrame) -> pd.DataFrame:
    """true_class and truth_index (the annotation's object_index, -1 if none) of the
    annotation box that best overlaps each instance's box (IoU >= 0.5)."""
    from karyoflow.detection_metrics import box_iou

    out = pd.DataFrame({"true_class": "", "truth_index": -1}, index=instances.index)
    truth = {k: g for k, g in annotations.groupby("image_id", sort=False)}
    coords = ["xmin", "ymin", "xmax", "ymax"]
    for image_id, group in instances.groupby("image_id", sort=False):
        if image_id not in truth:
            continue
        t = truth[image_id]
        iou = box_iou(group[coords].to_numpy(float), t[coords].to_numpy(float))
        best = iou.argmax(axis=1)
        ok = iou[np.arange(len(group)), best] >= 0.5
        out.loc[group.index[ok], "true_class"] = t["class"].to_numpy()[best[ok]]
        out.loc[group.index[ok], "truth_index"] = t["object_index"].to_numpy()[best[ok]]
    return out


def extract_crops(
    instances: pd.DataFrame,
    images: pd.DataFrame,
    out_npz: str | Path,
    *,
    side: int = 96,
    fill: float = 0.9,
    annotations: pd.DataFrame | None = None,
    splits: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Crops of every instance in `instances` (segmentation table) -> table, one .npz."""
    started = time.perf_counter()
    paths = dict(zip(images["image_id"], images["image_path"], strict=True))
    truth = (
        true_classes(instances, annotations)
        if annotations is not None
        else pd.DataFrame({"true_class": "", "truth_index": -1}, index=instances.index)
    )
    split_of = (
        dict(zip(splits["image_id"], splits["split"], strict=True)) if splits is not None else {}
    )
    canvases, windows, rows = [], [], []
    for n, (image_id, group) in enumerate(instances.groupby("image_id", sort=False), start=1):
        grey, _ = read_grayscale(paths[image_id])
        masks = load_masks(group["mask_file"].iloc[0])
        polarity = group["polarity"].iloc[0]
        cut = []
        for row in group.itertuples():
            x0, y0, mask = masks[row.instance_id]
            h, w = mask.shape
            window = grey[y0 : y0 + h, x0 : x0 + w]
            ys, xs = np.nonzero(mask)
            tight = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
            cut.append((row, window[tight], mask[tight]))
        lengths = np.array([mask_length(m) for _, _, m in cut])
        scale = cell_scale(lengths, side, fill)
        for (row, window, mask), length in zip(cut, lengths, strict=True):
            canvas, shrunk = to_canvas(window, mask, scale, side, polarity)
            crop_index = len(rows)
            canvases.append(canvas)
            windows.append((window, mask))
            rows.append(
                (
                    f"{image_id}#{row.instance_id}",
                    image_id,
                    row.instance_id,
                    str(out_npz),
                    crop_index,
                    truth.at[row.Index, "true_class"],
                    split_of.get(image_id, ""),
                    row.det_class,
                    row.det_confidence,
                    row.mask_score,
                    round(float(length), 2),
                    int(mask.sum()),
                    round(scale, 5),
                    shrunk,
                    row.xmin,
                    row.ymin,
                    row.xmax,
                    row.ymax,
                    int(truth.at[row.Index, "truth_index"]),
                )
            )
        if n % 25 == 0:
            log.info("cropped %d images (%d crops)", n, len(rows))
    save_crops(out_npz, np.array(canvases).reshape(-1, side, side), windows)
    seconds = time.perf_counter() - started
    log.info(
        "%d crops from %d images in %.1f s (%.0f crops/s)",
        len(rows),
        instances["image_id"].nunique(),
        seconds,
        len(rows) / max(seconds, 1e-9),
    )
    return pd.DataFrame(rows, columns=CROP_COLUMNS + ["truth_index"])


def extract_crops_files(
    instances: str,
    images: str,
    annotations: str,
    splits: str,
    crops: str,
    arrays: str,
    gallery: str,
    *,
    side: int,
    fill: float,
) -> pd.DataFrame:
    """Rule extract_crops: the instance table of one image set -> crops table and arrays."""
    from karyoflow import plots
    from karyoflow.io.tables import write_parquet

    table = extract_crops(
        pd.read_parquet(instances),
        pd.read_csv(images, dtype={"image_id": str}),
        arrays,
        side=side,
        fill=fill,
        annotations=pd.read_parquet(annotations),
        splits=pd.read_csv(splits, dtype={"image_id": str}),
    )
    write_parquet(table, crops)
    canvas, _ = load_crops(arrays) if len(table) else (np.zeros((0, side, side), np.uint8), [])
    plots.crops_gallery(table, canvas, gallery)
    return table


# ---- crop sets that skip detection ---------------------------------------------------

# The layout of the 612-cell G-band crop collection:
# <cell>.tiff/clase<k>/clase<k>_<copy>_<cell>.tiff, k = 1..24 (23 = X, 24 = Y)
GBAND612_PATTERN = r"(?P<cell>[^/]+?)\.tiff?/clase(?P<class>\d+)/[^/]+$"
BAD_CROP_COLUMNS = ["path", "problem", "detail", "action"]


def crop_polarity(grey: np.ndarray) -> str:
    """ "dark" for a chromosome darker than the crop's border (G-band on white), else "bright"."""
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    return "dark" if np.median(border) >= np.median(grey) else "bright"


def crop_mask(grey: np.ndarray, polarity: str = "auto") -> np.ndarray:
    """The chromosome in a single-chromosome crop: the largest component above Otsu's cut
    of the contrast to the background, holes filled."""
    from scipy import ndimage

    if polarity == "auto":
        polarity = crop_polarity(grey)
    contrast = (255 - grey) if polarity == "dark" else grey
    contrast = (contrast.astype(np.int16) - int(np.percentile(contrast, 2))).clip(0, 255)
    contrast = contrast.astype(np.uint8)
    otsu, _ = cv2.threshold(contrast, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    from karyoflow.segment.classical import largest_component

    mask = largest_component(contrast >= max(otsu * 0.6, 6))
    return ndimage.binary_fill_holes(mask)


def find_crop_files(root: str | Path, pattern: str):
    """(path, class, cell) of every image under root whose relative path matches
    `pattern`; and (path, problem, detail, action) rows for the files left out."""
    import re

    from karyoflow.errors import BadInputError
    from karyoflow.io.images import IMAGE_EXTENSIONS
    from karyoflow.labels import UnknownLabelError, canonical

    root = Path(root)
    if not root.is_dir():
        raise BadInputError(root, "not_found", "crop folder does not exist")
    regex = re.compile(pattern)
    missing = {"class", "cell"} - set(regex.groupindex)
    if missing:
        raise ValueError(f"crop pattern {pattern!r} lacks the named group(s) {sorted(missing)}")
    found, bad = [], []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.suffix.lower() not in IMAGE_EXTENSIONS:
            continue
        relative = path.relative_to(root).as_posix()
        match = regex.search(relative)
        if not match:
            bad.append((str(path), "no_match", f"path does not match {pattern!r}", "skipped"))
            continue
        try:
            label = canonical(match.group("class"))
        except UnknownLabelError as err:
            bad.append((str(path), "unknown_label", str(err), "skipped"))
            continue
        found.append((path, label, match.group("cell")))
    return found, bad


def crops_from_cells(cells: dict, out_npz, *, side: int, fill: float) -> pd.DataFrame:
    """Crops table and arrays from {cell: [(source, class, grey window, mask, polarity)]}.

    Every crop of a cell gets the cell's scale; case_id is the cell id before its first
    dot, source_path where the crop came from; box columns are the window's own extent.
    """
    canvases, windows, rows = [], [], []
    for cell, items in cells.items():
        lengths = np.array([mask_length(item[3]) for item in items])
        scale = cell_scale(lengths, side, fill)
        for k, ((source, label, grey, mask, polarity), length) in enumerate(
            zip(items, lengths, strict=True)
        ):
            canvas, shrunk = to_canvas(grey, mask, scale, side, polarity)
            rows.append(
                (
                    f"{cell}#{k}",
                    cell,
                    k,
                    str(out_npz),
                    len(rows),
                    label,
                    "",
                    "",
                    float("nan"),
                    float("nan"),
                    round(float(length), 2),
                    int(mask.sum()),
                    round(scale, 5),
                    shrunk,
                    0,
                    0,
                    grey.shape[1],
                    grey.shape[0],
                    cell.split(".")[0],
                    str(source),
                )
            )
            canvases.append(canvas)
            windows.append((grey, mask))
    save_crops(out_npz, np.array(canvases, dtype=np.uint8).reshape(-1, side, side), windows)
    return pd.DataFrame(rows, columns=CROP_COLUMNS + ["case_id", "source_path"])


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
    from karyoflow.errors import BadInputError

    started = time.perf_counter()
    from karyoflow.logs import Progress

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
        polarity = crop_polarity(grey)
        mask = crop_mask(grey, polarity)
        if not mask.any():
            bad.append((str(path), "empty_mask", "no chromosome pixels in the crop", "skipped"))
            continue
        ys, xs = np.nonzero(mask)
        tight = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
        cells.setdefault(cell, []).append((path, label, grey[tight], mask[tight], polarity))
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

    from karyoflow.errors import BadInputError
    from karyoflow.io.images import IMAGE_EXTENSIONS
    from karyoflow.labels import UnknownLabelError, canonical

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
        polarity = _karyogram_polarity(grey, lines)
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
            window = grey[y0:y1, x0:x1]
            mask = crop_mask(window, polarity) if window.size else np.zeros((0, 0), bool)
            if not mask.any():
                bad.append(
                    (f"{label_path}:{n}", "empty_mask", "no chromosome in the box", "skipped")
                )
                continue
            ys, xs = np.nonzero(mask)
            tight = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
            cells.setdefault(cell, []).append(
                (image_path, label, window[tight], mask[tight], polarity)
            )
    table = crops_from_cells(cells, out_npz, side=side, fill=fill)
    log.info(
        "imported %d crops from %d karyograms in %s; %d problem(s)",
        len(table),
        len(cells),
        root,
        len(bad),
    )
    return table, pd.DataFrame(bad, columns=BAD_CROP_COLUMNS)


def _karyogram_polarity(grey: np.ndarray, lines: list[str]) -> str:
    """Dark chromosomes on white, or bright ones on black (fluorescent / inverted)."""
    from karyoflow.segment.classical import guess_polarity

    h, w = grey.shape
    boxes = []
    for line in lines:
        parts = line.split()
        if len(parts) >= 5:
            try:
                cx, cy, bw, bh = (float(v) for v in parts[1:5])
            except ValueError:
                continue
            boxes.append(
                [(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h]
            )
    return guess_polarity(grey, np.array(boxes).reshape(-1, 4))


def import_karyograms_files(
    root: str, crops: str, arrays: str, bad_crops: str, gallery: str, *, side: int, fill: float
) -> pd.DataFrame:
    """Rule import_karyograms."""
    table, bad = import_karyogram_folder(root, arrays, side=side, fill=fill)
    _write_imported(table, bad, crops, arrays, bad_crops, gallery)
    return table


def _write_imported(table, bad, crops: str, arrays: str, bad_crops: str, gallery: str) -> None:
    """The outputs every crop import writes: table, left-out files, gallery."""
    from karyoflow import plots
    from karyoflow.io.tables import write_csv, write_parquet

    write_parquet(table, crops)
    write_csv(bad, bad_crops, sep="\t")
    canvas, _ = load_crops(arrays)
    plots.crops_gallery(table, canvas, gallery)


# ---- crops from the truth masks (classifier training on synthetic data) --------------


def truth_crop_cells(manifest: pd.DataFrame) -> dict:
    """{image_id: [(image path, class, grey window, mask, polarity)]} from truth outlines.

    The synthetic truth outlines are amodal (the whole chromosome, also where another one
    lies across it), as a good segmentation would deliver them.
    """
    import json

    from karyoflow.segment.classical import guess_polarity
    from karyoflow.segment.evaluate import polygon_mask

    with_truth = manifest[manifest["truth_path"].fillna("").astype(str) != ""]
    if with_truth.empty:
        raise ValueError(
            "classify.crops: truth needs images with instance truth (the synthetic generator "
            "writes it); for real data import a crop set instead (classify.crops: imported)"
        )
    from karyoflow.logs import Progress

    progress = Progress(log, "cut truth crops of", len(with_truth), every=25)
    cells = {}
    for n, row in enumerate(with_truth.itertuples(), start=1):
        progress.update(n)
        grey, _ = read_grayscale(row.image_path)
        instances = json.loads(Path(row.truth_path).read_text())["instances"]
        boxes = np.array([inst["box"] for inst in instances], float).reshape(-1, 4)
        polarity = guess_polarity(grey, boxes)
        items = []
        for inst in instances:
            x0, y0, x1, y1 = (int(v) for v in inst["box"])
            window = grey[y0:y1, x0:x1]
            mask = polygon_mask(np.asarray(inst["outline"]) - [x0, y0], window.shape)
            if mask.any():
                items.append((row.image_path, inst["class"], window, mask, polarity))
        cells[row.image_id] = items
    return cells


def truth_crops_files(
    manifest: str, splits: str, crops: str, arrays: str, gallery: str, *, side: int, fill: float
) -> pd.DataFrame:
    """Rule truth_crops: every truth instance of every split, labelled with its split."""
    from karyoflow import plots
    from karyoflow.io.tables import write_parquet

    started = time.perf_counter()
    table = crops_from_cells(
        truth_crop_cells(pd.read_csv(manifest, dtype={"image_id": str})),
        arrays,
        side=side,
        fill=fill,
    )
    split_table = pd.read_csv(splits, dtype={"image_id": str})
    table["split"] = table["image_id"].map(
        dict(zip(split_table["image_id"], split_table["split"], strict=True))
    )
    write_parquet(table, crops)
    canvas, _ = load_crops(arrays)
    plots.crops_gallery(table, canvas, gallery)
    log.info(
        "%d truth crops of %d images in %.1f s",
        len(table),
        table["image_id"].nunique(),
        time.perf_counter() - started,
    )
    return table
