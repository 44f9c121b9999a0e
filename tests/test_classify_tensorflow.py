"""Classification on the TensorFlow side: models, data, training, checkpoints, hooks.

TensorFlow and torch cannot share one Python process (their bundled libraries clash), just
as they live in separate conda envs; these tests carry the `tensorflow` marker and run in
a pytest process of their own (`make test` runs both; see tests/conftest.py).
"""

import json
import logging

import numpy as np
import pandas as pd
import pytest
from crop_trees import crop_tree
from karyoflow.core.labels import CLASSES, GROUP_INDEX_OF_CLASS, GROUPS, N_CLASSES

pytestmark = pytest.mark.tensorflow


HYPER = {
    "model": "cnn9",
    "head": "flat",
    "input_size": 24,
    "filters": [4, 8],
    "dense": 16,
    "use_length": False,
    "epochs": 1,
    "batch": 16,
    "learning_rate": 0.001,
    "augment": {"flip": True, "rotation_deg": 10, "zoom": 0.1, "contrast": 0.2},
    "test_fraction": 0.3,
    "val_fraction": 0.5,
    "straighten": "none",
    "crop_set": "imported",
    "seed": 1,
}


@pytest.mark.parametrize("model", ["cnn9", "resnet"])
def test_two_stage_head_is_a_proper_distribution(model):
    from karyoflow.classify.models import build_model

    net = build_model(HYPER | {"model": model, "head": "two_stage", "use_length": True})
    rng = np.random.default_rng(0)
    out = net.predict(
        {"image": rng.random((5, 24, 24, 1)), "relative_length": rng.random((5, 1))}, verbose=0
    )
    probs, groups = np.asarray(out["class"]), np.asarray(out["group"])
    assert probs.shape == (5, N_CLASSES) and groups.shape == (5, len(GROUPS))
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    member = np.asarray(GROUP_INDEX_OF_CLASS)
    for g in range(len(GROUPS)):
        assert np.allclose(probs[:, member == g].sum(axis=1), groups[:, g], atol=1e-5)


def import_and_straighten(folder, out):
    """A crop folder imported and straightened (none) as the rules do it."""
    from karyoflow.crops.imports import import_crops_files
    from karyoflow.straighten.run import straighten_crops_files

    files = {
        name: str(out / name) for name in ("crops.parquet", "crops.npz", "bad.tsv", "gallery.png")
    }
    import_crops_files(
        str(folder),
        files["crops.parquet"],
        files["crops.npz"],
        files["bad.tsv"],
        files["gallery.png"],
        pattern=r"(?P<cell>[^/]+?)\.tiff?/clase(?P<class>\d+)/[^/]+$",
        side=48,
        fill=0.9,
        policy="skip",
    )
    straighten_crops_files(
        files["crops.parquet"],
        files["crops.npz"],
        str(out / "st.parquet"),
        str(out / "st.npz"),
        method="none",
    )
    return {
        "crops": files["crops.parquet"],
        "straight_table": str(out / "st.parquet"),
        "straight": str(out / "st.npz"),
        "bad_crops": files["bad.tsv"],
    }


@pytest.fixture(scope="module")
def tiny_crop_set(tmp_path_factory):
    """Six cells of three cases."""
    root = tmp_path_factory.mktemp("crops")
    crop_tree(root / "set", [f"{case}.{k}" for case in (101, 102, 103) for k in (1, 2)])
    return import_and_straighten(root / "set", root)


def split_by_case(crop_set_files, hyper):
    """The tiny crop set loaded and split by case as training does it."""
    from karyoflow.classify.data import load_crop_set
    from karyoflow.classify.train import case_split_settings

    return load_crop_set(
        crop_set_files["crops"],
        crop_set_files["straight_table"],
        crop_set_files["straight"],
        input_size=hyper["input_size"],
        case_split=case_split_settings(hyper),
    )


def test_imported_crops_are_split_by_case(tiny_crop_set):
    from karyoflow.classify.data import load_crop_set, unit_scale

    crop_set = load_crop_set(
        tiny_crop_set["crops"],
        tiny_crop_set["straight_table"],
        tiny_crop_set["straight"],
        input_size=24,
        case_split={"test_fraction": 0.3, "val_fraction": 0.5, "seed": 1},
    )
    assert len(crop_set.table) == 6 * 46 and crop_set.images.shape == (276, 24, 24, 1)
    per_case = crop_set.table.groupby("case_id")["split"].nunique()
    assert (per_case == 1).all() and set(crop_set.table["split"]) == {"train", "val", "test"}
    # kept as uint8 (a quarter of float32's memory); the models see 0..1
    assert crop_set.images.dtype == np.uint8 and crop_set.images.max() > 100
    scaled = unit_scale(crop_set.images[:5])
    assert scaled.dtype == np.float32 and 0 <= scaled.min() and scaled.max() <= 1
    # the longest class is the longest relative to its cell
    table = crop_set.table.assign(rel=crop_set.relative_length)
    by_class = table.groupby("true_class")["rel"].mean()
    assert by_class["1"] > 1.3 > 0.8 > by_class["22"]


@pytest.mark.parametrize("head", ["flat", "two_stage"])
def test_one_epoch_training_and_checkpoint_round_trip(tiny_crop_set, tmp_path, head, monkeypatch):
    from karyoflow.classify import infer
    from karyoflow.classify.data import load_crop_set
    from karyoflow.classify.infer import predict
    from karyoflow.classify.train import (
        load_classifier,
        read_metadata,
        train_classifier_files,
        training_class_shares,
    )

    hyper = HYPER | {"head": head}
    model_path = tmp_path / "classifier.keras"
    record = train_classifier_files(
        tiny_crop_set["crops"],
        tiny_crop_set["straight_table"],
        tiny_crop_set["straight"],
        str(model_path),
        str(tmp_path / "history.csv"),
        str(tmp_path / "history.png"),
        hyper=hyper,
    )
    assert record["train_crops"] > 0 and record["val_crops"] > 0 and record["best_epoch"] == 1
    history = pd.read_csv(tmp_path / "history.csv")
    assert list(history["epoch"]) == [1] and {
        "loss",
        "class_accuracy",
        "val_class_accuracy",
    } <= set(history)
    assert (tmp_path / "history.png").stat().st_size > 5000
    metadata = read_metadata(model_path)
    assert metadata["hyperparameters"] == json.loads(json.dumps(hyper)) and metadata[
        "classes"
    ] == list(CLASSES)
    model, loaded = load_classifier(model_path)
    assert loaded["head"] == head
    # the classes' shares of the training crops, the prior the assignment divides out
    counts = metadata["record"]["train_class_counts"]
    assert list(counts) == list(CLASSES) and sum(counts.values()) == record["train_crops"]
    shares = training_class_shares(model_path)
    assert shares.shape == (N_CLASSES,) and np.isclose(shares.sum(), 1.0)
    # the archive holds the weights, not the optimizer's state
    import io
    import zipfile

    import h5py

    with zipfile.ZipFile(model_path) as archive:
        with h5py.File(io.BytesIO(archive.read("model.weights.h5"))) as weights:
            assert "layers" in weights and "optimizer" not in weights
    crop_set = load_crop_set(
        tiny_crop_set["crops"],
        tiny_crop_set["straight_table"],
        tiny_crop_set["straight"],
        input_size=24,
    )
    probs, groups, rate = predict(model, crop_set)
    assert probs.shape == (276, N_CLASSES) and np.allclose(probs.sum(axis=1), 1, atol=1e-4)
    assert (groups is None) == (head == "flat") and rate > 0
    # in chunks that do not divide the set, the same answer as in one piece
    monkeypatch.setattr(infer, "_CHUNK", 100)
    chunked, chunked_groups, _ = predict(model, crop_set)
    assert np.allclose(chunked, probs, atol=1e-6)
    assert groups is None or np.allclose(chunked_groups, groups, atol=1e-6)


def test_added_crop_sets_join_training_only(tiny_crop_set, tmp_path_factory):
    """classify.add_crops: another set's training split joins the training crops; the
    model is chosen on the first set's validation split alone."""
    from karyoflow.classify.train import read_metadata, train_classifier_files

    root = tmp_path_factory.mktemp("added")
    crop_tree(root / "set", [f"{case}.{k}" for case in (201, 202, 203, 204) for k in (1, 2)])
    added = import_and_straighten(root / "set", root)
    own = split_by_case(tiny_crop_set, HYPER)
    other = split_by_case(added, HYPER)
    out = tmp_path_factory.mktemp("model")
    files = (str(out / "m.keras"), str(out / "h.csv"), str(out / "h.png"))
    args = (tiny_crop_set["crops"], tiny_crop_set["straight_table"], tiny_crop_set["straight"])
    record = train_classifier_files(
        *args,
        *files,
        hyper=HYPER | {"add_crops": ["karyograms"]},
        added_crops=[added["crops"]],
        added_straight_tables=[added["straight_table"]],
        added_straights=[added["straight"]],
    )
    n_own, n_other = (int((s.table["split"] == "train").sum()) for s in (own, other))
    assert n_own > 0 and n_other > 0
    assert record["train_crops"] == n_own + n_other
    assert record["added_train_crops"] == {"karyograms": n_other}
    assert record["val_crops"] == int((own.table["split"] == "val").sum())
    counts = read_metadata(files[0])["record"]["train_class_counts"]
    assert sum(counts.values()) == n_own + n_other
    with pytest.raises(ValueError):  # the files and the names disagree
        train_classifier_files(
            *args, *files, hyper=HYPER, added_crops=[added["crops"]], added_straight_tables=[]
        )


def test_fine_tuning_refuses_another_architecture(tiny_crop_set, tmp_path):
    from karyoflow.classify.train import train_classifier_files

    args = (tiny_crop_set["crops"], tiny_crop_set["straight_table"], tiny_crop_set["straight"])
    first = tmp_path / "first.keras"
    train_classifier_files(
        *args, str(first), str(tmp_path / "h.csv"), str(tmp_path / "h.png"), hyper=HYPER
    )
    tuned = train_classifier_files(
        *args,
        str(tmp_path / "tuned.keras"),
        str(tmp_path / "h2.csv"),
        str(tmp_path / "h2.png"),
        hyper=HYPER,
        init=str(first),
    )
    assert tuned["init_weights"] == str(first)
    with pytest.raises(ValueError, match="filters"):
        train_classifier_files(
            *args,
            str(tmp_path / "x.keras"),
            str(tmp_path / "h3.csv"),
            str(tmp_path / "h3.png"),
            hyper=HYPER | {"filters": [4, 16]},
            init=str(first),
        )
    # another input size is fine-tuned from the same convolutions
    larger = train_classifier_files(
        *args,
        str(tmp_path / "larger.keras"),
        str(tmp_path / "h4.csv"),
        str(tmp_path / "h4.png"),
        hyper=HYPER | {"input_size": 32},
        init=str(first),
    )
    assert larger["init_weights"] == str(first)


def test_a_larger_input_keeps_the_convolutions_and_starts_the_dense_layer_afresh():
    from karyoflow.classify.models import build_model
    from karyoflow.classify.train import carry_weights

    small = build_model(HYPER)
    large = carry_weights(small, build_model(HYPER | {"input_size": 32}))
    carried = fresh = 0
    for old, new in zip(small.layers, large.layers, strict=True):
        before, after = old.get_weights(), new.get_weights()
        if not before:
            continue
        if [w.shape for w in before] == [w.shape for w in after]:
            assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
            carried += 1
        else:
            fresh += 1
    # four convolutions and the class layer carried; the dense layer after the flatten
    # (its input grows with the image) starts afresh
    assert carried == 5 and fresh == 1
    assert large.inputs[0].shape[1] == 32


def test_external_crop_hook_scores_a_crop_folder(tiny_crop_set, tmp_path):
    from karyoflow.classify.evaluate import (
        classify_files,
        evaluate_classifier_files,
        evaluate_external_crops_files,
    )
    from karyoflow.classify.train import train_classifier_files

    args = (tiny_crop_set["crops"], tiny_crop_set["straight_table"], tiny_crop_set["straight"])
    model = str(tmp_path / "m.keras")
    train_classifier_files(
        *args, model, str(tmp_path / "h.csv"), str(tmp_path / "h.png"), hyper=HYPER
    )
    # a held-out folder: two cells, a stray file, a class out of range
    folder = tmp_path / "external"
    crop_tree(folder, ["201.1", "202.1"], sex="XX", seed=5)
    (folder / "notes.png").write_bytes(b"")
    (folder / "201.1.tiff" / "clase25").mkdir()
    (folder / "201.1.tiff" / "clase25" / "clase25_0_201.1.tiff").write_bytes(
        (folder / "201.1.tiff" / "clase1" / "clase1_0_201.1.tiff").read_bytes()
    )
    external = import_and_straighten(folder, tmp_path)
    out = tmp_path / "external.json"
    record = evaluate_external_crops_files(
        external["crops"],
        external["straight_table"],
        external["straight"],
        external["bad_crops"],
        model,
        str(out),
        extra_copy_penalty=3.0,
    )
    saved = json.loads(out.read_text())
    assert saved == json.loads(json.dumps(record))
    assert saved["n"] == 92 and saved["n_cells"] == 2 and saved["n_skipped"] == 2
    for key in ("accuracy", "accuracy_with_assignment", "macro_f1"):
        assert 0 <= saved[key] <= 1

    # rule classify: each crop's own call and its probabilities; the cell's objects are
    # assigned together later, by the karyotype stage
    calls = classify_files(
        external["crops"],
        external["straight_table"],
        external["straight"],
        model,
        str(tmp_path / "calls.parquet"),
    )
    probabilities = calls[[f"p_{c}" for c in CLASSES]].to_numpy()
    assert len(calls) == 92 and np.allclose(probabilities.sum(axis=1), 1, atol=1e-3)
    assert (calls["predicted_index"] == probabilities.argmax(axis=1)).all()
    assert not any(column.startswith("assign") for column in calls)
    assert pd.read_parquet(tmp_path / "calls.parquet").equals(calls)

    evaluation = {
        name: str(tmp_path / name)
        for name in (
            "metrics.json",
            "per_class.csv",
            "confusion.png",
            "ablation.csv",
            "ablation.png",
            "predictions.parquet",
        )
    }
    scored = evaluate_classifier_files(
        tiny_crop_set["crops"],
        [model],
        [args[1]],
        [args[2]],
        evaluation["metrics.json"],
        evaluation["per_class.csv"],
        evaluation["confusion.png"],
        evaluation["ablation.csv"],
        evaluation["ablation.png"],
        evaluation["predictions.parquet"],
        variants=[["none", "flat"]],
        methods=["none"],
        main=["none", "flat"],
        extra_copy_penalty=3.0,
    )
    test_cells = scored["n_cells"]
    assert scored["n"] == 46 * test_cells and len(scored["ablation"]) == 2
    assert len(pd.read_csv(evaluation["per_class.csv"])) == N_CLASSES
    assert pd.read_parquet(evaluation["predictions.parquet"]).shape[0] == scored["n"]


def test_a_killed_training_resumes_from_its_last_epoch(tiny_crop_set, tmp_path):
    import keras
    from karyoflow.classify.train import read_metadata, train_classifier_files

    class Killed(Exception):
        pass

    class KillAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise Killed  # after the checkpoint of epoch 1 was written

    args = (tiny_crop_set["crops"], tiny_crop_set["straight_table"], tiny_crop_set["straight"])
    model = tmp_path / "model" / "classifier.keras"
    outputs = (str(model), str(tmp_path / "history.csv"), str(tmp_path / "history.png"))
    hyper = HYPER | {"epochs": 2}
    with pytest.raises(Killed):
        train_classifier_files(*args, *outputs, hyper=hyper, callbacks=[KillAfterFirstEpoch()])
    state = json.loads((model.parent / "checkpoint" / "state.json").read_text())
    assert state["epoch"] == 1 and not model.exists()
    first = state["rows"][0]

    # resumed with one epoch more than first asked: epochs is where training stops
    hyper = hyper | {"epochs": 3}
    record = train_classifier_files(*args, *outputs, hyper=hyper)
    history = pd.read_csv(tmp_path / "history.csv")
    assert list(history["epoch"]) == [1, 2, 3]
    assert history["loss"].iloc[0] == pytest.approx(first["loss"])  # epoch 1 was not redone
    assert record["best_epoch"] in (1, 2) and read_metadata(model)["record"] == json.loads(
        json.dumps(record)
    )
    assert not (model.parent / "checkpoint").exists()


def test_a_cosine_schedule_ends_at_zero_and_resumes_on_its_curve(tiny_crop_set, tmp_path, caplog):
    import karyoflow.classify.models  # noqa: F401  (registers the custom layer)
    import keras
    from karyoflow.classify.train import train_classifier_files

    class Killed(Exception):
        pass

    class KillAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise Killed

    args = (tiny_crop_set["crops"], tiny_crop_set["straight_table"], tiny_crop_set["straight"])
    model = tmp_path / "model" / "classifier.keras"
    outputs = (str(model), str(tmp_path / "history.csv"), str(tmp_path / "history.png"))
    hyper = HYPER | {"epochs": 2, "lr_schedule": "cosine"}
    with pytest.raises(Killed):
        train_classifier_files(*args, *outputs, hyper=hyper, callbacks=[KillAfterFirstEpoch()])
    halfway = keras.models.load_model(model.parent / "checkpoint" / "epoch_1.keras")
    # half of the steps done: the rate is half the starting one (cosine at its midpoint)
    assert float(halfway.optimizer.learning_rate) == pytest.approx(0.0005, rel=0.05)

    # a decaying rate is shaped by `epochs`: asking for more starts afresh
    with caplog.at_level(logging.INFO, logger="karyoflow.classify.train"):
        train_classifier_files(*args, *outputs, hyper=hyper | {"epochs": 3})
    assert "other settings: starting afresh" in caplog.text
    model.unlink()

    with pytest.raises(Killed):
        train_classifier_files(*args, *outputs, hyper=hyper, callbacks=[KillAfterFirstEpoch()])
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="karyoflow.classify.train"):
        train_classifier_files(*args, *outputs, hyper=hyper)
    assert "resuming from the checkpoint after epoch 1" in caplog.text
    rates = pd.read_csv(tmp_path / "history.csv")["learning_rate"]
    assert rates.iloc[0] == pytest.approx(0.0005, rel=0.05)
    assert rates.iloc[-1] == pytest.approx(0.0, abs=1e-6)


def test_an_unknown_learning_rate_schedule_is_refused():
    from karyoflow.classify.models import build_model, compile_model

    with pytest.raises(ValueError, match="unknown learning-rate schedule 'step'"):
        compile_model(build_model(HYPER), 0.001, "step")


def test_training_is_deterministic_for_a_seed(tiny_crop_set):
    """Same seed, same process: the same history and predictions, bit for bit (seeds plus
    op determinism; without the latter the augmentation's parallel map alone moved the
    accuracies by 1-3 points). Another seed gives another model."""
    from karyoflow.classify.infer import predict
    from karyoflow.classify.train import train

    hyper = HYPER | {"epochs": 2}
    crop_set = split_by_case(tiny_crop_set, hyper)

    def run(seed):
        model, history = train(
            crop_set.split("train"), crop_set.split("val"), hyper | {"seed": seed}
        )
        probs, _, _ = predict(model, crop_set.split("test"))
        return history.drop(columns="seconds"), probs

    first, again, other = run(1), run(1), run(2)
    assert {"loss", "class_accuracy", "val_loss", "val_class_accuracy"} <= set(first[0])
    pd.testing.assert_frame_equal(first[0], again[0], check_exact=True)
    assert np.array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])
    assert (first[0]["loss"] != other[0]["loss"]).all()


def test_the_classifier_learns_the_tiny_crop_set(tiny_crop_set, caplog):
    """Length and band period tell the tiny set's classes apart: a few epochs of the small
    cnn9 must beat chance (1/24) several times over on the held-out case, with and
    without the per-cell assignment. The log says which device trained it."""
    import logging

    import tensorflow as tf
    from karyoflow.classify.infer import classify
    from karyoflow.classify.train import train

    hyper = HYPER | {"epochs": 12, "learning_rate": 0.003, "augment": {"flip": False}}
    crop_set = split_by_case(tiny_crop_set, hyper)
    with caplog.at_level(logging.INFO, logger="karyoflow.classify.train"):
        model, _ = train(crop_set.split("train"), crop_set.split("val"), hyper)
    device = "GPU (" if tf.config.list_physical_devices("GPU") else "CPU (TensorFlow found no GPU)"
    assert f"validating on {len(crop_set.split('val').labels)}, on {device}" in caplog.text
    test = crop_set.split("test")
    calls, _, _ = classify(model, test, extra_copy_penalty=3.0)
    truth = calls["true_class"].to_numpy()
    chance = 1 / N_CLASSES
    independent = float((calls["predicted"].to_numpy() == truth).mean())
    assigned = float((calls["assigned"].to_numpy() == truth).mean())
    assert independent > 4 * chance, independent
    assert assigned > 4 * chance, assigned
