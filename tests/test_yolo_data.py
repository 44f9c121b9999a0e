from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from karyoflow.data.ingest import ingest_voc
from karyoflow.data.splits import make_splits
from karyoflow.data.synth import SynthParams, generate_shard
from karyoflow.detect.dataset import boxes_from_yolo, class_names, write_yolo_dataset, yolo_lines


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    generate_shard(
        root / "shard_000",
        range(4),
        seed=11,
        params=SynthParams(width=320, height=300, chr1_length_px=48, width_px=8),
        karyograms=False,
    )
    return ingest_voc([root / "shard_000"], source="synthetic")


@pytest.mark.parametrize("task", ["karyotype24", "chromosome"])
def test_voc_to_yolo_to_boxes_within_one_pixel(ingested, tmp_path, task):
    splits = make_splits(ingested.manifest, seed=0, test_fraction=0.25, val_fraction=0.34)
    data_yaml = write_yolo_dataset(
        ingested.manifest, ingested.annotations, splits, tmp_path / "yolo", task
    )
    data = yaml.safe_load(data_yaml.read_text())
    assert list(data["names"].values()) == class_names(task)
    split_of = dict(zip(splits["image_id"], splits["split"], strict=True))
    for row in ingested.manifest.itertuples():
        split = split_of[row.image_id]
        label = tmp_path / "yolo" / "labels" / split / f"{row.image_id}.txt"
        image = tmp_path / "yolo" / "images" / split / f"{row.image_id}.png"
        assert image.is_symlink() and image.resolve() == Path(row.image_path).resolve()
        boxes = boxes_from_yolo(label.read_text().splitlines(), row.width, row.height)
        truth = ingested.annotations[ingested.annotations.image_id == row.image_id]
        assert len(boxes) == len(truth) == row.n_objects
        assert np.abs(boxes[:, 1:] - truth[["xmin", "ymin", "xmax", "ymax"]].to_numpy()).max() < 1.0
        if task == "karyotype24":
            expected = [
                int(c) - 1 if c.isdigit() else {"X": 22, "Y": 23}[c] for c in truth["class"]
            ]
            assert boxes[:, 0].astype(int).tolist() == expected
        else:
            assert set(boxes[:, 0]) == {0.0}


def test_unknown_task_is_rejected():
    with pytest.raises(ValueError, match="detect.task"):
        yolo_lines(pd.DataFrame(columns=["class", "xmin", "ymin", "xmax", "ymax"]), 10, 10, "yolo")


def test_empty_training_split_is_refused(tmp_path):
    manifest = pd.DataFrame(
        {"image_id": ["a"], "image_path": [str(tmp_path / "a.png")], "width": [10], "height": [10]}
    )
    splits = pd.DataFrame({"image_id": ["a"], "split": ["test"]})
    annotations = pd.DataFrame(columns=["image_id", "class", "xmin", "ymin", "xmax", "ymax"])
    with pytest.raises(ValueError, match="train split is empty"):
        write_yolo_dataset(manifest, annotations, splits, tmp_path / "yolo", "chromosome")


def test_training_seconds_add_up_across_a_resume():
    from karyoflow.detect.dataset import training_seconds

    history = pd.DataFrame({"epoch": [1, 2, 3, 4, 5], "time": [60.0, 120.0, 50.0, 100.0, 148.0]})
    assert training_seconds(history) == 120.0 + 148.0
    assert training_seconds(history.iloc[:2]) == 120.0
