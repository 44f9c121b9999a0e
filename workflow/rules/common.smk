# Helpers shared by the rule files: paths, input functions and config checks.

import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.current_basedir).parent / "scripts"))

from karyoflow.config import check_config  # noqa: E402

RESULTS = "results"

check_config(config)


def result(*parts):
    """A path under the results folder."""
    return str(Path(RESULTS, *parts))


# ---- dataset -------------------------------------------------------------------------


def synthetic_shards():
    n = config["synthetic"]["n_images"]
    per = config["synthetic"]["images_per_shard"]
    return [f"{i:03d}" for i in range((n + per - 1) // per)]


def shard_indices(wildcards):
    per = config["synthetic"]["images_per_shard"]
    first = int(wildcards.shard) * per
    return list(range(first, min(first + per, config["synthetic"]["n_images"])))


def dataset_inputs(wildcards):
    """Files the ingest rule waits for: generated shards or the downloaded archive."""
    source = config["dataset"]["source"]
    if source == "synthetic":
        return {"shards": expand(result("data", "synthetic", "shard_{shard}"), shard=synthetic_shards())}
    if source == "kaggle":
        return {"download": result("data", "kaggle")}
    return {}


def dataset_roots(wildcards, input):
    """Folders (or archives) that ingest reads."""
    source = config["dataset"]["source"]
    if source == "synthetic":
        return list(input.shards)
    if source == "kaggle":
        return [input.download]
    return [config["dataset"]["path"]]


def data_targets():
    return [
        result("data", "manifest.csv"),
        result("data", "splits.csv"),
        result("data", "summary.png"),
    ]


# ---- detection -----------------------------------------------------------------------


def training_settings(wildcards):
    """Ultralytics training arguments from the detect section."""
    keys = ("model", "imgsz", "epochs", "batch", "nominal_batch", "extra_args", "patience")
    keys += ("workers", "device")
    return {key: config["detect"][key] for key in keys} | {"seed": config["seed"]}


def detection_settings(wildcards):
    detect = config["detect"]
    return {
        "imgsz": detect["imgsz"],
        "min_confidence": detect["min_confidence"],
        "confidence": detect["confidence"],
        "iou": detect["nms_iou"],
        "max_det": detect["max_det"],
        "batch": detect["predict_batch"],
        "device": detect["device"],
    }


def detector_weights():
    """The configured trained detector, or the one rule train_detector makes."""
    return config["detect"]["weights"] or result("detect", "model", "detector.pt")


def detector_record():
    """The training record, when this run trains the detector."""
    return [] if config["detect"]["weights"] else result("detect", "model", "detector.json")


def external_path(key, what):
    """evaluate.<key>, which the external scoring targets need."""
    return configured_path("evaluate", key, what)


def detection_image_tables(wildcards):
    """Tables that list the images of one image set."""
    if wildcards.image_set == "test":
        return {
            "manifest": result("data", "manifest.csv"),
            "splits": result("data", "splits.csv"),
        }
    if wildcards.image_set == "predict":
        return {"manifest": result("predict", "input", "manifest.csv")}
    return {"manifest": result("evaluate", "external_voc", "manifest.csv")}


def predict_images_path():
    return configured_path("predict", "images", "a folder (or .zip) of new images")


def shard_files(stage, pattern):
    """Input function: the per-shard files of one image set in one stage."""

    def shards(wildcards):
        folder = result(stage, wildcards.image_set, "shards")
        n = config[stage]["shards"]
        return [str(Path(folder, pattern.format(i=i))) for i in range(n)]

    return shards


def detect_targets():
    targets = [
        result("detect", "evaluation", "metrics.json"),
        result("detect", "evaluation", "confusion.png"),
        result("detect", "evaluation", "precision_recall.png"),
    ]
    if not config["detect"]["weights"]:
        targets.append(result("detect", "model", "history.png"))
    return targets


# ---- segmentation --------------------------------------------------------------------


def segment_method():
    """The method that will run (auto resolves by whether the SAM weights exist)."""
    from karyoflow.segment import choose_method

    return choose_method(config["segment"]["method"], config["segment"]["sam_weights"])


def annotation_table(wildcards):
    """The annotations that hold the truth for one image set."""
    if wildcards.image_set == "external":
        return result("evaluate", "external_voc", "annotations.parquet")
    if wildcards.image_set == "predict":
        return result("predict", "input", "annotations.parquet")
    return result("data", "annotations.parquet")


def segment_targets():
    return [
        result("segment", "evaluation", "metrics.json"),
        result("crops", "test", "crops.parquet"),
        result("crops", "test", "gallery.png"),
    ]


def configured_path(section, key, what):
    """config[section][key], which a target needs; a clear error when it is empty."""
    path = config[section][key]
    if not path:
        raise WorkflowError(
            f"{section}.{key} is empty: set it to {what}, in a config file given after the "
            f"main one ({section}: {{{key}: path/to/folder}})"
        )
    return path


def import_crops_path():
    return configured_path("import_crops", "path", "the root folder of a crop set")


def import_karyograms_path():
    return configured_path(
        "import_karyograms", "path", "a folder with data.yaml and <split>/images, <split>/labels"
    )


# ---- straightening -------------------------------------------------------------------


def straighten_targets():
    return [
        result("straighten", "test", "straight.parquet"),
        result("straighten", "evaluation", "metrics.json"),
    ]
