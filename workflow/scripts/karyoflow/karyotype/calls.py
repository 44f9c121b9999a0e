"""Per-cell numerical karyotype calls from the classifier's assigned classes, with flags."""

from __future__ import annotations

from collections import Counter

import pandas as pd

from karyoflow.core.iscn import iscn_from_labels
from karyoflow.core.labels import AUTOSOMES, canonical

CELL_COLUMNS = [
    "image_id",
    "n_chromosomes",
    "karyotype",
    "flag",
    "n_low_confidence",
    "mean_probability",
]


def call_cell(
    classes: list[str],
    probabilities,
    margins,
    *,
    low_probability: float = 0.5,
    low_margin: float = 1.0,
) -> tuple[str, str, int]:
    """(ISCN call, flag, number of low-confidence chromosomes) for one cell.

    Flags, joined by ';' ('ok' when none): `count` when the number is outside 44..48
    (missed or split objects are likelier than such a karyotype), `low_confidence` when
    over 10% of the chromosomes have assigned probability < low_probability, and
    `weak_aneuploidy` when a gained class rests on a chromosome whose assignment margin is
    below low_margin nats, `loss` when an autosome has fewer than two copies.
    """
    n = len(classes)
    probabilities = list(probabilities)
    margins = list(margins)
    iscn = iscn_from_labels(classes) if n else "0,-"
    low = sum(p < low_probability for p in probabilities)
    flags = []
    if not 44 <= n <= 48:
        flags.append("count")
    if n and low > 0.1 * n:
        flags.append("low_confidence")
    counts = Counter(canonical(c) for c in classes)
    gained = [c for c in AUTOSOMES if counts[c] > 2]
    if counts["X"] + counts["Y"] > 2:
        gained += ["X", "Y"]
    weak = any(
        m < low_margin for c, m in zip(classes, margins, strict=True) if canonical(c) in gained
    )
    if weak:
        flags.append("weak_aneuploidy")
    if any(counts[c] < 2 for c in AUTOSOMES):
        # A missing autosome is likelier a missed or merged object than a monosomy.
        flags.append("loss")
    return iscn, ";".join(flags) or "ok", low


def call_cells(
    calls: pd.DataFrame, low_probability: float = 0.5, low_margin: float = 1.0
) -> pd.DataFrame:
    """Per-cell karyotype calls from a classify table (assigned classes)."""

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
