"""Pascal VOC XML annotations, as in the Cell Image Library chromosome set.

One ``<object>`` per chromosome; ``<name>`` is the raw label spelling (``A1`` .. ``G22``,
``X``, ``Y`` in that set); ``<bndbox>`` holds xmin, ymin, xmax, ymax in pixels. Labels are
kept exactly as spelled here; turning them into classes is ``karyoflow.labels``' job.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from karyoflow.core.atomic import atomic_path
from karyoflow.core.errors import BadInputError

_BOX_FIELDS = ("xmin", "ymin", "xmax", "ymax")


@dataclass
class VocObject:
    """One annotated object: raw label spelling and pixel box."""

    name: str
    xmin: float
    ymin: float
    xmax: float
    ymax: float


@dataclass
class VocAnnotation:
    """One VOC file. ``path`` is where it was read from (None if built in memory); it is
    not part of equality, so an annotation equals its written-and-reread copy."""

    filename: str
    width: int
    height: int
    depth: int
    objects: list[VocObject] = field(default_factory=list)
    path: str | None = field(default=None, compare=False)


def parse_voc(path: str | os.PathLike[str]) -> VocAnnotation:
    """Read a Pascal VOC XML file.

    ``<filename>`` may be missing (then ""); ``<depth>`` may be missing (then 1). Numbers
    may be written as floats. Raises BadInputError "not_found" for a missing file and
    "malformed_xml" for XML syntax errors, a root other than ``<annotation>``, or missing or
    non-numeric size and bndbox fields.
    """
    path = Path(path)
    if not path.is_file():
        raise BadInputError(path, "not_found", "annotation file does not exist")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as err:
        raise BadInputError(path, "malformed_xml", f"XML syntax error: {err}") from err
    if root.tag != "annotation":
        raise BadInputError(
            path, "malformed_xml", f"root element is <{root.tag}>, not <annotation> (not VOC)"
        )
    size = root.find("size")
    if size is None:
        raise BadInputError(path, "malformed_xml", "no <size> element")
    width = int(_number(size, "width", path, "<size>"))
    height = int(_number(size, "height", path, "<size>"))
    depth = int(_number(size, "depth", path, "<size>")) if size.find("depth") is not None else 1

    objects = []
    for i, obj in enumerate(root.findall("object")):
        where = f"object {i}"
        name = (obj.findtext("name") or "").strip()
        if not name:
            raise BadInputError(path, "malformed_xml", f"{where} has no <name>")
        box = obj.find("bndbox")
        if box is None:
            raise BadInputError(path, "malformed_xml", f"{where} ({name}) has no <bndbox>")
        coords = [_number(box, key, path, f"{where} ({name}) <bndbox>") for key in _BOX_FIELDS]
        objects.append(VocObject(name, *coords))

    return VocAnnotation(
        filename=(root.findtext("filename") or "").strip(),
        width=width,
        height=height,
        depth=depth,
        objects=objects,
        path=str(path),
    )


def _number(parent: ET.Element, key: str, path: Path, where: str) -> float:
    text = parent.findtext(key)
    if text is None or not text.strip():
        raise BadInputError(path, "malformed_xml", f"{where} has no <{key}>")
    try:
        return float(text)
    except ValueError as err:
        raise BadInputError(
            path, "malformed_xml", f"{where} <{key}> is {text.strip()!r}, not a number"
        ) from err


def write_voc(
    annotation: VocAnnotation,
    path: str | os.PathLike[str],
    *,
    database: str = "Unknown",
    folder: str | None = None,
) -> None:
    """Write ``annotation`` as VOC XML in the layout of the Cell Image Library files.

    Box coordinates are rounded to integers, as in those files. ``<folder>`` is ``folder``,
    by default the name of the folder written to, and ``<path>`` the bare image file name,
    so that the file's bytes do not depend on where a dataset happens to be built (pass
    ``folder`` where the folder's name varies, e.g. with sharding). Written atomically.
    """
    path = Path(path)
    root = ET.Element("annotation")
    ET.SubElement(root, "folder").text = path.resolve().parent.name if folder is None else folder
    ET.SubElement(root, "filename").text = annotation.filename
    ET.SubElement(root, "path").text = annotation.filename
    source = ET.SubElement(root, "source")
    ET.SubElement(source, "database").text = database
    size = ET.SubElement(root, "size")
    ET.SubElement(size, "width").text = str(int(annotation.width))
    ET.SubElement(size, "height").text = str(int(annotation.height))
    ET.SubElement(size, "depth").text = str(int(annotation.depth))
    ET.SubElement(root, "segmented").text = "0"
    for obj in annotation.objects:
        element = ET.SubElement(root, "object")
        ET.SubElement(element, "name").text = obj.name
        ET.SubElement(element, "pose").text = "Unspecified"
        ET.SubElement(element, "truncated").text = "0"
        ET.SubElement(element, "difficult").text = "0"
        box = ET.SubElement(element, "bndbox")
        for key in _BOX_FIELDS:
            ET.SubElement(box, key).text = str(round(getattr(obj, key)))
    ET.indent(root, space="   ")  # the real files indent by three spaces
    text = ET.tostring(root, encoding="unicode") + "\n"
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
