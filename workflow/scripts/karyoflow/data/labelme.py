"""A folder of LabelMe JSON files (e.g. the BioImLab Q-band set) as an image set: each
file's image (embedded in `imageData` or beside the file) written out as a PNG the
detector can read, a manifest row that keeps the JSON as the image's annotation, and
the polygons' boxes as annotations. The chain then runs on the images from the raw
pixels, and its instances are scored against the polygons
(karyoflow.segment.evaluate.score_instances)."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from karyoflow.core.errors import BadInputError
from karyoflow.data.ingest import (
    ANNOTATION_COLUMNS,
    BAD_INPUT_COLUMNS,
    MANIFEST_COLUMNS,
    IngestResult,
    _check_policy,
    _Problems,
    _raise_all,
)

log = logging.getLogger(__name__)


def ingest_labelme(
    folder: str | Path, images_dir: str | Path, *, policy: str = "skip"
) -> IngestResult:
    """Every *.json under `folder` (recursively, sorted); unreadable ones are skipped and
    listed (policy skip) or all raised together (policy error). Ids are the file stems;
    a repeated stem is a bad input."""
    from karyoflow.core.images import sha256_file, write_png
    from karyoflow.core.labelme import read_labelme

    _check_policy(policy)
    folder = Path(folder)
    files = sorted(folder.rglob("*.json"))
    if not files:
        raise BadInputError(folder, "no_annotations", "no LabelMe .json file under this folder")
    images_dir = Path(images_dir)
    images_dir.mkdir(parents=True, exist_ok=True)
    manifest, annotations = [], []
    problems = _Problems()
    seen: set[str] = set()
    for path in files:
        try:
            if path.stem in seen:
                raise BadInputError(path, "duplicate_id", f"another file is also {path.stem!r}")
            annotated = read_labelme(path)
            if not annotated.polygons:
                raise BadInputError(path, "empty_annotation", "no polygon in this file")
        except BadInputError as err:
            problems.add_error(err)
            continue
        seen.add(path.stem)
        image_path = images_dir / f"{path.stem}.png"
        write_png(image_path, annotated.image)
        height, width = annotated.image.shape
        manifest.append(
            {
                "image_id": path.stem,
                "image_path": str(image_path),
                "annotation_path": str(path),
                "mask_path": "",
                "truth_path": "",
                "sha256": sha256_file(image_path),
                "width": width,
                "height": height,
                "n_objects": len(annotated.polygons),
                "karyotype": "",
                "source": "labelme",
                "notes": "",
            }
        )
        for index, (label, box) in enumerate(zip(annotated.labels, annotated.boxes(), strict=True)):
            annotations.append(
                {
                    "image_id": path.stem,
                    "object_index": index,
                    "label_raw": label,
                    "class": label,
                    **dict(zip(("xmin", "ymin", "xmax", "ymax"), map(float, box), strict=True)),
                }
            )
    if policy == "error" and problems.skipped:
        _raise_all(problems.skipped, [folder])
    for row in problems.skipped:
        log.warning("skipped %s: %s (%s)", row["path"], row["problem"], row["detail"])
    log.info(
        "%d LabelMe images ingested from %s, %d skipped",
        len(manifest),
        folder,
        len(problems.skipped),
    )
    return IngestResult(
        manifest=pd.DataFrame(manifest, columns=list(MANIFEST_COLUMNS)),
        annotations=pd.DataFrame(annotations, columns=list(ANNOTATION_COLUMNS)),
        bad_inputs=pd.DataFrame(problems.rows, columns=list(BAD_INPUT_COLUMNS)),
    )
