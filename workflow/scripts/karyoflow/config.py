"""Checks of the configuration that a JSON schema cannot express."""

from __future__ import annotations

from pathlib import Path


class ConfigError(ValueError):
    """A configuration that cannot work, with the key and what to do about it."""


def check_config(config: dict) -> None:
    """Raise ConfigError for settings that pass the schema but cannot work together."""
    problems = []
    dataset = config.get("dataset", {})
    if dataset.get("source") == "voc":
        path = dataset.get("path", "")
        if not path:
            problems.append(
                "dataset.path is empty, but dataset.source is voc: set it to a folder or .zip of images + Pascal VOC XML"
            )
        elif not Path(path).exists():
            problems.append(
                f"dataset.path {path!r} does not exist (relative paths are taken from {Path.cwd()}); "
                "point it at a folder or .zip of images + Pascal VOC XML"
            )
    synthetic = config.get("synthetic", {})
    rates = synthetic.get("abnormal_rates", {})
    if sum(rates.values()) > 1:
        problems.append(
            f"synthetic.abnormal_rates add up to {sum(rates.values()):.3g}, more than 1"
        )
    low, high = synthetic.get("condensation", [0.8, 1.3])
    if low > high:
        problems.append(
            f"synthetic.condensation [{low}, {high}]: the first value must not exceed the second"
        )
    if synthetic.get("width_px", 1) >= synthetic.get("chr1_length_px", 2):
        problems.append("synthetic.width_px must be smaller than synthetic.chr1_length_px")
    if problems:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems))
