"""Checks of the configuration that a JSON schema cannot express."""

from __future__ import annotations

from pathlib import Path


class ConfigError(ValueError):
    """A configuration that cannot work, with the key and what to do about it."""


# The models the repository ships (models/, each with a model card beside it): what
# predict uses unless told otherwise, so a fresh offline clone calls real metaphases.
MODELS_DIR = Path(__file__).resolve().parents[3] / "models"
SHIPPED_MODELS = {
    "detector": MODELS_DIR / "cil_detector_yolo11n.pt",
    "classifier": MODELS_DIR / "cil_classifier_cnn9.keras",
    "screen": MODELS_DIR / "cil_object_screen.json",
}


def predict_model(kind: str, setting: str) -> str:
    """predict.models.<kind> as a path: `shipped` becomes the repository's model; "" (the
    run's own model) and a file path stay as they are."""
    return str(SHIPPED_MODELS[kind]) if setting == "shipped" else setting


def _given_detector(config: dict, image_set: str) -> bool:
    """Whether an image set is detected by a given detector (detect.weights, or
    predict.models.detector for new images, e.g. the shipped one) rather than the one
    this run trains."""
    given = config["detect"]["weights"]
    if image_set == "predict":
        given = predict_model("detector", config["predict"]["models"]["detector"]) or given
    return bool(given)


def detection_imgsz(config: dict, image_set: str) -> int:
    """The input size detection runs at for an image set. The detector this run trains
    sees images at detect.detect_imgsz (0: detect.imgsz, the size it learnt at); a given
    detector (detect.weights, or predict.models.detector for new images, e.g. the
    shipped one) at detect.imgsz, which then sets nothing else."""
    detect = config["detect"]
    if _given_detector(config, image_set):
        return detect["imgsz"]
    return detect["detect_imgsz"] or detect["imgsz"]


def detection_nms_iou(config: dict, image_set: str) -> float:
    """The non-maximum suppression IoU of an image set's detection: detect.detect_nms_iou
    (0: detect.nms_iou) for the detector this run trains, detect.nms_iou for a given
    one, such as the shipped detector, whose object screen learnt its boxes at it."""
    detect = config["detect"]
    if _given_detector(config, image_set):
        return detect["nms_iou"]
    return detect["detect_nms_iou"] or detect["nms_iou"]


def check_config(config: dict) -> None:
    """Raise ConfigError for settings that pass the schema but cannot work together."""
    problems = []
    dataset = config.get("dataset", {})
    if dataset.get("source") == "voc":
        path = dataset.get("path", "")
        if not path:
            problems.append(
                "dataset.path is empty, but dataset.source is voc: set it to a folder or .zip of images + Pascal VOC XML"
            )
        elif not Path(path).exists():
            problems.append(
                f"dataset.path {path!r} does not exist (relative paths are taken from {Path.cwd()}); "
                "point it at a folder or .zip of images + Pascal VOC XML"
            )
    synthetic = config.get("synthetic", {})
    rates = synthetic.get("abnormal_rates", {})
    if sum(rates.values()) > 1:
        problems.append(
            f"synthetic.abnormal_rates add up to {sum(rates.values()):.3g}, more than 1"
        )
    low, high = synthetic.get("condensation", [0.8, 1.3])
    if low > high:
        problems.append(
            f"synthetic.condensation [{low}, {high}]: the first value must not exceed the second"
        )
    if synthetic.get("width_px", 1) >= synthetic.get("chr1_length_px", 2):
        problems.append("synthetic.width_px must be smaller than synthetic.chr1_length_px")
    crop_folder = synthetic.get("crop_folder", "")
    if dataset.get("source", "synthetic") == "synthetic" and crop_folder:
        if not Path(crop_folder).is_dir():
            problems.append(
                f"synthetic.crop_folder {crop_folder!r} is not a folder (relative paths are "
                f"taken from {Path.cwd()}); point it at a labelled crop folder or leave it empty"
            )
    detect = config.get("detect", {})
    model = predict_model("detector", detect.get("model", "shipped"))
    if not model.endswith((".yaml", ".yml", ".pt")):
        problems.append(
            f"detect.model {model!r} must be `shipped`, a model yaml (e.g. yolo11n.yaml, "
            "built from scratch) or a local .pt file to fine-tune"
        )
    elif model.endswith(".pt") and not detect.get("weights") and not Path(model).is_file():
        problems.append(
            f"detect.model {model!r} does not exist: nothing is downloaded, so copy the "
            "pretrained weights there or use a model yaml to train from scratch"
        )
    weights = detect.get("weights", "")
    if weights and not Path(weights).is_file():
        problems.append(
            f"detect.weights {weights!r} does not exist: point it at a trained detector .pt "
            "or leave it empty to train one"
        )
    segment = config.get("segment", {})
    sam_weights = segment.get("sam_weights", "")
    if segment.get("method") == "sam" and not sam_weights:
        problems.append("segment.method is sam but segment.sam_weights is empty")
    if sam_weights:
        from karyoflow.segment.sam import CANONICAL_NAMES

        if not Path(sam_weights).name.endswith(CANONICAL_NAMES):
            problems.append(
                f"segment.sam_weights {sam_weights!r} does not have a canonical SAM file name, "
                f"so its architecture is unknown: rename it to one of {', '.join(CANONICAL_NAMES)}"
            )
        elif segment.get("method") == "sam" and not Path(sam_weights).is_file():
            problems.append(
                f"segment.sam_weights {sam_weights!r} does not exist: nothing is downloaded; "
                "copy the checkpoint there or use segment.method auto or classical"
            )
    classify = config.get("classify", {})
    for key in ("weights", "init_weights"):
        path = classify.get(key, "")
        if key == "init_weights":
            path = predict_model("classifier", path)
        if path and not (path.endswith(".keras") and Path(path).is_file()):
            problems.append(
                f"classify.{key} {path!r} is not an existing .keras file: point it at a "
                "classifier karyoflow trained (results/classify/models/<method>-<head>/"
                "classifier.keras) or leave it empty"
            )
    added = classify.get("add_crops", [])
    if classify.get("crops", "truth") in added:
        problems.append(
            f"classify.add_crops {added} names classify.crops ({classify['crops']}) itself: "
            "list only further crop sets"
        )
    if len(set(added)) < len(added):
        problems.append(f"classify.add_crops {added} names a crop set twice")
    # the imported crop sets need their folder
    for crop_set, section in (("imported", "import_crops"), ("karyograms", "import_karyograms")):
        if crop_set in added and not config.get(section, {}).get("path"):
            problems.append(
                f"classify.add_crops names {crop_set}, but {section}.path is empty: "
                "point it at the crop folder"
            )
    models = config.get("predict", {}).get("models", {})
    # Only a run given new images needs the predict models.
    predict_keys = (
        () if not config.get("predict", {}).get("images") else ("detector", "classifier", "screen")
    )
    for key, suffix in (("detector", ".pt"), ("classifier", ".keras"), ("screen", ".json")):
        if key not in predict_keys:
            continue
        path = predict_model(key, models.get(key, "shipped"))
        if path and not (path.endswith(suffix) and Path(path).is_file()):
            problems.append(
                f"predict.models.{key} {path!r} is not an existing {suffix} file"
                + (
                    " (the shipped model is missing from this copy: restore models/)"
                    if models.get(key, "shipped") == "shipped"
                    else ""
                )
            )
    if problems:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems))
