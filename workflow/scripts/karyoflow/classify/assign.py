"""Karyotype context: the objects of a cell assigned jointly, and the karyotype called.

Every candidate karyotype of a cell is tried: 46,XX and 46,XY, one autosomal gain or
loss, the sex complements X, XXY, XYY and XXX, and one autosomal change with one of
those. A candidate holds one *slot* per chromosome it claims. The objects of the cell
are assigned to slots or to "not a chromosome" as a rectangular linear assignment
(scipy's Hungarian solver), and the candidate's cost in nats is

    sum over objects in slots  of -log((1 - junk_i) p_i(class) / share(class))
  + sum over rejected objects  of -log(junk_i)
  + missed_chromosome_cost     per slot left empty (a chromosome the detector missed)
  + extra_copy_penalty         per numerical change from 46,XX/46,XY (gain or loss),
                               or common_change_penalty for a common aneuploidy.

The common aneuploidies are the constitutional ones seen in live births (trisomy 13, 18
or 21 with 46's sex chromosomes; 45,X, 47,XXY, 47,XYY, 47,XXX): far likelier a priori
than any other single change, so a cell may hold a cheaper prior against them.

A missing object and an extra one are judged alike: a loss is called only where it is
cheaper than assuming a missed chromosome, a gain only where it is cheaper than
rejecting an object (or than the object's class being wrong), each against the same
penalty. `junk_i` is the chance that object i is not one chromosome (nucleus, debris,
part of a chromosome, several chromosomes); with none given it is ~0 and every object
must be a chromosome: an object beyond every slot (fragments of a split chromosome)
then keeps its likeliest class as a surplus copy, at twice the penalty, and counts in
the call. share(class) is the class's share of the classifier's training crops, which
its posteriors carry as a prior. The cheapest candidate is the call; the cost gap to the
runner-up is its margin in nats (a small margin = a weak call).

Per object out: the assigned class (or REJECTED), its probability, and the margin in
nats by which the assignment preferred that choice over the best alternative for this
object within the called karyotype.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from karyoflow.core.iscn import iscn_from_counts
from karyoflow.core.labels import AUTOSOMES, CLASS_INDEX, CLASSES, N_CLASSES

X, Y = CLASS_INDEX["X"], CLASS_INDEX["Y"]
REJECTED = -1  # class index of an object assigned "not a chromosome"
# Sex complements tried: (X copies, Y copies). 46,XX and 46,XY are normal; the others
# count as one numerical change.
SEX_COMPLEMENTS: dict[str, tuple[int, int]] = {
    "XX": (2, 0),
    "XY": (1, 1),
    "X": (1, 0),
    "XXY": (2, 1),
    "XYY": (1, 2),
    "XXX": (3, 0),
}
NORMAL_SEX = ("XX", "XY")
# The constitutional aneuploidies seen in live births: trisomies of these autosomes (with
# a normal sex complement) and the sex complements other than XX and XY alone.
COMMON_TRISOMIES = ("13", "18", "21")
EPS = 1e-9
# A margin larger than this (nats) is reported as this: the alternative is impossible.
MAX_MARGIN = 1e6


@dataclass(frozen=True)
class Candidate:
    """One karyotype a cell may have: copies per class and its number of changes."""

    copies: tuple[int, ...]  # (N_CLASSES,) copies per class index
    changes: int
    common: bool = False  # one of the common aneuploidies (COMMON_TRISOMIES, a sex change)

    @property
    def iscn(self) -> str:
        return iscn_from_counts(dict(zip(CLASSES, self.copies, strict=True)))


def candidates() -> list[Candidate]:
    """Every karyotype tried: normal, one autosomal change, a sex change, or both."""
    out = []
    for sex, (n_x, n_y) in SEX_COMPLEMENTS.items():
        sex_change = int(sex not in NORMAL_SEX)
        autosomal = [(None, 0)] + [(c, d) for c in AUTOSOMES for d in (1, -1)]
        for cls, delta in autosomal:
            copies = [2] * N_CLASSES
            copies[X], copies[Y] = n_x, n_y
            if cls is not None:
                copies[CLASS_INDEX[cls]] += delta
            common = bool(sex_change and cls is None) or (
                not sex_change and cls in COMMON_TRISOMIES and delta == 1
            )
            out.append(Candidate(tuple(copies), sex_change + int(cls is not None), common))
    return out


CANDIDATES = candidates()


@dataclass
class CellAssignment:
    classes: np.ndarray  # (n,) class index per object, REJECTED for "not a chromosome"
    probability: np.ndarray  # (n,) p of the assigned class (junk_i for a rejected object)
    margin: np.ndarray  # (n,) nats lost if that object had to take another choice
    sex_chromosomes: str  # the X and Y of the called karyotype, e.g. "XY", "X", "XXY"
    cost: float
    karyotype: str = ""  # the called karyotype (ISCN)
    karyotype_margin: float = MAX_MARGIN  # nats to the runner-up karyotype
    runner_up: str = ""
    missing: list[str] = field(default_factory=list)  # classes of slots left empty


def _costs(
    probabilities: np.ndarray,
    junk: np.ndarray,
    junk_base_rate: float,
    class_shares: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(n, N_CLASSES) cost of each object as each class; (n,) cost of rejecting it.

    The classifier's and the screen's outputs are posteriors at their training priors:
    `class_shares`, each class's share of the crops the classifier learnt from (equal
    shares where not known), and `junk_base_rate` of objects not one chromosome. Divided
    by those priors they become likelihood ratios, so the candidate karyotype alone says
    how many chromosomes of each class to expect. The shares matter for the sex
    chromosomes: a Y is a quarter as common as an autosome among the crops of a set of
    half-male cells, so its posterior understates the evidence for it by about 1.4 nats."""
    shares = (
        np.full(N_CLASSES, 1.0 / N_CLASSES)
        if class_shares is None
        else np.asarray(class_shares, dtype=float)
    )
    keep = np.log(np.clip(1.0 - junk, EPS, 1.0) / (1.0 - junk_base_rate))
    as_class = -np.log(np.clip(probabilities, EPS, 1.0) / shares) - keep[:, None]
    return as_class, -np.log(np.clip(junk, EPS, 1.0) / junk_base_rate)


def _solve(as_class, reject, slot_class, missed_cost):
    """Cheapest assignment of objects to slots or rejection: (choice per object, cost).

    Columns: one per slot (filling it also saves its missed cost), then one rejection
    column per object."""
    n = len(as_class)
    matrix = np.hstack([as_class[:, slot_class] - missed_cost, np.repeat(reject[:, None], n, 1)])
    rows, cols = linear_sum_assignment(matrix)
    choice = np.full(n, REJECTED)
    in_slot = cols < len(slot_class)
    choice[rows[in_slot]] = slot_class[cols[in_slot]]
    return choice, float(matrix[rows, cols].sum()) + missed_cost * len(slot_class)


def _slot_classes(candidate: Candidate) -> np.ndarray:
    return np.repeat(np.arange(N_CLASSES), candidate.copies)


def prior_cost(
    candidate: Candidate, extra_copy_penalty: float, common_change_penalty: float | None = None
) -> float:
    """Nats a candidate karyotype costs before any evidence: extra_copy_penalty per change,
    or common_change_penalty for a common aneuploidy where one is given."""
    if candidate.common and common_change_penalty is not None:
        return float(common_change_penalty)
    return extra_copy_penalty * candidate.changes


def assign_cell(
    probabilities: np.ndarray,
    extra_copy_penalty: float = 6.0,
    margins: bool = True,
    *,
    junk: np.ndarray | None = None,
    junk_base_rate: float = 0.5,
    missed_chromosome_cost: float = 50.0,
    class_shares: np.ndarray | None = None,
    common_change_penalty: float | None = None,
) -> CellAssignment:
    """Joint assignment of the objects of one cell (rows of `probabilities`) and its call.

    junk: per object, the chance it is not one chromosome (default ~0: all are), from a
    screen that saw `junk_base_rate` of such objects among those it learnt from.
    class_shares: each class's share of the classifier's training crops
    (`training_class_shares`); None: equal shares.
    missed_chromosome_cost: nats per chromosome the call assumes was not detected; large
    (the default) where every chromosome is known to be present, -log((1-r)/r) for a
    detector of recall r.
    common_change_penalty: the prior cost of a common aneuploidy (None: extra_copy_penalty
    like any other change).
    """
    probabilities = np.asarray(probabilities, dtype=float)
    if probabilities.ndim != 2 or probabilities.shape[1] != N_CLASSES:
        raise ValueError(
            f"expected an (n, {N_CLASSES}) probability matrix, got {probabilities.shape}"
        )
    n = len(probabilities)
    if n == 0:
        empty = np.zeros(0)
        return CellAssignment(empty.astype(int), empty, empty, "", 0.0, "", 0.0)
    surplus = junk is None  # no screen: an object beyond the slots is a surplus copy
    junk = np.zeros(n) if junk is None else np.clip(np.asarray(junk, dtype=float), 0.0, 1.0)
    if junk.shape != (n,):
        raise ValueError(f"junk must hold one value per object ({n}), got {junk.shape}")
    if class_shares is not None and np.shape(class_shares) != (N_CLASSES,):
        raise ValueError(f"class_shares must hold one share per class ({N_CLASSES})")
    as_class, reject = _costs(probabilities, junk, junk_base_rate, class_shares)
    if surplus:
        reject = as_class.min(axis=1) + 2 * extra_copy_penalty
    scored = []
    for candidate in CANDIDATES:
        slot_class = _slot_classes(candidate)
        choice, cost = _solve(as_class, reject, slot_class, missed_chromosome_cost)
        prior = prior_cost(candidate, extra_copy_penalty, common_change_penalty)
        scored.append((cost + prior, candidate, choice))
    scored.sort(key=lambda item: item[0])
    cost, best, classes = scored[0]
    runner_cost, runner, _ = scored[1]
    slot_class = _slot_classes(best)
    margin = np.full(n, np.inf)
    if margins:
        for i in range(n):
            # Forbid object i its choice; the rise in cost is how sure that choice is.
            blocked_class, blocked_reject = as_class.copy(), reject.copy()
            if classes[i] == REJECTED:
                blocked_reject[i] = MAX_MARGIN
            else:
                blocked_class[i, classes[i]] = MAX_MARGIN
            _, other = _solve(blocked_class, blocked_reject, slot_class, missed_chromosome_cost)
            margin[i] = other + prior_cost(best, extra_copy_penalty, common_change_penalty) - cost
    placed = classes != REJECTED
    filled = np.bincount(classes[placed], minlength=N_CLASSES)
    missing = [
        CLASSES[c] for c in range(N_CLASSES) for _ in range(max(best.copies[c] - filled[c], 0))
    ]
    copies = np.array(best.copies)
    if surplus and not placed.all():
        extra = as_class[~placed].argmin(axis=1)
        classes[~placed] = extra
        copies += np.bincount(extra, minlength=N_CLASSES)
        placed[:] = True
    probability = np.where(placed, probabilities[np.arange(n), np.maximum(classes, 0)], junk)
    return CellAssignment(
        classes,
        probability,
        np.minimum(margin, MAX_MARGIN),
        "X" * int(copies[X]) + "Y" * int(copies[Y]),
        cost,
        iscn_from_counts(dict(zip(CLASSES, copies.tolist(), strict=True))),
        min(runner_cost - cost, MAX_MARGIN),
        runner.iscn,
        missing,
    )


@dataclass
class Assignments:
    """assign_cells' per-object columns and per-cell calls (cells in order of appearance)."""

    classes: np.ndarray
    probability: np.ndarray
    margin: np.ndarray
    cells: dict[object, CellAssignment]


def _assign_one(task: tuple) -> CellAssignment:
    probabilities, junk, settings = task
    return assign_cell(probabilities, junk=junk, **settings)


def assign_cells(
    probabilities: np.ndarray,
    cell_ids,
    extra_copy_penalty: float = 6.0,
    margins: bool = True,
    *,
    junk: np.ndarray | None = None,
    junk_base_rate: float = 0.5,
    missed_chromosome_cost: float = 50.0,
    class_shares: np.ndarray | None = None,
    common_change_penalty: float | None = None,
    processes: int = 1,
) -> Assignments:
    """Assignment for every cell of a table, `processes` cells at a time (each cell is
    some 300 small assignment problems: 35 ms)."""
    from concurrent.futures import ProcessPoolExecutor

    cell_ids = np.asarray(cell_ids)
    junk = None if junk is None else np.asarray(junk, dtype=float)
    classes = np.empty(len(cell_ids), dtype=int)
    probability, margin = np.empty(len(cell_ids)), np.empty(len(cell_ids))
    settings = dict(
        extra_copy_penalty=extra_copy_penalty,
        margins=margins,
        junk_base_rate=junk_base_rate,
        missed_chromosome_cost=missed_chromosome_cost,
        class_shares=class_shares,
        common_change_penalty=common_change_penalty,
    )
    rows_of = {cell: np.flatnonzero(cell_ids == cell) for cell in dict.fromkeys(cell_ids)}
    tasks = [
        (probabilities[rows], None if junk is None else junk[rows], settings)
        for rows in rows_of.values()
    ]
    if processes > 1 and len(tasks) > 1:
        with ProcessPoolExecutor(max_workers=min(processes, len(tasks))) as pool:
            results = list(pool.map(_assign_one, tasks, chunksize=8))
    else:
        results = [_assign_one(task) for task in tasks]
    cells = {}
    for (cell, rows), result in zip(rows_of.items(), results, strict=True):
        classes[rows], probability[rows], margin[rows] = (
            result.classes,
            result.probability,
            result.margin,
        )
        cells[cell] = result
    return Assignments(classes, probability, margin, cells)
