"""Real chromosomes for synthetic metaphases: crops cut from a labelled crop folder.

Rendered chromosomes carry the band table's pattern but not the look of a real G-band
chromosome (chromatid texture, fuzzy ends, stain noise), which limits what a model
learnt on them carries over to real images. With `SynthParams.crop_folder` set, every
chromosome of a synthetic cell is instead a real single-chromosome crop (e.g. the
612-cell G-band collection: `<cell>.tiff/clase<k>/...`), taken from one real cell so
the homologues look alike, scaled to the cell's condensation, turned to a random angle
and placed, touching and crossing, by the generator's own placement. Its mask stays
exact: the crop's foreground (karyoflow.core.crop_files.crop_mask), moved with it.

A crop folder's crops are karyogram cut-outs, upright with the p arm up, so the row
means of the upright mask give the centreline from the p terminus. The centromere is
not known for a real crop: it is put on the centreline at the band table's centromere
fraction for the class.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d

from karyoflow.core.bands import chromosome as band_chromosome
from karyoflow.core.bands import relative_lengths
from karyoflow.core.masks import largest_component, row_medial_points
from karyoflow.data.synth.chromosome import ChromosomeSpec, RenderedChromosome

# The most opacity a pixel gets: the darkest 5% of a crop's pixels are set to the cell's
# darkness (so illumination varies as for rendered cells), and none hides what lies
# under it entirely.
MAX_ALPHA = 0.97
# Cells tried for one with a readable crop of every class a karyotype needs.
READ_TRIES = 20


@dataclass(frozen=True)
class RealCrop:
    """One upright crop: dark-on-light grey patch, its mask, and its geometry."""

    cls: str
    cell: str
    grey: np.ndarray  # uint8, chromosome dark on a light background
    mask: np.ndarray  # bool, same shape
    centreline: np.ndarray  # (n, 2) x, y from the p terminus (top) down

    @property
    def length(self) -> float:
        return float(np.linalg.norm(np.diff(self.centreline, axis=0), axis=1).sum())


def upright_centreline(mask: np.ndarray) -> np.ndarray:
    """Row-mean medial points of an upright mask, top to bottom, lightly smoothed."""
    rows, xs = row_medial_points(mask)
    if len(xs) > 4:
        xs = gaussian_filter1d(xs, 1.5, mode="nearest")
    return np.stack([xs, rows.astype(float)], axis=1)


def read_real_crop(path: str | Path, cls: str, cell: str) -> RealCrop | None:
    """A crop file as a RealCrop (None when it holds no chromosome pixels)."""
    from karyoflow.core.crop_files import chromosome_of_crop
    from karyoflow.core.images import read_grayscale

    grey, mask, polarity = chromosome_of_crop(read_grayscale(path)[0])
    if mask.sum() < 4:
        return None
    if polarity != "dark":
        grey = 255 - grey
    return RealCrop(cls, cell, grey, mask, upright_centreline(mask))


class CropBank:
    """The crop files of a labelled crop folder, by cell and class; read a cell at a time."""

    def __init__(self, root: str | Path, pattern: str):
        from karyoflow.core.crop_files import find_crop_files
        from karyoflow.core.errors import BadInputError

        found, _ = find_crop_files(root, pattern)
        self.files: dict[str, dict[str, list[Path]]] = defaultdict(lambda: defaultdict(list))
        for path, cls, cell in found:
            self.files[cell][cls].append(path)
        self.cells = sorted(self.files)
        if not self.cells:
            raise BadInputError(
                root, "no_crops", f"no crop file under it matches the pattern {pattern!r}"
            )
        self.root = str(root)

    def cells_with(self, classes: set[str]) -> list[str]:
        """Cells holding at least one crop of each of `classes`."""
        return [c for c in self.cells if classes <= set(self.files[c])]

    def cell_crops(self, cell: str) -> dict[str, list[RealCrop]]:
        crops: dict[str, list[RealCrop]] = {}
        for cls, paths in sorted(self.files[cell].items()):
            read = [read_real_crop(p, cls, cell) for p in paths]
            read = [c for c in read if c is not None]
            if read:
                crops[cls] = read
        return crops


@lru_cache(maxsize=4)
def crop_bank(root: str, pattern: str) -> CropBank:
    """One bank per folder and pattern in a process (listing ~15,000 files takes seconds)."""
    return CropBank(root, pattern)


def _transform(crop: RealCrop, scale: float, angle: float):
    """The affine map (2x3) turning the upright crop by `angle` radians and scaling it,
    and the output size that holds it whole with a 1 px margin."""
    h, w = crop.mask.shape
    centre = (w / 2.0, h / 2.0)
    matrix = cv2.getRotationMatrix2D(centre, -np.degrees(angle), scale)
    corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], float) @ matrix.T
    low = np.floor(corners.min(axis=0)) - 1
    high = np.ceil(corners.max(axis=0)) + 1
    matrix[:, 2] -= low
    size = (int(high[0] - low[0]), int(high[1] - low[1]))
    return matrix, size


def place_real_crop(
    crop: RealCrop, scale: float, angle: float, darkness: float, spec_angle: float = 0.0
) -> RenderedChromosome:
    """A real crop as a rendered chromosome: scaled, turned by `angle` (0 = upright),
    its opacity from its grey levels with the darkest pixels at `darkness`."""
    matrix, size = _transform(crop, scale, angle)
    # the paper white: the crop is cut tight to its chromosome, so it may show none
    background = float(np.median(crop.grey[~crop.mask])) if (~crop.mask).any() else 255.0
    background = max(background, float(crop.grey.max()), 1.0)
    opacity = np.clip(1.0 - crop.grey.astype(np.float32) / background, 0.0, 1.0)
    inside = opacity[crop.mask]
    top = float(np.percentile(inside, 95)) if inside.size else 1.0
    opacity = np.clip(opacity * (darkness / max(top, 1e-3)), 0.0, MAX_ALPHA)
    opacity = np.where(crop.mask, np.maximum(opacity, 0.02), 0.0).astype(np.float32)
    alpha = cv2.warpAffine(opacity, matrix, size, flags=cv2.INTER_LINEAR)
    coverage = cv2.warpAffine(crop.mask.astype(np.float32), matrix, size, flags=cv2.INTER_LINEAR)
    mask = coverage >= 0.5
    alpha = np.where(mask, np.maximum(alpha, 0.02), 0.0).astype(np.float32)
    # one piece, as the crop's own mask was (a thin stalk may break when shrunk)
    mask = largest_component(mask)
    if not mask.any():  # shrunk below a pixel: keep one, so it still has a place
        mask[size[1] // 2, size[0] // 2] = True
        alpha[mask] = darkness
    alpha[~mask] = 0.0
    centreline = np.c_[crop.centreline, np.ones(len(crop.centreline))] @ matrix.T
    steps = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(centreline, axis=0), axis=1))]
    length = float(steps[-1])
    fraction = band_chromosome(crop.cls).centromere_fraction
    centromere = centreline[int(np.argmin(np.abs(steps - fraction * length)))]
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    outline = max(contours, key=len)[:, 0, :].astype(float) if contours else centreline
    spec = ChromosomeSpec(
        cls=crop.cls,
        length=max(length, 1.0),
        width=float(mask.sum()) / max(length, 1.0),
        darkness=float(darkness),
        groove=0.0,
        band_blur=0.0,
        shape="real",
        turn=0.0,
        angle=float(spec_angle),
    )
    return RenderedChromosome(
        spec=spec,
        alpha=alpha,
        mask=mask,
        centreline=centreline,
        outline=outline,
        centromere=centromere,
        extras={"source": crop.cell},
    )


def real_chromosomes(
    classes: list[str],
    bank: CropBank,
    rng: np.random.Generator,
    *,
    chr1_length_px: float,
    condensation: float,
    darkness: float,
    length_exponent: float,
) -> list[RenderedChromosome]:
    """One RenderedChromosome per class of `classes`, in order, all from one real cell
    that has every class needed (a copy beyond the cell's own is one of its crops of
    that class again, at another angle), scaled so that its chromosome 1 would be
    `chr1_length_px * condensation` long."""
    from karyoflow.core.errors import BadInputError

    needed = set(classes)
    present = {cls for files in bank.files.values() for cls in files}
    if needed - present:
        raise BadInputError(
            bank.root,
            "crops_missing",
            f"the crop folder holds no crop of class {', '.join(sorted(needed - present))}, "
            f"which a {len(classes)}-chromosome cell needs",
        )
    cells = bank.cells_with(needed)
    crops = {}
    for _ in range(READ_TRIES if cells else 0):
        crops = bank.cell_crops(cells[int(rng.integers(len(cells)))])
        if needed <= set(crops):
            break
    if not needed <= set(crops):
        raise BadInputError(
            bank.root,
            "crops_missing",
            f"no cell of the crop folder holds a readable crop of every class of a "
            f"{len(classes)}-chromosome cell ({''.join(sorted(needed & {'X', 'Y'}))} "
            "sex chromosomes)",
        )
    relative = relative_lengths(length_exponent)
    # the cell's chromosome-1 length, from all its crops (robust to a bent or cut one)
    chr1 = float(np.median([c.length / relative[c.cls] for cs in crops.values() for c in cs]))
    scale = chr1_length_px * condensation / max(chr1, 1.0)
    used: dict[str, int] = defaultdict(int)
    out = []
    for cls in classes:
        pool = crops[cls]
        k = used[cls]
        used[cls] += 1
        crop = pool[k] if k < len(pool) else pool[int(rng.integers(len(pool)))]
        own_scale = scale * float(1 + 0.03 * rng.standard_normal())
        own_darkness = float(np.clip(darkness * rng.normal(1, 0.06), 0.2, 0.95))
        angle = float(rng.uniform(0, 2 * np.pi))
        placed = place_real_crop(crop, own_scale, angle, own_darkness, spec_angle=angle)
        # the karyogram shows it upright, as the crop came
        placed.extras["upright"] = place_real_crop(crop, own_scale, 0.0, own_darkness)
        out.append(placed)
    return out
