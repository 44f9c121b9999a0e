"""Synthetic metaphase dataset: images in the Cell Image Library VOC format plus exact truth.

Per image `<id>`: `<id>.png` (grey), `<id>.xml` (Pascal VOC, labels spelled A1..G22, X, Y),
`<id>.mask.png` (16-bit instance label map; where chromosomes overlap the later-drawn one
holds the pixel, the amodal outlines are in the truth file), `<id>.truth.json` (karyotype,
per-instance class, box, centreline from p to q terminus, centromere, shape and contact
flags) and optionally `<id>.karyogram.png` (the same cell arranged as a karyogram).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path

import numpy as np

from karyoflow.core.images import write_png
from karyoflow.core.labels import voc_name
from karyoflow.core.voc import VocAnnotation, VocObject, write_voc
from karyoflow.data.synth.karyogram import render_karyogram
from karyoflow.data.synth.metaphase import SyntheticCell, SynthParams, generate_cell

log = logging.getLogger(__name__)

# The VOC <folder> of every synthetic image, whatever shard folder it is written to.
SYNTHETIC_FOLDER = "synthetic"

__all__ = [
    "SynthParams",
    "generate_cell",
    "render_karyogram",
    "cell_truth",
    "write_cell",
    "generate_shard",
    "image_id_for",
]


def image_id_for(index: int) -> str:
    return f"synth_{index:06d}"


def _points(array: np.ndarray) -> list[list[float]]:
    return np.round(np.asarray(array, dtype=float), 2).tolist()


def cell_truth(cell: SyntheticCell, image_id: str) -> dict:
    """The JSON-ready ground truth of a cell, geometry in image pixel coordinates."""
    instances = []
    for i, placed in enumerate(cell.chromosomes, start=1):
        shift = np.asarray(placed.offset, dtype=float)
        spec = placed.rendered.spec
        instances.append(
            {
                "instance_id": i,
                "class": spec.cls,
                "voc_name": voc_name(spec.cls),
                "box": list(placed.box),
                "area_px": int(placed.rendered.mask.sum()),
                "length_px": round(spec.length, 2),
                "width_px": round(spec.width, 2),
                "centreline": _points(placed.rendered.centreline + shift),
                "centromere": _points(placed.rendered.centromere + shift),
                "p_end": "first centreline point",
                "shape": spec.shape,
                "turn_rad": round(spec.turn, 4),
                "bent": spec.shape in ("bent", "s_bent"),
                "placement": placed.placement,
                "touching": sorted(placed.touching),
                "overlapping": sorted(placed.overlapping),
                "outline": _points(placed.rendered.outline + shift),
            }
        )
    # a cell of real crops (synthetic.crop_folder) names the real cell they came from
    sources = sorted({str(p.rendered.extras.get("source", "")) for p in cell.chromosomes} - {""})
    source = {"source_cell": ";".join(sources)} if sources else {}
    return {
        "image_id": image_id,
        "karyotype": cell.karyotype,
        "kind": cell.kind,
        **source,
        "width": int(cell.image.shape[1]),
        "height": int(cell.image.shape[0]),
        "n_chromosomes": len(instances),
        "appearance": {
            k: round(v, 4) if isinstance(v, float) else v for k, v in cell.appearance.items()
        },
        "box_convention": "xmin, ymin inclusive; xmax, ymax exclusive (pixels)",
        "instances": instances,
    }


def write_cell(
    cell: SyntheticCell, out_dir: str | Path, image_id: str, karyogram: bool = True
) -> None:
    out_dir = Path(out_dir)
    truth = cell_truth(cell, image_id)
    write_png(out_dir / f"{image_id}.png", cell.image)
    write_png(out_dir / f"{image_id}.mask.png", cell.labels)
    objects = [VocObject(inst["voc_name"], *map(float, inst["box"])) for inst in truth["instances"]]
    annotation = VocAnnotation(
        filename=f"{image_id}.png",
        width=truth["width"],
        height=truth["height"],
        depth=1,
        objects=objects,
        path=None,
    )
    # A fixed <folder>: the shard folder (and its ".partial" name while being written)
    # would make an image's bytes depend on how the dataset was sharded.
    write_voc(annotation, out_dir / f"{image_id}.xml", folder=SYNTHETIC_FOLDER)
    with open(out_dir / f"{image_id}.truth.json", "w") as handle:
        json.dump(truth, handle, separators=(",", ":"))
    if karyogram:
        write_png(out_dir / f"{image_id}.karyogram.png", render_karyogram(cell))


def generate_shard(
    out_dir: str | Path,
    indices: range | list[int],
    *,
    seed: int,
    params: SynthParams | None = None,
    karyograms: bool = True,
) -> list[str]:
    """Generate the images `indices` into `out_dir` (created whole or not at all).

    Image i depends only on (seed, i), so the dataset is the same however it is sharded.
    """
    out_dir = Path(out_dir)
    if out_dir.exists():
        raise FileExistsError(f"{out_dir} exists; refusing to overwrite a generated shard")
    partial = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    ids = []
    started = time.perf_counter()
    indices = list(indices)
    for n, index in enumerate(indices, start=1):
        image_id = image_id_for(index)
        write_cell(generate_cell((seed, index), params), partial, image_id, karyogram=karyograms)
        ids.append(image_id)
        if n == len(indices) or n % max(1, len(indices) // 10) == 0:
            elapsed = time.perf_counter() - started
            eta = elapsed / n * (len(indices) - n)
            log.info(
                "generated %d/%d images (%.1f images/s, ETA %.0f s)",
                n,
                len(indices),
                n / elapsed,
                eta,
            )
    os.replace(partial, out_dir)
    return ids
