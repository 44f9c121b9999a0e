"""Per-cell numerical karyotype calls: the count-aware assignment of a cell's objects
(karyoflow.classify.assign, with the object screen) and the calls with their flags."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from karyoflow.core.iscn import iscn_from_labels
from karyoflow.core.labels import AUTOSOMES, CLASSES, canonical

CELL_COLUMNS = [
    "image_id",
    "n_chromosomes",
    "karyotype",
    "flag",
    "n_low_confidence",
    "mean_probability",
    "karyotype_margin",
    "runner_up",
    "missing",
    "n_rejected",
]
# Per-object columns of the assignment (rule assign_karyotypes); the cell's call is
# repeated on each of its objects.
OBJECT_COLUMNS = [
    "crop_id",
    "image_id",
    "assigned",
    "assigned_index",
    "assigned_probability",
    "assignment_margin",
    "not_one_chromosome",
    "rejection_reason",
    "karyotype",
    "karyotype_margin",
    "runner_up",
    "missing",
]


def assign_objects(
    classified: pd.DataFrame,
    crops: pd.DataFrame,
    screen: dict | None,
    extra_copy_penalty: float,
    class_shares: np.ndarray | None = None,
    processes: int = 1,
    common_change_penalty: float | None = None,
) -> pd.DataFrame:
    """The count-aware assignment of every cell's objects (OBJECT_COLUMNS), the
    classifier's posteriors weighed by its training `class_shares`, `processes` cells at
    a time; a common aneuploidy costs `common_change_penalty` (None: like any change).

    With a screen, each object may be rejected as not one chromosome (`assigned` empty,
    with a reason), and a chromosome the call needs but no object shows is taken as
    missed by the detector at the cost its recall implies; a cell whose best call needs
    more chromosomes missed than that recall makes plausible (`plausible_missed`) gets
    no call (`karyotype` empty; its objects keep their classes). Without one (crops cut
    from annotated chromosomes), every object is a chromosome and none is missed."""
    from karyoflow.classify.assign import REJECTED, assign_cells
    from karyoflow.karyotype import screen as screening

    table = classified.reset_index(drop=True)
    probabilities = table[[f"p_{c}" for c in CLASSES]].to_numpy(float)
    junk, reasons = None, [""] * len(table)
    settings = {}
    if screen is not None:
        objects, _ = screening.classified_objects(table, crops)
        features = screening.object_features(objects, probabilities)
        junk = screening.junk_probability(screen, features)
        reasons = screening.rejection_reasons(features)
        settings = {
            "junk_base_rate": screen["share_not_one_chromosome"],
            "missed_chromosome_cost": screening.missed_chromosome_cost(screen),
        }
    result = assign_cells(
        probabilities,
        table["image_id"],
        extra_copy_penalty,
        junk=junk,
        class_shares=class_shares,
        common_change_penalty=common_change_penalty,
        processes=processes,
        **settings,
    )
    rejected = result.classes == REJECTED
    cells = [result.cells[i] for i in table["image_id"]]
    most_missed = screening.plausible_missed(screen) if screen is not None else None
    called = [most_missed is None or len(c.missing) <= most_missed for c in cells]
    return pd.DataFrame(
        {
            "crop_id": table["crop_id"],
            "image_id": table["image_id"].astype(str),
            "assigned": [
                "" if r else CLASSES[c] for c, r in zip(result.classes, rejected, strict=True)
            ],
            "assigned_index": result.classes,
            "assigned_probability": result.probability.round(4),
            "assignment_margin": result.margin.round(3),
            "not_one_chromosome": (np.zeros(len(table)) if junk is None else junk).round(4),
            "rejection_reason": [
                why if r else "" for why, r in zip(reasons, rejected, strict=True)
            ],
            "karyotype": [c.karyotype if ok else "" for c, ok in zip(cells, called, strict=True)],
            "karyotype_margin": [round(c.karyotype_margin, 3) for c in cells],
            "runner_up": [c.runner_up for c in cells],
            "missing": [";".join(c.missing) for c in cells],
        },
        columns=OBJECT_COLUMNS,
    )


def call_cell(
    classes: list[str],
    probabilities,
    margins,
    *,
    low_probability: float = 0.5,
    low_margin: float = 1.0,
    karyotype: str | None = None,
    karyotype_margin: float = float("inf"),
) -> tuple[str, str, int]:
    """(ISCN call, flag, number of low-confidence chromosomes) for one cell.

    `classes` are the cell's chromosomes (rejected objects left out). The call is
    `karyotype` where the assignment gave one, else the classes counted. Flags say why a
    call is weak, joined by ';' ('ok' when none):
    - `too_few_chromosomes`: no call (`karyotype` given empty by the assignment): it
      would need more chromosomes missed than the detector plausibly misses;
    - `count`: the chromosomes number outside 44..48 (missed or split objects are
      likelier than such a karyotype);
    - `low_confidence`: over 10% of the chromosomes have probability < low_probability;
    - `weak_call`: the runner-up karyotype is within low_margin nats of the call;
    - `weak_aneuploidy`: a gained class rests on a chromosome whose own margin is below
      low_margin nats.
    """
    n = len(classes)
    probabilities = list(probabilities)
    margins = list(margins)
    if karyotype is None:
        karyotype = iscn_from_labels(classes) if n else "0,-"
    low = sum(p < low_probability for p in probabilities)
    flags = ["too_few_chromosomes"] if karyotype == "" else []
    if not 44 <= n <= 48:
        flags.append("count")
    if n and low > 0.1 * n:
        flags.append("low_confidence")
    if karyotype_margin < low_margin:
        flags.append("weak_call")
    counts = Counter(canonical(c) for c in classes)
    gained = [c for c in AUTOSOMES if counts[c] > 2]
    if counts["X"] + counts["Y"] > 2:
        gained += ["X", "Y"]
    weak = any(
        m < low_margin for c, m in zip(classes, margins, strict=True) if canonical(c) in gained
    )
    if weak:
        flags.append("weak_aneuploidy")
    return karyotype, ";".join(flags) or "ok", low


def call_cells(
    objects: pd.DataFrame, low_probability: float = 0.5, low_margin: float = 1.0
) -> pd.DataFrame:
    """Per-cell karyotype calls from an assignment table (OBJECT_COLUMNS); a table with
    assigned classes only is called by counting them."""
    rows = []
    for image_id, cell in objects.groupby("image_id", sort=True):
        kept = cell[cell["assigned"].astype(str) != ""]
        first = cell.iloc[0]
        known = "karyotype" in cell
        iscn, flag, low = call_cell(
            list(kept["assigned"]),
            kept["assigned_probability"],
            kept["assignment_margin"],
            low_probability=low_probability,
            low_margin=low_margin,
            karyotype=first["karyotype"] if known else None,
            karyotype_margin=float(first["karyotype_margin"]) if known else float("inf"),
        )
        rows.append(
            (
                image_id,
                len(kept),
                iscn,
                flag,
                low,
                round(float(kept["assigned_probability"].mean()), 4) if len(kept) else 0.0,
                float(first["karyotype_margin"]) if known else None,
                str(first["runner_up"]) if known else "",
                str(first["missing"]) if known else "",
                len(cell) - len(kept),
            )
        )
    return pd.DataFrame(rows, columns=CELL_COLUMNS)


# Common-aneuploidy penalties tried on the validation cells: from this many nats up to
# the penalty of any other change, in half-nat steps.
COMMON_PENALTY_FLOOR = 2.0
COMMON_PENALTY_STEP = 0.5


def common_penalties_tried(extra_copy_penalty: float) -> list[float]:
    """COMMON_PENALTY_FLOOR, + COMMON_PENALTY_STEP, ... up to extra_copy_penalty."""
    grid = np.arange(COMMON_PENALTY_FLOOR, extra_copy_penalty + 1e-9, COMMON_PENALTY_STEP)
    return [float(p) for p in grid] or [float(extra_copy_penalty)]


def annotated_karyotypes(annotations: pd.DataFrame) -> dict[str, str]:
    """Per image: the karyotype its annotated classes spell (images with a chromosome of
    unknown class, e.g. boxes labelled only "chromosome", have none to score against)."""
    annotations = annotations.assign(
        image_id=annotations["image_id"].astype(str), label=annotations["class"].astype(str)
    )
    unknown = set(annotations.loc[~annotations["label"].isin(CLASSES), "image_id"])
    return {
        image_id: iscn_from_labels(group["label"])
        for image_id, group in annotations.groupby("image_id")
        if image_id not in unknown
    }


def assignments_by_common_penalty(
    classified: pd.DataFrame,
    crops: pd.DataFrame,
    screen: dict,
    extra_copy_penalty: float,
    class_shares: np.ndarray | None = None,
    processes: int = 1,
) -> dict[float, pd.DataFrame]:
    """The cells' assignment tables (assign_objects) at each common-aneuploidy penalty
    tried (common_penalties_tried)."""
    return {
        penalty: assign_objects(
            classified, crops, screen, extra_copy_penalty, class_shares, processes, penalty
        )
        for penalty in common_penalties_tried(extra_copy_penalty)
    }


# The class prior the calls divide the classifier's posteriors by, to read them as
# likelihood ratios: its training crops' class shares, which is right for objects like
# those it learnt from, or equal shares, taken only where validation shows them better.
CLASS_PRIORS = ("training_shares", "equal")
# Equal shares replace the training shares only where they call significantly more
# validation cells right (one-sided sign test over the cells whose call differs), so a
# cell or two on a small validation set does not flip the prior.
CLASS_PRIOR_SIGNIFICANCE = 0.05


def _cells_called_right(table: pd.DataFrame, truth: dict[str, str]) -> dict[str, bool]:
    calls = table.drop_duplicates("image_id")
    return {
        i: truth[i] == k
        for i, k in zip(calls["image_id"].astype(str), calls["karyotype"], strict=True)
        if i in truth
    }


def choose_call_priors(
    classified: pd.DataFrame,
    crops: pd.DataFrame,
    screen: dict,
    annotations: pd.DataFrame,
    extra_copy_penalty: float,
    class_shares: np.ndarray | None = None,
    processes: int = 1,
) -> dict:
    """The calls' two priors, chosen on annotated (validation) cells.

    The cost of a common aneuploidy: of COMMON_PENALTY_FLOOR to `extra_copy_penalty`,
    the highest of those calling the most cells' karyotypes (read from their annotated
    classes) exactly. The highest, because a cheaper change must earn its place by more
    cells called right.

    The class prior: the classifier's training `class_shares`, unless equal shares (with
    their own best penalty) call more cells right with a one-sided sign test p below
    CLASS_PRIOR_SIGNIFICANCE. Why it is a choice at all: dividing by the training shares
    is right for objects like the training crops, but fragments the screen keeps look
    like small chromosomes, and the Y's small share (a quarter of an autosome's) turns
    their stray Y probability into strong evidence for a Y.

    Returns {"class_prior", "common_change_penalty", "common_change_penalty_exact":
    {penalty: share} at the chosen prior, "class_prior_exact": {prior: {penalty:
    share}}, "class_prior_test": {"cells_better", "cells_worse", "p_value"} for equal
    against training shares, "n_cells_karyotyped"}; with no annotated cell, the training
    shares and `extra_copy_penalty`."""
    from scipy.stats import binomtest

    truth = annotated_karyotypes(annotations)
    cells = classified[classified["image_id"].astype(str).isin(truth)]
    right: dict[str, dict[float, dict[str, bool]]] = {prior: {} for prior in CLASS_PRIORS}
    if not cells.empty:
        for prior in CLASS_PRIORS:
            shares = class_shares if prior == "training_shares" else None
            tables = assignments_by_common_penalty(
                cells, crops, screen, extra_copy_penalty, shares, processes
            )
            right[prior] = {p: _cells_called_right(t, truth) for p, t in tables.items()}
    exact = {
        prior: {p: round(float(np.mean(list(r.values()))), 4) for p, r in by_penalty.items()}
        for prior, by_penalty in right.items()
    }
    best_penalty = {
        prior: max(
            (p for p, e in by_penalty.items() if e == max(by_penalty.values())),
            default=float(extra_copy_penalty),
        )
        for prior, by_penalty in exact.items()
    }
    default, alternative = CLASS_PRIORS
    better = worse = 0
    if not cells.empty:
        ours = right[default][best_penalty[default]]
        theirs = right[alternative][best_penalty[alternative]]
        better = sum(theirs[i] and not ours[i] for i in ours)
        worse = sum(ours[i] and not theirs[i] for i in ours)
    p_value = (
        float(binomtest(better, better + worse, 0.5, alternative="greater").pvalue)
        if better + worse
        else 1.0
    )
    prior = alternative if p_value < CLASS_PRIOR_SIGNIFICANCE else default
    return {
        "class_prior": prior,
        "common_change_penalty": best_penalty[prior],
        "common_change_penalty_exact": {f"{p:g}": e for p, e in exact[prior].items()},
        "class_prior_exact": {
            p: {f"{q:g}": e for q, e in by_penalty.items()} for p, by_penalty in exact.items()
        },
        "class_prior_test": {
            "cells_better": int(better),
            "cells_worse": int(worse),
            "p_value": round(p_value, 4),
        },
        "n_cells_karyotyped": int(cells["image_id"].nunique()),
    }


def common_penalty(setting, screen: dict | None) -> float | None:
    """The common-aneuploidy penalty a run's calls use: a number as configured, or for
    "auto" the one chosen with the object screen (None where it holds none: an older
    screen, or no screen at all, and every change costs alike)."""
    if setting == "auto":
        return None if screen is None else screen.get("common_change_penalty")
    return float(setting)


def class_prior(setting: str, screen: dict | None) -> str:
    """The class prior a run's calls use: as configured, or for "auto" the one chosen with
    the object screen (the training shares where it records none: an older screen, or
    no screen at all)."""
    if setting == "auto":
        return (screen or {}).get("class_prior", CLASS_PRIORS[0])
    if setting not in CLASS_PRIORS:
        raise ValueError(f"class_prior must be auto or one of {CLASS_PRIORS}, not {setting!r}")
    return setting


def class_prior_shares(prior: str, classifier: str) -> np.ndarray | None:
    """The class shares the calls divide the posteriors of `classifier` by (None: equal)."""
    from karyoflow.classify.train import training_class_shares

    return training_class_shares(classifier) if prior == "training_shares" else None


def assign_karyotypes_files(
    classified: str,
    crops: str,
    objects: str,
    *,
    classifier: str,
    screen: str = "",
    extra_copy_penalty: float,
    common_change_penalty: float | str = "auto",
    class_prior_setting: str = "auto",
    processes: int = 1,
) -> pd.DataFrame:
    """Rule assign_karyotypes: the assignment table of one crop set, whose probabilities
    came from `classifier`."""
    import logging

    from karyoflow.core.tables import write_parquet
    from karyoflow.karyotype.screen import read_screen

    calibration = read_screen(screen) if screen else None
    common = common_penalty(common_change_penalty, calibration)
    prior = class_prior(class_prior_setting, calibration)
    logging.getLogger(__name__).info(
        "change penalty %.2f nats; common aneuploidies %s; class prior: %s",
        extra_copy_penalty,
        "alike" if common is None else f"{common:.2f} nats",
        prior,
    )
    table = assign_objects(
        pd.read_parquet(classified),
        pd.read_parquet(crops),
        calibration,
        extra_copy_penalty,
        class_prior_shares(prior, classifier),
        processes,
        common,
    )
    write_parquet(table, objects)
    missed = [m for m in table.drop_duplicates("image_id")["missing"] if m]
    logging.getLogger(__name__).info(
        "%d objects in %d cells: %d rejected as not one chromosome; %d chromosomes taken as missed",
        len(table),
        table["image_id"].nunique(),
        int((table["assigned"] == "").sum()),
        sum(len(m.split(";")) for m in missed),
    )
    return table
