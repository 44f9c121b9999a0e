# Helpers shared by the rule files (paths, input functions, config checks).

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from snakemake.sourcecache import (
    HostingProviderFile,
    LocalGitFile,
    LocalSourceFile,
    SourceFile,
)


def _joining_source_files(join):
    def joined(self, path):
        if isinstance(path, SourceFile):
            path = path.get_path_or_uri(secret_free=False)
        return join(self, path)

    joined.accepts_source_files = True
    return joined


# Snakemake 9.27 hands a script's path to the rule's base folder as a source file when it
# checks whether the script changed; git and GitHub sources only join text, so every job
# of a module imported with gitfile()/github() stopped with a TypeError. Join them as
# Snakemake's other sources do.
for _source_class in (LocalGitFile, HostingProviderFile):
    if not getattr(_source_class.join, "accepts_source_files", False):
        _source_class.join = _joining_source_files(_source_class.join)

# Files that jobs and parse-time code open as files, not through Snakemake's source
# handling (rules, scripts, envs, schema and report captions need nothing): the
# karyoflow library, its band table, the shipped models, uv.lock. One per line, relative
# to the repository; tests/test_module.py keeps it equal to what git tracks.
SOURCE_LISTING = "../library_files.txt"


def _source_bytes(source):
    """A file of the workflow's source, byte for byte."""
    if isinstance(source, LocalGitFile):
        # Snakemake reads git sources as text, which would spoil the models.
        return subprocess.run(
            ["git", "-C", source.repo_path, "show", f"{source.ref}:{source.path}"],
            check=True,
            capture_output=True,
        ).stdout
    with workflow.sourcecache.open(source, "rb") as handle:
        return handle.read()


def source_root():
    """The repository on this machine's disk: the checkout the workflow runs from, or,
    for a module imported from a git source (gitfile(), github(), ...), a copy of the
    listed files under .snakemake/karyoflow-source/, refreshed where they differ."""
    rules_dir = workflow.current_basedir  # workflow/rules, as a Snakemake source file
    if isinstance(rules_dir, LocalSourceFile):
        return Path(rules_dir.get_path_or_uri(secret_free=True)).resolve().parents[1]
    where = rules_dir.get_path_or_uri(secret_free=True)
    root = Path(
        ".snakemake",
        "karyoflow-source",
        hashlib.sha256(where.encode()).hexdigest()[:16],
    )
    listing = _source_bytes(rules_dir.join(SOURCE_LISTING)).decode().split()
    for relative in listing:
        data = _source_bytes(rules_dir.join(f"../../{relative}"))
        target = root / relative
        if not target.is_file() or target.read_bytes() != data:
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f"{target.name}.partial")
            partial.write_bytes(data)
            partial.replace(target)
    return root.resolve()


SOURCE_ROOT = source_root()
LIBRARY_DIR = str(SOURCE_ROOT / "workflow" / "scripts")
sys.path.insert(0, LIBRARY_DIR)
if not isinstance(workflow.current_basedir, LocalSourceFile):
    # Jobs' scripts come from Snakemake's source cache, away from the library: point
    # their Python at the copy (set here for the jobs; nothing is asked of the user).
    os.environ.update(
        PYTHONPATH=os.pathsep.join(
            filter(None, [LIBRARY_DIR, os.environ.get("PYTHONPATH")])
        )
    )

from karyoflow.config import (  # noqa: E402
    check_config,
    detection_imgsz,
    detection_nms_iou,
    predict_model,
)
from karyoflow.core.provenance import (
    STAGE_SECTIONS,
    file_digest,
    stage_config,
)  # noqa: E402

RESULTS = config["results_dir"]
WORKFLOW_DIR = SOURCE_ROOT
PROVENANCE_STAGES = [*STAGE_SECTIONS, "predict", "evaluate"]

check_config(config)


def result(*parts):
    """A path under the results folder."""
    return str(Path(RESULTS, *parts))


# ---- dataset -------------------------------------------------------------------------


def synthetic_shard_size():
    """Images per synthesis job: `images_per_shard`, raised where the shard count would
    pass `max_shards` (5,000 images stay a few dozen jobs, not a hundred)."""
    n = config["synthetic"]["n_images"]
    per = config["synthetic"]["images_per_shard"]
    n_shards = min(-(-n // per), config["synthetic"]["max_shards"])
    return -(-n // n_shards)


def synthetic_shards():
    n, per = config["synthetic"]["n_images"], synthetic_shard_size()
    return [f"{i:03d}" for i in range(-(-n // per))]


def synthesis_settings():
    """The generator's settings; max_shards only lays out jobs, and the indices carry that."""
    return {k: v for k, v in config["synthetic"].items() if k != "max_shards"}


def shard_indices(wildcards):
    per = synthetic_shard_size()
    first = int(wildcards.shard) * per
    return list(range(first, min(first + per, config["synthetic"]["n_images"])))


def dataset_inputs(wildcards):
    """Files that ingestion waits for (generated shards or the downloaded archive)."""
    source = config["dataset"]["source"]
    if source == "synthetic":
        return {
            "shards": expand(
                result("data", "synthetic", "shard_{shard}"), shard=synthetic_shards()
            )
        }
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


def dataset_root_paths():
    """Where the dataset's own files (e.g. official split lists) are looked up."""
    source = config["dataset"]["source"]
    if source == "kaggle":
        return [result("data", "kaggle")]
    if source == "voc":
        return [config["dataset"]["path"]]
    return []


def data_targets():
    return [
        result("data", "manifest.csv"),
        result("data", "splits.csv"),
        result("data", "summary.png"),
    ]


# ---- detection -----------------------------------------------------------------------


def detector_start():
    """What train_detector starts from: a model yaml, a local .pt, or (`shipped`) the
    repository's detector."""
    return predict_model("detector", config["detect"]["model"])


def detector_start_files(wildcards):
    """The start model as an input of train_detector, when it is a file."""
    start = detector_start()
    return [start] if start.endswith(".pt") else []


def training_settings(wildcards):
    """Ultralytics training arguments from the detect section."""
    keys = (
        "imgsz",
        "epochs",
        "batch",
        "nominal_batch",
        "extra_args",
        "patience",
    )
    keys += ("workers", "device")
    return {key: config["detect"][key] for key in keys} | {
        "model": detector_start(),
        "seed": config["seed"],
    }


def detection_settings(wildcards):
    detect = config["detect"]
    return {
        "imgsz": detection_imgsz(config, wildcards.image_set),
        "min_confidence": detect["min_confidence"],
        "confidence": detect["confidence"],
        "iou": detection_nms_iou(config, wildcards.image_set),
        "max_det": detect["max_det"],
        "batch": detect["predict_batch"],
        "device": detect["device"],
        "polarity": detect["polarity"],
    }


def detector_weights(image_set=None):
    """The detector for an image set: predict.models.detector for new images where given,
    else detect.weights, else the one rule train_detector makes."""
    given = predict_model("detector", config["predict"]["models"]["detector"])
    given = given if image_set == "predict" else ""
    return (
        given or config["detect"]["weights"] or result("detect", "model", "detector.pt")
    )


def detector_record():
    """The training record, when this run trains the detector."""
    return (
        []
        if config["detect"]["weights"]
        else result("detect", "model", "detector.json")
    )


def external_path(key, what):
    """evaluate.<key>, which the external scoring targets need."""
    return configured_path("evaluate", key, what)


# Image sets that are a split of the dataset: the test images the chain is scored on, the
# validation images the object screen learns from, and the training images whose detected
# crops a classifier may learn from (classify.crops: detected).
SPLIT_IMAGE_SETS = ("test", "val", "train")


def detection_image_tables(wildcards):
    """Tables that list the images of one image set."""
    if wildcards.image_set in SPLIT_IMAGE_SETS:
        return {
            "manifest": result("data", "manifest.csv"),
            "splits": result("data", "splits.csv"),
        }
    if wildcards.image_set == "predict":
        return {"manifest": result("predict", "input", "manifest.csv")}
    if wildcards.image_set == "labelme":
        return {"manifest": result("evaluate", "external_labelme", "manifest.csv")}
    return {"manifest": result("evaluate", "external_voc", "manifest.csv")}


def predict_images_path():
    return configured_path("predict", "images", "a folder (or .zip) of new images")


def shard_files(stage, pattern, stage_dir=None):
    """Input function: the per-shard files of one image set, as many as config[stage]
    has shards, under results/<stage_dir or stage>/<image set>/shards/."""

    def shards(wildcards):
        folder = result(stage_dir or stage, wildcards.image_set, "shards")
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


def crop_extraction_inputs(wildcards):
    """One segmentation shard's instances, the images and truth of its image set; the
    dataset's splits only for its test split (predict needs no training dataset)."""
    inputs = {
        "instances": result(
            "segment",
            wildcards.image_set,
            "shards",
            f"instances_{wildcards.segment_shard}.parquet",
        ),
        "images": result("detect", wildcards.image_set, "images.csv"),
        "annotations": annotation_table(wildcards),
    }
    if wildcards.image_set in SPLIT_IMAGE_SETS:
        inputs["splits"] = result("data", "splits.csv")
    return inputs


def segment_targets():
    return [
        result("segment", "evaluation", "metrics.json"),
        result("segment", "test", "instances.parquet"),
        result("segment", "test", "issues.tsv"),
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
        "import_karyograms",
        "path",
        "a folder with data.yaml and <split>/images, <split>/labels",
    )


# ---- straightening -------------------------------------------------------------------


def straight_files(crop_set, method=None):
    """Straightened arrays and table of one crop set (configured method by default)."""
    method = method or config["straighten"]["method"]
    return {
        "straight_table": result("straighten", crop_set, method, "straight.parquet"),
        "straight": result("straighten", crop_set, method, "straight.npz"),
    }


def straightened_shards(suffix):
    """Input function: the straighten jobs' shard files of one crop set and method."""

    def shards(wildcards):
        folder = result("straighten", wildcards.crop_set, wildcards.method, "shards")
        n = config["straighten"]["shards"]
        return [str(Path(folder, f"straight_{i}.{suffix}")) for i in range(n)]

    return shards


def straighten_targets():
    return [
        straight_files("test")["straight_table"],
        result("straighten", "evaluation", "metrics.json"),
    ]


# ---- classification ------------------------------------------------------------------

STRAIGHTEN_METHODS = ["none", "seed_affine", "medial_axis"]
HEADS = ["flat", "two_stage"]


def classifier_crop_set():
    """The crop set the classifier learns from (a crops/<set> folder)."""
    return config["classify"]["crops"]


def classifier_training_inputs(wildcards):
    """The crop set a classifier learns from, and the sets classify.add_crops adds to its
    training split (straightened by the same method)."""
    crop_set = wildcards.train_set
    added = added_crop_sets(crop_set)
    added_straight = [straight_files(name, wildcards.method) for name in added]
    return (
        {"crops": result("crops", crop_set, "crops.parquet")}
        | straight_files(crop_set, wildcards.method)
        | {
            "added_crops": [result("crops", name, "crops.parquet") for name in added],
            "added_straight_tables": [f["straight_table"] for f in added_straight],
            "added_straights": [f["straight"] for f in added_straight],
        }
    )


def added_crop_sets(crop_set):
    """classify.add_crops, for the models of the configured crop set (the ablation's
    too, each with its own straightening); a model of another set learns from it alone.
    """
    if crop_set != classifier_crop_set():
        return []
    return list(config["classify"]["add_crops"])


def classifier_hyper(wildcards):
    """Hyperparameters of one (straightening, head) model; the checkpoint carries them."""
    settings = config["classify"]
    added = added_crop_sets(wildcards.train_set)
    keys = (
        "model",
        "input_size",
        "filters",
        "dense",
        "epochs",
        "batch",
        "learning_rate",
        "lr_schedule",
    )
    keys += ("augment",)
    use_length = settings["use_length"]
    # imported crop sets are split by case with the dataset's fractions
    fractions = {key: config["split"][key] for key in ("test_fraction", "val_fraction")}
    return (
        {key: settings[key] for key in keys}
        | fractions
        | {
            "head": wildcards.head,
            "straighten": wildcards.method,
            "use_length": (
                settings["model"] != "cnn9" if use_length is None else use_length
            ),
            "crop_set": wildcards.train_set,
            "seed": config["seed"],
        }
        # named only when given, so that no model trained before the key existed reruns
        | ({"add_crops": added} if added else {})
    )


def classifier_variants(ablation=False):
    """(straightening, head) of every model an evaluation scores, the configured first:
    that one alone, or for the ablation every straightening method x head."""
    main = [config["straighten"]["method"], config["classify"]["head"]]
    if config["classify"]["weights"] or not ablation:
        return [main]
    return [main] + [
        [m, h] for m in STRAIGHTEN_METHODS for h in HEADS if [m, h] != main
    ]


def trained_classifier(method, head, train_set=None):
    train_set = train_set or classifier_crop_set()
    return result(
        "classify", train_set, "models", f"{method}-{head}", "classifier.keras"
    )


def classifier_model(crop_set=None):
    """The classifier for a crop set: predict.models.classifier for new images where
    given, else classify.weights, else the one this run trains."""
    given = predict_model("classifier", config["predict"]["models"]["classifier"])
    given = given if crop_set == "predict" else ""
    return (
        given
        or config["classify"]["weights"]
        or trained_classifier(*classifier_variants()[0])
    )


def calls_classifier(wildcards):
    """The classifier whose probabilities a crop set's calls hold: the assignment weighs
    them by the class shares it learnt from."""
    return classifier_model(wildcards.crop_set)


def classifier_methods(ablation=False):
    """Straightening methods the evaluated models use, in a fixed order."""
    used = {method for method, _ in classifier_variants(ablation)}
    return [method for method in STRAIGHTEN_METHODS if method in used]


def classifier_evaluation_inputs(ablation=False):
    """Input function: the crop set, the models to score and their straightened crops."""

    def inputs(wildcards):
        crop_set = wildcards.train_set
        methods = classifier_methods(ablation)
        return {
            "crops": result("crops", crop_set, "crops.parquet"),
            "models": (
                [classifier_model()]
                if config["classify"]["weights"]
                else [
                    trained_classifier(*variant, crop_set)
                    for variant in classifier_variants(ablation)
                ]
            ),
            "straight_tables": [
                straight_files(crop_set, m)["straight_table"] for m in methods
            ],
            "straight": [straight_files(crop_set, m)["straight"] for m in methods],
        }

    return inputs


def classified_inputs(wildcards):
    """A crop set, straightened the configured way, and the classifier."""
    return crop_set_with_classifier(wildcards.crop_set)


def crop_set_with_classifier(crop_set):
    """A crop set, straightened the way its classifier was trained, and the classifier."""
    model = classifier_model(crop_set)
    return {
        "crops": result("crops", crop_set, "crops.parquet"),
        "model": model,
    } | straight_files(crop_set, classifier_straightening(model))


def classifier_straightening(model):
    """The straightening a given classifier learnt on (read from its checkpoint), or the
    configured one for a classifier this run trains."""
    if Path(model).is_file() and model in (
        config["classify"]["weights"],
        predict_model("classifier", config["predict"]["models"]["classifier"]),
    ):
        from karyoflow.classify.train import read_metadata

        return read_metadata(model)["hyperparameters"]["straighten"]
    return config["straighten"]["method"]


def external_crops_inputs(wildcards):
    return crop_set_with_classifier("external_crops")


def import_set_path(wildcards):
    """Root folder of an imported crop set: the training set or the external one."""
    if wildcards.import_set == "external_crops":
        return external_crops_setting("path")
    return import_crops_path()


def import_set_pattern(wildcards):
    if wildcards.import_set == "external_crops":
        return external_crops_setting("pattern")
    return config["import_crops"]["pattern"]


def external_crops_setting(key):
    value = config["evaluate"]["external_crops"][key]
    if not value:
        raise WorkflowError(
            f"evaluate.external_crops.{key} is empty: set it in a config file given after the "
            "main one (evaluate: {external_crops: {path: <root>, pattern: <regex>}})"
        )
    return value


def classify_targets():
    train_set = classifier_crop_set()
    targets = [
        result("classify", train_set, "evaluation", name)
        for name in ("metrics.json", "confusion.png")
    ]
    if not config["classify"]["weights"]:
        method, head = classifier_variants()[0]
        targets.append(
            result("classify", train_set, "models", f"{method}-{head}", "history.png")
        )
    if "detection" in config["stages"]:
        targets += karyotype_targets()
    return targets


def ablation_targets():
    """Every straightening method x head trained and scored on the same test cells."""
    train_set = classifier_crop_set()
    targets = [
        result("classify", train_set, "ablation", name)
        for name in ("metrics.json", "ablation.png")
    ]
    if not config["classify"]["weights"]:
        targets += [
            result("classify", train_set, "models", f"{method}-{head}", "history.png")
            for method, head in classifier_variants(ablation=True)
        ]
    return targets


def all_targets():
    targets = []
    if "detection" in config["stages"]:
        targets += (
            data_targets() + detect_targets() + segment_targets() + straighten_targets()
        )
    if "classification" in config["stages"]:
        targets += classify_targets()
    return targets


def with_provenance(targets):
    """The targets and the provenance record of every results folder they land in."""
    stages = {Path(target).relative_to(RESULTS).parts[0] for target in targets}
    records = [
        result(stage, "provenance.yaml")
        for stage in PROVENANCE_STAGES
        if stage in stages
    ]
    return list(targets) + records


# ---- karyotypes ------------------------------------------------------------------------


def karyotype_truth_manifest(wildcards):
    """The manifest that holds the true karyotypes of an image set."""
    if wildcards.crop_set == "external":
        return result("evaluate", "external_voc", "manifest.csv")
    return result("data", "manifest.csv")


def karyotype_truth_annotations(wildcards):
    """The annotated boxes the set's called chromosomes are placed against."""
    if wildcards.crop_set == "external":
        return result("evaluate", "external_voc", "annotations.parquet")
    return result("data", "annotations.parquet")


def object_screen(wildcards):
    """The object screen for a crop set from detection: predict.models.screen for new
    images where given, else the one rule train_object_screen learns on this run's
    validation images."""
    if wildcards.crop_set == "predict":
        given = predict_model("screen", config["predict"]["models"]["screen"])
        if given:
            return given
    return result("karyotype", "model", "object_screen.json")


def chain_detection_metrics(wildcards):
    """The detector's scores on the same images, beside the chain's."""
    if wildcards.crop_set == "external":
        return {"detection": result("evaluate", "external_detection.json")}
    return {"detection": result("detect", "evaluation", "metrics.json")}


def karyotype_targets():
    return [
        result("karyotype", "test", "cells.tsv"),
        result("karyotype", "test", "chromosomes.tsv"),
        result("karyotype", "test", "evaluation.json"),
    ]
