"""Karyotype context: classes assigned jointly per cell from the probability matrix.

A normal cell holds two copies of each autosome and XX or XY. Each cell is solved as a
rectangular linear assignment (scipy's Hungarian solver) of chromosomes to *slots*:
two free slots per autosome plus one extra slot that costs `extra_copy_penalty` nats,
so a third copy is accepted only where the evidence favours a trisomy (its log-odds
must beat the penalty). The sex chromosomes are solved once per pattern (XX, XY, X,
XXY, XYY); the gains XXY and XYY also cost the penalty. Missing chromosomes simply
leave slots empty, so 45,X is an XX cell with one X slot empty. The cost of a chromosome in a slot of class c is
-log p(c); the cheapest pattern wins.

Per chromosome out: the assigned class, its probability, and the margin in nats by
which the assignment preferred it over the best solution with this chromosome moved
to another class (a small margin = an uncertain call).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from karyoflow.core.labels import CLASS_INDEX, N_CLASSES

X, Y = CLASS_INDEX["X"], CLASS_INDEX["Y"]
# (X copies, Y copies, is the pattern an aneuploidy)
SEX_PATTERNS: dict[str, tuple[int, int, bool]] = {
    "XX": (2, 0, False),
    "XY": (1, 1, False),
    "XXY": (2, 1, True),
    "XYY": (1, 2, True),
}
EPS = 1e-9


@dataclass
class CellAssignment:
    classes: np.ndarray  # (n,) class index per chromosome
    probability: np.ndarray  # (n,) p of the assigned class
    margin: np.ndarray  # (n,) nats lost if that chromosome had to take another class
    sex_chromosomes: str  # the X and Y calls of the cell, e.g. "XY", "X", "XXY"
    cost: float


def _slots(sex_pattern: str, penalty: float) -> tuple[np.ndarray, np.ndarray]:
    """Slot classes and extra costs for one sex pattern."""
    n_x, n_y, _ = SEX_PATTERNS[sex_pattern]
    classes, extra = [], []
    for c in range(N_CLASSES):
        if c == X:
            free = n_x
        elif c == Y:
            free = n_y
        else:
            free = 2
        classes += [c] * (free + 1)
        extra += [0.0] * free + [penalty]
    return np.array(classes), np.array(extra)


def _solve(costs: np.ndarray, slot_class: np.ndarray, slot_extra: np.ndarray):
    """Cheapest assignment of rows to distinct slots; (class per row, total cost)."""
    matrix = costs[:, slot_class] + slot_extra[None, :]
    rows, cols = linear_sum_assignment(matrix)
    classes = np.empty(len(costs), dtype=int)
    classes[rows] = slot_class[cols]
    return classes, float(matrix[rows, cols].sum())


def assign_cell(
    probabilities: np.ndarray, extra_copy_penalty: float = 6.0, margins: bool = True
) -> CellAssignment:
    """Joint class assignment for the chromosomes of one cell (rows of `probabilities`)."""
    probabilities = np.asarray(probabilities, dtype=float)
    if probabilities.ndim != 2 or probabilities.shape[1] != N_CLASSES:
        raise ValueError(
            f"expected an (n, {N_CLASSES}) probability matrix, got {probabilities.shape}"
        )
    n = len(probabilities)
    if n == 0:
        empty = np.zeros(0)
        return CellAssignment(empty.astype(int), empty, empty, "", 0.0)
    costs = -np.log(np.clip(probabilities, EPS, 1.0))
    best = None
    for pattern, (_, _, aneuploid) in SEX_PATTERNS.items():
        slot_class, slot_extra = _slots(pattern, extra_copy_penalty)
        if n > len(slot_class):
            # More objects than any karyotype holds (fragments, debris): every surplus
            # object takes its own class beyond the slots, at the penalty.
            slot_class = np.concatenate([slot_class, np.repeat(np.arange(N_CLASSES), n)])
            slot_extra = np.concatenate(
                [slot_extra, np.full(N_CLASSES * n, 2 * extra_copy_penalty)]
            )
        classes, cost = _solve(costs, slot_class, slot_extra)
        cost += extra_copy_penalty if aneuploid else 0.0
        if best is None or cost < best[2] - 1e-12:
            best = (pattern, classes, cost, slot_class, slot_extra)
    pattern, classes, cost, slot_class, slot_extra = best
    margin = np.full(n, np.inf)
    if margins:
        for i in range(n):
            # Forbid chromosome i its class; the rise in cost is how sure the call is.
            blocked = costs.copy()
            blocked[i, classes[i]] = 1e6
            _, other = _solve(blocked, slot_class, slot_extra)
            margin[i] = other + (extra_copy_penalty if SEX_PATTERNS[pattern][2] else 0) - cost
    sex = "X" * int((classes == X).sum()) + "Y" * int((classes == Y).sum())
    return CellAssignment(
        classes, probabilities[np.arange(n), classes], np.minimum(margin, 1e6), sex, cost
    )


def assign_cells(
    probabilities: np.ndarray, cell_ids, extra_copy_penalty: float = 6.0, margins: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Assignment for every cell of a table; (class, probability, margin) per row."""
    cell_ids = np.asarray(cell_ids)
    classes = np.empty(len(cell_ids), dtype=int)
    probability, margin = np.empty(len(cell_ids)), np.empty(len(cell_ids))
    for cell in dict.fromkeys(cell_ids):
        rows = np.flatnonzero(cell_ids == cell)
        result = assign_cell(probabilities[rows], extra_copy_penalty, margins)
        classes[rows], probability[rows], margin[rows] = (
            result.classes,
            result.probability,
            result.margin,
        )
    return classes, probability, margin
