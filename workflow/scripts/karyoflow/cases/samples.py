"""Which images belong to which case: the sample sheet, or one case per image.

The sample sheet follows the catalog workflows' convention: a tab-separated file with a
header and exactly the columns ``case`` and ``image`` (in either order), one image a row.
A relative image path is relative to the sheet's folder. Every problem in a sheet is
collected and reported at once, so that a laboratory can fix the sheet in one go.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from karyoflow.core.errors import BadInputError

COLUMNS = ("case", "image")


class SampleSheetError(BadInputError, ValueError):
    """A sample sheet karyoflow cannot use; ``problems`` lists every fault, one a string.

    ``str(err)`` names the sheet and then each problem on a line of its own (with the
    line number, the header being line 1, where a line is at fault)."""

    def __init__(self, path: str | os.PathLike[str], problems: list[str]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        detail = f"{count} problem{'s' if count != 1 else ''} in the sample sheet:\n" + "\n".join(
            f"  {problem}" for problem in self.problems
        )
        super().__init__(path, "bad_sample_sheet", detail)

    def __reduce__(self):  # survive pickling between processes
        return (type(self), (self.path, self.problems))


def _absolute(image: str, folder: Path) -> str:
    path = Path(image).expanduser()
    if not path.is_absolute():
        path = folder / path
    return os.path.abspath(path)  # normalised, symbolic links kept


def _read_text(sheet: Path) -> str:
    if not sheet.exists():
        raise SampleSheetError(sheet, ["sample sheet not found"])
    if not sheet.is_file():
        raise SampleSheetError(sheet, ["not a file (a sample sheet is a tab-separated file)"])
    try:
        data = sheet.read_bytes()
    except OSError as err:
        raise SampleSheetError(sheet, [f"cannot be read: {err.strerror or err}"]) from err
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise SampleSheetError(
            sheet, [f"line {line}: not UTF-8 text (byte {err.start}); save the sheet as UTF-8"]
        ) from err


def read_sample_sheet(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The sheet's rows as a table with columns ``case`` and ``image`` (absolute paths),
    in the sheet's order. Raises SampleSheetError listing every problem found: missing or
    unreadable file, no rows, unknown or missing columns, empty cells, an image listed
    twice, an image file that does not exist."""
    sheet = Path(path)
    text = _read_text(sheet)
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise SampleSheetError(sheet, ["empty sheet: no header and no rows"])
    header = [name.strip() for name in lines[0].split("\t")]
    expected = ", ".join(COLUMNS)
    problems = []
    for name in header:
        if name not in COLUMNS:
            problems.append(f"line 1: unknown column {name!r}; expected columns: {expected}")
    for name in COLUMNS:
        if header.count(name) > 1:
            problems.append(f"line 1: column {name!r} appears {header.count(name)} times")
        if name not in header:
            problems.append(f"line 1: missing column {name!r}; expected columns: {expected}")
    where = {name: header.index(name) for name in COLUMNS if name in header}

    folder = sheet.parent
    rows: list[tuple[str, str]] = []
    first_line: dict[str, int] = {}
    n_rows = 0
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        n_rows += 1
        cells = [cell.strip() for cell in line.split("\t")]
        if len(cells) != len(header):
            problems.append(f"line {number}: {len(cells)} fields, the header has {len(header)}")
            continue
        case = cells[where["case"]] if "case" in where else None
        image = cells[where["image"]] if "image" in where else None
        if case == "":
            problems.append(f"line {number}: empty case cell")
        if image == "":
            named = f"case {case!r}" if case else "the row"
            problems.append(f"line {number}: {named} has no image (empty image cell)")
        if not image:
            continue
        absolute = _absolute(image, folder)
        if absolute in first_line:
            problems.append(
                f"line {number}: image {image!r} is listed twice "
                f"(lines {first_line[absolute]} and {number})"
            )
            continue
        first_line[absolute] = number
        if not os.path.exists(absolute):
            problems.append(f"line {number}: image {image!r} not found ({absolute})")
        elif not os.path.isfile(absolute):
            problems.append(f"line {number}: image {image!r} is not a file ({absolute})")
        if case:
            rows.append((case, absolute))
    if n_rows == 0:
        problems.append("empty sheet: a header but no rows")
    if problems:
        raise SampleSheetError(sheet, problems)
    return pd.DataFrame(rows, columns=list(COLUMNS))


def cases_from_images(image_paths: Iterable[str | os.PathLike[str]]) -> pd.DataFrame:
    """A table with columns ``case`` and ``image`` for images given without a sample sheet
    (e.g. a folder of images): each image is its own case, named by the file's stem
    (``cells/101_3.png`` is case ``101_3``); images are absolute paths, in the order given.

    Raises ValueError when two images share a stem, as they would name one case."""
    rows = []
    seen: dict[str, str] = {}
    for image in image_paths:
        absolute = os.path.abspath(Path(image).expanduser())
        case = Path(absolute).stem
        if case in seen:
            raise ValueError(
                f"images {seen[case]} and {absolute} share the stem {case!r}; without a "
                "sample sheet each image is its own case, named by its stem"
            )
        seen[case] = absolute
        rows.append((case, absolute))
    return pd.DataFrame(rows, columns=list(COLUMNS))
