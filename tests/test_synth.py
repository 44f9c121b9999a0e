import json
from collections import Counter

import numpy as np
import pytest
from karyoflow.core.iscn import iscn_from_labels
from karyoflow.core.labels import canonical
from karyoflow.core.voc import parse_voc
from karyoflow.data.synth import SynthParams, generate_cell, generate_shard, render_karyogram
from karyoflow.data.synth.chromosome import ChromosomeSpec, render
from PIL import Image

SMALL = dict(width=512, height=512, chr1_length_px=75, width_px=12.5)


def small(**overrides):
    return SynthParams(**{**SMALL, **overrides})


def test_same_seed_same_cell_other_seed_other_cell():
    a = generate_cell((3, 1), small())
    b = generate_cell((3, 1), small())
    c = generate_cell((3, 2), small())
    assert np.array_equal(a.image, b.image) and np.array_equal(a.labels, b.labels)
    assert a.karyotype == b.karyotype
    assert not np.array_equal(a.image, c.image)


@pytest.mark.parametrize(
    "kind, n, iscn_part",
    [
        ("trisomy21", 47, "+21"),
        ("trisomy18", 47, "+18"),
        ("trisomy13", 47, "+13"),
        ("monosomy_x", 45, "45,X"),
        ("xxy", 47, "XXY"),
        ("xyy", 47, "XYY"),
    ],
)
def test_abnormal_karyotypes_have_the_right_chromosomes(kind, n, iscn_part):
    cell = generate_cell((1, 0), small(abnormal_rates={kind: 1.0}))
    classes = [p.rendered.spec.cls for p in cell.chromosomes]
    assert len(classes) == n
    assert iscn_part in cell.karyotype
    assert iscn_from_labels(classes) == cell.karyotype


def test_normal_cells_have_46():
    for i in range(3):
        cell = generate_cell((2, i), small(abnormal_rates={}))
        assert len(cell.chromosomes) == 46
        assert cell.karyotype in ("46,XX", "46,XY")


def test_written_shard_is_consistent(tmp_path):
    out = tmp_path / "shard_000"
    ids = generate_shard(out, [0, 1], seed=5, params=small(overlap_rate=0.2, touching_rate=0.2))
    assert ids == ["synth_000000", "synth_000001"]
    assert not (tmp_path / "shard_000.partial").exists()
    for image_id in ids:
        truth = json.loads((out / f"{image_id}.truth.json").read_text())
        voc = parse_voc(out / f"{image_id}.xml")
        labels = np.array(Image.open(out / f"{image_id}.mask.png"))
        image = np.array(Image.open(out / f"{image_id}.png"))
        assert image.dtype == np.uint8 and image.shape == (512, 512)
        assert labels.dtype == np.uint16 and labels.max() == truth["n_chromosomes"]
        # VOC objects are the truth instances, same order, same boxes and classes
        assert [canonical(o.name) for o in voc.objects] == [i["class"] for i in truth["instances"]]
        assert iscn_from_labels(canonical(o.name) for o in voc.objects) == truth["karyotype"]
        for obj, inst in zip(voc.objects, truth["instances"], strict=True):
            x0, y0, x1, y1 = inst["box"]
            assert (obj.xmin, obj.ymin, obj.xmax, obj.ymax) == (x0, y0, x1, y1)
            ys, xs = np.nonzero(labels == inst["instance_id"])
            # every visible pixel of the instance lies inside its box
            assert xs.min() >= x0 and xs.max() < x1 and ys.min() >= y0 and ys.max() < y1
            if not inst["overlapping"]:
                assert len(xs) == inst["area_px"]  # nothing hides an unoverlapped chromosome
            line = np.asarray(inst["centreline"])
            arc = np.linalg.norm(np.diff(line, axis=0), axis=1).sum()
            assert arc == pytest.approx(inst["length_px"], rel=0.05)
            cx, cy = inst["centromere"]
            assert x0 - 1 <= cx <= x1 and y0 - 1 <= cy <= y1
        assert (out / f"{image_id}.karyogram.png").exists()


def test_contact_flags_come_from_geometry():
    cell = generate_cell((9, 0), small(overlap_rate=0.3, touching_rate=0.3))
    flagged = {i + 1 for i, p in enumerate(cell.chromosomes) if p.overlapping}
    assert flagged, "with a 30% overlap rate some chromosomes must cross"
    for i, p in enumerate(cell.chromosomes, start=1):
        for j in p.overlapping:
            assert i in cell.chromosomes[j - 1].overlapping
    # where two chromosomes overlap, the label map shows only one of them
    visible = Counter(cell.labels[cell.labels > 0].tolist())
    assert any(visible[i] < cell.chromosomes[i - 1].rendered.mask.sum() for i in flagged)


def test_refuses_to_overwrite_a_shard(tmp_path):
    out = tmp_path / "shard"
    out.mkdir()
    with pytest.raises(FileExistsError):
        generate_shard(out, [0], seed=1, params=small())


def test_straight_arc_keeps_its_length_and_bands():
    spec = ChromosomeSpec("1", 120.0, 20.0, 0.8, 0.2, 1.0, "curved", 0.0, np.pi / 2)
    straight = render(spec)
    assert straight.mask.shape[0] == pytest.approx(122, abs=3)  # vertical, 1 px margins
    bent = render(ChromosomeSpec("1", 120.0, 20.0, 0.8, 0.2, 1.0, "bent", 2.5, 0.0))
    assert bent.mask.sum() == pytest.approx(straight.mask.sum(), rel=0.06)  # no holes, no folds
    profile = straight.alpha[:, straight.alpha.shape[1] // 2]
    assert profile.max() > 2 * profile[profile > 0].min()  # bands visible along the axis


def test_karyogram_has_all_rows():
    cell = generate_cell((4, 0), small())
    image = render_karyogram(cell)
    assert image.dtype == np.uint8 and image.ndim == 2
    dark_rows = np.flatnonzero((image < 200).any(axis=1))
    assert len(dark_rows) > 100


def test_bad_generator_settings():
    with pytest.raises(ValueError, match="unknown karyotype"):
        SynthParams(abnormal_rates={"trisomy99": 0.1})
    with pytest.raises(ValueError, match="more than 1"):
        SynthParams(abnormal_rates={"trisomy21": 0.7, "xxy": 0.6})
