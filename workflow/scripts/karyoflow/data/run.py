"""Dataset stage entry points used by the rule scripts (file paths in, files out)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from karyoflow.core.tables import write_csv
from karyoflow.data.ingest import ingest_images, ingest_voc, write_ingest
from karyoflow.data.splits import (
    find_split_list,
    make_splits,
    read_id_list,
    source_groups,
    splits_from_lists,
)
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
    """Images with VOC annotations, (annotated False) plain images to predict on, or
    (source labelme) the images of LabelMe files, written out under `extract_dir`."""
    if source == "labelme":
        from karyoflow.data.labelme import ingest_labelme

        (root,) = roots
        result = ingest_labelme(root, extract_dir, policy=policy)
    else:
        read = ingest_voc if annotated else ingest_images
        result = read(
            [Path(r) for r in roots], policy=policy, extract_dir=extract_dir, source=source
        )
    write_ingest(result, manifest, annotations, bad_inputs)


def split(
    manifest: str,
    splits: str,
    *,
    seed: int,
    test_fraction: float,
    val_fraction: float,
    test_list: str = "",
    train_list: str = "",
    roots: list[str] = (),
) -> None:
    """Seeded split by image (by source cell for cells built from real crops), or the
    dataset's official one where a test list is given (validation then carved from its
    training images)."""
    images = pd.read_csv(manifest, dtype={"image_id": str})
    if test_list:
        table = splits_from_lists(
            images,
            test_ids=read_id_list(find_split_list(test_list, list(roots))),
            train_ids=(
                read_id_list(find_split_list(train_list, list(roots))) if train_list else None
            ),
            val_fraction=val_fraction,
            seed=seed,
        )
    else:
        table = make_splits(
            images.assign(split_group=source_groups(images)),
            test_fraction=test_fraction,
            val_fraction=val_fraction,
            seed=seed,
            group_column="split_group",
        )
    write_csv(table, splits)
