"""Pascal VOC parsing and writing."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from karyoflow.core.errors import BadInputError
from karyoflow.core.voc import VocAnnotation, VocObject, parse_voc, write_voc

GOOD_XML = """<annotation>
   <folder>x</folder>
   <filename>{filename}</filename>
   <size>{size}</size>
   {objects}
</annotation>
"""
GOOD_SIZE = "<width>100</width><height>80</height><depth>3</depth>"
GOOD_OBJECT = (
    "<object><name>A1</name><bndbox><xmin>1</xmin><ymin>2</ymin>"
    "<xmax>30</xmax><ymax>40</ymax></bndbox></object>"
)


def _xml(tmp_path: Path, *, filename="img.jpg", size=GOOD_SIZE, objects=GOOD_OBJECT) -> Path:
    path = tmp_path / "ann.xml"
    path.write_text(GOOD_XML.format(filename=filename, size=size, objects=objects))
    return path


def _element_paths(root: ET.Element, prefix: str = "") -> set[str]:
    paths = set()
    for child in root:
        here = f"{prefix}/{child.tag}"
        paths.add(here)
        paths |= _element_paths(child, here)
    return paths


def test_parse_minimal(tmp_path):
    path = _xml(tmp_path)
    ann = parse_voc(path)
    assert ann == VocAnnotation("img.jpg", 100, 80, 3, [VocObject("A1", 1, 2, 30, 40)])
    assert ann.path == str(path)


def test_parse_float_coordinates_and_missing_depth(tmp_path):
    objects = (
        "<object><name> X </name><bndbox><xmin>1.5</xmin><ymin>2.25</ymin>"
        "<xmax>30.0</xmax><ymax>4e1</ymax></bndbox></object>"
    )
    size = "<width>100.0</width><height>80</height>"
    ann = parse_voc(_xml(tmp_path, size=size, objects=objects))
    assert ann.width == 100 and ann.depth == 1
    assert ann.objects == [VocObject("X", 1.5, 2.25, 30.0, 40.0)]


def test_parse_no_objects_is_not_an_error_here(tmp_path):
    # Emptiness is a dataset-level judgement (ingest reports it), not a syntax error.
    assert parse_voc(_xml(tmp_path, objects="")).objects == []


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"objects": "<object><name>A1</name>"}, "XML syntax error"),
        ({"size": "<width>100</width>"}, "<height>"),
        ({"size": "<width>wide</width><height>80</height>"}, "not a number"),
        ({"objects": "<object><name>A1</name></object>"}, "<bndbox>"),
        ({"objects": "<object><bndbox/></object>"}, "<name>"),
        (
            {
                "objects": "<object><name>A1</name><bndbox><xmin>1</xmin><ymin>2</ymin>"
                "<xmax>3</xmax></bndbox></object>"
            },
            "<ymax>",
        ),
    ],
)
def test_malformed(tmp_path, kwargs, expected):
    path = _xml(tmp_path, **kwargs)
    with pytest.raises(BadInputError) as info:
        parse_voc(path)
    assert info.value.problem == "malformed_xml"
    assert str(path) in str(info.value)
    assert expected in info.value.detail


def test_missing_size_and_wrong_root(tmp_path):
    path = tmp_path / "nosize.xml"
    path.write_text("<annotation><filename>a.png</filename></annotation>")
    with pytest.raises(BadInputError, match="no <size>") as info:
        parse_voc(path)
    assert info.value.problem == "malformed_xml"
    path.write_text("<svg></svg>")
    with pytest.raises(BadInputError, match="not <annotation>"):
        parse_voc(path)


def test_missing_file(tmp_path):
    with pytest.raises(BadInputError) as info:
        parse_voc(tmp_path / "absent.xml")
    assert info.value.problem == "not_found"
    assert "absent.xml" in str(info.value)


def test_round_trip(tmp_path):
    ann = VocAnnotation(
        filename="cell_7.png",
        width=640,
        height=480,
        depth=1,
        objects=[VocObject("A1", 10, 20, 50, 90), VocObject("G22", 0, 0, 640, 480)],
    )
    path = tmp_path / "synth" / "cell_7.xml"
    write_voc(ann, path)
    back = parse_voc(path)
    assert back == ann
    assert back.path == str(path)
    assert [p.name for p in path.parent.iterdir()] == ["cell_7.xml"]  # no temp file left


def test_write_rounds_coordinates(tmp_path):
    ann = VocAnnotation("a.png", 10, 10, 1, [VocObject("Y", 1.4, 2.6, 8.2, 9.7)])
    path = tmp_path / "a.xml"
    write_voc(ann, path)
    assert parse_voc(path).objects == [VocObject("Y", 1, 3, 8, 10)]
    assert "<xmin>1</xmin>" in path.read_text()


def test_written_layout_matches_real_file(tmp_path, real_data_dir):
    real_path = real_data_dir / "cil24_voc" / "103064.xml"
    real = parse_voc(real_path)
    path = tmp_path / "103064.xml"
    write_voc(real, path)
    assert parse_voc(path) == real
    assert _element_paths(ET.parse(path).getroot()) == _element_paths(ET.parse(real_path).getroot())


def test_parse_real_files(real_data_dir):
    ann = parse_voc(real_data_dir / "cil24_voc" / "103064.xml")
    assert (ann.filename, ann.width, ann.height, ann.depth) == ("103064.jpg", 524, 581, 3)
    assert len(ann.objects) == 46
    assert ann.objects[0] == VocObject("A1", 237, 274, 303, 393)

    ann = parse_voc(real_data_dir / "cil24_voc" / "1050431.xml")
    assert (ann.width, ann.height) == (952, 881)
    assert len(ann.objects) == 47
    assert sum(obj.name == "E18" for obj in ann.objects) == 3
