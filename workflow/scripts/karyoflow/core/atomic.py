"""Atomic file writes: readers never see a half-written output."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` when the block succeeds.

    The caller writes the temporary file however it likes. On success it replaces ``path``
    in one step (``os.replace`` within one folder is atomic on POSIX); on an exception it is
    removed and ``path`` is left as it was. Missing parent folders are created.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A random name rather than mkstemp: mkstemp creates mode 0600 files, and outputs
    # should get the user's normal permissions (umask) like any other file.
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
