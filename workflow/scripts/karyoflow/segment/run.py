"""File-level entry points of the segmentation rules (tables in, tables and masks out)."""

from __future__ import annotations

import logging

import pandas as pd

from karyoflow.core.tables import write_csv, write_json, write_parquet
from karyoflow.segment import choose_method, segment_images
from karyoflow.segment.evaluate import (
    classical_segmenter,
    evaluate_prompted,
    iter_labelmaps,
    iter_labelme,
    iter_synthetic,
    sam_segmenter,
    summarize,
)

log = logging.getLogger(__name__)


def _predictor(method: str, sam_weights: str, sam_imgsz: int, device: str, settings_dir: str):
    if method != "sam":
        return None
    from karyoflow.detect.runtime import offline_environment, pick_device
    from karyoflow.segment.sam import load_sam

    offline_environment(settings_dir)
    return load_sam(sam_weights, device=pick_device(device), imgsz=sam_imgsz)


def segment_shard(
    images_csv: str,
    boxes_parquet: str,
    instances_out: str,
    issues_out: str,
    masks_dir: str,
    *,
    shard: int,
    n_shards: int,
    settings: dict,
    confidence: float,
    settings_dir: str,
    policy: str = "skip",
) -> pd.DataFrame:
    """Rule segment: the boxes at or above `confidence` of one shard of images."""
    from karyoflow.core.shards import shard_of

    method = choose_method(settings["method"], settings["sam_weights"])
    log.info("segmentation method: %s (configured %s)", method, settings["method"])
    images = shard_of(pd.read_csv(images_csv, dtype={"image_id": str}), shard, n_shards)
    boxes = pd.read_parquet(boxes_parquet)
    boxes = boxes[(boxes["confidence"] >= confidence) & boxes["image_id"].isin(images["image_id"])]
    predictor = _predictor(
        method, settings["sam_weights"], settings["sam_imgsz"], settings["device"], settings_dir
    )
    instances, issues = segment_images(
        images,
        boxes,
        masks_dir,
        method=method,
        sam_predictor=predictor,
        polarity=settings["polarity"],
        policy=policy,
    )
    write_parquet(instances, instances_out)
    write_csv(issues, issues_out, sep="\t")
    log.info("%d instances in %d images; %d issue(s)", len(instances), len(images), len(issues))
    return instances


def _evaluate(truths, settings: dict, settings_dir: str, label: str):
    method = choose_method(settings["method"], settings["sam_weights"])
    if method == "sam":
        predictor = _predictor(
            method, settings["sam_weights"], settings["sam_imgsz"], settings["device"], settings_dir
        )
        segmenter = sam_segmenter(predictor)
    else:
        segmenter = classical_segmenter(settings["polarity"])
    scores, crops = evaluate_prompted(truths, segmenter)
    summary = summarize(scores, method)
    summary["images"] = label
    log.info(
        "%s, %s: mean IoU %.4f over %d instances in %d images (isolated %s)",
        label,
        method,
        summary["mean_iou"] or 0,
        summary["n_instances"],
        summary["n_images"],
        summary["by_kind"]["isolated"]["mean_iou"],
    )
    return scores, crops, summary


def evaluate_segmentation(
    manifest: str,
    splits: str,
    metrics_json: str,
    scores_csv: str,
    scores_png: str,
    gallery_png: str,
    *,
    settings: dict,
    settings_dir: str,
    split: str = "test",
) -> dict:
    """Rule evaluate_segmentation: the images of one split that carry truth files."""
    from karyoflow.data.ingest import read_manifest
    from karyoflow.segment import plots

    table = read_manifest(manifest)
    chosen = pd.read_csv(splits, dtype={"image_id": str})
    table = table[table["image_id"].isin(chosen.loc[chosen["split"] == split, "image_id"])]
    label = f"{split} split"
    if not (table["truth_path"] != "").any():
        # a dataset without masks (e.g. VOC boxes only): say so instead of inventing numbers
        record = {
            "method": settings["method"],
            "images": label,
            "n_images": 0,
            "n_instances": 0,
            "mean_iou": None,
            "note": "no mask ground truth in this dataset (truth files are synthetic only)",
        }
        write_json(record, metrics_json)
        write_csv(pd.DataFrame(columns=["image_id", "instance", "kind", "iou"]), scores_csv)
        plots.segmentation_scores(pd.DataFrame({"kind": [], "iou": []}), scores_png, label)
        plots.segmentation_gallery([], gallery_png, label)
        return record
    scores, crops, summary = _evaluate(iter_synthetic(table), settings, settings_dir, label)
    write_json(summary, metrics_json)
    write_csv(scores.round(4), scores_csv)
    title = f"Segmentation ({summary['method']}), {label}, truth boxes as prompts"
    plots.segmentation_scores(scores, scores_png, title)
    plots.segmentation_gallery(crops, gallery_png, title)
    return summary


def evaluate_external_folder(
    folder: str, metrics_json: str, *, annotation: str, settings: dict, settings_dir: str
) -> dict:
    """Rules evaluate_external_segmentation*: a folder of LabelMe JSON (`annotation`
    labelme) or of image / label-map pairs (labelmaps); truth boxes are the prompts."""
    readers = {"labelme": iter_labelme, "labelmaps": iter_labelmaps}
    if annotation not in readers:
        raise ValueError(f"annotation must be one of {sorted(readers)}, got {annotation!r}")
    _, _, summary = _evaluate(
        readers[annotation](folder), settings, settings_dir, f"{annotation} folder {folder}"
    )
    write_json(summary, metrics_json)
    return summary
