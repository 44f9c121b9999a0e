"""Numerical karyotypes: class counts <-> ISCN strings such as 46,XX or 47,XY,+21."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from karyoflow.labels import AUTOSOMES, canonical


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
