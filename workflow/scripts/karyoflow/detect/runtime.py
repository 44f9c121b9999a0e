"""Ultralytics without the network (torch side).

Call `offline_environment` before anything imports ultralytics: it reads its settings
directory and offline switch at import time."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from karyoflow.core.atomic import atomic_path

log = logging.getLogger(__name__)


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


def use_cpu_threads(threads: int) -> None:
    """Let torch use the job's threads on the CPU. Ultralytics resets torch to
    cpu_count - 1 threads whenever it selects the CPU, which is one thread on a 2-core
    machine: half of what the job was given. Call after `offline_environment`."""
    import torch
    import ultralytics.utils
    import ultralytics.utils.torch_utils

    threads = max(int(threads), 1)
    ultralytics.utils.NUM_THREADS = threads
    ultralytics.utils.torch_utils.NUM_THREADS = threads
    torch.set_num_threads(threads)


def skip_amp_download_check() -> None:
    """Ultralytics checks mixed precision on a GPU by downloading yolo26n.pt and comparing
    its outputs; offline (a cluster node, CI) that download fails or hangs. Take AMP on
    any accelerator without the check, off on the CPU as Ultralytics does. (Its check also
    turned AMP off on GTX 16xx-class cards, where AMP gives NaN losses; this does not.)
    Call after importing ultralytics, before training."""
    import ultralytics.engine.trainer

    def amp_without_download(model) -> bool:
        device = next(model.parameters()).device
        use = device.type not in {"cpu", "mps"}
        log.info(
            "mixed precision (AMP) %s on %s; Ultralytics' download check skipped",
            "on" if use else "off",
            device,
        )
        return use

    ultralytics.engine.trainer.check_amp = amp_without_download


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
