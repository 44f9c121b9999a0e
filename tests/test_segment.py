"""Segmentation: classical masks against synthetic truth, SAM's code path, bad boxes."""

import base64
import io
import json

import numpy as np
import pandas as pd
import pytest
from karyoflow.core.labelme import read_labelme
from karyoflow.core.masks import load_masks, save_masks
from karyoflow.data.synth import SynthParams, generate_shard
from karyoflow.segment import choose_method, segment_images
from karyoflow.segment.classical import segment_boxes
from karyoflow.segment.evaluate import (
    classical_segmenter,
    evaluate_prompted,
    labelme_truth,
    summarize,
    synthetic_truth,
)
from PIL import Image


@pytest.fixture(scope="module")
def synthetic_cells(tmp_path_factory):
    root = tmp_path_factory.mktemp("cells")
    params = SynthParams(width=512, height=512, chr1_length_px=75, width_px=12.5)
    generate_shard(root / "shard", range(3), seed=11, params=params, karyograms=False)
    return sorted((root / "shard").glob("*.truth.json"))


def truths(paths):
    for path in paths:
        image_id = path.name.removesuffix(".truth.json")
        yield synthetic_truth(str(path.with_name(f"{image_id}.png")), str(path), image_id)


def test_classical_masks_match_synthetic_truth(synthetic_cells):
    scores, crops = evaluate_prompted(truths(synthetic_cells), classical_segmenter())
    summary = summarize(scores, "classical")
    assert summary["n_images"] == 3 and summary["n_instances"] >= 3 * 45
    assert summary["by_kind"]["isolated"]["mean_iou"] >= 0.85
    assert summary["by_kind"]["isolated"]["frac_iou_ge_0.5"] >= 0.95
    assert crops[0][0] <= crops[-1][0]  # sorted worst first


def test_masks_stay_in_their_padded_box(synthetic_cells):
    truth = next(truths(synthetic_cells[:1]))
    masks, polarity = segment_boxes(truth.image, truth.boxes, pad=3)
    assert polarity == "dark" and len(masks) == len(truth.boxes)
    for mask, box in zip(masks, truth.boxes, strict=True):
        x0, y0, x1, y1 = mask.bbox()
        assert x0 >= box[0] - 3 and y0 >= box[1] - 3 and x1 <= box[2] + 3 and y1 <= box[3] + 3


def test_bright_chromosomes_on_dark_background(synthetic_cells):
    truth = next(truths(synthetic_cells[:1]))
    inverted = 255 - truth.image
    masks, polarity = segment_boxes(inverted, truth.boxes)
    dark, _ = segment_boxes(truth.image, truth.boxes)
    assert polarity == "bright"
    same = [a.area == b.area for a, b in zip(masks, dark, strict=True) if a and b]
    assert np.mean(same) > 0.9


def test_mask_files_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    windows = [
        (3, 5, rng.random((7, 9)) > 0.5),
        (0, 0, np.ones((1, 1), bool)),
        (10, 2, rng.random((13, 4)) > 0.3),
    ]
    save_masks(tmp_path / "m.npz", windows)
    back = load_masks(tmp_path / "m.npz")
    for (x0, y0, mask), (bx0, by0, bmask) in zip(windows, back, strict=True):
        assert (x0, y0) == (bx0, by0) and np.array_equal(mask, bmask)
    save_masks(tmp_path / "empty.npz", [])
    assert load_masks(tmp_path / "empty.npz") == []


def test_bad_boxes_are_listed_not_fatal(tmp_path, synthetic_cells):
    truth = next(truths(synthetic_cells[:1]))
    path = synthetic_cells[0].with_name(f"{truth.image_id}.png")
    boxes = pd.DataFrame(
        {
            "image_id": truth.image_id,
            "box_index": [0, 1, 2],
            "class": "chromosome",
            "confidence": 0.9,
            "xmin": [truth.boxes[0][0], 600.0, 2.0],
            "ymin": [truth.boxes[0][1], 600.0, 2.0],
            "xmax": [truth.boxes[0][2], 700.0, 6.0],
            "ymax": [truth.boxes[0][3], 700.0, 6.0],
        }
    )
    images = pd.DataFrame({"image_id": [truth.image_id], "image_path": [str(path)]})
    instances, issues = segment_images(images, boxes, tmp_path / "masks")
    assert len(instances) == 1 and instances["box_index"].tolist() == [0]
    assert sorted(issues["problem"]) == ["box_outside_image", "empty_mask"]
    assert len(load_masks(instances["mask_file"].iloc[0])) == 1


def _labelme(tmp_path, image, polygons):
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    data = {
        "imageData": base64.b64encode(buffer.getvalue()).decode(),
        "imagePath": "x.png",
        "shapes": [{"label": "chr", "points": p, "shape_type": "polygon"} for p in polygons],
    }
    path = tmp_path / "cell.json"
    path.write_text(json.dumps(data))
    return path


def test_labelme_polygons_become_masks_boxes_and_kinds(tmp_path):
    image = np.full((60, 80), 20, np.uint8)
    image[10:30, 10:20] = 200
    polygons = [
        [[10, 10], [19, 10], [19, 29], [10, 29]],
        [[40, 10], [49, 10], [49, 29], [40, 29]],
        [[45, 20], [60, 20], [60, 40], [45, 40]],
    ]
    path = _labelme(tmp_path, image, polygons)
    annotated = read_labelme(path)
    assert annotated.image.shape == (60, 80) and annotated.boxes()[0].tolist() == [10, 10, 20, 30]
    assert annotated.masks()[0].sum() == 10 * 20
    assert labelme_truth(path).kinds == ["isolated", "overlapping", "overlapping"]


def test_auto_picks_sam_only_when_its_weights_exist(tmp_path):
    assert choose_method("auto", "") == "classical"
    assert choose_method("auto", str(tmp_path / "mobile_sam.pt")) == "classical"
    (tmp_path / "mobile_sam.pt").write_bytes(b"x")
    assert choose_method("auto", str(tmp_path / "mobile_sam.pt")) == "sam"
    with pytest.raises(ValueError):
        choose_method("watershed", "")


@pytest.mark.slow
def test_sam_path_with_an_untrained_mobile_sam(tmp_path, synthetic_cells):
    """The real SAM code path (Ultralytics' predictor), on weights built here: no download."""
    import torch
    from karyoflow.detect.runtime import offline_environment
    from karyoflow.segment.sam import check_sam_weights, load_sam

    offline_environment(tmp_path / "ultralytics")
    from ultralytics.models.sam.build import build_mobile_sam

    weights = tmp_path / "mobile_sam.pt"
    torch.manual_seed(0)
    torch.save(build_mobile_sam().state_dict(), weights)
    renamed = tmp_path / "my_sam.pt"
    renamed.write_bytes(b"x")
    with pytest.raises(ValueError, match="canonical"):
        check_sam_weights(renamed)
    with pytest.raises(FileNotFoundError):
        check_sam_weights(tmp_path / "sam_b.pt")

    predictor = load_sam(weights, imgsz=256)
    truth = next(truths(synthetic_cells[:1]))
    path = synthetic_cells[0].with_name(f"{truth.image_id}.png")
    boxes = pd.DataFrame(
        {
            "image_id": truth.image_id,
            "box_index": range(5),
            "class": "chromosome",
            "confidence": 0.9,
            **{k: truth.boxes[:5, i] for i, k in enumerate(["xmin", "ymin", "xmax", "ymax"])},
        }
    )
    images = pd.DataFrame({"image_id": [truth.image_id], "image_path": [str(path)]})
    instances, issues = segment_images(
        images, boxes, tmp_path / "masks", method="sam", sam_predictor=predictor
    )
    # untrained, its masks are noise: every prompt still gets its own, in prompt order,
    # and masks that spill far out of their box are cut back and listed
    n_empty = int((issues["problem"] == "empty_mask").sum())
    assert len(instances) + n_empty == 5
    assert instances["box_index"].is_monotonic_increasing
    assert (instances["method"] == "sam").all()
    cut = issues.loc[issues["problem"] == "mask_far_larger_than_box", "instance_id"]
    for row in instances[instances["instance_id"].isin(cut)].itertuples():
        assert row.xmin >= row.box_xmin - 3 and row.xmax <= row.box_xmax + 4


def test_label_map_instances_and_kinds(tmp_path):
    from karyoflow.segment.evaluate import iter_labelmaps

    labels = np.zeros((60, 80), np.uint8)
    labels[5:25, 5:12] = 1  # isolated
    labels[5:25, 40:47] = 1  # the homologue: a second instance of class 1
    labels[30:50, 40:47] = 2
    labels[30:50, 47:54] = 3  # touches class 2
    labels[52:58, 5:30] = 4
    labels[52:58, 30:34] = 255  # crossing of 4 and 5
    labels[45:58, 34:38] = 5
    labels[2:4, 70:72] = 7  # 4 px of noise: not an instance
    image = np.where(labels > 0, 200, 10).astype(np.uint8)
    (tmp_path / "case").mkdir()
    Image.fromarray(image).save(tmp_path / "case" / "cellD.png")
    Image.fromarray(labels).save(tmp_path / "case" / "cellK.png")
    (truth,) = list(iter_labelmaps(tmp_path))
    assert truth.image_id == "cell" and len(truth.masks) == 6
    assert truth.kinds.count("isolated") == 2 and truth.kinds.count("touching") == 2
    assert truth.kinds.count("overlapping") == 2
    crossing = [m for m, k in zip(truth.masks, truth.kinds, strict=True) if k == "overlapping"]
    assert all(m[55, 31] for m in crossing)  # the overlap belongs to both
    assert truth.boxes[0].tolist() == [5, 5, 12, 25]


@pytest.mark.slow
def test_real_mfish_label_maps_score(real_data_dir):
    from itertools import islice

    from karyoflow.segment.evaluate import iter_labelmaps

    truths = islice(iter_labelmaps(real_data_dir / "mfish_dapi"), 2)
    scores, _ = evaluate_prompted(truths, classical_segmenter())
    summary = summarize(scores, "classical")
    assert summary["n_images"] == 2 and summary["n_instances"] > 60
    assert summary["mean_iou"] > 0.5


def test_segmentation_takes_the_polarity_detection_chose(tmp_path):
    """Thin bright chromosomes in boxes that are mostly dark background fool a guess from
    the boxes; the polarity detection found its boxes in is taken instead."""
    image = np.full((120, 200), 20, np.uint8)
    boxes = []
    for k in range(4):
        x = 20 + 45 * k
        image[30:90, x : x + 3] = 220  # thin: the box around it is mostly background
        boxes.append((x - 12.0, 20.0, x + 15.0, 100.0))
    Image.fromarray(image).save(tmp_path / "q.png")
    images = pd.DataFrame({"image_id": ["q"], "image_path": [str(tmp_path / "q.png")]})
    table = pd.DataFrame(boxes, columns=["xmin", "ymin", "xmax", "ymax"]).assign(
        image_id="q", box_index=range(4), **{"class": "chromosome"}, confidence=0.9
    )
    guessed, _ = segment_images(images, table, tmp_path / "guessed")
    assert set(guessed["polarity"]) == {"dark"}  # the guess from the boxes alone is wrong
    taken, _ = segment_images(images, table.assign(polarity="bright"), tmp_path / "taken")
    assert set(taken["polarity"]) == {"bright"} and len(taken) == 4
    # each mask is its bar (3 x 60 px), widened a little by the smoothing
    assert taken["area"].between(150, 400).all()


def test_a_touching_pair_in_two_boxes_comes_out_as_two_masks():
    """Two bars side by side, touching along their length, each in its detected box
    (the boxes overlap): two masks, each about its own bar, sharing no pixel."""
    image = np.full((80, 60), 225, np.uint8)
    image[10:60, 20:28] = 70
    image[15:62, 28:36] = 95
    boxes = np.array([(18, 8, 30, 62), (26, 13, 38, 64)], float)
    (left, right), polarity = segment_boxes(image, boxes)
    assert polarity == "dark"
    a, b = left.full(image.shape), right.full(image.shape)
    assert not (a & b).any()
    # each holds its bar's core; the cut between them lies within 2 px of the true edge
    assert a[10:60, 21:26].mean() > 0.9 and b[15:62, 31:35].mean() > 0.9
    assert a[:, 31:].sum() == 0 and b[:, :26].sum() == 0


def test_a_crossing_pair_comes_out_as_two_whole_masks_sharing_the_crossing():
    """Two bars crossing like a plus sign, each in its own box: two masks, each its whole
    bar (not the larger half the crossing cuts it into), both holding the crossing."""
    image = np.full((90, 90), 225, np.uint8)
    image[10:80, 40:48] = 80  # upright bar
    image[40:48, 12:78] = 80  # lying bar over it
    boxes = np.array([(38, 8, 50, 82), (10, 38, 80, 50)], float)
    (upright, lying), _ = segment_boxes(image, boxes)
    a, b = upright.full(image.shape), lying.full(image.shape)
    crossing = np.zeros(image.shape, bool)
    crossing[41:47, 41:47] = True
    assert a[crossing].all() and b[crossing].all()
    # each holds both ends of its own bar, and not the other bar's arms
    assert a[12:38, 41:47].mean() > 0.9 and a[50:78, 41:47].mean() > 0.9
    assert b[41:47, 14:38].mean() > 0.9 and b[41:47, 50:76].mean() > 0.9
    assert a[:, :36].sum() == 0 and a[:, 52:].sum() == 0
    assert b[:36, :].sum() == 0 and b[52:, :].sum() == 0


def test_labelme_folder_becomes_an_image_set_and_bad_files_are_listed(tmp_path):
    from karyoflow.core.errors import BadInputError
    from karyoflow.data.ingest import read_manifest
    from karyoflow.data.labelme import ingest_labelme

    image = np.full((60, 80), 20, np.uint8)
    image[10:30, 10:20] = 200
    good = _labelme(tmp_path, image, [[[10, 10], [19, 10], [19, 29], [10, 29]]])
    folder = tmp_path / "set"
    (folder / "sub").mkdir(parents=True)
    good.rename(folder / "cell.json")
    (folder / "broken.json").write_text("{not json")
    (folder / "sub" / "cell.json").write_text((folder / "cell.json").read_text())
    result = ingest_labelme(folder, tmp_path / "images")
    assert list(result.manifest["image_id"]) == ["cell"]
    written = np.asarray(Image.open(result.manifest["image_path"].iloc[0]))
    assert (written == image).all()  # the embedded pixels, losslessly
    assert result.annotations[["xmin", "ymin", "xmax", "ymax"]].iloc[0].tolist() == [10, 10, 20, 30]
    assert sorted(result.bad_inputs["problem"]) == ["duplicate_id", "malformed_labelme"]
    result.manifest.to_csv(tmp_path / "manifest.csv", index=False)
    assert read_manifest(tmp_path / "manifest.csv")["source"].iloc[0] == "labelme"
    with pytest.raises(BadInputError, match="2 bad input"):
        ingest_labelme(folder, tmp_path / "images", policy="error")


def _truth(masks, kinds):
    from karyoflow.segment.evaluate import TruthImage

    return TruthImage("cell", np.zeros(masks[0].shape, np.uint8), np.zeros((0, 4)), masks, kinds)


def test_a_mask_over_two_chromosomes_matches_one_and_debris_matches_none():
    from karyoflow.segment.evaluate import score_instances, summarize_instances

    left, right = np.zeros((40, 60), bool), np.zeros((40, 60), bool)
    left[5:35, 10:20] = True
    right[5:35, 20:30] = True  # touching the left one
    truth = _truth([left, right], ["touching", "touching"])
    merged = (10, 5, np.ones((30, 20), bool))  # (x0, y0, window) over both: IoU 0.5 each
    debris = (50, 2, np.ones((3, 3), bool))
    row, rows = score_instances(truth, [merged, debris])
    assert row[1:4] == (2, 2, 1) and sum(r[3] for r in rows) == 1
    exact = [(10, 5, left[5:35, 10:20]), (20, 5, right[5:35, 20:30]), debris]
    row_exact, rows_exact = score_instances(truth, exact)
    assert row_exact[1:4] == (2, 3, 2) and all(r[3] for r in rows_exact)
    # a mask a little wider than the left chromosome still matches it, only it
    wide = (8, 5, np.ones((30, 14), bool))
    row_wide, rows_wide = score_instances(truth, [wide])
    assert [r[3] for r in rows_wide] == [True, False]
    images = pd.DataFrame(
        [row, row_exact, row_wide],
        columns=["image_id", "n_annotated", "n_found", "n_matched", "mean_matched_iou"],
    )
    instances = pd.DataFrame(
        rows + rows_exact + rows_wide, columns=["image_id", "instance", "kind", "matched", "iou"]
    )
    summary = summarize_instances(images, instances)
    assert summary["n_matched"] == 4 and summary["n_found"] == 6 and summary["n_annotated"] == 6
    assert summary["precision"] == summary["recall"] == summary["f1"] == round(4 / 6, 4)
    assert summary["by_kind"]["touching"] == {"annotated": 6, "matched": 4, "recall": 0.6667}
    assert summary["count"]["exact_rate"] == round(1 / 3, 4)
    assert summary["count"]["error_histogram"] == {-1: 1, 0: 1, 1: 1}


def test_window_iou_clips_windows_at_the_image_edge():
    from karyoflow.core.masks import window_iou

    truth = np.zeros((20, 20), bool)
    truth[15:20, 15:20] = True
    window = (15, 15, np.ones((8, 8), bool))  # runs 3 px past the right and bottom edges
    iou = window_iou([window], [truth])
    assert iou.shape == (1, 1) and iou[0, 0] == pytest.approx(25 / 64)
