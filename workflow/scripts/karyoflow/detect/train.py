"""YOLO detector training with Ultralytics, never touching the network (torch side); a
killed training resumes from its last epoch."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import pandas as pd

from karyoflow.core.atomic import atomic_path
from karyoflow.core.tables import write_json
from karyoflow.detect.runtime import (
    offline_environment,
    pick_device,
    resolve_model,
    skip_amp_download_check,
    use_cpu_threads,
)

log = logging.getLogger(__name__)


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

    skip_amp_download_check()
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
        amp=device != "cpu",  # AMP is GPU-only; its download check is skipped above
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
    from karyoflow.detect.dataset import training_seconds

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
    threads: int = 1,
) -> dict:
    """Rule train_detector: offline set-up, then `train_detector` on dataset_dir/data.yaml
    with `threads` CPU threads (where it trains on the CPU)."""
    offline_environment(settings_dir)
    use_cpu_threads(threads)
    if Path(record) != Path(weights).with_suffix(".json"):
        raise ValueError(f"the record {record} must sit beside the weights as {weights}.json")
    return train_detector(
        Path(dataset_dir) / "data.yaml", weights, run_dir=run_dir, history_out=history, **settings
    )
