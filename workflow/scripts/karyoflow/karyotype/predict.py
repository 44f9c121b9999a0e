"""The predict summary: one row per input image, its call, flag and karyogram."""

from __future__ import annotations

import logging

import pandas as pd

log = logging.getLogger(__name__)


PREDICT_COLUMNS = [
    "image",
    "image_id",
    "n_chromosomes",
    "karyotype",
    "flag",
    "karyotype_margin",
    "runner_up",
    "missing",
    "n_rejected",
    "karyogram",
]
CHROMOSOME_COLUMNS = [
    "image_id",
    "chromosome",
    "x1",
    "y1",
    "x2",
    "y2",
    "class",
    "probability",
    "margin",
    "flag",
]
REJECTED_COLUMNS = ["image_id", "object", "x1", "y1", "x2", "y2", "not_one_chromosome", "reason"]


def _with_boxes(calls: pd.DataFrame, crops: pd.DataFrame) -> pd.DataFrame:
    boxes = crops.set_index("crop_id")[["instance_id", "xmin", "ymin", "xmax", "ymax"]]
    joined = calls.join(boxes, on="crop_id", how="left")
    if joined["instance_id"].isna().any():
        raise ValueError("calls name crops the crop table does not hold")
    return joined


def _where(joined: pd.DataFrame, number: str) -> dict:
    """The image, the object's instance number (as `number`) and its box in pixels."""
    return {
        "image_id": joined["image_id"].astype(str),
        number: joined["instance_id"].astype(int),
        "x1": joined["xmin"].astype(float).round(1),
        "y1": joined["ymin"].astype(float).round(1),
        "x2": joined["xmax"].astype(float).round(1),
        "y2": joined["ymax"].astype(float).round(1),
    }


def rejected_table(calls: pd.DataFrame, crops: pd.DataFrame) -> pd.DataFrame:
    """One row per object the assignment judged not one chromosome: its instance number,
    box in the input image's pixels, the screen's chance and the reason."""
    rejected = calls[calls["assigned"].astype(str) == ""]
    joined = _with_boxes(rejected, crops)
    table = pd.DataFrame(
        {
            **_where(joined, "object"),
            "not_one_chromosome": joined["not_one_chromosome"].astype(float).round(4),
            "reason": joined["rejection_reason"].astype(str),
        },
        columns=REJECTED_COLUMNS,
    )
    return table.sort_values(["image_id", "object"], kind="stable").reset_index(drop=True)


def chromosome_table(
    calls: pd.DataFrame,
    crops: pd.DataFrame,
    *,
    low_probability: float = 0.5,
    low_margin: float = 1.0,
) -> pd.DataFrame:
    """One row per called chromosome: its instance number in the image, its box in the
    input image's pixels, the class the cell assignment gave it with that class's
    probability and margin (nats), and a flag (`low_probability`, `low_margin` or `ok`).
    Objects the assignment rejected (no class) are not chromosomes and are left out."""
    joined = _with_boxes(calls[calls["assigned"].astype(str) != ""], crops)
    flags = []
    for p, m in zip(joined["assigned_probability"], joined["assignment_margin"], strict=True):
        flag = [
            name
            for name, low in (
                ("low_probability", p < low_probability),
                ("low_margin", m < low_margin),
            )
            if low
        ]
        flags.append(";".join(flag) or "ok")
    table = pd.DataFrame(
        {
            **_where(joined, "chromosome"),
            "class": joined["assigned"].astype(str),
            "probability": joined["assigned_probability"].astype(float).round(4),
            "margin": joined["assignment_margin"].astype(float).round(3),
            "flag": flags,
        },
        columns=CHROMOSOME_COLUMNS,
    )
    return table.sort_values(["image_id", "chromosome"], kind="stable").reset_index(drop=True)


def chromosome_table_files(
    objects: str,
    crops: str,
    chromosomes: str,
    rejected: str,
    *,
    low_probability: float,
    low_margin: float,
) -> pd.DataFrame:
    """Rule chromosome_table: the per-chromosome table of one crop set's calls, and the
    objects rejected as not one chromosome."""
    from karyoflow.core.tables import write_csv

    calls, crop_table = pd.read_parquet(objects), pd.read_parquet(crops)
    table = chromosome_table(
        calls, crop_table, low_probability=low_probability, low_margin=low_margin
    )
    write_csv(table, chromosomes, sep="\t")
    write_csv(rejected_table(calls, crop_table), rejected, sep="\t")
    return table


def predict_summary_files(cells: str, images: str, bad_inputs: str, calls: str) -> pd.DataFrame:
    """Rule predict_summary: one row per input image, also those without a call."""
    from karyoflow.core.tables import write_csv

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
                    cell.get("karyotype_margin", ""),
                    cell.get("runner_up", ""),
                    cell.get("missing", ""),
                    cell.get("n_rejected", 0),
                    cell["karyogram"],
                )
            )
        else:
            rows.append((row.image_path, row.image_id, 0, "", "no_chromosomes", "", "", "", 0, ""))
    bad = pd.read_csv(bad_inputs, sep="\t")
    # Converted files (e.g. the first frame of a multi-frame TIFF) were used; skipped ones not.
    for row in bad[bad["action"] != "converted"].itertuples():
        rows.append((row.path, "", 0, "", f"unreadable: {row.problem}", "", "", "", 0, ""))
    table = pd.DataFrame(rows, columns=PREDICT_COLUMNS)
    write_csv(table, calls, sep="\t")
    log.info("%d images: %s", len(table), table["flag"].value_counts().to_dict())
    return table
