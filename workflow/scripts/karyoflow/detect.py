"""YOLO detector training with Ultralytics, never touching the network (torch side).

Call `offline_environment` before anything imports ultralytics: it reads its settings
directory and offline switch at import time.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path

from karyoflow.io.atomic import atomic_path

log = logging.getLogger("karyoflow.detect")


def offline_environment(settings_dir: str | Path) -> None:
    """Keep Ultralytics off the network and its settings file under our results folder."""
    settings_dir = Path(settings_dir).resolve()
    settings_dir.mkdir(parents=True, exist_ok=True)
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_CONFIG_DIR"] = str(settings_dir)
    os.environ.setdefault("MPLBACKEND", "Agg")


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
    run_dir: str | Path,
) -> dict:
    """Train, copy the best weights to `weights_out`, return the final validation metrics.

    The .pt carries its training arguments (Ultralytics stores them); a JSON beside it
    records them too, with the metrics and the training time, for the report.
    """
    from ultralytics import YOLO

    device = pick_device(device)
    run_dir = Path(run_dir).resolve()
    settings = dict(
        data=str(data_yaml),
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
    )
    log.info("training %s on %s (%s)", model, data_yaml, settings)
    started = time.perf_counter()
    results = YOLO(resolve_model(model)).train(**settings)
    seconds = time.perf_counter() - started
    best = run_dir / "weights" / "best.pt"
    if not best.is_file():
        raise RuntimeError(f"training finished without {best}; see the log above")
    with atomic_path(weights_out) as tmp:
        shutil.copyfile(best, tmp)
    metrics = {k: float(v) for k, v in (results.results_dict if results else {}).items()}
    record = {"model": model, "train_seconds": round(seconds, 1), "metrics": metrics, **settings}
    with atomic_path(Path(weights_out).with_suffix(".json")) as tmp:
        Path(tmp).write_text(json.dumps(record, indent=2))
    log.info("trained in %.0f s: %s", seconds, metrics)
    return record
