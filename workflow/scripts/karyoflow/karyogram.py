"""Karyograms: a cell's straightened chromosomes in the standard arrangement.

Rows 1-5; 6-12 and X; 13-18; 19-22 and Y. Homologues stand side by side under their
number, all at the cell's common scale (relative size survives), aligned per row at the
centromere (where the class's ideogram puts it along the straightened length: the
narrowest point of a real crop is too noisy to align by). Chromosomes whose assigned
probability is low are framed in red. Dark chromosomes on white, as cytogeneticists
read them.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from karyoflow.bands import chromosome

log = logging.getLogger("karyoflow.karyogram")

LAYOUT: tuple[tuple[str, ...], ...] = (
    ("1", "2", "3", "4", "5"),
    ("6", "7", "8", "9", "10", "11", "12", "X"),
    ("13", "14", "15", "16", "17", "18"),
    ("19", "20", "21", "22", "Y"),
)
GAP, SLOT_GAP, MARGIN, LABEL_H, TITLE_H = 3, 18, 16, 20, 34
RED = (40, 40, 220)  # BGR


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
    """BGR karyogram of one cell from its straightened canvases and assigned classes."""
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


def call_cells(
    calls: pd.DataFrame, low_probability: float = 0.5, low_margin: float = 1.0
) -> pd.DataFrame:
    """Per-cell karyotype calls from a classify table (assigned classes)."""
    from karyoflow.karyotype import CELL_COLUMNS, call_cell

    rows = []
    for image_id, cell in calls.groupby("image_id", sort=True):
        iscn, flag, low = call_cell(
            list(cell["assigned"]),
            cell["assigned_probability"],
            cell["assignment_margin"],
            low_probability=low_probability,
            low_margin=low_margin,
        )
        rows.append(
            (
                image_id,
                len(cell),
                iscn,
                flag,
                low,
                round(float(cell["assigned_probability"].mean()), 4),
            )
        )
    return pd.DataFrame(rows, columns=CELL_COLUMNS)


def karyogram_files(
    calls: str,
    straight: str,
    cells: str,
    karyograms: str,
    *,
    low_probability: float,
    low_margin: float,
) -> pd.DataFrame:
    """Rule karyograms: per-cell calls table and one karyogram PNG per cell."""
    from karyoflow.io.atomic import atomic_path
    from karyoflow.io.tables import write_csv
    from karyoflow.logs import Progress

    table = pd.read_parquet(calls)
    with np.load(straight) as data:
        canvases = data["canvas"]
    if len(canvases) != len(table):
        raise ValueError(f"{straight} holds {len(canvases)} crops, {calls} {len(table)}")
    table["row"] = np.arange(len(table))
    per_cell = call_cells(table, low_probability, low_margin)
    out = Path(karyograms)
    out.mkdir(parents=True, exist_ok=True)
    progress = Progress(log, "drew", len(per_cell), every=20, unit="karyograms")
    call_of = dict(
        zip(
            per_cell["image_id"],
            zip(per_cell["karyotype"], per_cell["flag"], strict=True),
            strict=True,
        )
    )
    for n, (image_id, cell) in enumerate(table.groupby("image_id", sort=True), start=1):
        iscn, flag = call_of[image_id]
        title = f"{image_id}: {iscn}" + ("" if flag == "ok" else f"  [{flag}]")
        image = karyogram_image(
            [canvases[i] for i in cell["row"]],
            list(cell["assigned"]),
            list(cell["assigned_probability"]),
            title,
            low_probability,
        )
        with atomic_path(out / f"{image_id}.png") as tmp:
            Path(tmp).write_bytes(cv2.imencode(".png", image)[1].tobytes())
        progress.update(n)
    per_cell["karyogram"] = [str(out / f"{i}.png") for i in per_cell["image_id"]]
    write_csv(per_cell, cells, sep="\t")
    return per_cell


def evaluate_karyotypes_files(
    cells: str, images: str, manifest: str, metrics_json: str, figure: str
) -> dict:
    """Rule evaluate_karyotypes: calls per cell against the manifest's true karyotypes,
    over every image of the set (an image with no call counts as a wrong call)."""
    from karyoflow import plots
    from karyoflow.io.tables import write_json
    from karyoflow.karyotype import karyotype_scores

    called = pd.read_csv(cells, sep="\t", dtype={"image_id": str})
    in_set = set(pd.read_csv(images, dtype={"image_id": str})["image_id"])
    truth_table = pd.read_csv(manifest, dtype={"image_id": str})
    truth_table = truth_table[truth_table["karyotype"].fillna("") != ""]
    truth = {
        row.image_id: row.karyotype for row in truth_table.itertuples() if row.image_id in in_set
    }
    scores = karyotype_scores(
        truth, dict(zip(called["image_id"], called["karyotype"], strict=True))
    )
    scores["flagged"] = int((called["flag"] != "ok").sum())
    scores["cells"] = [
        {"image_id": cell, "truth": truth[cell], "call": call, "flag": flag}
        for cell, call, flag in zip(
            called["image_id"], called["karyotype"], called["flag"], strict=True
        )
        if cell in truth
    ]
    write_json(scores, metrics_json)
    plots.karyotype_evaluation(scores, figure)
    log.info("karyotype calls: exact %s of %d cells", scores["exact_rate"], scores["n_cells"])
    return scores


PREDICT_COLUMNS = ["image", "image_id", "n_chromosomes", "karyotype", "flag", "karyogram"]


def predict_summary_files(cells: str, images: str, bad_inputs: str, calls: str) -> pd.DataFrame:
    """Rule predict_summary: one row per input image, also those without a call."""
    from karyoflow.io.tables import write_csv

    called = pd.read_csv(cells, sep="\t", dtype={"image_id": str}).set_index("image_id")
    listed = pd.read_csv(images, dtype={"image_id": str})
    rows = []
    for row in listed.itertuples():
        if row.image_id in called.index:
            cell = called.loc[row.image_id]
            rows.append(
                (
                    row.image_path,
                    row.image_id,
                    int(cell["n_chromosomes"]),
                    cell["karyotype"],
                    cell["flag"],
                    cell["karyogram"],
                )
            )
        else:
            rows.append((row.image_path, row.image_id, 0, "", "no_chromosomes", ""))
    bad = pd.read_csv(bad_inputs, sep="\t")
    # Converted files (e.g. the first frame of a multi-frame TIFF) were used; skipped ones not.
    for row in bad[bad["action"] != "converted"].itertuples():
        rows.append((row.path, "", 0, "", f"unreadable: {row.problem}", ""))
    table = pd.DataFrame(rows, columns=PREDICT_COLUMNS)
    write_csv(table, calls, sep="\t")
    log.info("%d images: %s", len(table), table["flag"].value_counts().to_dict())
    return table
