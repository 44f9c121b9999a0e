"""Synthetic metaphases built from real chromosome crops (synthetic.crop_folder)."""

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from karyoflow.core.bands import relative_lengths
from karyoflow.core.errors import BadInputError
from karyoflow.core.labels import AUTOSOMES, canonical
from karyoflow.data.synth import SynthParams, cell_truth, generate_cell, render_karyogram
from karyoflow.data.synth.pasted import crop_bank
from PIL import Image

SMALL = dict(width=512, height=512, chr1_length_px=75, width_px=12.5)
SHARED_CROPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "gband612_crops"


def write_crop_folder(root: Path, cells: dict[str, list[str]], chr1_px: int = 60) -> Path:
    """A crop folder in the 612-cell layout: per cell two upright dark bars per class
    (lengths by the band table), a white background, one TIFF each."""
    relative = relative_lengths()
    for cell, sex in cells.items():
        classes = [c for c in AUTOSOMES for _ in range(2)] + sex
        copies = Counter()
        for cls in classes:
            k = {"X": 23, "Y": 24}.get(cls, cls)
            length = max(int(round(chr1_px * relative[cls])), 8)
            image = np.full((length + 6, 14), 255, np.uint8)
            image[3:-3, 3:-3] = 90
            image[3 + length // 3, 3:-3] = 40  # a band
            folder = root / f"{cell}.tiff" / f"clase{k}"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(folder / f"clase{k}_{copies[cls]}_{cell}.tiff")
            copies[cls] += 1
    return root


@pytest.fixture()
def crop_folder(tmp_path):
    crop_bank.cache_clear()
    yield write_crop_folder(tmp_path / "crops", {"900.1": ["X", "X"], "900.2": ["X", "Y"]})
    crop_bank.cache_clear()


def real(folder, **overrides) -> SynthParams:
    return SynthParams(**{**SMALL, "crop_folder": str(folder), **overrides})


def test_a_cell_of_real_crops_has_its_karyotype_and_exact_masks(crop_folder):
    cell = generate_cell((5, 0), real(crop_folder))
    truth = cell_truth(cell, "x")
    classes = [canonical(inst["class"]) for inst in truth["instances"]]
    assert len(classes) == int(cell.karyotype.split(",")[0]) == cell.labels.max()
    assert Counter(classes)["1"] == 2 and all(
        inst["shape"] == "real" for inst in truth["instances"]
    )
    # every chromosome of the cell comes from one real cell, which the truth names
    assert len({p.rendered.extras["source"] for p in cell.chromosomes}) == 1
    assert truth["source_cell"] in {"900.1", "900.2"}
    assert "source_cell" not in cell_truth(generate_cell((5, 0), SynthParams(**SMALL)), "x")
    for n, placed in enumerate(cell.chromosomes, start=1):
        mask = placed.rendered.mask
        assert np.array_equal(mask, placed.rendered.alpha > 0)
        x, y = placed.offset
        window = cell.labels[y : y + mask.shape[0], x : x + mask.shape[1]]
        # the label map holds the pasted mask, less what a later chromosome covers
        assert not (window == n)[~mask].any()
        assert (window == n).sum() >= 0.6 * mask.sum()
    # the crops' dark bars show dark in the image
    on = cell.image[cell.labels > 0].mean()
    off = cell.image[cell.labels == 0].mean()
    assert on < off - 40


def test_real_crops_are_scaled_to_the_cell_and_turned(crop_folder):
    cell = generate_cell((5, 1), real(crop_folder))
    ones = [p.rendered for p in cell.chromosomes if p.rendered.spec.cls == "1"]
    target = SMALL["chr1_length_px"] * cell.appearance["condensation"]
    for r in ones:
        assert r.spec.length == pytest.approx(target, rel=0.2)
    angles = {round(p.rendered.spec.angle, 3) for p in cell.chromosomes}
    assert len(angles) > 40  # each at its own angle, not all upright


def test_real_crop_cells_touch_cross_and_repeat_from_the_seed(crop_folder):
    params = real(crop_folder, touching_rate=0.3, overlap_rate=0.2)
    a = generate_cell((8, 3), params)
    b = generate_cell((8, 3), params)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.labels, b.labels)
    assert any(p.overlapping for p in a.chromosomes)
    assert any(p.touching for p in a.chromosomes)


def test_karyogram_of_a_real_crop_cell_shows_the_crops_upright(crop_folder):
    cell = generate_cell((5, 0), real(crop_folder))
    upright = [p.rendered.extras["upright"] for p in cell.chromosomes]
    # the bars were upright: taller than wide
    assert all(u.mask.shape[0] > u.mask.shape[1] for u in upright if u.spec.cls == "1")
    assert render_karyogram(cell).ndim == 2


def test_a_crop_folder_without_a_needed_class_is_a_clear_error(tmp_path):
    crop_bank.cache_clear()
    folder = write_crop_folder(tmp_path / "crops", {"901.1": ["X", "X"]})
    with pytest.raises(BadInputError, match="no crop of class Y"):
        generate_cell((1, 0), real(folder, abnormal_rates={"xyy": 1.0}))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BadInputError, match="no crop file"):
        generate_cell((1, 0), real(empty))
    crop_bank.cache_clear()


@pytest.mark.skipif(not SHARED_CROPS.is_dir(), reason="../shared/data/real/gband612_crops absent")
def test_a_cell_from_the_612_cell_crops():
    cell = generate_cell((20261206, 0), SynthParams(crop_folder=str(SHARED_CROPS)))
    assert len(cell.chromosomes) in (45, 46, 47)
    assert len({p.rendered.extras["source"] for p in cell.chromosomes}) == 1
    assert cell.image[cell.labels > 0].mean() < cell.image[cell.labels == 0].mean() - 30


def test_crops_shrunk_below_a_pixel_still_make_a_whole_cell(tmp_path):
    crop_bank.cache_clear()
    # large crops for a tiny cell: the thin bars shrink to a fraction of a pixel across
    folder = write_crop_folder(tmp_path / "big", {"902.1": ["X", "Y"]}, chr1_px=400)
    cell = generate_cell((2, 0), real(folder, chr1_length_px=11, width_px=2, abnormal_rates={}))
    crop_bank.cache_clear()
    assert len(cell.chromosomes) == int(cell.karyotype.split(",")[0])
    assert all(p.rendered.mask.any() for p in cell.chromosomes)
