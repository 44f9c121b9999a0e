"""The predict summary: one row per input image, its call, flag and karyogram."""

from __future__ import annotations

import logging
import pandas as pd

log = logging.getLogger(__name__)


PREDICT_COLUMNS = ["image", "image_id", "n_chromosomes", "karyotype", "flag", "karyogram"]


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
