"""Numerical karyotypes: class counts <-> ISCN strings such as 46,XX or 47,XY,+21."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from karyoflow.core.labels import AUTOSOMES, canonical


def iscn_from_counts(counts: dict[str, int] | Counter) -> str:
    """ISCN numerical karyotype from per-class counts (any label spelling as keys).

    Autosomes deviating from two copies are listed after the sex chromosomes, gains with
    '+' and losses with '-', in chromosome order; several extra copies repeat the gain.
    """
    normalised: Counter = Counter()
    for label, n in counts.items():
        normalised[canonical(label)] += int(n)
    total = sum(normalised.values())
    sex = "X" * normalised["X"] + "Y" * normalised["Y"]
    parts = [str(total), sex or "-"]  # ISCN has no spelling for no sex chromosome; mark it
    for cls in AUTOSOMES:
        delta = normalised[cls] - 2
        parts.extend([f"+{cls}"] * max(delta, 0))
        parts.extend([f"-{cls}"] * max(-delta, 0))
    return ",".join(parts)


def iscn_from_labels(labels: Iterable[str]) -> str:
    return iscn_from_counts(Counter(canonical(label) for label in labels))


_ISCN = re.compile(r"^(\d+),([XY]*)((?:,[+-](?:\d{1,2}|X|Y))*)$")


def counts_from_iscn(iscn: str) -> Counter:
    """Per-class counts for a numerical ISCN string (no structural notation)."""
    m = _ISCN.match(iscn.replace(" ", ""))
    if not m:
        raise ValueError(f"not a numerical ISCN karyotype: {iscn!r}")
    counts: Counter = Counter({cls: 2 for cls in AUTOSOMES})
    for ch in m.group(2):
        counts[ch] += 1
    for change in filter(None, m.group(3).split(",")):
        counts[canonical(change[1:])] += 1 if change[0] == "+" else -1
    if sum(counts.values()) != int(m.group(1)):
        raise ValueError(f"{iscn!r}: chromosome number {m.group(1)} disagrees with its parts")
    return counts


NORMAL = ("46,XX", "46,XY")


def karyotype_type(iscn: str) -> str:
    """normal, trisomy, monosomy, sex_aneuploidy or other (numerical ISCN only)."""
    counts = counts_from_iscn(iscn)
    autosomal = {cls: counts[cls] - 2 for cls in AUTOSOMES if counts[cls] != 2}
    sex = (counts["X"], counts["Y"])
    if not autosomal and sex in ((2, 0), (1, 1)):
        return "normal"
    if not autosomal:
        return "sex_aneuploidy"
    if sex in ((2, 0), (1, 1)) and len(autosomal) == 1:
        return (
            "trisomy"
            if next(iter(autosomal.values())) == 1
            else ("monosomy" if next(iter(autosomal.values())) == -1 else "other")
        )
    return "other"


def abnormality(iscn: str) -> tuple:
    """What makes a numerical karyotype abnormal: its autosomal gains and losses, and its
    sex complement where that is neither XX nor XY; () for 46,XX and 46,XY.

    47,XX,+21 and 47,XY,+21 share one abnormality (+21); 45,X and 47,XXY differ."""
    counts = counts_from_iscn(iscn)
    autosomal = tuple((cls, counts[cls] - 2) for cls in AUTOSOMES if counts[cls] != 2)
    sex = (counts["X"], counts["Y"])
    return autosomal + ((("sex", sex),) if sex not in ((2, 0), (1, 1)) else ())


def abnormality_or_none(iscn: str) -> tuple | None:
    try:
        return abnormality(iscn)
    except ValueError:
        return None


def karyotype_scores(truth: dict[str, str], called: dict[str, str]) -> dict:
    """Exact-call rate overall, for normal and abnormal cells and per karyotype type;
    aneuploidy sensitivity and specificity (abnormal = anything but 46,XX / 46,XY), over
    the cells in `truth`. A cell with no call counts as wrong (and as called normal).

    `aneuploidy_sensitivity` counts an abnormal cell found when the call is abnormal in any
    way; `aneuploidy_sensitivity_right_abnormality` only when the abnormality called is the
    true one (47,XY,+21 called 47,XY,+18 is a miss; called 47,XX,+21 a hit)."""
    rows = []
    for cell, true_iscn in truth.items():
        call = called.get(cell, "")
        true_abnormality = abnormality_or_none(true_iscn)
        rows.append(
            (
                type_or_none(true_iscn),
                true_iscn == call,
                true_iscn not in NORMAL,
                bool(call) and call not in NORMAL,
                bool(call)
                and bool(true_abnormality)
                and abnormality_or_none(call) == true_abnormality,
            )
        )
    by_type: dict[str, dict] = {}
    for kind, exact, *_ in rows:
        entry = by_type.setdefault(kind, {"n": 0, "exact": 0})
        entry["n"] += 1
        entry["exact"] += int(exact)
    for entry in by_type.values():
        entry["exact_rate"] = round(entry["exact"] / entry["n"], 4)
    abnormal = [r for r in rows if r[2]]
    normal = [r for r in rows if not r[2]]

    def rate(hits, of):
        return round(sum(hits) / len(of), 4) if of else None

    return {
        "n_cells": len(rows),
        "exact_rate": round(sum(r[1] for r in rows) / len(rows), 4) if rows else float("nan"),
        "exact_rate_normal": rate([r[1] for r in normal], normal),
        "exact_rate_abnormal": rate([r[1] for r in abnormal], abnormal),
        "by_type": dict(sorted(by_type.items())),
        "n_abnormal": len(abnormal),
        "aneuploidy_sensitivity": rate([r[3] for r in abnormal], abnormal),
        "aneuploidy_sensitivity_right_abnormality": rate([r[4] for r in abnormal], abnormal),
        "aneuploidy_specificity": round(sum(not r[3] for r in normal) / len(normal), 4)
        if normal
        else None,
    }


def type_or_none(iscn: str) -> str:
    try:
        return karyotype_type(iscn)
    except ValueError:
        return "unknown"
