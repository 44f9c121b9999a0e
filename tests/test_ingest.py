"""Ingesting VOC folders, zips and plain image folders; every bad-input case."""

from __future__ import annotations

import json
import logging
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from karyoflow.core.errors import BadInputError
from karyoflow.core.images import sha256_file, write_png
from karyoflow.core.iscn import iscn_from_labels
from karyoflow.core.voc import VocAnnotation, VocObject, write_voc
from karyoflow.data.ingest import (
    ANNOTATION_COLUMNS,
    BAD_INPUT_COLUMNS,
    MANIFEST_COLUMNS,
    ingest_images,
    ingest_voc,
    read_manifest,
    write_ingest,
)
from karyoflow.data.kaggle import fetch_kaggle, has_kaggle_credentials
from PIL import Image

LABELS = ["A1", "A1", "C7", "X", "Y"]
W, H = 80, 60


def add_sample(
    folder: Path,
    image_id: str,
    *,
    labels=LABELS,
    ext: str = ".png",
    xml_folder: Path | None = None,
    boxes=None,
    xml_size=(W, H),
    filename: str | None = None,
) -> tuple[Path, Path]:
    """Write one grey image and its VOC XML; returns (image, xml)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(image_id))
    image = folder / f"{image_id}{ext}"
    Image.fromarray(rng.integers(100, 255, (H, W), dtype=np.uint8)).save(image)
    boxes = boxes or [(2 + 10 * i, 3, 10 + 10 * i, 40) for i in range(len(labels))]
    objects = [VocObject(name, *box) for name, box in zip(labels, boxes, strict=True)]
    ann = VocAnnotation(filename or image.name, xml_size[0], xml_size[1], 1, objects)
    xml = (xml_folder or folder) / f"{image_id}.xml"
    write_voc(ann, xml)
    return image, xml


def tree_state(folder: Path) -> dict[str, tuple[int, str]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, sha256_file(p))
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def dataset(tmp_path) -> Path:
    root = tmp_path / "data"
    for image_id in ("c", "a", "b"):
        add_sample(root, image_id)
    return root


# --- good input -------------------------------------------------------------------------


def test_good_dataset(dataset):
    result = ingest_voc([dataset], source="test")
    manifest, annotations = result.manifest, result.annotations
    assert tuple(manifest.columns) == MANIFEST_COLUMNS
    assert tuple(annotations.columns) == ANNOTATION_COLUMNS
    assert tuple(result.bad_inputs.columns) == BAD_INPUT_COLUMNS
    assert result.bad_inputs.empty
    assert manifest["image_id"].tolist() == ["a", "b", "c"]
    row = manifest.iloc[0]
    assert row["image_path"] == str(dataset / "a.png")
    assert row["annotation_path"] == str(dataset / "a.xml")
    assert row["mask_path"] == "" and row["truth_path"] == "" and row["notes"] == ""
    assert row["sha256"] == sha256_file(dataset / "a.png")
    assert (row["width"], row["height"], row["n_objects"]) == (W, H, len(LABELS))
    assert row["karyotype"] == iscn_from_labels(LABELS)
    assert row["source"] == "test"
    assert manifest["width"].dtype == np.int64
    first = annotations[annotations["image_id"] == "a"]
    assert first["object_index"].tolist() == list(range(len(LABELS)))
    assert first["label_raw"].tolist() == LABELS
    assert first["class"].tolist() == ["1", "1", "7", "X", "Y"]
    assert first[["xmin", "ymin", "xmax", "ymax"]].iloc[0].tolist() == [2.0, 3.0, 10.0, 40.0]


def test_kaggle_layout_and_case_insensitive_lookup(tmp_path):
    root = tmp_path / "kaggle"
    # Images and annotations in separate folders.
    add_sample(root / "images", "p1", xml_folder=root / "annotations")
    # <filename> says p2.jpg, the file on disk is p2.JPG.
    image, _ = add_sample(
        root / "images", "p2", ext=".JPG", filename="p2.jpg", xml_folder=root / "annotations"
    )
    # <filename> says .jpg, only a .png with that stem exists.
    add_sample(root / "images", "p2x", filename="p2x.jpg", ext=".png", xml_folder=root / "ann2")
    # <filename> holding a Windows path.
    add_sample(root / "images", "p3", filename="D:\\data\\orig\\p3.png", xml_folder=root / "a3")
    result = ingest_voc([root])
    assert result.bad_inputs.empty, result.bad_inputs
    assert result.manifest["image_id"].tolist() == ["p1", "p2", "p2x", "p3"]
    assert result.manifest.set_index("image_id").loc["p2", "image_path"] == str(image)


def test_box_on_the_image_edge_is_fine(tmp_path):
    root = tmp_path / "d"
    add_sample(root, "edge", labels=["A1"], boxes=[(0, 0, W, H)])
    assert ingest_voc([root]).bad_inputs.empty


def test_synthetic_sidecars(tmp_path):
    root = tmp_path / "synth"
    add_sample(root, "s1")
    mask = np.zeros((H, W), dtype=np.uint16)
    mask[5:20, 5:20] = 300
    write_png(root / "s1.mask.png", mask)
    (root / "s1.truth.json").write_text(json.dumps({"karyotype": "47,XY,+21", "seed": 3}))
    write_png(root / "s1.karyogram.png", np.zeros((10, 10), np.uint8))
    result = ingest_voc([root])
    assert result.bad_inputs.empty, result.bad_inputs
    assert len(result.manifest) == 1
    row = result.manifest.iloc[0]
    assert row["mask_path"] == str(root / "s1.mask.png")
    assert row["truth_path"] == str(root / "s1.truth.json")
    assert row["karyotype"] == "47,XY,+21"


def test_conversions_are_kept_and_reported(tmp_path):
    root = tmp_path / "d"
    image, _ = add_sample(root, "deep")
    write_png(image, (np.arange(W * H).reshape(H, W) * 10).astype(np.uint16))
    image, _ = add_sample(root, "grey_rgb", ext=".jpg")
    grey = np.asarray(Image.open(image))
    Image.fromarray(np.dstack([grey] * 3)).save(image, quality=95)
    add_sample(root, "wrong_size", xml_size=(W + 5, H))
    result = ingest_voc([root])
    manifest = result.manifest.set_index("image_id")
    assert list(manifest.index) == ["deep", "grey_rgb", "wrong_size"]
    assert "16-bit image scaled to 8 bits" in manifest.loc["deep", "notes"]
    assert manifest.loc["grey_rgb", "notes"] == "RGB with equal channels read as grey"
    assert manifest.loc["wrong_size", "width"] == W
    assert "XML size" in manifest.loc["wrong_size", "notes"]
    bad = result.bad_inputs
    assert set(bad["action"]) == {"converted"}
    assert sorted(bad["problem"]) == ["converted_image", "size_mismatch"]
    assert bad.set_index("problem").loc["size_mismatch", "path"] == str(root / "wrong_size.xml")
    # Lossless conversions are notes only, not listed as bad inputs.
    assert not bad["path"].str.contains("grey_rgb").any()
    # Conversions are no errors.
    assert len(ingest_voc([root], policy="error").manifest) == 3


# --- bad input, one case each -----------------------------------------------------------


def _unreadable(root):
    (root / "bad.png").write_bytes(b"not a png" * 50)
    return "unreadable_image", root / "bad.png"


def _truncated(root):
    data = (root / "bad.png").read_bytes()
    (root / "bad.png").write_bytes(data[: len(data) // 2])
    return "truncated_image", root / "bad.png"


def _empty_file(root):
    (root / "bad.png").write_bytes(b"")
    return "empty_file", root / "bad.png"


def _missing_image(root):
    (root / "bad.png").unlink()
    return "missing_image", root / "bad.xml"


def _malformed_xml(root):
    (root / "bad.xml").write_text("<annotation><size><width>3</width></annotation>")
    return "malformed_xml", root / "bad.xml"


def _unknown_label(root):
    add_sample(root, "bad", labels=["A1", "clase25", "X"])
    return "unknown_label", root / "bad.xml"


def _wrong_group_label(root):
    add_sample(root, "bad", labels=["A1", "B7"])
    return "unknown_label", root / "bad.xml"


def _box_outside(root):
    add_sample(root, "bad", labels=["A1", "A2"], boxes=[(1, 1, 9, 9), (10, 10, W + 3, 20)])
    return "box_outside_image", root / "bad.xml"


def _negative_box(root):
    add_sample(root, "bad", labels=["A1"], boxes=[(-5, 1, 9, 9)])
    return "box_outside_image", root / "bad.xml"


def _degenerate_box(root):
    add_sample(root, "bad", labels=["A1", "A2"], boxes=[(1, 1, 9, 9), (10, 10, 10, 20)])
    return "degenerate_box", root / "bad.xml"


def _empty_annotation(root):
    add_sample(root, "bad", labels=[])
    return "empty_annotation", root / "bad.xml"


def _bad_truth(root):
    (root / "bad.truth.json").write_text('{"seed": 1}')
    return "malformed_truth", root / "bad.truth.json"


def _bad_mask(root):
    write_png(root / "bad.mask.png", np.zeros((H + 1, W), np.uint16))
    return "bad_mask", root / "bad.mask.png"


BAD_CASES = [
    _unreadable,
    _truncated,
    _empty_file,
    _missing_image,
    _malformed_xml,
    _unknown_label,
    _wrong_group_label,
    _box_outside,
    _negative_box,
    _degenerate_box,
    _empty_annotation,
    _bad_truth,
    _bad_mask,
]


@pytest.mark.parametrize("spoil", BAD_CASES, ids=lambda f: f.__name__.strip("_"))
def test_bad_input_skip_and_error(tmp_path, spoil):
    root = tmp_path / "data"
    add_sample(root, "good1")
    add_sample(root, "good2")
    add_sample(root, "bad")
    problem, named = spoil(root)
    before = tree_state(root)

    result = ingest_voc([root], policy="skip")
    assert result.manifest["image_id"].tolist() == ["good1", "good2"]
    assert set(result.annotations["image_id"]) == {"good1", "good2"}
    bad = result.bad_inputs
    assert len(bad) >= 1
    assert set(bad["problem"]) == {problem}, bad
    assert set(bad["action"]) == {"skipped"}
    assert bad["path"].tolist()[0] == str(named)

    with pytest.raises(BadInputError) as info:
        ingest_voc([root], policy="error")
    err = info.value
    assert err.problem == problem
    assert str(named) in str(err)
    assert "good1" not in str(err)
    assert tree_state(root) == before  # nothing read was changed, nothing written


def test_unknown_label_message_names_label_and_object(tmp_path):
    root = tmp_path / "data"
    _unknown_label(root)
    detail = ingest_voc([root]).bad_inputs["detail"].iloc[0]
    assert "object 1" in detail and "clase25" in detail


def test_box_message_gives_box_and_size(tmp_path):
    root = tmp_path / "data"
    _box_outside(root)
    detail = ingest_voc([root]).bad_inputs["detail"].iloc[0]
    assert "object 1 (A2)" in detail and f"{W}x{H}" in detail


def test_duplicate_ids_name_both_files(tmp_path):
    root = tmp_path / "data"
    add_sample(root / "one", "same")
    add_sample(root / "two", "same", ext=".jpg")
    add_sample(root, "other")
    result = ingest_voc([root])
    assert result.manifest["image_id"].tolist() == ["other"]
    bad = result.bad_inputs
    assert set(bad["problem"]) == {"duplicate_id"}
    assert sorted(bad["path"]) == [str(root / "one" / "same.png"), str(root / "two" / "same.jpg")]
    for detail in bad["detail"]:
        assert str(root / "one" / "same.png") in detail and str(root / "two" / "same.jpg") in detail
    with pytest.raises(BadInputError) as info:
        ingest_voc([root], policy="error")
    assert info.value.problem == "duplicate_id"


def test_duplicate_ids_across_roots(tmp_path):
    add_sample(tmp_path / "r1", "x")
    add_sample(tmp_path / "r2", "x")
    result = ingest_voc([tmp_path / "r1", tmp_path / "r2"])
    assert result.manifest.empty
    assert tuple(result.manifest.columns) == MANIFEST_COLUMNS
    assert len(result.bad_inputs) == 2


def test_error_policy_collects_everything_and_caps_the_list(tmp_path):
    root = tmp_path / "data"
    for i in range(23):
        add_sample(root, f"bad{i:02d}", labels=["A1", "Q9"])
    add_sample(root, "deg", labels=["A1"], boxes=[(5, 5, 5, 9)])
    add_sample(root, "ok")
    with pytest.raises(BadInputError) as info:
        ingest_voc([root], policy="error")
    err = info.value
    assert err.problem == "multiple_problems"
    assert "24 bad input(s)" in err.detail
    assert "... and 4 more" in err.detail
    assert str(root / "bad00.xml") in str(err)
    assert str(root) in err.path


def test_one_image_with_several_problems_lists_each(tmp_path):
    root = tmp_path / "data"
    add_sample(
        root, "multi", labels=["A1", "Z1", "A2"], boxes=[(1, 1, 5, 5), (1, 1, 5, 5), (9, 9, 2, 20)]
    )
    bad = ingest_voc([root]).bad_inputs
    assert sorted(bad["problem"]) == ["degenerate_box", "unknown_label"]


# --- roots ------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["skip", "error"])
def test_missing_root(tmp_path, policy):
    missing = tmp_path / "not" / "there"
    with pytest.raises(BadInputError) as info:
        ingest_voc([missing], policy=policy)
    assert info.value.problem == "not_found"
    assert str(missing) in str(info.value)
    assert "does not exist" in str(info.value)


def test_root_without_xml(tmp_path):
    root = tmp_path / "only_images"
    root.mkdir()
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(root / "a.png")
    with pytest.raises(BadInputError) as info:
        ingest_voc([root])
    assert info.value.problem == "no_annotations"
    assert str(root) in str(info.value)
    assert "Pascal VOC .xml" in str(info.value)


def test_bad_arguments(dataset):
    with pytest.raises(ValueError, match="policy"):
        ingest_voc([dataset], policy="ignore")
    with pytest.raises(ValueError, match="no dataset roots"):
        ingest_voc([])
    # A single path rather than a list still works.
    assert len(ingest_voc(str(dataset)).manifest) == 3


def _zip_folder(folder: Path, archive: Path, *, junk: bool = False) -> None:
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            zf.write(path, Path("dataset") / path.relative_to(folder))
        if junk:  # macOS archive junk must be ignored
            zf.writestr("__MACOSX/dataset/._a.xml", b"\x00\x05\x16\x07junk")
            zf.writestr("dataset/._a.png", b"\x00\x05\x16\x07junk")


def test_zip_input(tmp_path, dataset):
    archive = tmp_path / "input" / "set.zip"
    archive.parent.mkdir()
    _zip_folder(dataset, archive, junk=True)
    before = tree_state(archive.parent)
    extract = tmp_path / "work" / "extracted"

    result = ingest_voc([archive], extract_dir=extract)
    assert result.bad_inputs.empty, result.bad_inputs
    assert result.manifest["image_id"].tolist() == ["a", "b", "c"]
    assert all(Path(p).is_relative_to(extract) for p in result.manifest["image_path"])
    assert tree_state(archive.parent) == before  # the zip is never touched

    again = ingest_voc([archive], extract_dir=extract)
    pd.testing.assert_frame_equal(again.manifest, result.manifest)
    assert len(list(extract.iterdir())) == 1  # extraction reused, no leftovers

    with pytest.raises(ValueError, match="extract_dir"):
        ingest_voc([archive])


def test_bad_zip_and_other_files(tmp_path):
    archive = tmp_path / "broken.zip"
    archive.write_bytes(b"PK not really")
    with pytest.raises(BadInputError) as info:
        ingest_voc([archive], extract_dir=tmp_path / "x")
    assert info.value.problem == "unreadable_archive" and str(archive) in str(info.value)
    other = tmp_path / "list.txt"
    other.write_text("hi")
    with pytest.raises(BadInputError) as info:
        ingest_voc([other])
    assert info.value.problem == "unsupported_root"


# --- outputs, plain images, logging -----------------------------------------------------


def test_write_ingest_and_read_back(tmp_path):
    root = tmp_path / "data"
    add_sample(root, "0012")
    add_sample(root, "bad", labels=["clase25"])
    result = ingest_voc([root])
    out = tmp_path / "out"
    write_ingest(result, out / "manifest.csv", out / "ann.parquet", out / "bad.tsv")
    assert sorted(p.name for p in out.iterdir()) == ["ann.parquet", "bad.tsv", "manifest.csv"]
    manifest = read_manifest(out / "manifest.csv")
    pd.testing.assert_frame_equal(manifest, result.manifest)
    assert manifest["image_id"].tolist() == ["0012"]
    pd.testing.assert_frame_equal(pd.read_parquet(out / "ann.parquet"), result.annotations)
    bad = pd.read_csv(out / "bad.tsv", sep="\t")
    assert bad["problem"].tolist() == ["unknown_label"]

    (root / "bad.xml").unlink()
    clean = ingest_voc([root])
    assert clean.bad_inputs.empty
    write_ingest(clean, out / "manifest.csv", out / "ann.parquet", out / "bad.tsv")
    assert (out / "bad.tsv").read_text() == "\t".join(BAD_INPUT_COLUMNS) + "\n"


def test_ingest_images(tmp_path):
    root = tmp_path / "new"
    root.mkdir()
    for name in ("m2.TIF", "m1.png"):
        Image.fromarray(np.full((20, 30), 128, np.uint8)).save(root / name)
    write_png(root / "m1.mask.png", np.zeros((20, 30), np.uint16))
    write_png(root / "m1.karyogram.png", np.zeros((20, 30), np.uint8))
    (root / "broken.jpg").write_bytes(b"")
    (root / "notes.txt").write_text("not an image")
    before = tree_state(root)
    result = ingest_images([root])
    manifest = result.manifest
    assert tuple(manifest.columns) == MANIFEST_COLUMNS
    assert manifest["image_id"].tolist() == ["m1", "m2"]
    assert manifest["n_objects"].tolist() == [0, 0]
    assert manifest["karyotype"].tolist() == ["", ""]
    assert manifest["annotation_path"].tolist() == ["", ""]
    assert manifest.loc[0, "mask_path"] == str(root / "m1.mask.png")
    assert manifest["source"].tolist() == ["images", "images"]
    assert result.annotations.empty and tuple(result.annotations.columns) == ANNOTATION_COLUMNS
    assert result.bad_inputs["problem"].tolist() == ["empty_file"]
    assert tree_state(root) == before
    with pytest.raises(BadInputError):
        ingest_images([root], policy="error")

    (tmp_path / "none").mkdir()
    with pytest.raises(BadInputError) as info:
        ingest_images([tmp_path / "none"])
    assert info.value.problem == "no_images"


def test_progress_is_logged(tmp_path, caplog):
    root = tmp_path / "data"
    for i in range(25):
        add_sample(root, f"img{i:02d}", labels=["A1"])
    with caplog.at_level(logging.INFO, logger="karyoflow.data.ingest"):
        ingest_voc([root])
    progress = [r.getMessage() for r in caplog.records if r.getMessage().startswith("ingested")]
    assert progress[-1] == "ingested 25/25 images"
    assert 9 <= len(progress) <= 11


# --- real data --------------------------------------------------------------------------


def test_real_cil_dataset(real_data_dir, tmp_path):
    root = real_data_dir / "cil24_voc"
    result = ingest_voc([root], policy="error")
    manifest = result.manifest.set_index("image_id")
    assert list(manifest.index) == ["103064", "1050431"]
    assert manifest.loc["103064", "n_objects"] == 46
    assert manifest.loc["103064", "karyotype"] == "46,XY"
    assert (manifest.loc["103064", "width"], manifest.loc["103064", "height"]) == (524, 581)
    assert manifest.loc["1050431", "n_objects"] == 47
    assert manifest.loc["1050431", "karyotype"] == "47,XX,+18"
    assert set(manifest["notes"]) == {"RGB with equal channels read as grey"}
    ann = result.annotations
    assert (ann[ann["image_id"] == "1050431"]["class"] == "18").sum() == 3
    assert result.bad_inputs.empty


# --- Kaggle -----------------------------------------------------------------------------


def test_fetch_kaggle_without_credentials(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_CONFIG_DIR", "KAGGLE_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert not has_kaggle_credentials()
    dataset = "someone/chromosome-image-dataset-karyotype"
    with pytest.raises(RuntimeError) as info:
        fetch_kaggle(dataset, tmp_path / "dest")
    message = str(info.value)
    assert f"https://www.kaggle.com/datasets/{dataset}" in message
    assert "dataset: {source: voc, path: <the zip or folder>}" in message
    assert "credentials" in message
    assert not (tmp_path / "dest").exists()

    (tmp_path / ".kaggle").mkdir()
    (tmp_path / ".kaggle" / "kaggle.json").write_text('{"username": "u", "key": "k"}')
    assert has_kaggle_credentials()
    with pytest.raises(ValueError):
        fetch_kaggle("not a dataset", tmp_path / "dest")


def test_both_cil_layouts_parse_with_the_official_split(real_data_dir, tmp_path):
    """The shared subset's images/ + annotations/ layout, and the original set's
    24_chromosomes_object/JEPG + annotations with train.txt / test.txt, give the same
    manifest; the lists decide test, validation is carved from train."""
    from karyoflow.data.run import split

    subset = real_data_dir / "cil5000_train_subset"
    ids = sorted(subset.joinpath("ids.txt").read_text().split())[:6]
    original = tmp_path / "original"
    for folder in ("24_chromosomes_object/JEPG", "24_chromosomes_object/annotations"):
        (original / folder).mkdir(parents=True)
    shared = tmp_path / "shared_layout"
    for folder in ("images", "annotations"):
        (shared / folder).mkdir(parents=True)
    for image_id in ids:
        for src, dst_original, dst_shared in (
            (f"images/{image_id}.jpg", "24_chromosomes_object/JEPG", "images"),
            (f"annotations/{image_id}.xml", "24_chromosomes_object/annotations", "annotations"),
        ):
            data = (subset / src).read_bytes()
            (original / dst_original / Path(src).name).write_bytes(data)
            (shared / dst_shared / Path(src).name).write_bytes(data)
    (original / "test.txt").write_text("".join(f"{i}.jpg\n" for i in ids[:2]))
    (original / "train.txt").write_text("".join(f"{i}.jpg\n" for i in ids[2:]))

    manifests = []
    for root in (original, shared):
        result = ingest_voc([root], policy="error")
        assert set(result.bad_inputs["action"]) <= {"converted"}  # e.g. RGB made grey
        manifests.append(result.manifest.set_index("image_id"))
    first, second = manifests
    assert list(first.index) == list(second.index) == ids
    columns = ["n_objects", "karyotype", "width", "height", "sha256"]
    pd.testing.assert_frame_equal(first[columns], second[columns])
    assert first["karyotype"].str.match(r"^\d+,[XY]+").all()

    manifest_csv = tmp_path / "manifest.csv"
    first.reset_index().to_csv(manifest_csv, index=False)
    out = tmp_path / "splits.csv"
    split(
        str(manifest_csv),
        str(out),
        seed=0,
        test_fraction=0.25,
        val_fraction=0.15,
        test_list="test.txt",  # found under the dataset folder by name
        train_list="train.txt",
        roots=[str(original)],
    )
    splits = pd.read_csv(out, dtype={"image_id": str}).set_index("image_id")["split"]
    assert set(splits[splits == "test"].index) == set(ids[:2])
    assert (splits[ids[2:]] != "test").all() and (splits == "val").sum() == 1


def test_a_box_one_pixel_outside_is_clipped_not_refused(tmp_path):
    """Annotation tools round box edges outwards (the CIL set has boxes at -1): within
    BOX_SLACK_PX the box is clipped and the image kept, with a 'converted' row."""
    add_sample(tmp_path, "edge", labels=["A1", "A2"], boxes=[(-1, 1, 9, 9), (10, 10, W + 1, 20)])
    result = ingest_voc([tmp_path], policy="error")
    assert list(result.manifest["image_id"]) == ["edge"]
    boxes = result.annotations[["xmin", "ymin", "xmax", "ymax"]].values.tolist()
    assert boxes == [[0, 1, 9, 9], [10, 10, W, 20]]
    assert result.bad_inputs["problem"].tolist() == ["box_clipped", "box_clipped"]
    assert set(result.bad_inputs["action"]) == {"converted"}
