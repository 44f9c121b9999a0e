"""Classification scores (numpy/pandas only): accuracy, macro-F1, per-class table,
confusion counts, and per-cell karyotype agreement."""

from __future__ import annotations

import numpy as np
import pandas as pd

from karyoflow.core.labels import CLASSES, N_CLASSES


def confusion_counts(true: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """(24, 24) counts: true class index (rows) against predicted class index (columns)."""
    counts = np.zeros((N_CLASSES, N_CLASSES), dtype=int)
    np.add.at(counts, (np.asarray(true, int), np.asarray(predicted, int)), 1)
    return counts


def per_class(true: np.ndarray, predicted: np.ndarray) -> pd.DataFrame:
    """Precision, recall, F1 and support per class (classes absent from both: NaN)."""
    counts = confusion_counts(true, predicted)
    hits = np.diag(counts).astype(float)
    support, called = counts.sum(axis=1), counts.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(called > 0, hits / called, np.nan)
        recall = np.where(support > 0, hits / support, np.nan)
        f1 = np.where(support + called > 0, 2 * hits / (support + called).astype(float), np.nan)
    return pd.DataFrame(
        {
            "class": CLASSES,
            "support": support,
            "predicted": called,
            "precision": precision,
            "recall": recall,
            "f1": f1,
        }
    )


def macro_f1(true: np.ndarray, predicted: np.ndarray) -> float:
    """Mean F1 over the classes present in the truth."""
    table = per_class(true, predicted)
    present = table[table["support"] > 0]
    return float(present["f1"].mean()) if len(present) else float("nan")


def accuracy(true: np.ndarray, predicted: np.ndarray) -> float:
    true = np.asarray(true)
    return float((true == np.asarray(predicted)).mean()) if len(true) else float("nan")


def cell_agreement(true: np.ndarray, predicted: np.ndarray, cell_ids) -> float:
    """Share of cells whose predicted class counts equal the true counts (the numerical
    karyotype called right, whichever chromosome got which label)."""
    frame = pd.DataFrame({"cell": np.asarray(cell_ids), "t": true, "p": predicted})
    agree = [
        np.array_equal(
            np.bincount(g["t"], minlength=N_CLASSES), np.bincount(g["p"], minlength=N_CLASSES)
        )
        for _, g in frame.groupby("cell", sort=False)
    ]
    return float(np.mean(agree)) if agree else float("nan")


def scores(true, predicted, cell_ids) -> dict:
    return {
        "accuracy": round(accuracy(true, predicted), 4),
        "macro_f1": round(macro_f1(true, predicted), 4),
        "karyotype_agreement": round(cell_agreement(true, predicted, cell_ids), 4),
    }
