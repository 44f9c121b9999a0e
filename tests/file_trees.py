"""Fingerprints of file trees, for tests that compare outputs or check inputs untouched."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_digests(root: Path, *, with_mode: bool = False) -> dict[str, str]:
    """sha256 (and, with_mode, the permission bits) of every file under ``root`` by path
    relative to it; a file ``root`` gives its own entry under its name."""
    root = Path(root)
    files = [root] if root.is_file() else sorted(root.rglob("*"))
    digests = {}
    for path in files:
        if path.is_file() and "__pycache__" not in path.parts:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if with_mode:
                digest += f" {path.stat().st_mode:o}"
            name = path.name if path == root else str(path.relative_to(root))
            digests[name] = digest
    return digests
