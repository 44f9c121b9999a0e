"""Seconds per image, stage by stage, from the benchmark files Snakemake wrote.

    python -m karyoflow.core.benchmarks RESULTS IMAGE_SET N_IMAGES

sums the wall time (column `s`) of every job of one image set (its shards included) per
stage and divides by the number of images, e.g. `python -m karyoflow.core.benchmarks results
predict 11` for the predict target on 11 images.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

# stage -> benchmark file patterns under <results>/benchmarks (image set substituted)
STAGES = {
    "detect": "detect/{s}_detect_*.tsv",
    "segment": "segment/{s}_segment_*.tsv",
    "crops": "crops/{s}_*.tsv",  # extraction shards and their merge
    "straighten": "straighten/{s}_*.tsv",  # shards and their merge
    "classify": "classify/calls_{s}.tsv",
    "karyograms": "karyotype/{s}_karyograms.tsv",
}


def seconds_per_image(results: str | Path, image_set: str, n_images: int) -> pd.DataFrame:
    rows = []
    for stage, pattern in STAGES.items():
        files = sorted(Path(results, "benchmarks").glob(pattern.format(s=image_set)))
        seconds = sum(float(pd.read_csv(f, sep="\t")["s"].sum()) for f in files)
        rows.append((stage, len(files), round(seconds, 2), round(seconds / max(n_images, 1), 3)))
    table = pd.DataFrame(rows, columns=["stage", "jobs", "seconds", "seconds_per_image"])
    total = pd.DataFrame(
        [
            (
                "total",
                int(table["jobs"].sum()),
                table["seconds"].sum().round(2),
                table["seconds_per_image"].sum().round(3),
            )
        ],
        columns=table.columns,
    )
    return pd.concat([table, total], ignore_index=True)


if __name__ == "__main__":
    print(seconds_per_image(sys.argv[1], sys.argv[2], int(sys.argv[3])).to_string(index=False))
