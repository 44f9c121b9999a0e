"""How often chromosomes touch and cross: the 72 BioImLab Q-band cells (hand-drawn
polygons, overlaps drawn as separate polygons) against the generator (issue 17, item 4:
"touching and crossing cases at rates seen in real spreads").

One rule for both, on full (amodal) masks: a chromosome is *overlapping* when at least
3% of its pixels lie under another one (hand-drawn neighbours' polygons often share a
sliver of border, which is not a crossing), else *touching* when another one comes
within 2 px. From the repo root (1 min):

  uv run python docs/experiments/contact_rates.py

Writes docs/experiments/contact_rates.json."""

import json
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))
REAL = REPO.parent / "shared" / "data" / "real"
OVERLAP_SHARE = 0.03
NEAR = np.ones((5, 5), np.uint8)  # within 2 px


def shares(cells) -> dict:
    n = overlapping = touching = 0
    for masks in cells:
        union = np.zeros(masks[0].shape, np.uint8)
        for m in masks:
            union += m
        for m in masks:
            others = (union - m) > 0
            if (m & others).sum() >= OVERLAP_SHARE * m.sum():
                overlapping += 1
            elif (cv2.dilate(m.astype(np.uint8), NEAR).astype(bool) & others).any():
                touching += 1
            n += 1
    return {
        "chromosomes": n,
        "overlapping": round(overlapping / n, 3),
        "touching": round(touching / n, 3),
    }


def bioimlab():
    from karyoflow.core.labelme import read_labelme

    for path in sorted((REAL / "bioimlab_qband_seg").glob("*.json")):
        annotated = read_labelme(path)
        masks = []
        for polygon in annotated.polygons:
            m = np.zeros(annotated.image.shape, np.uint8)
            cv2.fillPoly(m, [np.round(np.asarray(polygon)).astype(np.int32)], 1)
            masks.append(m.astype(bool))
        yield masks


def generated(params, n=72):
    from karyoflow.data.synth import generate_cell
    from karyoflow.data.synth.metaphase import _paste

    for i in range(n):
        cell = generate_cell((42, i), params)
        h, w = cell.labels.shape
        yield [_paste(p, 0, 0, w, h) for p in cell.chromosomes]


if __name__ == "__main__":
    from karyoflow.data.synth import SynthParams

    out = {
        "rule": f"overlapping: >= {OVERLAP_SHARE:.0%} of its pixels under another; touching: else another within 2 px",
        "bioimlab_qband_72": shares(bioimlab()),
        "generator_default_72": shares(generated(SynthParams())),
        "generator_real_crops_72": shares(
            generated(SynthParams(crop_folder=str(REAL / "gband612_crops")))
        ),
    }
    print(json.dumps(out, indent=1))
    (REPO / "docs" / "experiments" / "contact_rates.json").write_text(
        json.dumps(out, indent=1) + "\n"
    )
