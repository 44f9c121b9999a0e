"""The library's rooms: one package per stage over a shared core, imported only downward.

The order is the chain's: core < data < detect < segment < crops < straighten < classify
< karyotype. A module may import the core and its own or earlier stages, never a later
one; the core imports no stage. `karyoflow.config` checks the whole configuration and sits
above every stage. TensorFlow and torch live in separate conda envs, so the TensorFlow
side (classify) never imports torch or ultralytics, the torch side (detect, segment)
never imports TensorFlow, and the core, data and karyotype rooms import neither.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

LIBRARY = Path(__file__).resolve().parents[1] / "workflow" / "scripts" / "karyoflow"
ORDER = [
    "core",
    "data",
    "detect",
    "segment",
    "crops",
    "straighten",
    "classify",
    "karyotype",
    "cases",
]
TORCH = {"torch", "torchvision", "ultralytics"}
TENSORFLOW = {"tensorflow", "keras"}
FORBIDDEN = {
    "classify": TORCH,
    "detect": TENSORFLOW,
    "segment": TENSORFLOW,
    "core": TORCH | TENSORFLOW,
    "data": TORCH | TENSORFLOW,
    "crops": TORCH | TENSORFLOW,
    "straighten": TORCH | TENSORFLOW,
    "karyotype": TORCH | TENSORFLOW,
    "cases": TORCH | TENSORFLOW,
}


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at module level or inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            if node.module == "karyoflow":
                found.update(f"karyoflow.{alias.name}" for alias in node.names)
    return found


def room_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "karyoflow" or len(parts) < 2:
        return None
    return parts[1]


def library_files():
    return sorted(p for p in LIBRARY.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_module_lives_in_a_room():
    loose = [
        p.relative_to(LIBRARY).as_posix()
        for p in library_files()
        if p.parent == LIBRARY and p.name not in ("__init__.py", "config.py")
    ]
    assert loose == [], f"modules outside a stage or the core: {loose}"
    rooms = {p.relative_to(LIBRARY).parts[0] for p in library_files() if p.parent != LIBRARY}
    assert rooms == set(ORDER)


def violations(files) -> list[str]:
    found = []
    for path in files:
        relative = path.relative_to(LIBRARY)
        if len(relative.parts) == 1:
            continue  # karyoflow/__init__.py and config.py sit above the stages
        room = relative.parts[0]
        for module in imported_modules(path):
            other = room_of(module)
            if other == "config":
                found.append(f"{relative}: imports the workflow-level {module}")
            elif other in ORDER and ORDER.index(other) > ORDER.index(room):
                found.append(f"{relative}: {room} imports the later room {module}")
            if module.split(".")[0] in FORBIDDEN.get(room, set()):
                found.append(f"{relative}: {room} imports {module} (other framework's env)")
    return found


def test_no_room_imports_a_later_one_or_the_other_framework():
    assert violations(library_files()) == []


@pytest.mark.parametrize(
    ("room", "source", "complaint"),
    [
        ("core", "from karyoflow.detect.metrics import average_precision\n", "later room"),
        ("crops", "def f():\n    from karyoflow.classify.infer import classify\n", "later room"),
        ("classify", "import torch\n", "other framework"),
        ("segment", "from tensorflow import keras\n", "other framework"),
    ],
)
def test_the_rule_catches_a_bad_import(tmp_path, monkeypatch, room, source, complaint):
    """The checker itself: a planted wrong import is reported (and a right one is not)."""
    fake = tmp_path / "karyoflow"
    (fake / room).mkdir(parents=True)
    bad = fake / room / "bad.py"
    bad.write_text(source)
    good = fake / room / "good.py"
    good.write_text("from karyoflow.core.labels import CLASSES\n")
    monkeypatch.setattr(sys.modules[__name__], "LIBRARY", fake)
    found = violations([bad, good])
    assert len(found) == 1 and complaint in found[0] and "bad.py" in found[0]


def test_the_library_never_touches_snakemake():
    """Rules call the library through adapters; the library runs without Snakemake."""
    users = [
        p.relative_to(LIBRARY).as_posix()
        for p in library_files()
        if any(m.split(".")[0] == "snakemake" for m in imported_modules(p))
        or "snakemake." in p.read_text(encoding="utf-8")
    ]
    assert users == []
