"""The predict summary: one row per input image, its call, flag and karyogram."""

from __future__ import annotations

import logging

import pandas as pd

log = logging.getLogger(__name__)


PREDICT_COLUMNS = ["image", "image_id", "n_chromosomes", "karyotype", "flag", "karyogram"]
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


def chromosome_table(
    calls: pd.DataFrame,
    crops: pd.DataFrame,
    *,
    low_probability: float = 0.5,
    low_margin: float = 1.0,
) -> pd.DataFrame:
    """One row per called chromosome: its instance number in the image, its box in the
    input image's pixels, the class the cell assignment gave it with that class's
    probability and margin (nats), and a flag (`low_probability`, `low_margin` or `ok`)."""
    boxes = crops.set_index("crop_id")[["instance_id", "xmin", "ymin", "xmax", "ymax"]]
    joined = calls.join(boxes, on="crop_id", how="left")
    if joined["instance_id"].isna().any():
        raise ValueError("calls name crops the crop table does not hold")
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
            "image_id": joined["image_id"].astype(str),
            "chromosome": joined["instance_id"].astype(int),
            "x1": joined["xmin"].astype(float).round(1),
            "y1": joined["ymin"].astype(float).round(1),
            "x2": joined["xmax"].astype(float).round(1),
            "y2": joined["ymax"].astype(float).round(1),
            "class": joined["assigned"].astype(str),
            "probability": joined["assigned_probability"].astype(float).round(4),
            "margin": joined["assignment_margin"].astype(float).round(3),
            "flag": flags,
        },
        columns=CHROMOSOME_COLUMNS,
    )
    return table.sort_values(["image_id", "chromosome"], kind="stable").reset_index(drop=True)


def chromosome_table_files(
    classified: str, crops: str, chromosomes: str, *, low_probability: float, low_margin: float
) -> pd.DataFrame:
    """Rule chromosome_table: the per-chromosome table of one crop set's calls."""
    from karyoflow.core.tables import write_csv

    table = chromosome_table(
        pd.read_parquet(classified),
        pd.read_parquet(crops),
        low_probability=low_probability,
        low_margin=low_margin,
    )
    write_csv(table, chromosomes, sep="\t")
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
