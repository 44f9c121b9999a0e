"""Dataset stage entry points used by the rule scripts (file paths in, files out)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from karyoflow.data.ingest import ingest_images, ingest_voc, write_ingest
from karyoflow.core.tables import write_csv
from karyoflow.data.splits import make_splits
from karyoflow.data.synth import SynthParams, generate_shard


def synth_params(settings: dict) -> SynthParams:
    """SynthParams from the `synthetic` config section (keys not about rendering dropped)."""
    keys = set(SynthParams.__dataclass_fields__)
    values = {k: v for k, v in settings.items() if k in keys}
    if "condensation" in values:
        values["condensation"] = tuple(values["condensation"])
    return SynthParams(**values)


def synthesize(out_dir: str, indices: list[int], seed: int, settings: dict) -> None:
    generate_shard(
        out_dir,
        indices,
        seed=seed,
        params=synth_params(settings),
        karyograms=settings.get("karyograms", True),
    )


def ingest(
    roots: list[str],
    *,
    source: str,
    policy: str,
    extract_dir: str,
    manifest: str,
    annotations: str,
    bad_inputs: str,
    annotated: bool = True,
) -> None:
    """Images with VOC annotations, or (annotated False) plain images to predict on."""
    read = ingest_voc if annotated else ingest_images
    result = read([Path(r) for r in roots], policy=policy, extract_dir=extract_dir, source=source)
    write_ingest(result, manifest, annotations, bad_inputs)


def split(
    manifest: str, splits: str, *, seed: int, test_fraction: float, val_fraction: float
) -> None:
    table = make_splits(
        pd.read_csv(manifest, dtype={"image_id": str}),
        test_fraction=test_fraction,
        val_fraction=val_fraction,
        seed=seed,
    )
    write_csv(table, splits)
