"""The conda envs in envs/ pin exactly the versions uv.lock pins (cluster and CI agree)."""

import ast
import functools
import re
import sys
from pathlib import Path

import pytest
import yaml
from karyoflow.core.provenance import locked_versions
from karyoflow.core.provenance import normalise as _norm

ROOT = Path(__file__).resolve().parents[1]
ENV_FILES = sorted((ROOT / "envs").glob("*.yaml"))
LOCKED = locked_versions(ROOT / "uv.lock")


def _pins(env_file):
    env = yaml.safe_load(env_file.read_text())
    pins = {}
    for dep in env["dependencies"]:
        entries = dep["pip"] if isinstance(dep, dict) else [dep]
        for entry in entries:
            # a name, optional extras (tensorflow[and-cuda]), then an exact version
            m = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*==?\s*([^\s=]+)$", entry)
            if m and _norm(m.group(1)) not in ("python", "pip"):
                pins[_norm(m.group(1))] = m.group(2)
    return pins


def test_there_are_envs():
    assert {p.stem for p in ENV_FILES} >= {"imaging", "report", "ultralytics", "tensorflow"}


@pytest.mark.parametrize("env_file", ENV_FILES, ids=lambda p: p.stem)
def test_env_pins_match_lock(env_file):
    pins = _pins(env_file)
    assert pins, f"{env_file.name} pins nothing"
    mismatched = {
        name: (version, LOCKED.get(name))
        for name, version in pins.items()
        if LOCKED.get(name) != version
    }
    assert not mismatched, f"{env_file.name}: (env, lock) versions differ: {mismatched}"


def test_frameworks_stay_apart():
    assert "tensorflow" not in _pins(ROOT / "envs" / "ultralytics.yaml")
    assert "torch" not in _pins(ROOT / "envs" / "tensorflow.yaml")


# --- Every rule's env holds every package its script imports ---------------------------
# Static analysis only: the rule files are read as text, the script and the library as
# ASTs; nothing heavy is imported. Imports inside functions count wherever the rule's code
# can call the function (see _needs). A failure names the rule, its env and what it lacks.

RULE_FILES = [ROOT / "workflow" / "Snakefile", *sorted((ROOT / "workflow" / "rules").glob("*.smk"))]
SCRIPTS_DIR = ROOT / "workflow" / "scripts"
LIBRARY = "karyoflow"

# Import name -> distribution (as uv.lock names it) where the two differ.
DISTRIBUTIONS = {
    "cv2": "opencv-python-headless",
    "PIL": "pillow",
    "skimage": "scikit-image",
    "sklearn": "scikit-learn",
    "yaml": "pyyaml",
}
# Snakemake runs the rule scripts and provides `snakemake` itself.
PROVIDED = {"snakemake"}
# Imported only behind a check that turns its absence into a clear message; in no env.
OPTIONAL = {"kaggle": "karyoflow/data/kaggle.py"}
# Needed at run time without an import of their own: pandas reads and writes parquet
# through pyarrow.
IMPLICIT = {"read_parquet": "pyarrow", "to_parquet": "pyarrow"}
# Keras 3 imports its backend itself: TensorFlow, as nothing sets KERAS_BACKEND.
BACKENDS = {"keras": "tensorflow"}


def _literal(value):
    value = value.strip().rstrip(",")
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return None


def _rule_blocks(path):
    """(name, parent or None, {directive: first line of its value}) for each rule in a file."""
    blocks, current, indent = [], None, None
    lines = path.read_text().splitlines()
    for number, line in enumerate(lines):
        if line.strip() and not line[0].isspace() and not line.lstrip().startswith("#"):
            current, indent = None, None
            m = re.match(r"(?:rule|checkpoint)\s+(\w+)\s*:", line)
            u = re.match(r"use\s+rule\s+(\w+)\s+as\s+(\w+)", line)
            if m:
                current = (m.group(1), None, {})
            elif u:
                current = (u.group(2), u.group(1), {})
            if current:
                blocks.append(current)
            continue
        if current is None or not line.strip() or line.lstrip().startswith("#"):
            continue
        width = len(line) - len(line.lstrip())
        indent = width if indent is None else indent
        d = re.match(r"\s*(\w+)\s*:\s*(.*)$", line)
        if width == indent and d:
            value = d.group(2).strip()
            if not value:  # the value is on the next non-blank line
                value = next((n.strip() for n in lines[number + 1 :] if n.strip()), "")
            current[2][d.group(1)] = (path, value)
    return blocks


def _rules():
    """{rule: (env file, script file)} for every rule with both `conda:` and `script:`."""
    blocks = {
        name: (parent, directives)
        for f in RULE_FILES
        for name, parent, directives in _rule_blocks(f)
    }

    def directive(name, key):
        parent, directives = blocks[name]
        if key in directives:
            return directives[key]
        return directive(parent, key) if parent else None

    rules = {}
    for name in blocks:
        conda, script = directive(name, "conda"), directive(name, "script")
        if conda and script:
            paths = []
            for where, value in (conda, script):
                text = _literal(value)
                assert isinstance(text, str), f"rule {name}: cannot read {value!r} as a path"
                paths.append((where.parent / text).resolve())
            rules[name] = tuple(paths)
    return rules


RULES = _rules()


def _module_file(module):
    base = SCRIPTS_DIR.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _absolute(node, path):
    if not node.level:
        return node.module
    package = path.parent.relative_to(SCRIPTS_DIR).parts
    base = package[: len(package) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


@functools.cache
def _scan(path):
    """{unit: (imports, implicit distributions, names used)} for one module.

    A unit is None for the code that runs on import (module level, class bodies, decorated
    functions, which may be registered and called by name), else the name of a top-level
    function or class: its body runs only if something calls it.
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    units = {}

    def visit(node, unit):
        imports, implicit, used = units.setdefault(unit, (set(), set(), set()))
        for child in ast.walk(node):
            if isinstance(child, ast.Import):
                imports.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                module = _absolute(child, path)
                imports.add(module)
                for alias in child.names:
                    used.add(alias.name)
                    if module.split(".")[0] == LIBRARY and _module_file(f"{module}.{alias.name}"):
                        imports.add(f"{module}.{alias.name}")
            elif isinstance(child, ast.Name):
                used.add(child.id)
            elif isinstance(child, ast.Attribute):
                used.add(child.attr)
                if child.attr in IMPLICIT:
                    implicit.add(IMPLICIT[child.attr])

    def deferred(node):
        return isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.decorator_list

    visit(ast.Module(body=[], type_ignores=[]), None)
    for statement in tree.body:
        if deferred(statement):
            visit(statement, statement.name)
        elif isinstance(statement, ast.ClassDef):
            for part in statement.body:
                visit(part, statement.name if deferred(part) else None)
            for part in [*statement.bases, *statement.keywords, *statement.decorator_list]:
                visit(part, None)
        else:
            visit(statement, None)
    return units


def _needs(script):
    """{distribution: where it is imported} for a rule script and the library it reaches.

    Follows karyoflow imports transitively, imports inside functions too, until nothing
    new is reached. A function's body counts once reached code names the function (a
    call, a reference, an import of it); so a lazy import the rule cannot reach (SAM's
    ultralytics, for a rule that only cuts crops) does not count, and one it may reach
    does. Names are matched without their module: where in doubt, an import counts.
    """
    modules, reached, used = {script}, set(), set()
    changed = True
    while changed:
        changed = False
        for path in sorted(modules):
            for unit, (imports, _, names) in _scan(path).items():
                if (path, unit) in reached or not (path == script or unit is None or unit in used):
                    continue
                reached.add((path, unit))
                used |= names
                changed = True
                for name in imports:
                    parts = name.split(".")
                    if parts[0] != LIBRARY:
                        continue
                    for i in range(len(parts)):  # a package's __init__ runs first
                        module = _module_file(".".join(parts[: i + 1]))
                        assert module, f"{path.relative_to(ROOT)} imports {name}: no such module"
                        modules.add(module)
    needs = {}
    for path, unit in sorted(reached, key=lambda r: (str(r[0]), r[1] or "")):
        imports, implicit, _ = _scan(path)[unit]
        where = f"{path.relative_to(SCRIPTS_DIR)}" + (f", {unit}()" if unit else "")
        for name in sorted(imports):
            top = name.split(".")[0]
            if top not in sys.stdlib_module_names | PROVIDED | set(OPTIONAL) | {LIBRARY}:
                needs.setdefault(DISTRIBUTIONS.get(top, _norm(top)), f"{name} in {where}")
        for dist in implicit:
            needs.setdefault(dist, f"parquet in {where}")
    for dist, backend in BACKENDS.items():
        if dist in needs:
            needs.setdefault(backend, f"the backend of {dist}")
    return needs


def test_rules_are_found():
    assert len(RULES) >= 30, sorted(RULES)
    assert RULES["segment"][0].name == "ultralytics.yaml"
    assert RULES["segment"][1].name == "segment.py"
    # `use rule ... with:` inherits the env and script it does not override
    assert RULES["evaluate_ablation"] == RULES["evaluate_classifier"]
    assert RULES["predict_chromosomes"] == RULES["chromosome_table"]


def test_imports_are_traced_through_the_library():
    """The scan follows the library, including imports inside functions."""
    assert "scikit-image" in _needs(RULES["segment"][1])  # karyoflow.segment.classical
    assert {"ultralytics", "torch"} <= set(_needs(RULES["detect"][1]))  # inside functions
    assert {"tensorflow", "keras"} <= set(_needs(RULES["train_classifier"][1]))


def test_optional_imports_stay_guarded():
    for name, module in OPTIONAL.items():
        assert f'find_spec("{name}")' in (SCRIPTS_DIR / module).read_text(), (
            f"{module} no longer checks for {name} before importing it; pin it in the envs"
        )


@pytest.mark.parametrize("rule", sorted(RULES))
def test_rule_env_holds_its_imports(rule):
    env_file, script = RULES[rule]
    assert env_file.is_file(), f"rule {rule}: no env file {env_file.relative_to(ROOT)}"
    assert script.is_file(), f"rule {rule}: no script {script.relative_to(ROOT)}"
    needs = _needs(script)
    unlocked = {d: where for d, where in needs.items() if d not in LOCKED}
    assert not unlocked, (
        f"rule {rule}: imports distributions uv.lock does not pin (add them to pyproject.toml, "
        f"or map the import name in DISTRIBUTIONS): {unlocked}"
    )
    missing = {d: where for d, where in sorted(needs.items()) if d not in _pins(env_file)}
    lacks = "; ".join(f"{d}=={LOCKED[d]} ({where})" for d, where in missing.items())
    assert not missing, f"rule {rule} runs in envs/{env_file.name}, which lacks {lacks}"
