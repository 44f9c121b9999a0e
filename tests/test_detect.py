"""Detector training runs offline: one epoch on a handful of synthetic images."""

import json
import socket

import numpy as np
import pandas as pd
import pytest
from karyoflow.core.errors import BadInputError
from karyoflow.core.images import write_png
from karyoflow.core.labels import CLASSES
from karyoflow.core.shards import shard_of
from karyoflow.data.ingest import ingest_voc
from karyoflow.data.splits import make_splits
from karyoflow.data.synth import SynthParams, generate_shard
from karyoflow.detect.dataset import write_yolo_dataset
from karyoflow.detect.infer import detect_images, load_detector
from karyoflow.detect.runtime import (
    offline_environment,
    resolve_model,
    skip_amp_download_check,
)
from karyoflow.detect.train import train_detector


def tiny_yolo_dataset(folder):
    """Five small synthetic metaphases as an Ultralytics dataset: (ingested, data.yaml)."""
    params = SynthParams(width=256, height=256, chr1_length_px=40, width_px=7)
    generate_shard(folder / "shard", range(5), seed=3, params=params, karyograms=False)
    ingested = ingest_voc([folder / "shard"], source="synthetic")
    splits = make_splits(ingested.manifest, seed=0, test_fraction=0.2, val_fraction=0.25)
    data_yaml = write_yolo_dataset(
        ingested.manifest, ingested.annotations, splits, folder / "yolo", "chromosome"
    )
    return ingested, data_yaml


def test_missing_weights_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        resolve_model(str(tmp_path / "yolov10l.pt"))
    with pytest.raises(ValueError, match="model yaml or a local .pt"):
        resolve_model("yolov10l")


def test_the_amp_check_on_a_gpu_downloads_nothing(tmp_path, monkeypatch):
    """Ultralytics' own check loads yolo26n.pt (a download) on any CUDA device; ours
    decides from the device alone, so an offline GPU node trains with AMP."""
    import torch

    offline_environment(tmp_path / "ultralytics")
    import ultralytics.engine.trainer
    import ultralytics.models

    loaded = []

    def no_weights(weights, *args, **kwargs):  # what Ultralytics' check would load
        loaded.append(weights)
        raise AssertionError(f"{weights} would be downloaded")

    monkeypatch.setattr(ultralytics.models, "YOLO", no_weights)
    monkeypatch.setattr(
        ultralytics.engine.trainer, "check_amp", ultralytics.engine.trainer.check_amp
    )
    skip_amp_download_check()
    check = ultralytics.engine.trainer.check_amp
    assert check(torch.nn.Linear(2, 2)) is False  # the CPU: no AMP
    # a device that is neither CPU nor MPS, without a GPU (meta tensors hold no data)
    assert check(torch.nn.Linear(2, 2, device="meta")) is True
    assert loaded == []


@pytest.mark.slow
def test_one_epoch_with_the_network_blocked(tmp_path, monkeypatch):
    attempts = []

    def refuse(self, address, *args, **kwargs):
        attempts.append(address)
        raise OSError(f"network blocked in tests: {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", lambda address, *a, **k: refuse(None, address))
    # name lookups too: requests and urllib3 resolve before they connect
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: refuse(None, host))
    for key in ("YOLO_OFFLINE", "YOLO_CONFIG_DIR"):
        monkeypatch.delenv(key, raising=False)
    offline_environment(tmp_path / "ultralytics")

    ingested, data_yaml = tiny_yolo_dataset(tmp_path)

    weights = tmp_path / "detector.pt"
    record = train_detector(
        data_yaml,
        weights,
        model="yolo11n.yaml",
        imgsz=256,
        epochs=1,
        batch=4,
        workers=0,
        device="cpu",
        run_dir=tmp_path / "run",
    )
    assert weights.stat().st_size > 1_000_000
    saved = json.loads(weights.with_suffix(".json").read_text())
    assert saved["epochs"] == 1 and saved["imgsz"] == 256 and saved["amp"] is False
    assert "metrics/mAP50(B)" in record["metrics"]
    assert saved["nbs"] == 4  # one optimizer step per batch
    assert (tmp_path / "run" / "results.csv").is_file()

    # inference with the trained weights, on good and hostile images
    with pytest.raises(ValueError, match="predicts 1 classes"):
        load_detector(weights, list(CLASSES))
    with pytest.raises(FileNotFoundError, match="detect.weights"):
        load_detector(tmp_path / "nothing.pt", ["chromosome"])
    model = load_detector(weights, ["chromosome"])
    write_png(tmp_path / "huge.png", np.full((1200, 1100), 230, np.uint8))
    (tmp_path / "broken.png").write_bytes(b"not an image at all")
    images = pd.concat(
        [
            ingested.manifest[["image_id", "image_path"]],
            pd.DataFrame(
                {
                    "image_id": ["huge", "broken"],
                    "image_path": [str(tmp_path / "huge.png"), str(tmp_path / "broken.png")],
                }
            ),
        ],
        ignore_index=True,
    )
    boxes, issues = detect_images(
        model, images, imgsz=256, min_confidence=0.0, confidence=0.0, batch=3
    )
    assert list(boxes.columns[:4]) == ["image_id", "box_index", "class", "confidence"]
    assert set(boxes["class"]) <= {"chromosome"} and len(boxes) > 0
    inside = boxes[boxes["image_id"] != "huge"]
    assert inside[["xmin", "ymin"]].min().min() >= 0 and inside["xmax"].max() <= 256
    problems = dict(zip(issues["image_id"], issues["problem"], strict=True))
    assert problems["broken"] == "unreadable_image" and problems["huge"] == "far_larger_than_imgsz"
    assert "broken" not in set(boxes["image_id"])

    none, issues = detect_images(model, images.iloc[:2], imgsz=256, min_confidence=1.0)
    assert none.empty and set(issues["problem"]) == {"no_detections"}
    with pytest.raises(BadInputError, match="broken.png"):
        detect_images(model, images, imgsz=256, policy="error")
    assert attempts == [], f"training tried to reach the network: {attempts}"


def test_shards_cover_every_image_once():
    images = pd.DataFrame({"image_id": [f"i{k}" for k in range(11)]})
    parts = [shard_of(images, k, 3)["image_id"].tolist() for k in range(3)]
    assert sorted(sum(parts, [])) == sorted(images["image_id"]) and len(parts[2]) == 3
    with pytest.raises(ValueError):
        shard_of(images, 3, 3)


def test_unreadable_image_stays_a_bad_input_after_ultralytics_import(tmp_path):
    from karyoflow.core.errors import BadInputError
    from karyoflow.core.images import read_grayscale

    offline_environment(tmp_path / "ultralytics")
    import ultralytics.utils.patches  # noqa: F401  (replaces PIL.Image.open)

    bad = tmp_path / "noise.png"
    bad.write_bytes(b"this is not an image")
    with pytest.raises(BadInputError) as err:
        read_grayscale(bad)
    assert err.value.problem == "unreadable_image" and "noise.png" in str(err.value)


@pytest.mark.slow
def test_a_killed_training_resumes_from_its_last_epoch(tmp_path):
    """Kill -9 mid-training; the rerun continues from last.pt instead of starting over.
    The child kills itself right after its second epoch's checkpoint is written: a kill
    timed from outside raced the training (on a fast CI machine, 0.4 s epochs outran the
    polling and all epochs ended before the kill)."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    _, data_yaml = tiny_yolo_dataset(tmp_path)
    settings = dict(model="yolo11n.yaml", imgsz=128, epochs=4, batch=4, workers=0, device="cpu")
    run_dir = tmp_path / "run"
    scripts = Path(__file__).resolve().parents[1] / "workflow" / "scripts"
    code = (
        "import os, signal, sys, json; from karyoflow.detect.runtime import offline_environment; "
        "from karyoflow.detect.train import train_detector; "
        "from ultralytics.utils.callbacks.base import default_callbacks; "
        "default_callbacks['on_model_save'].append("
        "lambda trainer: trainer.epoch == 1 and os.kill(os.getpid(), signal.SIGKILL)); "
        f"offline_environment({str(tmp_path / 'ultralytics')!r}); "
        f"train_detector({str(data_yaml)!r}, {str(tmp_path / 'first.pt')!r}, "
        f"run_dir={str(run_dir)!r}, **json.loads(sys.argv[1]))"
    )
    env = dict(os.environ, PYTHONPATH=str(scripts))
    child = subprocess.run(
        [sys.executable, "-c", code, json.dumps(settings)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=600,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    history = run_dir / "results.csv"
    before = pd.read_csv(history)
    assert len(before) == 2  # killed after its second epoch, before the third

    offline_environment(tmp_path / "ultralytics")
    record = train_detector(data_yaml, tmp_path / "detector.pt", run_dir=run_dir, **settings)
    assert record["resumed"] is True
    epochs = pd.read_csv(history)
    assert len(epochs) == settings["epochs"]  # not a fresh 4 epochs appended to the old ones
    assert list(epochs.iloc[:, 0]) == list(range(1, settings["epochs"] + 1))
    # the first epoch is the killed run's own row (its clock), not a retrained one
    assert epochs["time"].iloc[0] == before["time"].iloc[0]
    assert record["train_seconds"] > epochs["time"].iloc[-1]  # both runs' time counted


def test_cpu_training_keeps_the_threads_it_was_given(tmp_path):
    """Ultralytics resets torch to cpu_count - 1 threads when it selects the CPU (one on
    a 2-core machine); a job given 3 threads keeps 3."""
    import torch
    from karyoflow.detect.runtime import offline_environment, use_cpu_threads

    offline_environment(tmp_path / "ultralytics")
    before = torch.get_num_threads()
    try:
        use_cpu_threads(3)
        from ultralytics.utils.torch_utils import select_device

        select_device("cpu", verbose=False)
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
