"""Training loop and checkpoints. A checkpoint is a .keras archive that also holds
`karyoflow.json`: the hyperparameters, class order, straightening method and training
record, so a model file alone says how to feed it."""

from __future__ import annotations

import json
import logging
import shutil
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from karyoflow.classify.data import CropSet
from karyoflow.core.labels import CLASSES

log = logging.getLogger(__name__)
METADATA = "karyoflow.json"
# What must match for fine-tuning from another checkpoint. The input size may differ:
# every layer whose weights keep their shape (the convolutions) is carried over, the
# rest (cnn9's dense layer after the flatten) starts afresh.
ARCHITECTURE_KEYS = ("model", "head", "filters", "dense", "use_length")


def set_seed(seed: int, threads: int = 0) -> None:
    """Seed Python, NumPy and TensorFlow, and make TensorFlow's ops deterministic.

    Seeds alone are not enough: the augmentation layers draw from one random state inside
    a parallel tf.data map, so which batch gets which draw depended on thread timing
    (accuracies 1-3 points apart between two runs of one seed). Op determinism runs such
    a map in order, and picks deterministic kernels on a GPU; on CPU it cost no measurable
    speed. It holds for the rest of the process.
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()
    if threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(int(threads))
        except RuntimeError:  # TensorFlow already running in this process (tests)
            log.debug("thread count left as it was: TensorFlow is initialised")


def class_metric_names(logs: dict) -> dict:
    """Keras names a single output's metrics 'accuracy', several outputs' 'class_accuracy';
    one spelling for both."""
    renamed = {}
    for key, value in logs.items():
        prefix = "val_" if key.startswith("val_") else ""
        bare = key[len(prefix) :]
        if bare == "accuracy":
            key = f"{prefix}class_accuracy"
        renamed[key] = value
    return renamed


def _epoch_logger(total_epochs: int, checkpoint: Path | None, hyper: dict, resumed: dict | None):
    """Per-epoch log line, history rows, best weights by validation accuracy and, with a
    checkpoint folder, the state a killed training resumes from."""
    import keras

    class EpochLog(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            state = resumed or {}
            self.rows = list(state.get("rows", []))
            self.best = state.get("best", -1.0)
            self.best_epoch = state.get("best_epoch", 0)
            self.best_weights = state.get("best_weights")
            self.offset = self.rows[-1]["seconds"] if self.rows else 0.0
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            logs = class_metric_names(logs or {})
            seconds = round(self.offset + time.perf_counter() - self.started, 1)
            self.rows.append(
                {
                    "epoch": epoch + 1,
                    **{k: float(v) for k, v in logs.items()},
                    # the rate at the end of the epoch (a schedule moves it every step)
                    "learning_rate": float(self.model.optimizer.learning_rate),
                    "seconds": seconds,
                }
            )
            score = logs.get("val_class_accuracy", logs.get("class_accuracy", 0.0))
            if score > self.best:
                self.best, self.best_epoch = float(score), epoch + 1
                self.best_weights = self.model.get_weights()
            log.info(
                "epoch %d/%d: loss %.4f, accuracy %.4f, val loss %.4f, val accuracy %.4f (%.0f s)",
                epoch + 1,
                total_epochs,
                logs.get("loss", np.nan),
                logs.get("class_accuracy", np.nan),
                logs.get("val_loss", np.nan),
                score,
                seconds,
            )
            if checkpoint is not None:
                save_checkpoint(checkpoint, self.model, hyper, self)

    return EpochLog()


def save_checkpoint(folder: Path, model, hyper: dict, state) -> None:
    """The model with its optimizer, the best weights so far, then (last, atomically) the
    state that names them: a kill at any point leaves the previous epoch's state valid."""
    from karyoflow.core.atomic import atomic_path

    folder.mkdir(parents=True, exist_ok=True)
    epoch = state.rows[-1]["epoch"]
    model.save(folder / f"epoch_{epoch}.keras")
    np.savez(folder / f"best_{epoch}.npz", *state.best_weights)
    record = {
        "hyperparameters": hyper,
        "epoch": epoch,
        "best": state.best,
        "best_epoch": state.best_epoch,
        "rows": state.rows,
    }
    with atomic_path(folder / "state.json") as tmp:
        Path(tmp).write_text(json.dumps(record, default=str))
    for old in folder.glob("*_*.*"):
        if old.stem.split("_")[-1] != str(epoch):
            old.unlink()


def load_checkpoint(folder: Path | None, hyper: dict):
    """(model, state) to resume from, or None when there is no usable checkpoint."""
    import keras

    import karyoflow.classify.models  # noqa: F401  (registers the custom layer)

    path = None if folder is None else folder / "state.json"
    if path is None or not path.is_file():
        return None
    state = json.loads(path.read_text())
    # At a constant learning rate `epochs` is only where training stops: a training may
    # resume with more (or fewer) epochs. A decaying rate is shaped by `epochs`, so there
    # it must match too; any other change starts afresh.
    free = {"epochs"} if hyper.get("lr_schedule", "constant") == "constant" else set()
    saved = {k: v for k, v in state["hyperparameters"].items() if k not in free}
    wanted = {k: v for k, v in json.loads(json.dumps(hyper, default=str)).items() if k not in free}
    if saved != wanted:
        log.info("checkpoint in %s has other settings: starting afresh", folder)
        return None
    epoch = state["epoch"]
    if epoch >= hyper["epochs"]:
        log.info("checkpoint in %s is past epoch %d: starting afresh", folder, hyper["epochs"])
        return None
    model = keras.models.load_model(folder / f"epoch_{epoch}.keras")
    with np.load(folder / f"best_{epoch}.npz") as best:
        state["best_weights"] = [best[f"arr_{i}"] for i in range(len(best.files))]
    log.info("resuming from the checkpoint after epoch %d in %s", epoch, folder)
    return model, state


def carry_weights(source, target):
    """`target` with each layer's weights copied from the same layer of `source` (same
    builder, so the same layer order) where every array keeps its shape; returns target.
    Fine-tuning at another input size keeps what the convolutions learnt."""
    if len(source.layers) != len(target.layers):
        raise ValueError(f"{source.name} and {target.name} do not have the same layers")
    fresh = []
    for old, new in zip(source.layers, target.layers, strict=True):
        weights = old.get_weights()
        if [w.shape for w in weights] == [w.shape for w in new.get_weights()]:
            new.set_weights(weights)
        else:
            fresh.append(new.name)
    log.info("weights carried over except %s (other shapes: start afresh)", fresh or "none")
    return target


def train(
    train_set: CropSet,
    val_set: CropSet,
    hyper: dict,
    init: str = "",
    threads: int = 0,
    checkpoint: Path | None = None,
    callbacks: list | None = None,
):
    """Fit a model; returns (model restored to its best validation epoch, history table).

    With a checkpoint folder every epoch is saved there, and a training killed part-way
    continues from its last finished epoch (the shuffling order then differs from an
    uninterrupted run).
    """
    from karyoflow.classify.data import dataset
    from karyoflow.classify.models import build_model, compile_model

    if len(train_set.labels) == 0:
        raise ValueError("no labelled training crops: check the crop set and its splits")
    set_seed(hyper["seed"], threads)
    resumed = load_checkpoint(checkpoint, hyper)
    if resumed:
        model, state = resumed
    elif init:
        state = None
        model, init_hyper = load_classifier(init)
        clash = {
            k: (init_hyper.get(k), hyper[k])
            for k in ARCHITECTURE_KEYS
            if init_hyper.get(k) != hyper[k]
        }
        if clash:
            raise ValueError(
                f"classify.init_weights {init} was trained with other settings: "
                + ", ".join(f"{k} {a!r} there, {b!r} here" for k, (a, b) in clash.items())
            )
        if init_hyper.get("input_size") != hyper["input_size"]:
            from karyoflow.classify.models import build_model

            model = carry_weights(model, build_model(hyper))
        log.info("fine-tuning from %s", init)
    else:
        state = None
        model = build_model(hyper)
    if not resumed:
        steps = hyper["epochs"] * -(-len(train_set.labels) // hyper["batch"])
        compile_model(
            model, hyper["learning_rate"], hyper.get("lr_schedule", "constant"), total_steps=steps
        )
    common = {"head": hyper["head"], "batch": hyper["batch"], "seed": hyper["seed"]}
    train_data = dataset(train_set, augment=hyper["augment"], shuffle=True, **common)
    val_data = dataset(val_set, **common) if len(val_set.labels) else None
    logger = _epoch_logger(hyper["epochs"], checkpoint, hyper, state)
    import tensorflow as tf

    gpus = [device.name for device in tf.config.list_physical_devices("GPU")]
    log.info(
        "training %s (%d parameters) on %d crops, validating on %d, on %s",
        model.name,
        model.count_params(),
        len(train_set.labels),
        len(val_set.labels),
        f"GPU ({', '.join(gpus)})" if gpus else "CPU (TensorFlow found no GPU)",
    )
    model.fit(
        train_data,
        validation_data=val_data,
        epochs=hyper["epochs"],
        initial_epoch=state["epoch"] if state else 0,
        callbacks=[logger, *(callbacks or [])],
        shuffle=False,  # the tf.data pipeline shuffles, seeded
        verbose=0,
    )
    history = pd.DataFrame(logger.rows)
    if logger.best_weights is not None:
        model.set_weights(logger.best_weights)
    history.attrs["best_epoch"] = logger.best_epoch
    return model, history


def save_classifier(model, hyper: dict, path: str | Path, record: dict | None = None) -> None:
    """Model archive with the hyperparameters and training record inside. It holds the
    weights but not the optimizer's state (two thirds of a compiled model's archive):
    inference needs none, and fine-tuning starts a fresh optimizer."""
    from karyoflow.classify.models import build_model
    from karyoflow.core.atomic import atomic_path

    metadata = {"hyperparameters": hyper, "classes": list(CLASSES), "record": record or {}}
    weights_only = build_model(hyper)  # never compiled: no optimizer to save
    weights_only.set_weights(model.get_weights())
    with atomic_path(path) as tmp:
        keras_tmp = Path(tmp).with_suffix(".keras")
        weights_only.save(keras_tmp)
        with zipfile.ZipFile(keras_tmp, "a") as archive:
            archive.writestr(METADATA, json.dumps(metadata, indent=1, default=str))
        keras_tmp.replace(tmp)


def read_metadata(path: str | Path) -> dict:
    with zipfile.ZipFile(path) as archive:
        if METADATA not in archive.namelist():
            raise ValueError(f"{path} is not a karyoflow classifier (no {METADATA} inside)")
        return json.loads(archive.read(METADATA))


def class_counts(crop_set: CropSet) -> dict[str, int]:
    """Labelled crops per class, in karyoflow's class order."""
    counts = np.bincount(crop_set.labels[crop_set.labels >= 0], minlength=len(CLASSES))
    return {c: int(n) for c, n in zip(CLASSES, counts, strict=True)}


def training_class_shares(path: str | Path) -> np.ndarray | None:
    """Each class's share of the crops a classifier learnt from (its posteriors' prior),
    or None for a checkpoint that does not record them (taken as equal shares)."""
    counts = read_metadata(path).get("record", {}).get("train_class_counts")
    if not counts:
        log.warning("%s records no training class counts: classes taken as equally common", path)
        return None
    counts = np.array([counts.get(c, 0) for c in CLASSES], dtype=float)
    # a class the classifier never saw keeps a small share rather than an infinite weight
    counts = np.maximum(counts, 0.5)
    return counts / counts.sum()


def load_classifier(path: str | Path):
    """(model, hyperparameters) from a checkpoint written by save_classifier."""
    import keras

    import karyoflow.classify.models  # noqa: F401  (registers the custom layer)

    metadata = read_metadata(path)
    if metadata["classes"] != list(CLASSES):
        raise ValueError(f"{path}: class order {metadata['classes']} is not karyoflow's")
    return keras.models.load_model(path, compile=False), metadata["hyperparameters"]


def case_split_settings(hyper: dict) -> dict:
    keys = ("test_fraction", "val_fraction", "seed")
    return {key: hyper[key] for key in keys}


def train_classifier_files(
    crops: str,
    straight_table: str,
    straight: str,
    model: str,
    history: str,
    history_png: str,
    *,
    hyper: dict,
    init: str = "",
    threads: int = 0,
    callbacks: list | None = None,
    added_crops: list[str] | tuple = (),
    added_straight_tables: list[str] | tuple = (),
    added_straights: list[str] | tuple = (),
) -> dict:
    """Rule train_classifier: train on the train split, select on val, save all; an
    interrupted training resumes from <model folder>/checkpoint.

    added_*: further crop sets (`classify.add_crops`, e.g. the 612-cell G-band crops),
    whose training split joins this set's; the model is still chosen on this set's
    validation split, the one it is used on.
    """
    from karyoflow.classify import plots
    from karyoflow.classify.data import load_crop_set
    from karyoflow.core.tables import write_csv

    started = time.perf_counter()

    def load(table, straight_rows, arrays):
        return load_crop_set(
            table,
            straight_rows,
            arrays,
            input_size=hyper["input_size"],
            case_split=case_split_settings(hyper),
        )

    crop_set = load(crops, straight_table, straight)
    added = [
        load(*files).split("train")
        for files in zip(added_crops, added_straight_tables, added_straights, strict=True)
    ]
    train_set = CropSet.concat([crop_set.split("train"), *added])
    checkpoint = Path(model).parent / "checkpoint"
    trained, table = train(
        train_set, crop_set.split("val"), hyper, init, threads, checkpoint, callbacks
    )
    seconds = time.perf_counter() - started
    record = {
        "train_crops": len(train_set.labels),
        "val_crops": int((crop_set.table["split"] == "val").sum()),
        "train_cells": int(train_set.table["image_id"].nunique()),
        "added_train_crops": {
            name: len(part.labels)
            for name, part in zip(hyper.get("add_crops", []), added, strict=True)
        },
        "best_epoch": int(table.attrs.get("best_epoch", 0)),
        "best_val_accuracy": round(
            float(table.get("val_class_accuracy", pd.Series([np.nan])).max()), 4
        ),
        "training_seconds": round(seconds, 1),
        "init_weights": init,
        "train_class_counts": class_counts(train_set),
    }
    write_csv(table, history)
    plots.classifier_history(
        table, history_png, f"{hyper['model']}, {hyper['head']}, straighten {hyper['straighten']}"
    )
    save_classifier(trained, hyper, model, record)
    shutil.rmtree(checkpoint, ignore_errors=True)
    log.info("saved %s: %s", model, record)
    return record
