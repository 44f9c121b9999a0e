"""Snakemake integration: the data stage end to end on a tiny config, in a temp folder."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from file_trees import file_digests

ROOT = Path(__file__).resolve().parents[1]
TINY = {
    "synthetic": {
        "n_images": 4,
        "images_per_shard": 2,
        "width": 320,
        "height": 320,
        "chr1_length_px": 48,
        "width_px": 8,
    },
    "split": {"test_fraction": 0.25, "val_fraction": 0.34},
    # a detector that only proves the chain runs
    "detect": {
        "imgsz": 128,
        "detect_imgsz": 0,
        "epochs": 1,
        "batch": 2,
        "workers": 0,
        "shards": 2,
    },
    # a classifier that only proves the chain runs
    "classify": {"input_size": 24, "filters": [4, 8], "dense": 16, "epochs": 1},
}
DATA_TARGETS = ["results/data/manifest.csv", "results/data/splits.csv"]


# Put on PYTHONPATH, this makes every Python process of a run (Snakemake and each job's
# script) refuse internet connections and name resolution, writing down each attempt.
NETWORK_BLOCK = """
import os, socket
_log = os.environ["KARYOFLOW_NETWORK_LOG"]
_connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex


def _attempt(what):
    with open(_log, "a") as fh:
        fh.write(f"{os.getpid()} {what}\\n")
    return OSError(f"network blocked by the test: {what}")


def _blocked(original):
    def connect(self, address, *args):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise _attempt(address)
        return original(self, address, *args)
    return connect


def _resolve(host, *args, **kwargs):
    raise _attempt(f"getaddrinfo {host}")


socket.socket.connect = _blocked(_connect)
socket.socket.connect_ex = _blocked(_connect_ex)
socket.getaddrinfo = _resolve
"""


def network_blocked_env(folder: Path) -> tuple[dict, Path]:
    """Environment for a run without network, and the file its attempts are written to."""
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(NETWORK_BLOCK)
    attempts = folder / "attempts.txt"
    attempts.touch()
    path = os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")]))
    return dict(os.environ, PYTHONPATH=path, KARYOFLOW_NETWORK_LOG=str(attempts)), attempts


def tree_digest(*paths: Path) -> dict[str, dict[str, str]]:
    """sha256 and mode of every file under the paths (folders or files)."""
    return {str(path): file_digests(path, with_mode=True) for path in paths}


def snakemake(
    workdir: Path, *args: str, env: dict | None = None, timeout: int = 600
) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        "2",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def write_config(workdir: Path, config: dict) -> Path:
    path = workdir / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.slow
def test_chain_runs_on_a_tiny_config(tmp_path):
    """The whole chain, then predict on a folder of new images, with the network blocked;
    the inputs (new images, configuration, the workflow's own files) are left untouched."""
    from karyoflow.data.synth import SynthParams, generate_shard

    new_images = tmp_path / "new images" / "célula ñ"
    params = SynthParams(width=320, height=320, chr1_length_px=48, width_px=8)
    generate_shard(new_images, range(100, 102), seed=5, params=params, karyograms=False)
    for sidecar in new_images.glob("*.*.*"):  # keep the images only, as a user has them
        sidecar.unlink()
    for xml in new_images.glob("*.xml"):
        xml.unlink()
    # "": the models this run trains, not the shipped ones
    own_models = {"detector": "", "classifier": "", "screen": ""}
    config = write_config(
        tmp_path, TINY | {"predict": {"images": str(new_images), "models": own_models}}
    )
    inputs = (tmp_path / "new images", ROOT / "workflow", ROOT / "config")
    before = tree_digest(*inputs, tmp_path / "tiny.yaml")
    env, attempts = network_blocked_env(tmp_path / "network_block")

    run = snakemake(tmp_path, "--configfile", str(config), env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    predicted = snakemake(tmp_path, "predict", "--configfile", str(config), env=env)
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    assert attempts.read_text() == "", f"the run reached for the network:\n{attempts.read_text()}"
    assert tree_digest(*inputs, tmp_path / "tiny.yaml") == before
    calls = pd.read_csv(tmp_path / "results/predict/calls.tsv", sep="\t")
    assert sorted(calls["image_id"]) == ["synth_000100", "synth_000101"]
    for stage in ("data", "detect", "segment", "crops", "straighten", "classify", "karyotype"):
        record = yaml.safe_load((tmp_path / "results" / stage / "provenance.yaml").read_text())
        assert record["seeds"] == {"seed": 42} and record["versions_locked"]["torch"]
    record = yaml.safe_load((tmp_path / "results/predict/provenance.yaml").read_text())
    assert record["config"]["predict"]["images"] == str(new_images)
    data = tmp_path / "results" / "data"
    manifest = pd.read_csv(data / "manifest.csv", dtype={"image_id": str})
    assert len(manifest) == 4 and set(manifest["n_objects"]) <= {45, 46, 47}
    splits = pd.read_csv(data / "splits.csv")
    assert set(splits["split"]) == {"train", "val", "test"}
    assert (data / "summary.png").stat().st_size > 10_000
    shard = data / "synthetic" / "shard_000"
    for suffix in (".png", ".xml", ".mask.png", ".truth.json", ".karyogram.png"):
        assert (shard / f"synth_000000{suffix}").exists()
    assert (tmp_path / "results" / "logs" / "data" / "ingest.log").exists()
    assert (tmp_path / "results" / "benchmarks" / "data" / "synthesize_000.tsv").exists()

    detect = tmp_path / "results" / "detect"
    metrics = json.loads((detect / "evaluation" / "metrics.json").read_text())
    assert metrics["task"] == "chromosome" and metrics["n_images"] == 1
    assert (
        metrics["n_truth"]
        == manifest.set_index("image_id")
        .loc[splits.loc[splits["split"] == "test", "image_id"], "n_objects"]
        .sum()
    )
    assert metrics["training"]["epochs"] == 1 and metrics["training"]["train_seconds"] > 0
    for name in ("confusion.png", "precision_recall.png", "per_class.csv"):
        assert (detect / "evaluation" / name).stat().st_size > 0
    assert (detect / "model" / "history.png").exists()
    assert len(list((detect / "test" / "shards").glob("boxes_*.parquet"))) == 2
    assert (tmp_path / "results" / "benchmarks" / "detect" / "train_detector.tsv").exists()
    # Ultralytics kept its settings under results/, not in the user's home
    assert (detect / "ultralytics").is_dir()

    segmented = json.loads((tmp_path / "results/segment/evaluation/metrics.json").read_text())
    assert segmented["method"] == "classical" and segmented["n_images"] == 1
    assert segmented["by_kind"]["isolated"]["mean_iou"] > 0.5
    crops = pd.read_parquet(tmp_path / "results/crops/test/crops.parquet")
    instances = pd.read_parquet(tmp_path / "results/segment/test/instances.parquet")
    assert len(crops) == len(instances) and set(crops["split"]) <= {"test"}
    assert (tmp_path / "results/crops/test/gallery.png").exists()

    straight = pd.read_parquet(tmp_path / "results/straighten/test/medial_axis/straight.parquet")
    assert len(straight) == len(crops) and set(straight["method"]) <= {"medial_axis"}
    straightening = json.loads(
        (tmp_path / "results/straighten/evaluation/metrics.json").read_text()
    )
    assert set(straightening["methods"]) <= {"none", "seed_affine", "medial_axis"}

    classify = tmp_path / "results" / "classify" / "truth"
    truth_crops = pd.read_parquet(tmp_path / "results/crops/truth/crops.parquet")
    assert len(truth_crops) == manifest["n_objects"].sum()
    assert set(truth_crops["split"]) == {"train", "val", "test"}
    scored = json.loads((classify / "evaluation" / "metrics.json").read_text())
    assert scored["n"] == metrics["n_truth"] and scored["n_cells"] == 1
    assert [row["decision"] for row in scored["ablation"]] == ["independent", "assignment"]
    assert (classify / "models" / "medial_axis-flat" / "history.png").exists()
    calls = pd.read_parquet(tmp_path / "results" / "classify" / "calls" / "test.parquet")
    assert len(calls) == len(crops) and {"predicted", "p_1", "p_Y"} <= set(calls)
    # the cells are assigned once, by the karyotype stage
    assert "assigned" not in calls
    objects = pd.read_parquet(tmp_path / "results" / "karyotype" / "test" / "objects.parquet")
    assert list(objects["crop_id"]) == list(calls["crop_id"]) and "assigned" in objects

    cells = pd.read_csv(tmp_path / "results/karyotype/test/cells.tsv", sep="\t")
    # a one-epoch detector may find nothing; then the cell has no call
    assert len(cells) == (len(crops) > 0)
    for row in cells.itertuples():
        # every object is a chromosome of the call or rejected; the call may assume missed ones
        assert row.n_chromosomes + row.n_rejected == len(crops)
        assert (tmp_path / row.karyogram).stat().st_size > 1000  # relative to the run
    screen = json.loads((tmp_path / "results/karyotype/model/object_screen.json").read_text())
    assert screen["n_images"] >= 1 and 0 <= screen["detector_recall"] <= 1
    called = json.loads((tmp_path / "results/karyotype/test/evaluation.json").read_text())
    assert called["n_cells"] == 1 and 0 <= called["exact_rate"] <= 1

    again = snakemake(tmp_path, "--configfile", str(config), "-n")
    assert "Nothing to be done" in again.stdout + again.stderr

    report = tmp_path / "report.html"
    built = snakemake(tmp_path, "--configfile", str(config), "--report", str(report))
    assert built.returncode == 0, built.stderr[-3000:]
    html = report.read_text()
    for entry in (
        "1. Data",
        "2. Detection",
        "3. Segmentation",
        "4. Straightening",
        "5. Classification",
        "6. Karyotypes",
        "summary.png",
        "precision_recall.png",
        "gallery.png",
        "confusion.png",
        "history.png",
        "cells.tsv",
        "evaluation.png",
    ):
        assert entry in html, entry


@pytest.mark.slow
def test_bad_config_stops_before_any_job(tmp_path):
    config = write_config(tmp_path, {"synthetic": {"n_images": -3}})
    run = snakemake(tmp_path, "--configfile", str(config), "-n")
    assert run.returncode != 0
    assert "n_images" in run.stderr + run.stdout
    config = write_config(tmp_path, {"dataset": {"source": "voc", "path": "nowhere/at_all"}})
    run = snakemake(tmp_path, "--configfile", str(config), "-n")
    assert run.returncode != 0
    assert (
        "nowhere/at_all" in run.stderr + run.stdout and "does not exist" in run.stderr + run.stdout
    )


@pytest.mark.slow
def test_real_voc_folder_is_ingested(tmp_path, real_data_dir):
    config = write_config(
        tmp_path, {"dataset": {"source": "voc", "path": str(real_data_dir / "cil24_voc")}}
    )
    run = snakemake(tmp_path, *DATA_TARGETS, "--configfile", str(config))
    assert run.returncode == 0, run.stderr[-3000:]
    manifest = pd.read_csv(tmp_path / "results" / "data" / "manifest.csv", dtype={"image_id": str})
    assert dict(zip(manifest["image_id"], manifest["karyotype"], strict=True)) == {
        "103064": "46,XY",
        "1050431": "47,XX,+18",
    }


@pytest.mark.slow
def test_external_voc_scoring_uses_a_given_detector(tmp_path, real_data_dir):
    """A trained detector from detect.weights scores a VOC folder with no training job."""
    tiny = write_config(tmp_path, TINY)
    model = "results/classify/truth/models/medial_axis-flat/classifier.keras"
    classifier = tmp_path / model
    trained = snakemake(
        tmp_path, "results/detect/model/detector.pt", model, "--configfile", str(tiny)
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    other = tmp_path / "other"
    other.mkdir()
    config = write_config(
        other,
        {
            "detect": {"weights": str(tmp_path / "results/detect/model/detector.pt"), "imgsz": 128},
            "evaluate": {"external_voc": str(real_data_dir / "cil24_voc")},
        },
    )
    run = snakemake(other, "results/evaluate/external_detection.json", "--configfile", str(config))
    assert run.returncode == 0, run.stderr[-3000:]
    assert "train_detector" not in run.stdout + run.stderr
    scored = json.loads((other / "results/evaluate/external_detection.json").read_text())
    assert scored["n_images"] == 2 and scored["n_truth"] == 46 + 47
    assert 0 <= scored["map50"] <= 1

    # the same given detector on a folder of plain images (no XML), one of them broken
    import shutil

    new = other / "new images"
    new.mkdir()
    for image in (real_data_dir / "cil24_voc").glob("*.jpg"):
        shutil.copy(image, new)
    (new / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    config = write_config(
        other,
        {
            "detect": {"imgsz": 128},
            "predict": {
                "images": str(new),
                "models": {
                    "detector": str(tmp_path / "results/detect/model/detector.pt"),
                    "classifier": str(classifier),
                },
            },
        },
    )
    run = snakemake(other, "predict", "--configfile", str(config))
    assert run.returncode == 0, run.stderr[-3000:]
    assert "rule train_" not in run.stdout + run.stderr
    listed = pd.read_csv(other / "results/detect/predict/images.csv", dtype=str)
    assert sorted(listed["image_id"]) == ["103064", "1050431"]
    bad = pd.read_csv(other / "results/predict/input/bad_inputs.tsv", sep="\t")
    assert bad["path"].str.endswith("broken.jpg").any()
    calls = pd.read_csv(other / "results/predict/calls.tsv", sep="\t", dtype={"image_id": str})
    assert {"image", "n_chromosomes", "karyotype", "flag"} <= set(calls.columns)
    assert len(calls) == 3 and calls["image"].str.endswith("broken.jpg").sum() == 1
    made = calls[calls["image_id"].isin(["103064", "1050431"])]
    assert len(made) == 2
    for row in made.itertuples():
        if row.n_chromosomes:
            # the call counts the objects kept as chromosomes and those it takes as missed
            missed = len(str(row.missing).split(";")) if isinstance(row.missing, str) else 0
            if isinstance(row.karyotype, str):
                assert row.karyotype.startswith(f"{row.n_chromosomes + missed},")
            else:  # no call: far fewer chromosomes than a metaphase (a smoke-sized detector)
                assert row.flag.startswith("too_few_chromosomes")
            assert Path(other / row.karyogram).is_file()


@pytest.mark.slow
def test_external_labelme_scoring_needs_no_detector(tmp_path, real_data_dir):
    import shutil

    folder = tmp_path / "labelme"
    folder.mkdir()
    for path in sorted((real_data_dir / "bioimlab_qband_seg").glob("*.json"))[:3]:
        shutil.copy(path, folder)
    config = write_config(tmp_path, {"evaluate": {"external_labelme": str(folder)}})
    target = "results/evaluate/external_segmentation.json"
    run = snakemake(tmp_path, target, "--configfile", str(config))
    assert run.returncode == 0, run.stderr[-3000:]
    assert "train_detector" not in run.stdout + run.stderr
    scored = json.loads((tmp_path / target).read_text())
    assert scored["n_images"] == 3 and scored["method"] == "classical"
    assert scored["n_instances"] > 100 and 0.5 < scored["mean_iou"] <= 1
    assert 0 < scored["frac_iou_ge_0.5"] <= 1


@pytest.mark.slow
def test_labelme_images_are_scored_from_the_raw_pixels(tmp_path, real_data_dir):
    """Q-band LabelMe images through a given detector (G-band trained: it has to look at
    the inverted image) and segmentation, each found mask matched to a polygon."""
    import shutil

    folder = tmp_path / "labelme"
    folder.mkdir()
    for path in sorted((real_data_dir / "bioimlab_qband_seg").glob("*.json"))[:2]:
        shutil.copy(path, folder)
    config = write_config(
        tmp_path,
        {
            "evaluate": {"external_labelme": str(folder)},
            "detect": {"weights": str(ROOT / "models/cil_detector_yolo11n.pt")},
        },
    )
    target = "results/evaluate/external_instances.json"
    run = snakemake(tmp_path, target, "--configfile", str(config))
    assert run.returncode == 0, run.stderr[-3000:]
    assert "train_detector" not in run.stdout + run.stderr
    scored = json.loads((tmp_path / target).read_text())
    assert scored["n_images"] == 2 and len(scored["per_image"]) == 2
    assert scored["n_annotated"] > 60
    # the detector found most chromosomes, in the view it chose (inverted: Q-band is bright)
    assert scored["recall"] > 0.5 and scored["precision"] > 0.5, scored
    boxes = pd.read_parquet(tmp_path / "results/detect/labelme/boxes.parquet")
    assert set(boxes["polarity"]) == {"bright"}
    assert (tmp_path / "results/evaluate/external_instances.png").stat().st_size > 10_000
    # the folder is only read
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        p.name for p in sorted((real_data_dir / "bioimlab_qband_seg").glob("*.json"))[:2]
    )


def slurm_dry_run(workdir: Path, *configs: str) -> str:
    run = snakemake(
        workdir,
        "-n",
        "--profile",
        str(ROOT / "profiles" / "slurm"),
        "--configfile",
        *(str(ROOT / "config" / name) for name in configs),
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout + run.stderr


def job_block(dry_run: str, rule: str) -> str:
    return dry_run[dry_run.index(f"rule {rule}:") :].split("\n\n")[0]


@pytest.mark.slow
def test_slurm_profile_dry_run_routes_gpu_rules(tmp_path):
    """No SLURM needed for a dry run; the GPU rules ask for a GPU on the GPU partition."""
    train = job_block(slurm_dry_run(tmp_path, "config.yaml", "paper.yaml"), "train_detector")
    assert "gpu=1" in train and "slurm_partition=CHANGE_ME_gpu_partition" in train
    assert "runtime=1440" in train
    # the paper's dataset has no truth masks, so the classifier shows in the default run
    classifier = job_block(slurm_dry_run(tmp_path, "config.yaml"), "train_classifier")
    assert "gpu=1" in classifier and "slurm_partition=CHANGE_ME_gpu_partition" in classifier
    assert "cpus_per_gpu=8" in classifier


class Resources(dict):
    """Attribute access, as the executor plugin reads a job's resources."""

    __getattr__ = dict.__getitem__


def test_slurm_profile_asks_for_cpus_per_gpu_on_gpu_rules():
    """The plugin takes cpus_per_task over cpus_per_gpu, so a default cpus_per_task would
    silently turn every GPU job's --cpus-per-gpu into --cpus-per-task."""
    from types import SimpleNamespace

    from snakemake_executor_plugin_slurm_jobstep import get_cpu_setting

    folder = ROOT / "profiles" / "slurm"
    # Snakemake reads config.yaml; the file is named profile.yaml for people
    assert (folder / "config.yaml").resolve() == (folder / "profile.yaml").resolve()
    profile = yaml.safe_load((folder / "profile.yaml").read_text())
    defaults = profile["default-resources"]
    gpu_rules = [rule for rule, extra in profile["set-resources"].items() if extra.get("gpu")]
    assert {"train_detector", "detect", "train_classifier"} <= set(gpu_rules)
    for rule in gpu_rules:
        resources = Resources(defaults | profile["set-resources"][rule])
        job = SimpleNamespace(threads=profile["set-threads"][rule], resources=resources)
        assert get_cpu_setting(job, True) == f"--cpus-per-gpu={resources['cpus_per_gpu']}"
        assert resources["cpus_per_gpu"] == job.threads
    cpu_job = SimpleNamespace(threads=3, resources=Resources(defaults))
    assert get_cpu_setting(cpu_job, False) == "--cpus-per-task=3"


@pytest.mark.slow
def test_five_thousand_images_stay_under_a_hundred_jobs(tmp_path):
    """Jobs scale with shards, not images: the scheduler sees a few dozen jobs."""
    config = write_config(tmp_path, {"synthetic": {"n_images": 5000}})
    run = snakemake(tmp_path, "-n", "--configfile", str(ROOT / "config/config.yaml"), str(config))
    assert run.returncode == 0, run.stderr[-3000:]
    stats = run.stdout[run.stdout.index("Job stats:") :].split("\n\n")[0]
    counts = dict(line.split() for line in stats.splitlines()[3:])
    assert counts["synthesize_shard"] == "32"  # synthetic.max_shards
    assert int(counts["total"]) <= 100


def job_counts(dry_run: str) -> dict[str, int]:
    stats = dry_run[dry_run.index("Job stats:") :].split("\n\n")[0]
    return {job: int(n) for job, n in (line.split() for line in stats.splitlines()[3:])}


def planned(workdir: Path, overrides: dict, *targets: str) -> tuple[dict[str, int], str]:
    """(jobs per rule, the dry run's text) of the default config with overrides."""
    config = write_config(workdir, overrides)
    run = snakemake(
        workdir, "-n", *targets, "--configfile", str(ROOT / "config/config.yaml"), str(config)
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return job_counts(run.stdout), run.stdout


@pytest.mark.slow
def test_a_classifier_of_detected_crops_plans_the_chain_on_the_training_images(tmp_path):
    """classify.crops: detected: the training images go through detection, segmentation
    and cropping like the test images, and the classifier learns from those crops."""
    counts, plan = planned(
        tmp_path,
        {"classify": {"crops": "detected"}},
        "results/classify/detected/models/medial_axis-flat/classifier.keras",
    )
    assert counts["detected_crops"] == 1 and counts["merge_crops"] == 3, counts
    for image_set in ("train", "val", "test"):
        assert f"results/crops/{image_set}/crops.parquet" in plan
    assert "results/crops/truth/crops.parquet" not in plan


def test_added_crops_are_imported_and_straightened_for_the_classifier(tmp_path):
    """classify.add_crops: [imported] plans the 612-cell layout's import and its
    straightening, by each model's own method, before the classifier's training."""
    folder = tmp_path / "crops"
    folder.mkdir()
    counts, plan = planned(
        tmp_path,
        {"classify": {"add_crops": ["imported"]}, "import_crops": {"path": str(folder)}},
        "results/classify/truth/models/medial_axis-flat/classifier.keras",
        "results/classify/truth/models/none-flat/classifier.keras",
    )
    assert counts["import_crops"] == 1 and counts["train_classifier"] == 2, counts
    for method in ("medial_axis", "none"):
        assert f"results/straighten/imported/{method}/straight.npz" in plan


@pytest.mark.slow
def test_predict_with_given_models_needs_no_training_data(tmp_path):
    """New images with trained models: only the chain on those images, nothing of the
    training dataset (no synthesis, ingestion or splits) and no training."""
    import json
    import zipfile

    images = tmp_path / "new images"
    images.mkdir()
    from PIL import Image

    Image.new("L", (64, 64), 200).save(images / "cell.png")
    detector = tmp_path / "detector.pt"
    detector.write_bytes(b"weights")  # a dry run only checks that it exists
    classifier = tmp_path / "classifier.keras"
    with zipfile.ZipFile(classifier, "w") as archive:  # the metadata a dry run reads
        archive.writestr("karyoflow.json", json.dumps({"hyperparameters": {"straighten": "none"}}))
    config = write_config(
        tmp_path,
        {
            "predict": {
                "images": str(images),
                "models": {"detector": str(detector), "classifier": str(classifier)},
            }
        },
    )
    run = snakemake(
        tmp_path, "predict", "-n", "--configfile", str(ROOT / "config/config.yaml"), str(config)
    )
    assert run.returncode == 0, run.stderr[-3000:]
    counts = job_counts(run.stdout)
    assert {"detect", "segment", "extract_crops", "straighten", "classify"} <= set(counts)
    training = {
        "synthesize_shard",
        "ingest",
        "split",
        "train_detector",
        "train_classifier",
        "train_object_screen",
    }
    assert training & set(counts) == set(), counts


@pytest.mark.slow
def test_shipped_models_call_a_cil_image_without_training(tmp_path, real_data_dir):
    """With only predict.images set, the models in models/ call a real CIL metaphase:
    nothing trains, and the called chromosomes' boxes lie on the annotated ones in the
    input image's own pixels."""
    import shutil

    from karyoflow.core.boxes import match_boxes
    from karyoflow.core.voc import parse_voc

    source = real_data_dir / "cil24_voc"
    images = tmp_path / "cells"
    images.mkdir()
    shutil.copy(source / "103064.jpg", images / "103064.jpg")
    config = write_config(tmp_path, {"predict": {"images": str(images)}})
    run = snakemake(
        tmp_path, "predict", "--configfile", str(ROOT / "config/config.yaml"), str(config)
    )
    assert run.returncode == 0, run.stderr[-3000:]
    ran = run.stderr + run.stdout
    for training in ("rule train_detector", "rule train_classifier", "rule ingest:"):
        assert training not in ran
    calls = pd.read_csv(tmp_path / "results/predict/calls.tsv", sep="\t", dtype=str)
    assert list(calls["image_id"]) == ["103064"]
    table = pd.read_csv(tmp_path / "results/predict/chromosomes.tsv", sep="\t", dtype=str)
    called = table[["x1", "y1", "x2", "y2"]].to_numpy(float)
    truth = parse_voc(source / "103064.xml")
    truth_boxes = [[obj.xmin, obj.ymin, obj.xmax, obj.ymax] for obj in truth.objects]
    pairs = match_boxes(called, truth_boxes, 0.5)
    # most annotated chromosomes have a called box on them: coordinates are the image's
    assert len(pairs) >= 0.8 * len(truth_boxes), (len(pairs), len(truth_boxes))


def test_slurm_profile_retry_gets_more_memory_and_time():
    """Every memory and runtime request in the profile scales with the attempt: the one
    retry (`retries: 1`) asks for twice of each."""
    profile = yaml.safe_load((ROOT / "profiles" / "slurm" / "profile.yaml").read_text())
    assert profile["retries"] >= 1
    requests = [profile["default-resources"], *profile["set-resources"].values()]
    for settings in requests:
        for key in ("mem_mb", "runtime"):
            if key in settings:
                first, second = (
                    eval(str(settings[key]), {}, {"attempt": a})  # as Snakemake evaluates it
                    for a in (1, 2)
                )
                assert second == 2 * first > 0, (key, settings[key])
