"""Karyograms: a cell's straightened chromosomes in the standard arrangement.

Rows 1-5; 6-12 and X; 13-18; 19-22 and Y. Each chromosome is drawn from the input
image's own pixels at their own resolution (not the classifier's small canvas),
straightened the configured way and turned p arm up where the straightening can tell.
Homologues stand side by side under their number, all at the image's scale (relative
size survives), aligned per row at the
centromere (where the class's ideogram puts it along the straightened length: the
narrowest point of a real crop is too noisy to align by). Chromosomes whose assigned
probability is low are framed in red. Dark chromosomes on white, as cytogeneticists
read them."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from karyoflow.core.bands import chromosome
from karyoflow.karyotype.calls import call_cells

log = logging.getLogger(__name__)


LAYOUT: tuple[tuple[str, ...], ...] = (
    ("1", "2", "3", "4", "5"),
    ("6", "7", "8", "9", "10", "11", "12", "X"),
    ("13", "14", "15", "16", "17", "18"),
    ("19", "20", "21", "22", "Y"),
)


GAP, SLOT_GAP, MARGIN, LABEL_H, TITLE_H = 3, 18, 16, 20, 34


RED = (40, 40, 220)  # BGR


def native_chromosomes(
    windows: list[tuple[np.ndarray, np.ndarray]], method: str
) -> list[np.ndarray]:
    """Each crop's grey window and mask (input pixels) -> the chromosome straightened at
    its own resolution, bright on black, p arm up where it can tell. One polarity for the
    cell: its chromosomes against their windows' background."""
    from karyoflow.core.polarity import polarity_of
    from karyoflow.straighten.methods import straighten

    if not windows:
        return []
    grey = np.concatenate([g.ravel() for g, _ in windows])
    inside = np.concatenate([m.ravel() for _, m in windows])
    dark = polarity_of(grey, inside) == "dark"
    images = []
    for window, mask in windows:
        bright = np.where(mask, 255 - window if dark else window, 0).astype(np.uint8)
        result = straighten(bright, mask, method)
        images.append(np.where(result.mask, result.image, 0).astype(np.uint8))
    return images


def chromosome_tile(canvas: np.ndarray) -> np.ndarray:
    """Straightened canvas (bright on black) -> tight tile, dark on white."""
    ys, xs = np.nonzero(canvas)
    if not len(ys):
        return np.full((4, 4), 255, np.uint8)
    tile = canvas[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    return (255 - tile).astype(np.uint8)


def slot_positions(tiles_by_class: dict[str, list[np.ndarray]], scale: float = 1.0):
    """Where every tile goes: {class: [(x, y)]}, the canvas size and label anchors."""
    positions, labels = {}, {}
    y = TITLE_H + MARGIN
    width = 0
    for row in LAYOUT:
        above = below = 8
        for cls in row:
            f = chromosome(cls).centromere_fraction
            for tile in tiles_by_class.get(cls, []):
                above = max(above, int(round(f * tile.shape[0])))
                below = max(below, tile.shape[0] - int(round(f * tile.shape[0])))
        baseline = y + above
        x = MARGIN
        for cls in row:
            tiles = tiles_by_class.get(cls, [])
            f = chromosome(cls).centromere_fraction
            start = x
            positions[cls] = []
            for tile in tiles:
                positions[cls].append((x, baseline - int(round(f * tile.shape[0]))))
                x += tile.shape[1] + GAP
            slot_width = max(x - start - GAP, 24)
            labels[cls] = (start + slot_width // 2, baseline + below + LABEL_H - 4)
            x = start + slot_width + SLOT_GAP
        width = max(width, x + MARGIN - SLOT_GAP)
        y = baseline + below + LABEL_H + MARGIN
    return positions, labels, (y, width)


def karyogram_image(
    canvases: list[np.ndarray],
    classes: list[str],
    probabilities: list[float],
    title: str,
    low_probability: float = 0.5,
) -> np.ndarray:
    """BGR karyogram of one cell from its straightened chromosomes (bright on black) and
    assigned classes."""
    order = np.argsort(-np.asarray(probabilities, float), kind="stable")
    tiles_by_class: dict[str, list[np.ndarray]] = {}
    low_by_class: dict[str, list[bool]] = {}
    for i in order:
        tiles_by_class.setdefault(classes[i], []).append(chromosome_tile(canvases[i]))
        low_by_class.setdefault(classes[i], []).append(probabilities[i] < low_probability)
    positions, labels, (height, width) = slot_positions(tiles_by_class)
    (title_width, _), _ = cv2.getTextSize(title, cv2.FONT_HERSHEY_SIMPLEX, 0.7, 1)
    width = max(width, title_width + 2 * MARGIN)
    image = np.full((height, width, 3), 255, np.uint8)
    for cls, places in positions.items():
        for tile, (x, y), low in zip(
            tiles_by_class.get(cls, []), places, low_by_class.get(cls, []), strict=True
        ):
            h, w = tile.shape
            image[y : y + h, x : x + w] = tile[:, :, None]
            if low:
                cv2.rectangle(image, (x - 2, y - 2), (x + w + 1, y + h + 1), RED, 1)
        cx, cy = labels[cls]
        (tw, _), _ = cv2.getTextSize(cls, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        cv2.putText(
            image, cls, (cx - tw // 2, cy), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA
        )
    cv2.putText(
        image,
        title,
        (MARGIN, TITLE_H - 8),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.7,
        (0, 0, 0),
        1,
        cv2.LINE_AA,
    )
    return image


def _draw_karyogram(task: tuple) -> str:
    """One cell's karyogram, written to its PNG (a worker's unit of work)."""
    from karyoflow.core.atomic import atomic_path

    windows, classes, probabilities, title, low_probability, straighten_method, path = task
    image = karyogram_image(
        native_chromosomes(windows, straighten_method),
        classes,
        probabilities,
        title,
        low_probability,
    )
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(cv2.imencode(".png", image)[1].tobytes())
    return path


def karyogram_files(
    objects: str,
    crops: str,
    crop_arrays: str,
    cells: str,
    karyograms: str,
    *,
    low_probability: float,
    low_margin: float,
    straighten_method: str,
    processes: int = 1,
) -> pd.DataFrame:
    """Rule karyograms: per-cell calls table and one karyogram PNG per cell, drawn from the
    crops' windows of the input image. `processes` cells are drawn at a time: each
    chromosome is straightened again at the input's resolution, which takes most of
    the time (about 0.1 s per metaphase)."""
    from concurrent.futures import ProcessPoolExecutor

    from karyoflow.core.logs import Progress
    from karyoflow.core.tables import write_csv
    from karyoflow.crops.canvas import load_crops

    table = pd.read_parquet(objects)
    crop_table = pd.read_parquet(crops, columns=["crop_id"])
    _, windows = load_crops(crop_arrays)
    if len(windows) != len(crop_table):
        raise ValueError(f"{crop_arrays} holds {len(windows)} crops, {crops} {len(crop_table)}")
    row_of = dict(zip(crop_table["crop_id"], range(len(crop_table)), strict=True))
    missing = set(table["crop_id"]) - set(row_of)
    if missing:
        raise ValueError(f"{objects} names {len(missing)} crops {crops} does not hold")
    table["row"] = table["crop_id"].map(row_of)
    per_cell = call_cells(table, low_probability, low_margin)
    out = Path(karyograms)
    out.mkdir(parents=True, exist_ok=True)
    call_of = dict(
        zip(
            per_cell["image_id"],
            zip(per_cell["karyotype"], per_cell["flag"], per_cell["missing"], strict=True),
            strict=True,
        )
    )
    tasks = []
    for image_id, cell in table.groupby("image_id", sort=True):
        iscn, flag, missing = call_of[image_id]
        cell = cell[cell["assigned"].astype(str) != ""]  # rejected objects are no chromosome
        title = (
            f"{image_id}: {iscn or 'no call'}"
            + (f"  missed: {missing.replace(';', ' ')}" if missing else "")
            + ("" if flag == "ok" else f"  [{flag}]")
        )
        tasks.append(
            (
                [windows[i] for i in cell["row"]],
                list(cell["assigned"]),
                list(cell["assigned_probability"]),
                title,
                low_probability,
                straighten_method,
                str(out / f"{image_id}.png"),
            )
        )
    progress = Progress(log, "drew", len(tasks), every=20, unit="karyograms")
    if processes > 1 and len(tasks) > 1:
        with ProcessPoolExecutor(max_workers=min(processes, len(tasks))) as pool:
            for n, _ in enumerate(pool.map(_draw_karyogram, tasks, chunksize=4), start=1):
                progress.update(n)
    else:
        for n, task in enumerate(tasks, start=1):
            _draw_karyogram(task)
            progress.update(n)
    per_cell["karyogram"] = [str(out / f"{i}.png") for i in per_cell["image_id"]]
    write_csv(per_cell, cells, sep="\t")
    return per_cell
