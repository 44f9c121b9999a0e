"""Hostile inputs, each named in a clear message, and nothing else lost from the run.

Called at the level the rule scripts call (karyoflow.dataset.ingest, ingest_images,
detect_images, segment_images, extract_crops_files, straighten_crops_files, classify,
karyogram_files, predict_summary_files), on small synthetic files. Reader-level cases
(0-byte, truncated, TIFF strips outside the file, 16-bit scaling) are in test_io_images;
ingest's own bad-input table in test_ingest; a config naming a folder that does not
exist in test_workflow. The detector and classifier are stand-ins here (no ultralytics,
no TensorFlow): what is tested is what the pipeline does around them.
"""

from __future__ import annotations

import os
import struct
import tracemalloc
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
from karyoflow.classify.data import load_crop_set
from karyoflow.classify.infer import classify, with_probabilities
from karyoflow.core.errors import BadInputError
from karyoflow.core.images import MAX_PIXELS, read_grayscale
from karyoflow.core.labels import CLASSES
from karyoflow.core.masks import load_masks
from karyoflow.core.tables import write_csv, write_parquet
from karyoflow.core.voc import VocAnnotation, VocObject, write_voc
from karyoflow.crops.extract import extract_crops_files, merge_crops_files
from karyoflow.data.ingest import (
    BAD_INPUT_COLUMNS,
    ingest_images,
    ingest_voc,
    read_manifest,
    write_ingest,
)
from karyoflow.data.run import ingest
from karyoflow.data.splits import write_image_list
from karyoflow.detect.infer import BOX_COLUMNS, detect_images
from karyoflow.karyotype.calls import call_cell
from karyoflow.karyotype.karyogram import karyogram_files
from karyoflow.karyotype.predict import predict_summary_files
from karyoflow.segment import segment_images
from karyoflow.segment.classical import segment_boxes
from karyoflow.straighten.methods import straighten
from karyoflow.straighten.run import merge_straightened_files, straighten_crops_files
from PIL import Image
from scipy import ndimage

MiB = 1 << 20
BIG = 8000

# ---- helpers ---------------------------------------------------------------------------


def metaphase(h: int = 200, w: int = 300, n: int = 6, seed: int = 0) -> np.ndarray:
    """Light background with `n` dark bars ("chromosomes"), well apart."""
    rng = np.random.default_rng(seed)
    image = rng.integers(215, 230, (h, w), dtype=np.uint8)
    for i in range(n):
        x, y = 20 + (i % 5) * 55, 20 + (i // 5) * 80
        image[y : y + 40, x : x + 9] = 60
    return image


def dark_boxes(grey: np.ndarray) -> list[tuple[float, float, float, float]]:
    """A box around each dark blob smaller than a quarter of the image."""
    labels, _ = ndimage.label(grey < 128)
    return [
        (s[1].start - 2.0, s[0].start - 2.0, s[1].stop + 2.0, s[0].stop + 2.0)
        for s in ndimage.find_objects(labels)
        if (s[0].stop - s[0].start) * (s[1].stop - s[1].start) < grey.size / 4
    ]


class _Tensor:
    def __init__(self, array):
        self.array = np.asarray(array)

    def cpu(self):
        return self

    def numpy(self):
        return self.array


class _Boxes:
    def __init__(self, xyxy, confidence):
        self.xyxy = _Tensor(np.asarray(xyxy, float).reshape(-1, 4))
        self.cls = _Tensor(np.zeros(len(self.xyxy.array)))
        self.conf = _Tensor(np.asarray(confidence, float))


class _Result:
    def __init__(self, xyxy, confidence):
        self.boxes = _Boxes(xyxy, confidence)


class FakeDetector:
    """Stands in for the YOLO model: one box per dark blob.

    `boxes` replaces that with a fixed list of (box, confidence) for every image.
    """

    names = {0: "chromosome"}

    def __init__(self, boxes=None):
        self.boxes = boxes
        self.shapes: list[tuple[int, ...]] = []

    def predict(self, arrays, **settings):
        results = []
        for array in arrays:
            self.shapes.append(array.shape)
            if self.boxes is not None:
                xyxy = [b for b, _ in self.boxes]
                confidence = [c for _, c in self.boxes]
            else:
                # large images are looked at in 1/8 (the stand-in need not be exact)
                step = 8 if array.shape[0] * array.shape[1] > 2_000_000 else 1
                xyxy = step * np.asarray(dark_boxes(array[::step, ::step, 0])).reshape(-1, 4)
                confidence = [0.9] * len(xyxy)
            results.append(_Result(xyxy, confidence))
        return results


class FakeClassifier:
    """Stands in for the Keras model: the same probabilities for every crop."""

    def predict_on_batch(self, inputs):
        n = len(inputs["image"])
        assert n > 0, "the classifier must not be called without crops"
        p = np.linspace(1.0, 2.0, len(CLASSES))
        return {"class": np.tile(p / p.sum(), (n, 1))}


def detect(images: pd.DataFrame, detector=None, **settings):
    settings = {"imgsz": 512, "device": "cpu", **settings}
    return detect_images(detector or FakeDetector(), images, **settings)


def run_downstream(images_csv: Path, boxes: pd.DataFrame, out: Path, annotations: Path):
    """segment -> crops -> straighten -> classify -> karyograms, as the rules chain them.

    Returns (segmentation issues, crops table, karyotype cells table).
    """
    write_parquet(boxes, out / "boxes.parquet")
    images = pd.read_csv(images_csv, dtype={"image_id": str})
    instances, issues = segment_images(
        images, pd.read_parquet(out / "boxes.parquet"), out / "masks dir", method="classical"
    )
    write_parquet(instances, out / "instances.parquet")
    write_csv(pd.DataFrame({"image_id": images["image_id"], "split": ""}), out / "splits.csv")
    extract_crops_files(
        str(out / "instances.parquet"),
        str(images_csv),
        str(annotations),
        str(out / "crops_0.parquet"),
        str(out / "crops_0.npz"),
        side=64,
        fill=0.9,
        splits=str(out / "splits.csv"),
    )
    crops = merge_crops_files(
        [str(out / "crops_0.parquet")],
        [str(out / "crops_0.npz")],
        str(out / "crops.parquet"),
        str(out / "crops.npz"),
        str(out / "gallery.png"),
    )
    straighten_crops_files(
        str(out / "crops.parquet"),
        str(out / "crops.npz"),
        str(out / "straight_0.parquet"),
        str(out / "straight_0.npz"),
        method="medial_axis",
    )
    merge_straightened_files(
        str(out / "crops.parquet"),
        [str(out / "straight_0.parquet")],
        [str(out / "straight_0.npz")],
        str(out / "straight.parquet"),
        str(out / "straight.npz"),
    )
    crop_set = load_crop_set(
        str(out / "crops.parquet"),
        str(out / "straight.parquet"),
        str(out / "straight.npz"),
        input_size=32,
        labelled_only=False,
    )
    table, probabilities, _ = classify(FakeClassifier(), crop_set, 6.0)
    write_parquet(with_probabilities(table, probabilities), out / "calls.parquet")
    cells = draw_karyograms(out, "cells.tsv", "karyograms")
    return issues, crops, cells


def draw_karyograms(out: Path, cells: str, folder: str, processes: int = 1) -> pd.DataFrame:
    """Rule karyograms on run_downstream's calls, into `out`/`folder`."""
    return karyogram_files(
        str(out / "calls.parquet"),
        str(out / "crops.parquet"),
        str(out / "crops.npz"),
        str(out / cells),
        str(out / folder),
        low_probability=0.5,
        low_margin=1.0,
        straighten_method="medial_axis",
        processes=processes,
    )


def write_voc_for(image: Path, n_objects: int, xml: Path | None = None) -> Path:
    """A VOC XML for `image` with `n_objects` small boxes in a grid (labels cycling)."""
    with Image.open(image) as im:
        width, height = im.size
    labels = ["A1", "B4", "C7", "X", "E16", "G21"]
    per_row = max(1, width // 12)
    objects = []
    for i in range(n_objects):
        x, y = (i % per_row) * 12, (i // per_row) * 12
        objects.append(VocObject(labels[i % len(labels)], x, y, x + 10, y + 10))
    xml = xml or image.with_suffix(".xml")
    write_voc(VocAnnotation(image.name, width, height, 1, objects), xml)
    return xml


def spoil_tiff_strips(path: Path) -> None:
    """Point a one-strip TIFF's strip offset past the end of the file."""
    with tifffile.TiffFile(path) as tif:
        tag = tif.pages[0].tags["StripOffsets"]
        value_offset, count, dtype = tag.valueoffset, tag.count, tag.dtype
    assert count == 1
    data = bytearray(path.read_bytes())
    fmt = "<I" if int(dtype) == 4 else "<H"
    struct.pack_into(fmt, data, value_offset, len(data) + 1000 if fmt == "<I" else 60000)
    path.write_bytes(bytes(data))


def traced_peak(function, *args):
    """(result, peak traced allocation in bytes) of function(*args)."""
    tracemalloc.start()
    try:
        result = function(*args)
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def big_png(tmp_path_factory) -> Path:
    """An 8000x8000 8-bit PNG, mostly constant: 64 Mpx that compress to a few hundred kB."""
    path = tmp_path_factory.mktemp("big") / "big scan.png"
    image = np.full((BIG, BIG), 220, np.uint8)
    image[4000:4100, 4000:4012] = 40
    Image.fromarray(image).save(path, compress_level=1)
    return path


# ---- 1. large images -------------------------------------------------------------------


def test_8000x8000_png_is_read_without_copies(big_png):
    (grey, notes), peak = traced_peak(read_grayscale, big_png)
    assert grey.shape == (BIG, BIG) and grey.dtype == np.uint8 and notes == []
    assert grey[4050, 4005] == 40
    assert peak < 3 * BIG * BIG, f"{peak / MiB:.0f} MiB to read a 61 MiB image"


def test_8000x8000_16_bit_tiff_is_scaled_in_bounded_memory(tmp_path):
    deep = np.full((BIG, BIG), 6000, np.uint16)
    deep[:10, :10] = 40000
    deep[100:200, 100:200] = 23000
    path = tmp_path / "deep 16-bit.tif"
    tifffile.imwrite(path, deep, compression="zlib")
    del deep
    (grey, notes), peak = traced_peak(read_grayscale, path)
    assert notes == ["16-bit image scaled to 8 bits (6000..40000 -> 0..255)"]
    assert (grey[0, 0], grey[150, 150], grey[-1, -1]) == (255, 128, 0)
    # whole-image float64 temporaries took 1.6 GB and 5 s here
    assert peak < 5 * BIG * BIG, f"{peak / MiB:.0f} MiB"


def test_8000x8000_colour_image_converted_in_bounded_memory(tmp_path):
    grey = np.full((BIG, BIG), 200, np.uint8)
    rgb = np.dstack([grey, grey // 2, grey])
    path = tmp_path / "colour.png"
    Image.fromarray(rgb).save(path, compress_level=1)
    del grey, rgb
    (array, notes), peak = traced_peak(read_grayscale, path)
    assert notes == ["RGB converted to grey by luminance (channels differ)"]
    assert array[0, 0] == round(0.299 * 200 + 0.587 * 100 + 0.114 * 200)
    assert peak < 8 * BIG * BIG, f"{peak / MiB:.0f} MiB"  # the RGB array itself is 3x


def test_8000x8000_image_through_ingest_and_detection(big_png, tmp_path):
    folder = tmp_path / "predict"
    folder.mkdir()
    (folder / big_png.name).symlink_to(big_png)
    Image.fromarray(metaphase()).save(folder / "small.png")
    result = ingest_images([folder])
    assert result.bad_inputs.empty
    sizes = result.manifest.set_index("image_id")[["width", "height"]]
    assert sizes.loc["big scan"].tolist() == [BIG, BIG]

    detector = FakeDetector()
    boxes, issues = detect(result.manifest, detector, imgsz=512)
    assert (BIG, BIG, 3) in detector.shapes  # detected all the same, and listed
    (row,) = issues.itertuples()
    assert (row.image_id, row.problem, row.action) == ("big scan", "far_larger_than_imgsz", "kept")
    assert row.image_path == str(folder / big_png.name)
    assert "8000x8000 px, 15.6x the detection size 512" in row.detail
    big = boxes[boxes["image_id"] == "big scan"]
    assert len(big) == 1 and big[["xmin", "ymin"]].iloc[0].tolist() == [3984.0, 3984.0]


@pytest.mark.parametrize("pillow_limit", ["default", "lifted"])
def test_image_past_the_pixel_limit_is_refused_naming_file_and_size(
    tmp_path, monkeypatch, pillow_limit
):
    # 90 Mpx: above Pillow's warning level, below its error level; 1-bit keeps it cheap.
    path = tmp_path / "scan 90 Mpx.png"
    Image.new("1", (10_000, 9_000)).save(path)
    assert 10_000 * 9_000 > MAX_PIXELS
    if pillow_limit == "lifted":  # another library switching Pillow's guard off
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    with pytest.raises(BadInputError) as info:
        read_grayscale(path)
    err = info.value
    assert err.problem == "image_too_large"
    assert str(err).startswith(f"{path}: image is ")
    assert "90 Mpx" in err.detail and f"{MAX_PIXELS} pixels" in err.detail
    if pillow_limit == "lifted":
        assert "10000x9000" in err.detail


def test_16_bit_tiff_past_the_pixel_limit_is_refused_before_decoding(tmp_path):
    # Pillow refused it, and the tifffile fallback then decoded all 90 Mpx regardless.
    path = tmp_path / "huge.tif"

    def tiles():
        tile = np.zeros((1024, 1024), np.uint16)
        for _ in range(9 * 10):
            yield tile

    tifffile.imwrite(
        path, tiles(), shape=(9000, 10_000), dtype=np.uint16, tile=(1024, 1024), compression="zlib"
    )
    tracemalloc.start()
    try:
        with pytest.raises(BadInputError) as info:
            read_grayscale(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * MiB, f"{peak / MiB:.0f} MiB: decoded before refusing"  # 90 Mpx: 172 MiB
    assert info.value.problem == "image_too_large"
    assert f"{path}: image is 10000x9000 pixels (90 Mpx)" in str(info.value)

    folder = tmp_path / "set"
    folder.mkdir()
    (folder / "huge.tif").symlink_to(path)
    Image.fromarray(metaphase()).save(folder / "ok.png")
    result = ingest_images([folder])
    assert result.manifest["image_id"].tolist() == ["ok"]
    assert result.bad_inputs[["path", "problem"]].values.tolist() == [
        [str(folder / "huge.tif"), "image_too_large"]
    ]


# ---- 2. an image with no chromosomes ---------------------------------------------------


def test_blank_image_goes_through_every_stage(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(np.full((200, 300), 225, np.uint8)).save(folder / "blank.png")
    Image.fromarray(np.zeros((120, 160), np.uint8)).save(folder / "black.tif")
    out = tmp_path / "out"
    ingest(
        [str(folder)],
        source="images",
        policy="error",
        extract_dir=str(out / "x"),
        manifest=str(out / "manifest.csv"),
        annotations=str(out / "annotations.parquet"),
        bad_inputs=str(out / "bad_inputs.tsv"),
        annotated=False,
    )
    write_image_list(str(out / "manifest.csv"), str(out / "images.csv"))
    images = pd.read_csv(out / "images.csv", dtype={"image_id": str})
    assert images["image_id"].tolist() == ["black", "blank"]

    boxes, issues = detect(images)
    assert boxes.empty and list(boxes.columns) == BOX_COLUMNS
    assert issues["problem"].tolist() == ["no_detections"] * 2
    assert set(issues["action"]) == {"kept"}

    seg_issues, crops, cells = run_downstream(
        out / "images.csv", boxes, out, out / "annotations.parquet"
    )
    assert seg_issues.empty and crops.empty and cells.empty
    assert load_masks(out / "masks dir" / "blank.npz") == []
    assert pd.read_parquet(out / "straight.parquet").empty
    predict_summary_files(
        str(out / "cells.tsv"),
        str(out / "images.csv"),
        str(out / "bad_inputs.tsv"),
        str(out / "calls.tsv"),
    )
    calls = pd.read_csv(out / "calls.tsv", sep="\t", keep_default_na=False)
    assert calls["flag"].tolist() == ["no_chromosomes"] * 2
    assert calls["image"].tolist() == [str(folder / "black.tif"), str(folder / "blank.png")]


def test_false_boxes_on_a_blank_image_give_no_instances(tmp_path):
    blank = np.full((200, 300), 225, np.uint8)
    boxes = np.array([[10, 10, 30, 60], [100, 50, 140, 70], [250, 150, 300, 200]], float)
    masks, _ = segment_boxes(blank, boxes)
    assert masks == [None, None, None]

    path = tmp_path / "blank.png"
    Image.fromarray(blank).save(path)
    table = pd.DataFrame(
        {
            "image_id": "blank",
            "box_index": range(3),
            "class": "chromosome",
            "confidence": 0.5,
            **dict(zip(["xmin", "ymin", "xmax", "ymax"], boxes.T, strict=True)),
        }
    )
    images = pd.DataFrame({"image_id": ["blank"], "image_path": [str(path)]})
    instances, issues = segment_images(images, table, tmp_path / "masks")
    assert instances.empty
    assert issues["problem"].tolist() == ["empty_mask"] * 3
    assert load_masks(tmp_path / "masks" / "blank.npz") == []


def test_empty_crops_and_cells_do_not_crash():
    result = straighten(np.zeros((64, 64), np.uint8))
    assert not result.ok and result.reason == "empty"
    assert call_cell([], [], []) == ("0,-", "count", 0)


def test_blank_annotated_image_is_listed_not_fatal(tmp_path):
    folder = tmp_path / "voc"
    folder.mkdir()
    Image.fromarray(metaphase()).save(folder / "cell.png")
    write_voc_for(folder / "cell.png", 6)
    Image.fromarray(np.full((200, 300), 225, np.uint8)).save(folder / "blank.png")
    write_voc_for(folder / "blank.png", 0)
    result = ingest_voc([folder])
    assert result.manifest["image_id"].tolist() == ["cell"]
    assert result.bad_inputs[["path", "problem"]].values.tolist() == [
        [str(folder / "blank.xml"), "empty_annotation"]
    ]


# ---- 3. an XML with 500 objects --------------------------------------------------------


def test_voc_with_500_objects_is_ingested(tmp_path):
    folder = tmp_path / "voc"
    folder.mkdir()
    Image.fromarray(np.full((300, 300), 220, np.uint8)).save(folder / "crowded.png")
    write_voc_for(folder / "crowded.png", 500)
    result = ingest_voc([folder], policy="error")
    row = result.manifest.iloc[0]
    assert row["n_objects"] == 500 and row["karyotype"].startswith("500,")
    assert len(result.annotations) == 500
    assert result.annotations["object_index"].tolist() == list(range(500))


def test_detector_hitting_max_det_is_listed(tmp_path):
    path = tmp_path / "crowded.png"
    Image.fromarray(metaphase()).save(path)
    images = pd.DataFrame({"image_id": ["crowded"], "image_path": [str(path)]})
    full = FakeDetector([((i, 0, i + 5, 5), 0.9) for i in range(20)])
    boxes, issues = detect(images, full, max_det=20, confidence=0.25)
    assert len(boxes) == 20
    assert issues[["image_id", "problem", "action"]].values.tolist() == [
        ["crowded", "max_det_reached", "kept"]
    ]
    assert "raise detect.max_det" in issues["detail"].iloc[0]
    # the cap filled with weak boxes below the operating point is no sign of loss
    weak = FakeDetector([((i, 0, i + 5, 5), 0.9 if i < 5 else 0.05) for i in range(20)])
    _, issues = detect(images, weak, max_det=20, confidence=0.25)
    assert issues.empty


# ---- 4. paths with spaces and non-ASCII characters -------------------------------------


def test_voc_folder_with_spaces_and_accents_round_trips(tmp_path):
    folder = tmp_path / "metaphase images" / "ñandú 1"
    folder.mkdir(parents=True)
    for name in ("célula 01", "0012 b"):
        Image.fromarray(metaphase()).save(folder / f"{name}.png")
        write_voc_for(folder / f"{name}.png", 6, folder / f"anotación {name}.xml")
    out = tmp_path / "résultats 1"
    ingest(
        [str(folder)],
        source="voc",
        policy="error",
        extract_dir=str(out / "x"),
        manifest=str(out / "manifest.csv"),
        annotations=str(out / "annotations.parquet"),
        bad_inputs=str(out / "bad inputs.tsv"),
    )
    manifest = read_manifest(out / "manifest.csv")
    assert manifest["image_id"].tolist() == ["0012 b", "célula 01"]
    assert manifest["image_path"].tolist() == [
        str(folder / "0012 b.png"),
        str(folder / "célula 01.png"),
    ]
    assert manifest["annotation_path"].iloc[1] == str(folder / "anotación célula 01.xml")
    assert all(Path(p).is_file() for p in manifest["image_path"])
    annotations = pd.read_parquet(out / "annotations.parquet")
    assert annotations.groupby("image_id").size().to_dict() == {"0012 b": 6, "célula 01": 6}
    assert pd.read_csv(out / "bad inputs.tsv", sep="\t").empty


@pytest.mark.filterwarnings("ignore:Glyph .* missing from font")  # the gallery's CJK title
def test_predict_folder_with_spaces_and_accents_round_trips(tmp_path):
    folder = tmp_path / "metaphase images" / "ñandú 1"
    folder.mkdir(parents=True)
    names = ["célula 01", "0012 b", "核型 #3"]
    for k, name in enumerate(names):
        Image.fromarray(metaphase(n=5 + k, seed=k)).save(folder / f"{name}.png")
    out = tmp_path / "résultats 1"
    ingest(
        [str(folder)],
        source="images",
        policy="error",
        extract_dir=str(out / "x"),
        manifest=str(out / "manifest.csv"),
        annotations=str(out / "annotations.parquet"),
        bad_inputs=str(out / "bad_inputs.tsv"),
        annotated=False,
    )
    write_image_list(str(out / "manifest.csv"), str(out / "images.csv"))
    images = pd.read_csv(out / "images.csv", dtype={"image_id": str})
    assert sorted(images["image_id"]) == sorted(names)
    assert all(Path(p).is_file() for p in images["image_path"])

    boxes, issues = detect(images)
    assert issues.empty
    assert boxes.groupby("image_id").size().to_dict() == {"0012 b": 6, "célula 01": 5, "核型 #3": 7}
    seg_issues, crops, cells = run_downstream(
        out / "images.csv", boxes, out, out / "annotations.parquet"
    )
    assert seg_issues.empty
    assert sorted(p.name for p in (out / "masks dir").iterdir()) == sorted(
        f"{n}.npz" for n in names
    )
    assert crops.groupby("image_id").size().to_dict() == {"0012 b": 6, "célula 01": 5, "核型 #3": 7}
    assert "célula 01#0" in set(crops["crop_id"])
    assert (
        pd.read_parquet(out / "straight.parquet")["crop_id"].tolist() == crops["crop_id"].tolist()
    )
    cells = pd.read_csv(out / "cells.tsv", sep="\t", dtype={"image_id": str})
    assert sorted(cells["image_id"]) == sorted(names)
    assert all(Path(p).is_file() for p in cells["karyogram"])
    predict_summary_files(
        str(out / "cells.tsv"),
        str(out / "images.csv"),
        str(out / "bad_inputs.tsv"),
        str(out / "calls.tsv"),
    )
    calls = pd.read_csv(out / "calls.tsv", sep="\t", dtype={"image_id": str})
    assert sorted(calls["image"]) == sorted(str(folder / f"{n}.png") for n in names)
    assert calls.set_index("image_id").loc["核型 #3", "n_chromosomes"] == 7
    # drawn two cells at a time, the same karyograms and calls
    draw_karyograms(out, "cells two.tsv", "karyograms two", processes=2)
    parallel = pd.read_csv(out / "cells two.tsv", sep="\t", dtype={"image_id": str})
    assert parallel.drop(columns="karyogram").equals(cells.drop(columns="karyogram"))
    for name in names:
        drawn = (out / "karyograms two" / f"{name}.png").read_bytes()
        assert drawn == (out / "karyograms" / f"{name}.png").read_bytes()


def test_xml_filename_matches_an_accented_file_name_in_either_unicode_form(tmp_path):
    # macOS names files in NFD (e + combining accent); the XML says NFC (one character).
    folder = tmp_path / "voc"
    folder.mkdir()
    on_disk = unicodedata.normalize("NFD", "célula 01.png")
    in_xml = unicodedata.normalize("NFC", "célula 01.png")
    assert on_disk != in_xml
    Image.fromarray(metaphase()).save(folder / on_disk)
    write_voc_for(folder / on_disk, 6, folder / "annotation.xml")
    xml = folder / "annotation.xml"
    xml.write_text(xml.read_text(encoding="utf-8").replace(on_disk, in_xml), encoding="utf-8")
    result = ingest_voc([folder], policy="error")
    assert result.manifest["image_path"].tolist() == [str(folder / on_disk)]
    assert result.manifest["n_objects"].tolist() == [6]


def test_file_name_that_is_not_utf8_is_listed_not_fatal(tmp_path):
    folder = tmp_path / "from an old system"
    folder.mkdir()
    Image.fromarray(metaphase()).save(folder / "good.png")
    try:  # "célula.png" in Latin-1
        with open(os.fsencode(folder) + b"/c\xe9lula.png", "wb") as handle:
            handle.write((folder / "good.png").read_bytes())
    except OSError as err:
        pytest.skip(f"this file system refuses non-UTF-8 names ({err})")
    result = ingest_images([folder])
    assert result.manifest["image_id"].tolist() == ["good"]
    (row,) = result.bad_inputs.itertuples()
    assert row.path == f"{folder}/c\\xe9lula.png"
    assert row.problem == "bad_file_name" and "not valid UTF-8" in row.detail
    out = tmp_path / "out"
    # the tables are written (a surrogate in a path used to stop the whole run here)
    write_ingest(result, out / "manifest.csv", out / "ann.parquet", out / "bad.tsv")
    assert "c\\xe9lula.png" in (out / "bad.tsv").read_text(encoding="utf-8")
    with pytest.raises(BadInputError) as info:
        ingest_images([folder], policy="error")
    assert "c\\xe9lula.png" in str(info.value) and "good.png" not in str(info.value)


# ---- 5. bad files inside an otherwise good folder --------------------------------------


def bad_folder(folder: Path, annotated: bool) -> dict[str, tuple[Path, str, str]]:
    """Good and bad images (with XMLs when `annotated`); name -> (path, problem, action)."""
    folder.mkdir(parents=True)
    grey = metaphase()
    Image.fromarray(grey).save(folder / "good.png")
    tifffile.imwrite(folder / "deep.tif", grey.astype(np.uint16) * 200)
    Image.fromarray(grey).save(folder / "cut.jpg", quality=90)
    data = (folder / "cut.jpg").read_bytes()
    (folder / "cut.jpg").write_bytes(data[: len(data) * 6 // 10])
    (folder / "empty.png").write_bytes(b"")
    tifffile.imwrite(folder / "strips.tif", grey)
    spoil_tiff_strips(folder / "strips.tif")
    expected = {
        "deep": (folder / "deep.tif", "converted_image", "converted"),
        "cut": (folder / "cut.jpg", "truncated_image", "skipped"),
        "empty": (folder / "empty.png", "empty_file", "skipped"),
        "strips": (folder / "strips.tif", "truncated_image", "skipped"),
    }
    if annotated:
        objects = [VocObject("A1", 20, 20, 29, 60), VocObject("X", 75, 20, 84, 60)]
        for image in ("good.png", "deep.tif", "cut.jpg", "empty.png", "strips.tif"):
            annotation = VocAnnotation(image, grey.shape[1], grey.shape[0], 1, objects)
            write_voc(annotation, (folder / image).with_suffix(".xml"))
    return expected


@pytest.mark.parametrize("annotated", [False, True], ids=["predict_folder", "voc_folder"])
def test_bad_files_in_a_good_folder(tmp_path, annotated):
    folder = tmp_path / "mixed set"
    expected = bad_folder(folder, annotated)
    out = tmp_path / "out"
    tables = {
        "manifest": str(out / "manifest.csv"),
        "annotations": str(out / "annotations.parquet"),
        "bad_inputs": str(out / "bad_inputs.tsv"),
    }
    settings = dict(source="s", extract_dir=str(out / "x"), annotated=annotated, **tables)
    ingest([str(folder)], policy="skip", **settings)
    manifest = read_manifest(out / "manifest.csv")
    assert manifest["image_id"].tolist() == ["deep", "good"]
    deep = manifest.set_index("image_id").loc["deep"]
    assert deep["notes"].startswith("16-bit image scaled to 8 bits (")
    bad = pd.read_csv(out / "bad_inputs.tsv", sep="\t")
    assert tuple(bad.columns) == BAD_INPUT_COLUMNS
    assert sorted(bad[["path", "problem", "action"]].values.tolist()) == sorted(
        [str(p), problem, action] for p, problem, action in expected.values()
    )
    details = dict(zip(bad["path"], bad["detail"], strict=True))
    assert "0 bytes" in details[str(folder / "empty.png")]
    assert "strip" in details[str(folder / "strips.tif")]
    assert "16-bit" in details[str(folder / "deep.tif")]

    with pytest.raises(BadInputError) as info:
        ingest([str(folder)], policy="error", **settings)
    message = str(info.value)
    assert "3 bad input(s)" in message
    for name in ("cut.jpg", "empty.png", "strips.tif"):
        assert str(folder / name) in message
    assert "good.png" not in message and "deep.tif" not in message


def test_images_gone_bad_after_ingest_are_listed_by_detection_and_segmentation(tmp_path):
    """An image list naming files that are (no longer) readable: listed, the rest go on."""
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(metaphase()).save(folder / "good.png")
    Image.fromarray(metaphase()).save(folder / "cut.jpg")
    data = (folder / "cut.jpg").read_bytes()
    (folder / "cut.jpg").write_bytes(data[: len(data) // 2])
    (folder / "empty.png").write_bytes(b"")
    images = pd.DataFrame(
        {
            "image_id": ["cut", "empty", "good", "gone"],
            "image_path": [
                str(folder / n) for n in ("cut.jpg", "empty.png", "good.png", "gone.png")
            ],
        }
    )
    boxes, issues = detect(images, batch=2)
    assert set(boxes["image_id"]) == {"good"} and len(boxes) == 6
    listed = issues.set_index("image_id")
    assert listed["problem"].to_dict() == {
        "cut": "truncated_image",
        "empty": "empty_file",
        "gone": "missing_image",
    }
    assert listed.loc["cut", "image_path"] == str(folder / "cut.jpg")
    assert set(listed["action"]) == {"skipped"}
    with pytest.raises(BadInputError, match=r"cut\.jpg"):
        detect(images, policy="error")

    instances, seg_issues = segment_images(images, boxes, tmp_path / "masks")
    assert set(instances["image_id"]) == {"good"} and len(instances) == 6
    assert seg_issues.set_index("image_id")["problem"].to_dict() == listed["problem"].to_dict()
    with pytest.raises(BadInputError, match=r"cut\.jpg"):
        segment_images(images, boxes, tmp_path / "masks", policy="error")


def test_file_that_cannot_be_opened_is_a_bad_input(tmp_path, monkeypatch):
    import karyoflow.core.images as images_module

    path = tmp_path / "locked.png"
    Image.fromarray(metaphase()).save(path)

    def refuse(file, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(file))

    monkeypatch.setattr(images_module, "open", refuse, raising=False)
    with pytest.raises(BadInputError) as info:
        read_grayscale(path)
    assert info.value.problem == "unreadable_image"
    assert str(info.value) == f"{path}: cannot open the file (Permission denied)"


# ---- a configured folder that does not exist ------------------------------------------


@pytest.mark.parametrize("annotated", [False, True], ids=["predict_folder", "voc_folder"])
@pytest.mark.parametrize("policy", ["skip", "error"])
def test_missing_input_folder_is_named(tmp_path, annotated, policy):
    missing = tmp_path / "metaphase images" / "ñandú 2"
    out = tmp_path / "out"
    with pytest.raises(BadInputError) as info:
        ingest(
            [str(missing)],
            source="s",
            policy=policy,
            extract_dir=str(out / "x"),
            manifest=str(out / "manifest.csv"),
            annotations=str(out / "annotations.parquet"),
            bad_inputs=str(out / "bad_inputs.tsv"),
            annotated=annotated,
        )
    assert info.value.problem == "not_found"
    assert str(info.value).startswith(f"{missing}: configured dataset path does not exist")
    assert not out.exists()  # nothing half-written


def test_the_background_tells_a_g_band_image_from_a_fluorescent_one():
    from karyoflow.core.polarity import background_polarity

    gband = metaphase(n=6)
    assert background_polarity(gband) == "dark"
    assert background_polarity(255 - gband) == "bright"
    assert background_polarity(np.full((20, 20), 7, np.uint8)) == "dark"  # blank: the default


def test_fluorescent_image_is_detected_inverted_and_listed(tmp_path):
    """A detector that learnt dark chromosomes on a light background (the stand-in finds
    dark blobs) sees nothing in a fluorescent image (bright on dark) unless it is
    inverted: `auto` tries both views and keeps the one with the confident boxes. It
    skips the inverted view of the G-band image, whose light background and dark boxes
    leave no doubt."""
    Image.fromarray(metaphase(n=6)).save(tmp_path / "gband.png")
    Image.fromarray(255 - metaphase(n=5, seed=1)).save(tmp_path / "qband.png")
    images = pd.DataFrame(
        {
            "image_id": ["gband", "qband"],
            "image_path": [str(tmp_path / "gband.png"), str(tmp_path / "qband.png")],
        }
    )
    found = {}
    for polarity in ("dark", "bright", "auto"):
        detector = FakeDetector()
        boxes, issues = detect_images(detector, images, imgsz=320, polarity=polarity)
        found[polarity] = boxes.groupby("image_id").size().to_dict()
        if polarity == "auto":
            listed = dict(zip(issues["image_id"], issues["problem"], strict=True))
            assert listed == {"qband": "bright_on_dark"}
            assert len(detector.shapes) == 3  # G-band once, Q-band in both views
    assert found["dark"].get("gband") == 6 and found["dark"].get("qband", 0) == 0
    assert found["bright"].get("qband") == 5 and found["bright"].get("gband", 0) == 0
    assert found["auto"] == {"gband": 6, "qband": 5}
    with pytest.raises(ValueError, match="polarity"):
        detect_images(FakeDetector(), images, imgsz=320, polarity="inverted")
