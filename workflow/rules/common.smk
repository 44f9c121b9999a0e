# Helpers shared by the rule files: paths, input functions and config checks.

import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.current_basedir).parent / "scripts"))

from karyoflow.config import check_config  # noqa: E402

RESULTS = "results"

check_config(config)


def result(*parts):
    """A path under the results folder."""
    return str(Path(RESULTS, *parts))


# ---- dataset -------------------------------------------------------------------------


def synthetic_shards():
    n = config["synthetic"]["n_images"]
    per = config["synthetic"]["images_per_shard"]
    return [f"{i:03d}" for i in range((n + per - 1) // per)]


def shard_indices(wildcards):
    per = config["synthetic"]["images_per_shard"]
    first = int(wildcards.shard) * per
    return list(range(first, min(first + per, config["synthetic"]["n_images"])))


def dataset_inputs(wildcards):
    """Files the ingest rule waits for: generated shards or the downloaded archive."""
    source = config["dataset"]["source"]
    if source == "synthetic":
        return {"shards": expand(result("data", "synthetic", "shard_{shard}"), shard=synthetic_shards())}
    if source == "kaggle":
        return {"download": result("data", "kaggle")}
    return {}


def dataset_roots(wildcards, input):
    """Folders (or archives) that ingest reads."""
    source = config["dataset"]["source"]
    if source == "synthetic":
        return list(input.shards)
    if source == "kaggle":
        return [input.download]
    return [config["dataset"]["path"]]


def data_targets():
    return [
        result("data", "manifest.csv"),
        result("data", "splits.csv"),
        result("data", "summary.png"),
    ]
