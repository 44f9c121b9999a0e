"""Crops keep relative length within a cell and put the chromosome bright on black."""

import numpy as np
import pandas as pd
import pytest
from karyoflow.core.images import write_png
from karyoflow.core.masks import load_masks, save_masks
from karyoflow.crops.canvas import cell_scale, load_crops, mask_length, to_canvas
from karyoflow.crops.extract import extract_crops


def bar(length, width=8):
    mask = np.zeros((length + 4, width + 4), bool)
    mask[2 : 2 + length, 2 : 2 + width] = True
    return mask


def canvas_length(canvas):
    ys = np.nonzero(canvas.any(axis=1))[0]
    return ys.max() - ys.min() + 1


def test_mask_length_of_a_bar_and_a_diagonal():
    assert mask_length(bar(40)) == pytest.approx(40, abs=1)
    diagonal = np.eye(30, dtype=bool) | np.eye(30, k=1, dtype=bool)
    assert mask_length(diagonal) == pytest.approx(30 * np.sqrt(2), rel=0.08)


def test_to_canvas_inverts_dark_chromosomes_and_blanks_the_background():
    grey = np.full((20, 10), 230, np.uint8)
    grey[5:15, 3:7] = 40
    mask = grey < 100
    canvas, shrunk = to_canvas(grey, mask, 1.0, 32, "dark")
    assert not shrunk and canvas.max() == 215 and (canvas > 0).sum() == mask.sum()
    bright, _ = to_canvas(255 - grey, mask, 1.0, 32, "bright")
    assert np.array_equal(canvas, bright)


def one_cell(tmp_path, name="cell"):
    """A long (class 1) and a short (class 21) bar in one image, segmented and annotated."""
    long, short = bar(60), bar(20)
    grey = np.full((100, 100), 220, np.uint8)
    windows = [(5, 5, long), (40, 5, short)]
    for x0, y0, mask in windows:
        grey[y0 : y0 + mask.shape[0], x0 : x0 + mask.shape[1]][mask] = 50
    write_png(tmp_path / f"{name}.png", grey)
    save_masks(tmp_path / f"{name}.npz", windows)
    instances = pd.DataFrame(
        {
            "image_id": name,
            "instance_id": [0, 1],
            "mask_file": str(tmp_path / f"{name}.npz"),
            "polarity": "dark",
            "det_class": "chromosome",
            "det_confidence": 0.9,
            "mask_score": 1.0,
            "box_xmin": [6.5, 41.5],
            "box_ymin": [6.5, 6.5],
            "box_xmax": [15.5, 50.5],
            "box_ymax": [67.5, 27.5],
            "xmin": [7, 42],
            "ymin": [7, 7],
            "xmax": [15, 50],
            "ymax": [67, 27],
        }
    )
    images = pd.DataFrame({"image_id": [name], "image_path": [str(tmp_path / f"{name}.png")]})
    annotations = pd.DataFrame(
        {
            "image_id": name,
            "object_index": [0, 1],
            "class": ["1", "21"],
            "xmin": [7, 42],
            "ymin": [7, 7],
            "xmax": [15, 50],
            "ymax": [67, 27],
        }
    )
    return long, short, instances, images, annotations


def test_relative_length_survives_within_a_cell(tmp_path):
    long, short, instances, images, annotations = one_cell(tmp_path)
    splits = pd.DataFrame({"image_id": ["cell"], "split": ["test"]})
    table = extract_crops(
        instances, images, tmp_path / "crops.npz", side=48, annotations=annotations, splits=splits
    )
    canvas, raw = load_crops(tmp_path / "crops.npz")
    assert canvas.shape == (2, 48, 48) and len(raw) == 2
    assert table["true_class"].tolist() == ["1", "21"] and set(table["split"]) == {"test"}
    assert table["truth_index"].tolist() == [0, 1]
    ratio = canvas_length(canvas[0]) / canvas_length(canvas[1])
    assert ratio == pytest.approx(3.0, rel=0.08)  # 60 / 20, not 1 as a resize-to-fit gives
    assert table["cell_scale"].nunique() == 1 and not table["shrunk_to_fit"].any()
    assert np.array_equal(raw[1][1], short[2:22, 2:10])


def test_cell_scale_uses_the_long_chromosomes():
    assert cell_scale(np.array([100.0] * 5 + [10.0] * 40), 90, 0.9) == pytest.approx(0.81)
    assert cell_scale(np.array([]), 90, 0.9) == 1.0


def _crop_tree(root):
    from PIL import Image

    rng = np.random.default_rng(1)
    for cell in ("90000001.1", "90000001.2", "90000002.1"):
        for k, length in ((1, 60), (21, 18), (23, 40), (25, 20)):
            folder = root / f"{cell}.tiff" / f"clase{k}"
            folder.mkdir(parents=True, exist_ok=True)
            for copy in (0, 1):
                grey = np.full((length + 6, 16), 255, np.uint8)
                grey[3:-3, 4:12] = rng.integers(20, 120, size=(length, 8))
                Image.fromarray(grey).save(folder / f"clase{k}_{copy}_{cell}.tiff")
    (root / "README.txt").write_text("not an image")
    (root / "stray.png").write_bytes(b"")


def test_import_crop_folder_counts_classes_and_lists_strays(tmp_path):
    from karyoflow.crops.imports import import_crop_folder

    _crop_tree(tmp_path / "set")
    table, bad = import_crop_folder(tmp_path / "set", tmp_path / "imported.npz", side=64)
    assert table.groupby("true_class").size().to_dict() == {"1": 6, "21": 6, "X": 6}
    assert set(table["case_id"]) == {"90000001", "90000002"} and table["image_id"].nunique() == 3
    problems = bad["problem"].value_counts().to_dict()
    assert problems == {"unknown_label": 6, "no_match": 1}
    one = table[(table["image_id"] == "90000001.1") & (table["true_class"] == "1")]
    short = table[(table["image_id"] == "90000001.1") & (table["true_class"] == "21")]
    assert one["length_px"].iloc[0] == pytest.approx(60, abs=1.5)
    assert short["length_px"].iloc[0] == pytest.approx(18, abs=1.5)
    canvas, _ = load_crops(tmp_path / "imported.npz")
    ratio = canvas_length(canvas[one["crop_index"].iloc[0]]) / canvas_length(
        canvas[short["crop_index"].iloc[0]]
    )
    assert ratio == pytest.approx(60 / 18, rel=0.1)


def test_crop_pattern_needs_class_and_cell(tmp_path):
    from karyoflow.core.crop_files import find_crop_files

    _crop_tree(tmp_path / "set")
    with pytest.raises(ValueError, match="cell"):
        find_crop_files(tmp_path / "set", r"clase(?P<class>\d+)")


@pytest.mark.slow
def test_real_gband612_layout_imports(tmp_path, real_data_dir):
    from karyoflow.crops.imports import import_crop_folder

    table, bad = import_crop_folder(real_data_dir / "gband612_crops", tmp_path / "g.npz")
    counts = table.groupby("true_class").size()
    assert len(counts) == 24 and counts.drop(["X", "Y"]).min() > 600
    assert table["image_id"].str.contains(".", regex=False).all()
    assert (table["case_id"] == table["image_id"].str.split(".").str[0]).all()
    assert bad["problem"].tolist() == ["unknown_label"] and "clase25" in bad["path"].iloc[0]


def test_karyogram_export_maps_alphabetical_ids_through_names(tmp_path):
    from karyoflow.crops.imports import import_karyogram_folder
    from PIL import Image

    root = tmp_path / "export"
    names = sorted([str(i) for i in range(1, 23)] + ["X", "Y"])  # '1', '10', '11', ...
    (root / "train" / "images").mkdir(parents=True)
    (root / "train" / "labels").mkdir(parents=True)
    (root / "data.yaml").write_text(f"nc: 24\nnames: {names}\n")
    image = np.zeros((100, 100), np.uint8)  # bright chromosomes on black, as in that set
    image[10:50, 10:16] = 200  # id 0 -> '1'
    image[10:30, 60:66] = 180  # id 1 -> '10'
    image[70:80, 80:84] = 190  # id 22 -> 'X'
    for copy in ("a1", "b2"):  # two augmented copies of one source karyogram
        Image.fromarray(image).convert("RGB").save(
            root / "train" / "images" / f"karyotype-7_bmp_jpg.rf.{copy}.jpg"
        )
        (root / "train" / "labels" / f"karyotype-7_bmp_jpg.rf.{copy}.txt").write_text(
            "0 0.13 0.30 0.10 0.44\n1 0.63 0.20 0.10 0.24\n22 0.82 0.75 0.08 0.14\n30 0.5 0.5 0.1 0.1\n"
        )
    table, bad = import_karyogram_folder(root, tmp_path / "k.npz", side=64)
    assert table.groupby("true_class").size().to_dict() == {"1": 2, "10": 2, "X": 2}
    assert set(table["image_id"]) == {"karyotype-7_bmp_jpg"}
    assert (bad["problem"] == "unknown_label").sum() == 2  # id 30 is beyond the 24 names
    one = table[table["true_class"] == "1"].iloc[0]
    assert one["length_px"] == pytest.approx(40, abs=2)
    canvas, _ = load_crops(tmp_path / "k.npz")
    assert canvas[int(one["crop_index"])].max() > 150  # bright on black, not inverted


@pytest.mark.slow
def test_real_karyogram_export_imports(tmp_path, real_data_dir):
    from karyoflow.crops.imports import import_karyogram_folder

    table, bad = import_karyogram_folder(real_data_dir / "karyogram_yolo", tmp_path / "k.npz")
    counts = table.groupby("true_class").size()
    assert len(counts) == 24 and counts.drop(["X", "Y"]).min() > 900
    assert table["image_id"].nunique() < 518  # augmented copies fold into their source
    assert len(bad) < 0.01 * len(table)


def crops_with_a_duplicate(tmp_path, out_npz, duplicate_first=False) -> pd.DataFrame:
    """The one-cell crops with a second, slightly shorter box over the long chromosome."""
    _, _, instances, images, annotations = one_cell(tmp_path)
    duplicate = instances.iloc[[0]].assign(instance_id=0, box_ymin=8, box_ymax=66)
    parts = [duplicate, instances] if duplicate_first else [instances, duplicate]
    return extract_crops(
        pd.concat(parts, ignore_index=True), images, out_npz, side=48, annotations=annotations
    )


def test_a_duplicate_detection_does_not_take_a_second_truth(tmp_path):
    """Two instances over the long chromosome: only one is class 1; the other has no
    truth, so a crop table never counts one chromosome twice."""
    table = crops_with_a_duplicate(tmp_path, tmp_path / "crops.npz")
    assert sorted(table["true_class"]) == ["", "1", "21"]
    assert sorted(table["truth_index"]) == [-1, 0, 1]


def test_an_object_keeps_the_detectors_box_when_its_mask_is_short(tmp_path):
    """The mask caught only the top third of the long chromosome (a pale lower part):
    the object still is where the detector boxed it, so it keeps its truth and the crop
    table (hence chromosomes.tsv) reports the detector's box, not the mask's."""
    _, _, instances, images, annotations = one_cell(tmp_path)
    masks = load_masks(instances["mask_file"].iloc[0])
    x0, y0, long = masks[0]
    save_masks(instances["mask_file"].iloc[0], [(x0, y0, long[:22]), masks[1]])
    instances.loc[0, "ymax"] = 27  # the short mask's tight box: IoU 1/3 with the truth
    table = extract_crops(
        instances, images, tmp_path / "crops.npz", side=48, annotations=annotations
    )
    assert table["true_class"].tolist() == ["1", "21"]
    first = table.iloc[0]
    assert (first.xmin, first.ymin, first.xmax, first.ymax) == (6.5, 6.5, 15.5, 67.5)


def test_crop_shards_merge_into_one_crop_set(tmp_path):
    from karyoflow.crops.extract import extract_crops_files, merge_crops_files

    files = []
    for shard, name in enumerate(("cell_a", "cell_b")):
        _, _, instances, images, annotations = one_cell(tmp_path, name)
        paths = {k: tmp_path / f"{k}_{shard}" for k in ("inst", "img", "ann")}
        instances.to_parquet(paths["inst"])
        images.to_csv(paths["img"], index=False)
        annotations.to_parquet(paths["ann"])
        out = (str(tmp_path / f"crops_{shard}.parquet"), str(tmp_path / f"crops_{shard}.npz"))
        extract_crops_files(*map(str, paths.values()), *out, side=48, fill=0.9)
        files.append(out)
    merged = merge_crops_files(
        [f[0] for f in files],
        [f[1] for f in files],
        str(tmp_path / "crops.parquet"),
        str(tmp_path / "crops.npz"),
        str(tmp_path / "gallery.png"),
    )
    canvas, raw = load_crops(tmp_path / "crops.npz")
    assert merged["image_id"].tolist() == ["cell_a", "cell_a", "cell_b", "cell_b"]
    assert merged["crop_index"].tolist() == [0, 1, 2, 3] and len(raw) == 4
    assert set(merged["crop_file"]) == {str(tmp_path / "crops.npz")}
    first, _ = load_crops(files[1][1])
    assert np.array_equal(canvas[2:], first)  # the second shard's crops follow the first's
    assert (tmp_path / "gallery.png").stat().st_size > 1000


def test_detected_crops_keep_only_those_matched_to_an_annotated_box(tmp_path):
    """A classifier learning from the chain's own crops learns only from crops whose class
    is known: a duplicate detection with no truth of its own stays out, and each kept
    crop's canvas is its own, not its neighbour's."""
    from karyoflow.crops.extract import detected_crops_files

    shard = crops_with_a_duplicate(tmp_path, tmp_path / "shard.npz", duplicate_first=True)
    shard.to_parquet(tmp_path / "shard.parquet")
    table = detected_crops_files(
        [str(tmp_path / "shard.parquet")],
        [str(tmp_path / "shard.npz")],
        str(tmp_path / "crops.parquet"),
        str(tmp_path / "crops.npz"),
    )
    assert table["true_class"].tolist() == ["1", "21"]
    assert table["crop_index"].tolist() == [0, 1]
    kept, _ = load_crops(tmp_path / "crops.npz")
    every, _ = load_crops(tmp_path / "shard.npz")
    matched = shard.index[shard["true_class"] != ""].tolist()
    assert np.array_equal(kept, every[matched])


def test_annotated_boxes_give_truth_crops_and_a_touching_pair_stays_two(tmp_path):
    from karyoflow.crops.extract import truth_crop_cells

    grey = np.full((80, 80), 225, np.uint8)
    grey[10:60, 10:20] = 40  # class 1, a long bar
    grey[10:40, 20:30] = 90  # class 21 touching it along its whole side
    write_png(tmp_path / "voc.png", grey)
    manifest = pd.DataFrame(
        {"image_id": ["voc"], "image_path": [str(tmp_path / "voc.png")], "truth_path": [None]}
    )
    annotations = pd.DataFrame(
        {
            "image_id": "voc",
            "class": ["1", "21"],
            "xmin": [9, 20],
            "ymin": [9, 9],
            "xmax": [20, 31],
            "ymax": [61, 41],
        }
    )
    cells = truth_crop_cells(manifest, annotations)
    (_, label_1, window_1, mask_1, polarity), (_, label_21, window_21, mask_21, _) = cells["voc"]
    assert (label_1, label_21, polarity) == ("1", "21", "dark")
    # each mask holds its own bar whole, and at most a sliver of the other
    assert (window_1[mask_1] == 40).sum() >= 0.95 * 500
    assert (window_1[mask_1] == 90).sum() <= 0.1 * 300
    assert (window_21[mask_21] == 90).sum() >= 0.9 * 300
    assert (window_21[mask_21] == 40).sum() <= 0.1 * 500
    with pytest.raises(ValueError, match="labelled boxes"):
        truth_crop_cells(manifest, annotations.iloc[0:0])
