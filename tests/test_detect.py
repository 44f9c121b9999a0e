"""Detector training runs offline: one epoch on a handful of synthetic images."""

import json
import socket

import pytest
from karyoflow.detect import offline_environment, resolve_model, train_detector
from karyoflow.ingest import ingest_voc
from karyoflow.splits import make_splits
from karyoflow.synth import SynthParams, generate_shard
from karyoflow.yolo_data import write_yolo_dataset


def test_missing_weights_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        resolve_model(str(tmp_path / "yolov10l.pt"))
    with pytest.raises(ValueError, match="model yaml or a local .pt"):
        resolve_model("yolov10l")


@pytest.mark.slow
def test_one_epoch_with_the_network_blocked(tmp_path, monkeypatch):
    attempts = []

    def refuse(self, address, *args, **kwargs):
        attempts.append(address)
        raise OSError(f"network blocked in tests: {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", lambda address, *a, **k: refuse(None, address))
    for key in ("YOLO_OFFLINE", "YOLO_CONFIG_DIR"):
        monkeypatch.delenv(key, raising=False)
    offline_environment(tmp_path / "ultralytics")

    params = SynthParams(width=256, height=256, chr1_length_px=40, width_px=7)
    generate_shard(tmp_path / "shard", range(5), seed=3, params=params, karyograms=False)
    ingested = ingest_voc([tmp_path / "shard"], source="synthetic")
    splits = make_splits(ingested.manifest, seed=0, test_fraction=0.2, val_fraction=0.25)
    data_yaml = write_yolo_dataset(
        ingested.manifest, ingested.annotations, splits, tmp_path / "yolo", "chromosome"
    )

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
    assert attempts == [], f"training tried to reach the network: {attempts}"


def test_unreadable_image_stays_a_bad_input_after_ultralytics_import(tmp_path):
    from karyoflow.errors import BadInputError
    from karyoflow.io.images import read_grayscale

    offline_environment(tmp_path / "ultralytics")
    import ultralytics.utils.patches  # noqa: F401  (replaces PIL.Image.open)

    bad = tmp_path / "noise.png"
    bad.write_bytes(b"this is not an image")
    with pytest.raises(BadInputError) as err:
        read_grayscale(bad)
    assert err.value.problem == "unreadable_image" and "noise.png" in str(err.value)
