"""The one exception type for problems with the user's input files."""

from __future__ import annotations

from os import PathLike


class BadInputError(Exception):
    """An input file (or configured input path) that karyoflow cannot use.

    Attributes:
        path: the offending file or folder, as a string.
        problem: a short machine-readable slug, e.g. "unreadable_image", "truncated_image",
            "missing_image", "image_too_large", "unknown_label", "box_outside_image",
            "degenerate_box", "empty_annotation", "duplicate_id", "malformed_xml",
            "bad_file_name", "not_found".
        detail: a human sentence saying what is wrong (and, where possible, what to do).

    ``str(err)`` is ``"{path}: {detail}"`` so that every message names the file.
    """

    def __init__(self, path: str | PathLike[str], problem: str, detail: str) -> None:
        self.path = str(path)
        self.problem = problem
        self.detail = detail
        # args in __init__'s order, so the error survives pickling between processes.
        super().__init__(self.path, problem, detail)

    def __str__(self) -> str:
        return f"{self.path}: {self.detail}"
