"""Optional download of a Kaggle dataset, with a clear way out when that cannot work.

Most machines that run karyoflow have no Kaggle credentials, and compute nodes often no
network. Then ``fetch_kaggle`` fails at once with instructions for downloading by hand
instead of hanging or failing deep inside the Kaggle client.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
from pathlib import Path

logger = logging.getLogger(__name__)

_DATASET = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")


def fetch_kaggle(dataset: str, dest: str | os.PathLike[str]) -> Path:
    """Download Kaggle dataset ``owner/name`` and unzip it into ``dest``; return ``dest``.

    Needs the ``kaggle`` package and credentials (``~/.kaggle/kaggle.json``, or
    ``KAGGLE_USERNAME`` and ``KAGGLE_KEY`` in the environment). Without them, or when the
    download fails, raises RuntimeError saying how to download the dataset by hand and
    point the config at it.
    """
    if not _DATASET.match(dataset):
        raise ValueError(f"Kaggle dataset must be 'owner/name', got {dataset!r}")
    dest = Path(dest)
    if importlib.util.find_spec("kaggle") is None:
        raise RuntimeError(_manual_download_message(dataset, "the kaggle package is not installed"))
    if not has_kaggle_credentials():
        raise RuntimeError(_manual_download_message(dataset, "no Kaggle credentials found"))

    # Imported only now: importing the package authenticates and fails without credentials.
    from kaggle.api.kaggle_api_extended import KaggleApi

    dest.mkdir(parents=True, exist_ok=True)
    logger.info("downloading Kaggle dataset %s into %s", dataset, dest)
    try:
        api = KaggleApi()
        api.authenticate()
        api.dataset_download_files(dataset, path=str(dest), unzip=True, quiet=True)
    except Exception as err:  # the client raises many types; each means "do it by hand"
        raise RuntimeError(
            _manual_download_message(dataset, f"the download failed ({err})")
        ) from err
    return dest


def has_kaggle_credentials() -> bool:
    """Whether the Kaggle client would find credentials (files or environment)."""
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return True
    if os.environ.get("KAGGLE_API_TOKEN"):
        return True
    config_dir = os.environ.get("KAGGLE_CONFIG_DIR")
    folders = [Path(config_dir)] if config_dir else []
    folders.append(Path.home() / ".kaggle")
    return any(
        (folder / name).is_file() for folder in folders for name in ("kaggle.json", "access_token")
    )


def _manual_download_message(dataset: str, reason: str) -> str:
    return (
        f"Cannot download Kaggle dataset {dataset!r}: {reason} (no Kaggle credentials "
        "(~/.kaggle/kaggle.json or KAGGLE_USERNAME/KAGGLE_KEY) or no network). Download "
        f"https://www.kaggle.com/datasets/{dataset} by hand, then set "
        "`dataset: {source: voc, path: <the zip or folder>}` in the config."
    )
