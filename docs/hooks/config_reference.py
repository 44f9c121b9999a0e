"""The configuration reference page, generated from config/schema.yaml at every docs build.

An MkDocs hook (mkdocs.yml: hooks): the page `reference/configuration.md` is made from the
schema each time the site is built, so it cannot drift from the keys the workflow validates.
`reference_markdown` is a plain function so tests can check it without building the site.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

SCHEMA = Path(__file__).resolve().parents[2] / "config" / "schema.yaml"
PAGE = "reference/configuration.md"


def schema_keys(schema: dict, prefix: str = "") -> list[str]:
    """Every key of the schema as a dotted path (`detect.imgsz`), parents before children."""
    keys = []
    for name, spec in (schema.get("properties") or {}).items():
        path = f"{prefix}{name}"
        keys.append(path)
        if spec.get("type") == "object" and "properties" in spec:
            keys.extend(schema_keys(spec, f"{path}."))
    return keys


def _type(spec: dict) -> str:
    if "oneOf" in spec or "anyOf" in spec:
        return " or ".join(_type(option) for option in spec.get("oneOf", spec.get("anyOf")))
    kind = spec.get("type", "")
    if isinstance(kind, list):
        kind = " or ".join(kind)
    if "enum" in spec:
        return "one of " + ", ".join(f"`{value}`" for value in spec["enum"])
    if kind == "array" and "items" in spec:
        return f"list of {_type(spec['items'])}"
    bounds = [
        f"{symbol} {spec[word]}"
        for word, symbol in (
            ("minimum", "≥"),
            ("exclusiveMinimum", ">"),
            ("maximum", "≤"),
            ("exclusiveMaximum", "<"),
        )
        if word in spec
    ]
    return kind + (f" ({', '.join(bounds)})" if bounds else "")


def _cell(text: str) -> str:
    """Markdown table cells hold one line and no bare pipe."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _default(spec: dict) -> str:
    if "default" not in spec:
        return ""
    if spec.get("type") == "object" and spec["default"] == {}:
        return ""  # a section: its keys carry the defaults
    return "`" + json.dumps(spec["default"], ensure_ascii=False) + "`"


def _rows(schema: dict, prefix: str = "") -> list[str]:
    rows = []
    for name, spec in (schema.get("properties") or {}).items():
        path = f"{prefix}{name}"
        if spec.get("type") == "object" and "properties" in spec:
            rows.append(f"| `{path}` | section | | {_cell(spec.get('description', ''))} |")
            rows.extend(_rows(spec, f"{path}."))
        else:
            rows.append(
                f"| `{path}` | {_cell(_type(spec))} | {_cell(_default(spec))} "
                f"| {_cell(spec.get('description', ''))} |"
            )
    return rows


def reference_markdown(schema: dict) -> str:
    """One section per top-level key; a table row for every key, with type, default, description."""
    lines = [
        "# Configuration reference",
        "",
        "Generated from `config/schema.yaml` each time this site is built: every key the "
        "workflow accepts, its type, its default and what it does. Leave a key out and it "
        "takes its default; give your values in a file after `config/config.yaml` "
        "(see [Configuration](../configuration.md)).",
        "",
    ]
    top_scalars = []
    sections = []
    for name, spec in schema["properties"].items():
        if spec.get("type") == "object" and "properties" in spec:
            sections.append((name, spec))
        else:
            top_scalars.append(name)
    header = ["| key | type | default | description |", "|---|---|---|---|"]
    if top_scalars:
        lines += ["## Top level", ""] + header
        lines += _rows({"properties": {k: schema["properties"][k] for k in top_scalars}})
        lines.append("")
    for name, spec in sections:
        lines += [f"## `{name}`", "", _cell(spec.get("description", "")), ""] + header
        lines += _rows(spec, f"{name}.")
        lines.append("")
    return "\n".join(lines)


def on_files(files, config):  # MkDocs hook
    from mkdocs.structure.files import File

    schema = yaml.safe_load(SCHEMA.read_text(encoding="utf-8"))
    files.append(File.generated(config, PAGE, content=reference_markdown(schema)))
    return files
