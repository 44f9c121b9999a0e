"""YOLO detector training with Ultralytics, never touching the network (torch side).

Call `offline_environment` before anything imports ultralytics: it reads its settings
directory and offline switch at import time.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

import pandas as pd

from karyoflow.errors import BadInputError
from karyoflow.io.atomic import atomic_path
from karyoflow.io.tables import write_json
from karyoflow.io.images import read_grayscale
from karyoflow.logs import Progress

log = logging.getLogger("karyoflow.detect")


def offline_environment(settings_dir: str | Path) -> None:
    """Keep Ultralytics off the network and its settings file under our results folder."""
    settings_dir = Path(settings_dir).resolve()
    settings_dir.mkdir(parents=True, exist_ok=True)
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_CONFIG_DIR"] = str(settings_dir)
    os.environ.setdefault("MPLBACKEND", "Agg")
    # Ultralytics' dataset check asks for Arial whether or not it plots, and looks it up
    # online when the settings folder lacks it: give it matplotlib's bundled DejaVu Sans
    # under that name (it only draws labels, and plots are off).
    from matplotlib import get_data_path

    bundled = Path(get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        font = settings_dir / "Ultralytics" / name  # where Ultralytics keeps its settings
        if not font.is_file():
            with atomic_path(font) as tmp:
                shutil.copyfile(bundled, tmp)


def resolve_model(model: str) -> str:
    """A model yaml known to Ultralytics (built from scratch) or an existing local .pt."""
    if model.endswith((".yaml", ".yml")):
        return model
    if model.endswith(".pt"):
        if not Path(model).is_file():
            raise FileNotFoundError(
                f"detector weights {model!r} not found: nothing is downloaded here, so put the "
                "file there or use a model yaml (e.g. yolo11n.yaml) to train from scratch"
            )
        return model
    raise ValueError(f"detector model {model!r} must be a model yaml or a local .pt file")


def pick_device(device: str = "auto") -> str:
    if device != "auto":
        return device
    import torch

    return "0" if torch.cuda.is_available() else "cpu"


def train_detector(
    data_yaml: str | Path,
    weights_out: str | Path,
    *,
    model: str = "yolo11n.yaml",
    imgsz: int = 640,
    epochs: int = 30,
    batch: int = 16,
    patience: int = 50,
    seed: int = 0,
    workers: int = 2,
    device: str = "auto",
    nominal_batch: int = 0,
    extra_args: dict | None = None,
    run_dir: str | Path,
    history_out: str | Path | None = None,
) -> dict:
    """Train, copy the best weights to `weights_out`, return the final validation metrics.

    The .pt carries its training arguments (Ultralytics stores them); a JSON beside it
    records them too, with the metrics and the training time, for the report. An
    interrupted run with the same settings in `run_dir` is resumed from its last epoch.

    `nominal_batch` (Ultralytics' nbs: gradients are accumulated up to it) defaults to
    `batch`: with the Ultralytics default of 64 a 150-image training set at batch 8 gets
    two optimizer steps an epoch, and a short CPU training learns nothing. `extra_args`
    passes any other Ultralytics training argument.
    """
    from ultralytics import YOLO

    device = pick_device(device)
    run_dir = Path(run_dir).resolve()
    settings = dict(
        data=str(Path(data_yaml).resolve()),
        epochs=epochs,
        imgsz=imgsz,
        batch=batch,
        patience=patience,
        seed=seed,
        deterministic=True,
        workers=workers,
        device=device,
        amp=device != "cpu",  # the AMP check downloads weights; AMP is GPU-only anyway
        plots=False,  # Ultralytics' plots fetch a font; the report draws its own figures
        project=str(run_dir.parent),
        name=run_dir.name,
        exist_ok=True,
        verbose=False,
        nbs=nominal_batch or batch,
    )
    reserved = set(settings) & set(extra_args or {})
    if reserved:
        raise ValueError(f"detect.extra_args may not set {sorted(reserved)}: use their own keys")
    settings.update(extra_args or {})
    last = run_dir / "weights" / "last.pt"
    started = time.perf_counter()
    completed = _completed_epochs(last, settings, model)
    resumed = completed is not None
    seconds_before = 0.0
    if resumed:
        log.info("resuming the interrupted training in %s after epoch %d", run_dir, completed)
        seconds_before = _drop_epochs_after(run_dir / "results.csv", completed)
        results = YOLO(str(last)).train(resume=True)
    else:
        if run_dir.exists():
            # Ultralytics appends to an old results.csv: start from an empty folder
            log.info("removing the previous training folder %s", run_dir)
            shutil.rmtree(run_dir)
        log.info("training %s on %s (%s)", model, data_yaml, settings)
        results = YOLO(resolve_model(model)).train(**settings)
    seconds = time.perf_counter() - started
    best = run_dir / "weights" / "best.pt"
    if not best.is_file():
        raise RuntimeError(f"training finished without {best}; see the log above")
    with atomic_path(weights_out) as tmp:
        shutil.copyfile(best, tmp)
    if history_out is not None:
        with atomic_path(history_out) as tmp:
            shutil.copyfile(run_dir / "results.csv", tmp)
    metrics = {k: float(v) for k, v in (results.results_dict if results else {}).items()}
    history = _read_history(run_dir / "results.csv")
    # Ultralytics' time column restarts at zero in a resumed run: its last value is this
    # run's training time, added to what the earlier runs had trained.
    train_seconds = seconds_before + float(pd.to_numeric(history["time"]).iloc[-1])
    record = {
        "model": model,
        # all epochs, also those before an interruption; this_run_seconds: since the restart
        "train_seconds": round(train_seconds, 1),
        "this_run_seconds": round(seconds, 1),
        "resumed": resumed,
        "metrics": metrics,
        **settings,
    }
    write_json(record, Path(weights_out).with_suffix(".json"))
    log.info("trained in %.0f s: %s", seconds, metrics)
    return record


# Settings that must be equal for an interrupted run to be continued rather than restarted.
_RESUME_KEYS = ("data", "epochs", "imgsz", "batch", "seed", "patience")


def _completed_epochs(last: Path, settings: dict, model: str) -> int | None:
    """Epochs finished by the interrupted training `last` belongs to; None when `last` is
    not an unfinished checkpoint of this very training."""
    if not last.is_file():
        return None
    import torch

    try:
        checkpoint = torch.load(last, map_location="cpu", weights_only=False)
    except Exception as err:  # a checkpoint cut short by the kill: start again
        log.warning("cannot read %s (%s): training starts again", last, err)
        return None
    args = checkpoint.get("train_args") or {}
    unfinished = checkpoint.get("optimizer") is not None and checkpoint.get("epoch", -1) >= 0
    same = all(str(args.get(k)) == str(settings[k]) for k in _RESUME_KEYS)
    if unfinished and same and str(args.get("model")) == str(resolve_model(model)):
        return int(checkpoint["epoch"]) + 1  # Ultralytics stores the 0-based epoch index
    return None


def _read_history(history_csv: Path) -> pd.DataFrame:
    history = pd.read_csv(history_csv)
    history.columns = [c.strip() for c in history.columns]
    return history


def _drop_epochs_after(history_csv: Path, completed: int) -> float:
    """Ultralytics writes an epoch's results.csv row before its checkpoint: a kill between
    the two leaves a row that the resumed run writes again. Keep the checkpointed epochs;
    return the training seconds they took."""
    from karyoflow.yolo_data import training_seconds

    if not history_csv.is_file():
        return 0.0
    history = _read_history(history_csv)
    epoch = pd.to_numeric(history["epoch"], errors="coerce")
    if (epoch > completed).any():
        log.info(
            "dropping %d results.csv rows past epoch %d", int((epoch > completed).sum()), completed
        )
        history = history[epoch <= completed]
        with atomic_path(history_csv) as tmp:
            history.to_csv(tmp, index=False)
    return training_seconds(history)


def train_detector_files(
    dataset_dir: str,
    weights: str,
    record: str,
    history: str,
    *,
    settings_dir: str,
    run_dir: str,
    settings: dict,
) -> dict:
    """Rule train_detector: offline set-up, then `train_detector` on dataset_dir/data.yaml."""
    offline_environment(settings_dir)
    if Path(record) != Path(weights).with_suffix(".json"):
        raise ValueError(f"the record {record} must sit beside the weights as {weights}.json")
    return train_detector(
        Path(dataset_dir) / "data.yaml", weights, run_dir=run_dir, history_out=history, **settings
    )


# ---- inference ----------------------------------------------------------------------

BOX_COLUMNS = ["image_id", "box_index", "class", "confidence", "xmin", "ymin", "xmax", "ymax"]
ISSUE_COLUMNS = ["image_id", "image_path", "problem", "detail", "action"]

# Beyond this ratio of image side to imgsz a chromosome shrinks below a few pixels of width
# at the network's input: detection still runs, but the user is told.
FAR_LARGER = 4.0


def load_detector(weights: str | Path, class_names: list[str]):
    """The trained YOLO model, checked to predict exactly `class_names`."""
    from ultralytics import YOLO

    weights = Path(weights)
    if not weights.is_file():
        raise FileNotFoundError(
            f"detector weights {str(weights)!r} not found: train them (rule train_detector) "
            "or set detect.weights to an existing .pt file"
        )
    model = YOLO(str(weights), task="detect")
    names = [model.names[i] for i in sorted(model.names)]
    if names != list(class_names):
        shown = names if len(names) <= 4 else names[:3] + ["..."]
        raise ValueError(
            f"detector {str(weights)!r} predicts {len(names)} classes {shown}, but detect.task "
            f"needs {len(class_names)} ({class_names[:3]}{'...' if len(class_names) > 3 else ''}): "
            "set detect.task to match the weights or retrain"
        )
    return model


def detect_images(
    model,
    images: pd.DataFrame,
    *,
    imgsz: int,
    min_confidence: float = 0.01,
    confidence: float = 0.25,
    iou: float = 0.7,
    max_det: int = 300,
    batch: int = 8,
    device: str = "auto",
    policy: str = "skip",
    progress_every: int = 50,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Boxes for every image in `images` (columns image_id, image_path), in batches.

    Returns (boxes with BOX_COLUMNS in pixels of the original image, issues with
    ISSUE_COLUMNS). Boxes down to `min_confidence` are kept; `confidence` is the operating
    point. Unreadable images are skipped and listed (policy "skip") or stop the run
    (policy "error"); images with no box at the operating point, images far larger
    than imgsz and images whose `max_det` boxes all pass the operating point (so that
    more may have been cut off) are listed and kept.
    """
    import cv2

    device = pick_device(device)
    names = [model.names[i] for i in sorted(model.names)]
    boxes, issues = [], []

    def kept_but_listed(image_id, image_path, problem, detail):
        log.warning("%s: %s", image_path, detail)
        issues.append((image_id, image_path, problem, detail, "kept"))

    rows = list(images[["image_id", "image_path"]].itertuples(index=False))
    progress = Progress(log, "detected", len(rows), every=progress_every)
    for first in range(0, len(rows), batch):
        chunk, arrays = [], []
        for image_id, image_path in rows[first : first + batch]:
            try:
                grey, _ = read_grayscale(image_path)
            except BadInputError as err:
                if policy == "error":
                    raise
                log.warning("skipped %s", err)
                issues.append((image_id, image_path, err.problem, err.detail, "skipped"))
                continue
            ratio = max(grey.shape) / imgsz
            if ratio > FAR_LARGER:
                kept_but_listed(
                    image_id,
                    image_path,
                    "far_larger_than_imgsz",
                    f"image is {grey.shape[1]}x{grey.shape[0]} px, {ratio:.1f}x detect.imgsz "
                    f"{imgsz}: chromosomes shrink that much before detection; raise "
                    "detect.imgsz or downscale such images",
                )
            chunk.append((image_id, image_path))
            arrays.append(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
        if arrays:
            results = model.predict(
                arrays,
                imgsz=imgsz,
                conf=min_confidence,
                iou=iou,
                max_det=max_det,
                device=device,
                verbose=False,
            )
            for (image_id, image_path), result in zip(chunk, results, strict=True):
                found = result.boxes
                xyxy = found.xyxy.cpu().numpy()
                cls = found.cls.cpu().numpy().astype(int)
                conf = found.conf.cpu().numpy()
                if not (conf >= confidence).any():
                    kept_but_listed(
                        image_id,
                        image_path,
                        "no_detections",
                        f"no chromosome detected at confidence {confidence} "
                        f"({len(xyxy)} weaker boxes): no metaphase in view?",
                    )
                if len(xyxy) >= max_det and conf.min() >= confidence:
                    kept_but_listed(
                        image_id,
                        image_path,
                        "max_det_reached",
                        f"{len(xyxy)} boxes, all at confidence {confidence} or more: "
                        f"detect.max_det {max_det} may have cut off further chromosomes; "
                        "raise detect.max_det",
                    )
                for i in range(len(xyxy)):
                    boxes.append((image_id, i, names[cls[i]], float(conf[i]), *xyxy[i].tolist()))
        progress.update(min(first + batch, len(rows)))
    table = pd.DataFrame(boxes, columns=BOX_COLUMNS)
    table[["xmin", "ymin", "xmax", "ymax"]] = table[["xmin", "ymin", "xmax", "ymax"]].round(2)
    return table, pd.DataFrame(issues, columns=ISSUE_COLUMNS)


def shard_of(images: pd.DataFrame, shard: int, n_shards: int) -> pd.DataFrame:
    """Every n-th image starting at `shard`: shards stay balanced whatever the order."""
    if not 0 <= shard < n_shards:
        raise ValueError(f"shard {shard} is not in 0..{n_shards - 1}")
    return images.iloc[shard::n_shards]


def detect_shard(
    weights: str,
    images_csv: str,
    boxes_out: str,
    issues_out: str,
    *,
    shard: int,
    n_shards: int,
    task: str,
    settings_dir: str,
    settings: dict,
    policy: str = "skip",
) -> pd.DataFrame:
    """Rule detect: one shard of an image list, boxes to parquet, issues to TSV."""
    from karyoflow.io.tables import write_csv, write_parquet
    from karyoflow.yolo_data import class_names

    offline_environment(settings_dir)
    images = shard_of(pd.read_csv(images_csv, dtype={"image_id": str}), shard, n_shards)
    log.info("shard %d of %d: %d images", shard + 1, n_shards, len(images))
    model = load_detector(weights, class_names(task))
    boxes, issues = detect_images(model, images, policy=policy, **settings)
    write_parquet(boxes, boxes_out)
    write_csv(issues, issues_out, sep="\t")
    log.info("%d boxes in %d images; %d issue(s)", len(boxes), len(images), len(issues))
    return boxes
