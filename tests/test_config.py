import copy
from pathlib import Path

import pytest
import yaml
from karyoflow.config import ConfigError, check_config
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = str(ROOT / "config" / "schema.yaml")


@pytest.fixture
def config():
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def _walk(schema, path=""):
    for key, sub in schema.get("properties", {}).items():
        yield f"{path}{key}", sub
        yield from _walk(sub, f"{path}{key}.")


def test_every_schema_key_has_description_and_default():
    schema = yaml.safe_load(Path(SCHEMA).read_text())
    for key, sub in _walk(schema):
        assert sub.get("description"), f"{key} has no description"
        assert "default" in sub, f"{key} has no default"


def test_shipped_config_is_valid_and_equals_the_defaults(config):
    validate(config, SCHEMA, set_default=True)
    check_config(config)
    filled = {}
    validate(filled, SCHEMA, set_default=True)
    assert filled == config, "config/config.yaml should state exactly the schema defaults"


def test_empty_config_gets_defaults():
    config = {}
    validate(config, SCHEMA, set_default=True)
    assert config["dataset"]["source"] == "synthetic"
    assert config["synthetic"]["n_images"] == 240


@pytest.mark.parametrize(
    "path, value, words",
    [
        (("synthetic", "n_images"), 0, "n_images"),
        (("dataset", "source"), "imagenet", "imagenet"),
        (("on_bad_input",), "ignore", "ignore"),
        (("synthetic", "typo_key"), 1, "typo_key"),
    ],
)
def test_bad_values_are_rejected_readably(config, path, value, words):
    bad = copy.deepcopy(config)
    node = bad
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(WorkflowError) as err:
        validate(bad, SCHEMA, set_default=True)
    assert words in str(err.value)


def test_cross_field_problems(config, tmp_path):
    bad = copy.deepcopy(config)
    bad["dataset"] = {"source": "voc", "path": str(tmp_path / "no_such_folder")}
    bad["synthetic"]["abnormal_rates"] = {"trisomy21": 0.8, "xxy": 0.5}
    with pytest.raises(ConfigError) as err:
        check_config(bad)
    assert "no_such_folder" in str(err.value) and "does not exist" in str(err.value)
    assert "abnormal_rates" in str(err.value)


def test_added_crop_sets_are_checked(config):
    bad = copy.deepcopy(config)
    bad["classify"]["add_crops"] = ["truth", "imported", "imported"]
    bad["import_crops"]["path"] = ""
    with pytest.raises(ConfigError) as err:
        check_config(bad)
    message = str(err.value)
    assert "names classify.crops (truth) itself" in message
    assert "names a crop set twice" in message
    assert "import_crops.path is empty" in message
    good = copy.deepcopy(config)
    good["classify"]["add_crops"] = ["imported"]
    good["import_crops"]["path"] = "some/crops"
    check_config(good)


def test_a_missing_crop_folder_for_the_generator_is_named_before_any_job(config, tmp_path):
    bad = copy.deepcopy(config)
    bad["synthetic"]["crop_folder"] = str(tmp_path / "no_crops_here")
    with pytest.raises(ConfigError, match="synthetic.crop_folder .*no_crops_here.* not a folder"):
        check_config(bad)
    bad["synthetic"]["crop_folder"] = str(tmp_path)
    check_config(bad)


def test_detector_paths_are_checked_before_any_job(config, tmp_path):
    bad = copy.deepcopy(config)
    bad["detect"].update(model=str(tmp_path / "yolov10l.pt"), weights="")
    with pytest.raises(ConfigError, match="nothing is downloaded"):
        check_config(bad)
    bad["detect"].update(model="yolov10l")
    with pytest.raises(ConfigError, match="model yaml"):
        check_config(bad)
    bad["detect"].update(model="yolo11n.yaml", weights=str(tmp_path / "detector.pt"))
    with pytest.raises(ConfigError, match="detect.weights"):
        check_config(bad)
    (tmp_path / "detector.pt").write_bytes(b"weights")
    check_config(bad)
    # `shipped`: the repository's detector, found wherever the workflow runs from
    bad["detect"].update(model="shipped", weights="")
    check_config(bad)
    from karyoflow.config import SHIPPED_MODELS, predict_model

    assert predict_model("detector", "shipped") == str(SHIPPED_MODELS["detector"])
    assert SHIPPED_MODELS["detector"].is_file()


def test_classifier_start_may_be_the_shipped_one_or_an_existing_file(config, tmp_path):
    tuned = copy.deepcopy(config)
    tuned["classify"]["init_weights"] = "shipped"
    check_config(tuned)
    tuned["classify"]["init_weights"] = str(tmp_path / "classifier.keras")
    with pytest.raises(ConfigError, match="classify.init_weights .* not an existing .keras"):
        check_config(tuned)


CROPS_612 = ROOT.parent / "shared" / "data" / "real" / "gband612_crops"


@pytest.mark.parametrize(
    "name",
    [
        "quick.yaml",
        "paper.yaml",
        pytest.param(
            "synthetic_real_crops.yaml",
            marks=pytest.mark.skipif(
                not CROPS_612.is_dir(),
                reason="its crop folder, ../shared/data/real/gband612_crops, is absent",
            ),
        ),
    ],
)
def test_shipped_overlays_are_valid(config, name, monkeypatch):
    monkeypatch.chdir(ROOT)  # the overlays' relative paths are from the repository root
    merged = copy.deepcopy(config)
    for key, value in yaml.safe_load((ROOT / "config" / name).read_text()).items():
        if isinstance(value, dict):
            merged.setdefault(key, {}).update(value)
        else:
            merged[key] = value
    validate(merged, SCHEMA, set_default=True)
    check_config(merged)


def test_detection_size_follows_the_detector(config):
    """detect_imgsz applies to the detector the run trains; a given detector (the shipped
    one for new images, or detect.weights) is detected at imgsz."""
    from karyoflow.config import detection_imgsz

    tuned = copy.deepcopy(config)
    tuned["detect"].update(imgsz=512, detect_imgsz=896, weights="")
    tuned["predict"]["models"]["detector"] = "shipped"
    assert detection_imgsz(tuned, "test") == 896
    assert detection_imgsz(tuned, "val") == 896
    assert detection_imgsz(tuned, "predict") == 512
    tuned["predict"]["models"]["detector"] = ""  # predict with the run's own detector
    assert detection_imgsz(tuned, "predict") == 896
    tuned["detect"]["weights"] = "models/cil_detector_yolo11n.pt"
    assert detection_imgsz(tuned, "test") == 512
    assert detection_imgsz(tuned, "predict") == 512
    tuned["detect"].update(weights="", detect_imgsz=0)
    assert detection_imgsz(tuned, "test") == 512


def test_detection_nms_follows_the_detector(config):
    """detect_nms_iou applies to the detector the run trains; a given detector (the
    shipped one for new images, or detect.weights) runs at nms_iou, where its object
    screen learnt its boxes."""
    from karyoflow.config import detection_nms_iou

    tuned = copy.deepcopy(config)
    tuned["detect"].update(nms_iou=0.5, detect_nms_iou=0.7, weights="")
    tuned["predict"]["models"]["detector"] = "shipped"
    assert detection_nms_iou(tuned, "test") == detection_nms_iou(tuned, "val") == 0.7
    assert detection_nms_iou(tuned, "predict") == 0.5
    tuned["predict"]["models"]["detector"] = ""  # predict with the run's own detector
    assert detection_nms_iou(tuned, "predict") == 0.7
    tuned["detect"]["weights"] = "models/cil_detector_yolo11n.pt"
    assert detection_nms_iou(tuned, "test") == detection_nms_iou(tuned, "predict") == 0.5
    tuned["detect"].update(weights="", detect_nms_iou=0)
    assert detection_nms_iou(tuned, "test") == 0.5
