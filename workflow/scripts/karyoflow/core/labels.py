"""Chromosome class names and the spellings different sources use for them.

The canonical class is a string: "1" .. "22", "X", "Y". Its index (0..23) is the
karyotype order used by every model and table in karyoflow.
"""

from __future__ import annotations

import re

CLASSES: tuple[str, ...] = tuple(str(i) for i in range(1, 23)) + ("X", "Y")
CLASS_INDEX: dict[str, int] = {name: i for i, name in enumerate(CLASSES)}
N_CLASSES = len(CLASSES)
AUTOSOMES: tuple[str, ...] = CLASSES[:22]

# Denver groups (ISCN). X sits with group C and Y with group G by size and shape.
DENVER_GROUPS: dict[str, tuple[str, ...]] = {
    "A": ("1", "2", "3"),
    "B": ("4", "5"),
    "C": ("6", "7", "8", "9", "10", "11", "12", "X"),
    "D": ("13", "14", "15"),
    "E": ("16", "17", "18"),
    "F": ("19", "20"),
    "G": ("21", "22", "Y"),
}
GROUP_OF: dict[str, str] = {c: g for g, members in DENVER_GROUPS.items() for c in members}
GROUPS: tuple[str, ...] = tuple(DENVER_GROUPS)
# Denver group index (0..6, A..G) of each class index (0..23).
GROUP_INDEX_OF_CLASS: tuple[int, ...] = tuple(GROUPS.index(GROUP_OF[c]) for c in CLASSES)

_PATTERNS = (
    re.compile(r"^(?:chr|chromosome|clase|class)?\s*0*(\d{1,2}|x|y)$", re.IGNORECASE),
    # Denver-prefixed VOC spelling: A1, B5, C12, G22 (group letter must be right).
    re.compile(r"^([a-g])\s*0*(\d{1,2})$", re.IGNORECASE),
)


class UnknownLabelError(ValueError):
    """A label that names no human chromosome class."""


def canonical(label: str | int) -> str:
    """Return the canonical class ("1".."22", "X", "Y") for any known spelling.

    Accepts "A1", "G22", "X", "1", "chr1", "clase23" (23 = X, 24 = Y in the crop set's
    numbering), integers 1..24. Raises UnknownLabelError otherwise, e.g. for "clase25"
    or "B7" (7 is not in group B).
    """
    text = str(label).strip()
    m = _PATTERNS[1].match(text)
    if m:
        group, number = m.group(1).upper(), m.group(2)
        number = str(int(number))
        if GROUP_OF.get(number) != group:
            raise UnknownLabelError(
                f"label {label!r}: chromosome {number} is not in Denver group {group}"
            )
        return number
    m = _PATTERNS[0].match(text)
    if m:
        token = m.group(1).upper()
        if token in ("X", "Y"):
            return token
        number = int(token)
        if 1 <= number <= 22:
            return str(number)
        if number == 23:
            return "X"
        if number == 24:
            return "Y"
    raise UnknownLabelError(
        f"label {label!r} names no chromosome class (expected 1-22, X, Y, 23=X, 24=Y, "
        "or a Denver spelling such as A1 or G22)"
    )


def voc_name(cls: str) -> str:
    """The Cell Image Library VOC spelling: A1 .. G22, X, Y."""
    cls = canonical(cls)
    if cls in ("X", "Y"):
        return cls
    return f"{GROUP_OF[cls]}{cls}"


def index(cls: str | int) -> int:
    """Karyotype-order index 0..23 of a label in any spelling."""
    return CLASS_INDEX[canonical(cls)]
