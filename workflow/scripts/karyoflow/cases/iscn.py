"""A case's karyotype from its cells' numerical calls, by ISCN's clone rules.

A cell line is the set of cells with the same call (after writing each call the core's
way, so ``47,XX,+21`` and ``47, XX, +21`` are one line). A line is a clone when it has
at least two cells and gains a chromosome, or at least three cells and only loses
(ISCN: two cells with the same extra chromosome, three with the same missing one). A
normal line (46,XX or 46,XY) needs two cells as well. Only clones are written; the
other cells are non-clonal and left out of the string (`nonclonal_cells` lists them).

Related clones (a stemline and its sidelines) are not recognised as such: each distinct
call is its own line. Structural notation is not read; a call the core cannot read as a
numerical karyotype counts as not analysable, like an empty call.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from karyoflow.core.iscn import NORMAL, counts_from_iscn, iscn_from_counts
from karyoflow.core.labels import AUTOSOMES

NOT_ANALYSABLE = "not analysable"
UNREADABLE = "not a numerical karyotype"
NON_CLONAL = "non-clonal"


def _written(call: object) -> tuple[str | None, Counter | None, str | None]:
    """(call written the core's way, its class counts, why it is unusable)."""
    if not isinstance(call, str) or not call.strip():
        return None, None, NOT_ANALYSABLE
    try:
        counts = counts_from_iscn(call.strip())
    except ValueError:
        return None, None, UNREADABLE
    return iscn_from_counts(counts), counts, None


def gains_and_losses(counts: Counter) -> tuple[bool, bool]:
    """Whether per-class counts gain and whether they lose a chromosome against the normal
    line they imply: two of each autosome and XX, or XY where a Y is present."""
    autosomes = [counts[cls] for cls in AUTOSOMES]
    x_expected = 1 if counts["Y"] else 2
    gain = any(n > 2 for n in autosomes) or counts["X"] > x_expected or counts["Y"] > 1
    loss = any(n < 2 for n in autosomes) or counts["X"] < x_expected
    return gain, loss


def clone_size(counts: Counter) -> int:
    """The fewest cells that make a line with these counts a clone: 3 for a line that only
    loses chromosomes, 2 otherwise (a gain, or a normal line)."""
    gain, loss = gains_and_losses(counts)
    return 3 if loss and not gain else 2


def _lines(cell_karyotypes: Sequence[str | None]):
    """Each readable line's cell positions and counts, and the unusable cells' reasons."""
    members: dict[str, list[int]] = {}
    counts_of: dict[str, Counter] = {}
    unusable: dict[int, str] = {}
    for position, call in enumerate(cell_karyotypes):
        written, counts, why = _written(call)
        if why:
            unusable[position] = why
            continue
        members.setdefault(written, []).append(position)
        counts_of[written] = counts
    return members, counts_of, unusable


def case_lines(cell_karyotypes: Sequence[str | None]) -> list[tuple[str, int]]:
    """The case's clones as (call, number of cells), in ISCN's order: abnormal lines first,
    then normal ones, each by cell count descending (ties by call)."""
    members, counts_of, _ = _lines(cell_karyotypes)
    clones = [
        (call, len(cells))
        for call, cells in members.items()
        if len(cells) >= clone_size(counts_of[call])
    ]
    return sorted(clones, key=lambda line: (line[0] in NORMAL, -line[1], line[0]))


def nonclonal_cells(cell_karyotypes: Sequence[str | None]) -> list[tuple[int, str | None, str]]:
    """The cells left out of the case karyotype, as (position, call as given, reason):
    "not analysable" (no call), "not a numerical karyotype" (a call the core cannot read)
    or "non-clonal" (its line is too small to be a clone)."""
    members, counts_of, unusable = _lines(cell_karyotypes)
    left_out = dict(unusable)
    for call, cells in members.items():
        if len(cells) < clone_size(counts_of[call]):
            left_out.update(dict.fromkeys(cells, NON_CLONAL))
    return [
        (position, cell_karyotypes[position], why) for position, why in sorted(left_out.items())
    ]


def case_karyotype(cell_karyotypes: Sequence[str | None]) -> str:
    """The case's ISCN karyotype from its cells' calls, e.g. ``46,XY[5]``,
    ``47,XX,+21[4]``, ``mos 45,X[3]/46,XX[2]`` or ``chi 46,XX[3]/46,XY[2]``.

    One clone is written alone; several are written ``mos`` (a mosaic, abnormal lines
    first, the normal line last), or ``chi`` where two normal lines of different sex are
    among them. Returns "" when no cell is analysable and also when no line is a clone
    (e.g. one 46,XX and one 47,XY,+8 cell): the caller should flag the case for review,
    with `nonclonal_cells` saying why each cell was left out."""
    lines = case_lines(cell_karyotypes)
    if not lines:
        return ""
    written = "/".join(f"{call}[{n}]" for call, n in lines)
    if len(lines) == 1:
        return written
    normal_lines = sum(call in NORMAL for call, _ in lines)
    return f"{'chi' if normal_lines > 1 else 'mos'} {written}"
