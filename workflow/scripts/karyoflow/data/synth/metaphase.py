"""Synthetic G-banded metaphase spreads with exact ground truth.

A cell is a karyotype (46,XX, 46,XY or a configured aneuploidy) rendered as bent, rotated
chromosomes scattered in a roughly round spread on a light background, with touching and
overlapping chromosomes at configured rates, interphase nuclei, debris, uneven
illumination, blur, noise and per-image contrast. Appearance ranges follow the measured
real images (shared/data/real/STATS.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from karyoflow.core.bands import relative_lengths
from karyoflow.core.crop_files import GBAND612_PATTERN
from karyoflow.core.labels import AUTOSOMES
from karyoflow.data.synth.chromosome import ChromosomeSpec, RenderedChromosome, render

# Karyotypes other than 46,XX / 46,XY, with their ISCN string and class list change.
ABNORMAL_KARYOTYPES: dict[str, dict] = {
    "trisomy21": {"extra": ["21"]},
    "trisomy18": {"extra": ["18"]},
    "trisomy13": {"extra": ["13"]},
    "monosomy_x": {"sex": ["X"]},
    "xxy": {"sex": ["X", "X", "Y"]},
    "xyy": {"sex": ["X", "Y", "Y"]},
}


@dataclass
class SynthParams:
    """Generator settings; defaults give images like the Cell Image Library spreads."""

    width: int = 1024
    height: int = 1024
    chr1_length_px: float = 150.0  # apparent chr1 length at condensation 1
    width_px: float = 25.0  # chromosome width at condensation 1, for chr1
    length_exponent: float = 0.85  # apparent length ~ bp ** exponent
    condensation: tuple[float, float] = (0.8, 1.3)
    length_jitter: float = 0.06  # per-chromosome relative sd
    bent_fraction: float = 0.25  # share of strongly bent chromosomes (C, V, S shapes)
    touching_rate: float = 0.10  # share of chromosomes placed touching another
    overlap_rate: float = 0.04  # share of chromosomes placed crossing another
    nuclei_rate: float = 0.5  # probability that an image shows interphase nuclei
    max_nuclei: int = 3
    max_debris: int = 25
    abnormal_rates: dict[str, float] = field(
        default_factory=lambda: {
            "trisomy21": 0.06,
            "trisomy18": 0.04,
            "trisomy13": 0.03,
            "monosomy_x": 0.03,
            "xxy": 0.03,
            "xyy": 0.03,
        }
    )
    # Real chromosomes instead of rendered ones: a labelled crop folder, and the pattern
    # its relative paths match (named groups `cell` and `class`; karyoflow.data.synth.
    # pasted). Empty: render from the band table.
    crop_folder: str = ""
    crop_pattern: str = GBAND612_PATTERN

    def __post_init__(self) -> None:
        unknown = set(self.abnormal_rates) - set(ABNORMAL_KARYOTYPES)
        if unknown:
            raise ValueError(
                f"unknown karyotype(s) in abnormal_rates: {sorted(unknown)}; "
                f"known: {sorted(ABNORMAL_KARYOTYPES)}"
            )
        if sum(self.abnormal_rates.values()) > 1:
            raise ValueError("abnormal_rates add up to more than 1")
        lo, hi = self.condensation
        if not 0 < lo <= hi:
            raise ValueError(f"condensation range {self.condensation} must satisfy 0 < lo <= hi")


@dataclass
class PlacedChromosome:
    rendered: RenderedChromosome
    offset: tuple[int, int]  # (x, y) of the patch's top-left corner in the image
    placement: str  # how it was placed: isolated, touching, overlapping (intent)
    touching: list[int] = field(default_factory=list)  # instance ids, from the geometry
    overlapping: list[int] = field(default_factory=list)

    @property
    def box(self) -> tuple[int, int, int, int]:
        """Tight box of the mask: xmin, ymin inclusive; xmax, ymax exclusive."""
        rows = np.flatnonzero(self.rendered.mask.any(axis=1))
        cols = np.flatnonzero(self.rendered.mask.any(axis=0))
        x0, y0 = self.offset
        return (
            x0 + int(cols[0]),
            y0 + int(rows[0]),
            x0 + int(cols[-1]) + 1,
            y0 + int(rows[-1]) + 1,
        )


@dataclass
class SyntheticCell:
    image: np.ndarray  # uint8 grey image
    labels: np.ndarray  # uint16 instance label map (1..n; later-drawn wins on overlaps)
    karyotype: str
    kind: str  # normal, or a key of ABNORMAL_KARYOTYPES
    chromosomes: list[PlacedChromosome]
    appearance: dict


def sample_karyotype(
    rng: np.random.Generator, rates: dict[str, float]
) -> tuple[str, str, list[str]]:
    """Draw (kind, ISCN, class list) for one cell."""
    u = rng.random()
    kind = "normal"
    for name, rate in rates.items():
        if u < rate:
            kind = name
            break
        u -= rate
    sex = ["X", "X"] if rng.random() < 0.5 else ["X", "Y"]
    extra: list[str] = []
    change = ABNORMAL_KARYOTYPES.get(kind, {})
    sex = change.get("sex", sex)
    extra = change.get("extra", [])
    classes = [c for c in AUTOSOMES for _ in range(2)] + extra + sex
    iscn = f"{len(classes)},{''.join(sex)}" + "".join(f",+{c}" for c in extra)
    return kind, iscn, classes


def _chromosome_specs(
    classes: list[str], params: SynthParams, rng: np.random.Generator, look: dict
) -> list[ChromosomeSpec]:
    rel = relative_lengths(params.length_exponent)
    cond = look["condensation"]
    specs = []
    for cls in classes:
        length = (
            params.chr1_length_px
            * cond
            * rel[cls]
            * (1 + params.length_jitter * rng.standard_normal())
        )
        width = params.width_px * cond**-0.3 * rel[cls] ** 0.15 * (1 + 0.05 * rng.standard_normal())
        length = max(length, 1.6 * width)
        if rng.random() < params.bent_fraction:
            shape = str(rng.choice(["bent", "s_bent"], p=[0.65, 0.35]))
            # a tighter turn than the width allows would fold the chromosome onto itself
            max_turn = length / (0.9 * width) * (0.5 if shape == "bent" else 0.35)
            turn = min(rng.uniform(0.5, 1.0) * np.pi, max_turn)
        else:
            shape = "curved"
            turn = min(rng.normal(0, 0.25), length / (2 * width))
        specs.append(
            ChromosomeSpec(
                cls=cls,
                length=float(length),
                width=float(width),
                darkness=float(np.clip(look["darkness"] * rng.normal(1, 0.06), 0.2, 0.95)),
                groove=float(rng.uniform(0.1, 0.35)),
                band_blur=look["band_blur"],
                shape=shape,
                turn=float(turn * rng.choice([-1, 1])),
                angle=float(rng.uniform(0, 2 * np.pi)),
                constriction=float(rng.uniform(0.3, 0.5)),
                shape_phase=float(rng.random()),
                subpixel=(float(rng.random()), float(rng.random())),
            )
        )
    return specs


class _Canvas:
    """Occupancy bookkeeping for placement."""

    def __init__(self, height: int, width: int):
        self.labels = np.zeros((height, width), np.uint16)  # last-drawn instance per pixel
        self.near = np.zeros((height, width), bool)  # within 2 px of a chromosome
        self.halo = np.zeros((height, width), bool)  # within 6 px of a chromosome
        self.shape = (height, width)

    def fits(self, r: RenderedChromosome, x: int, y: int, mode: str) -> bool:
        h, w = r.mask.shape
        H, W = self.shape
        if x < 2 or y < 2 or x + w > W - 2 or y + h > H - 2:
            return False
        window = (slice(y, y + h), slice(x, x + w))
        m = r.mask
        if mode == "isolated":
            return not (self.halo[window] & m).any()
        overlap = int(((self.labels[window] > 0) & m).sum())
        if mode == "touching":
            return overlap == 0 and bool((self.near[window] & m).any())
        # overlapping: a real crossing, but not one chromosome hidden under another
        return 0.04 * m.sum() <= overlap <= 0.3 * m.sum()

    def add(self, r: RenderedChromosome, x: int, y: int, instance_id: int) -> None:
        h, w = r.mask.shape
        pad = 6
        y0, x0 = max(y - pad, 0), max(x - pad, 0)
        y1, x1 = min(y + h + pad, self.shape[0]), min(x + w + pad, self.shape[1])
        local = np.zeros((y1 - y0, x1 - x0), np.uint8)
        local[y - y0 : y - y0 + h, x - x0 : x - x0 + w] = r.mask
        self.near[y0:y1, x0:x1] |= cv2.dilate(local, np.ones((5, 5), np.uint8)) > 0
        self.halo[y0:y1, x0:x1] |= cv2.dilate(local, np.ones((13, 13), np.uint8)) > 0
        self.labels[y : y + h, x : x + w][r.mask] = instance_id


def _place(
    rendered: list[RenderedChromosome], params: SynthParams, rng: np.random.Generator
) -> tuple[list[PlacedChromosome], np.ndarray]:
    H, W = params.height, params.width
    canvas = _Canvas(H, W)
    spread_radius = 0.40 * min(H, W) * rng.uniform(0.85, 1.1)
    centre = np.array([W, H]) / 2 + rng.uniform(-0.08, 0.08, 2) * np.array([W, H])
    placed: list[PlacedChromosome] = []
    for r in rendered:
        h, w = r.mask.shape
        u = rng.random()
        wanted = (
            "overlapping"
            if placed and u < params.overlap_rate
            else "touching"
            if placed and u < params.overlap_rate + params.touching_rate
            else "isolated"
        )
        position = None
        for mode, tries in ((wanted, 60), ("isolated", 200), ("anywhere", 1)):
            for attempt in range(tries):
                if mode in ("touching", "overlapping"):
                    anchor = placed[int(rng.integers(len(placed)))]
                    a = anchor.rendered.centreline[
                        int(rng.integers(len(anchor.rendered.centreline)))
                    ]
                    target = np.asarray(anchor.offset) + a + rng.normal(0, 0.6 * r.spec.width, 2)
                    mid = r.centreline[len(r.centreline) // 2]
                    # aim a random point of the new chromosome at the anchor point
                    own = (
                        r.centreline[int(rng.integers(len(r.centreline)))]
                        if mode == "overlapping"
                        else mid
                    )
                    x, y = np.rint(target - own).astype(int)
                elif mode == "isolated":
                    # widen the spread as attempts fail, so crowded cells still fit
                    radius = spread_radius * (1 + attempt / 80)
                    phi, rad = rng.uniform(0, 2 * np.pi), radius * np.sqrt(rng.random())
                    x, y = np.rint(
                        centre + rad * np.array([np.cos(phi), np.sin(phi)]) - [w / 2, h / 2]
                    ).astype(int)
                else:  # nothing fitted: take a random in-bounds spot, overlaps and all
                    x, y = (
                        int(rng.integers(2, max(W - w - 2, 3))),
                        int(rng.integers(2, max(H - h - 2, 3))),
                    )
                    position = (x, y, mode)
                    break
                if canvas.fits(r, x, y, mode):
                    position = (x, y, mode)
                    break
            if position:
                break
        x, y, mode = int(position[0]), int(position[1]), position[2]
        canvas.add(r, x, y, len(placed) + 1)
        placed.append(PlacedChromosome(rendered=r, offset=(x, y), placement=mode))
    _contacts(placed)
    return placed, canvas.labels


def _contacts(placed: list[PlacedChromosome]) -> None:
    """Set touching/overlapping lists from the actual masks (not from placement intent)."""
    boxes = [p.box for p in placed]
    kernel = np.ones((3, 3), np.uint8)
    for i, a in enumerate(placed):
        for j in range(i + 1, len(placed)):
            b = placed[j]
            ax0, ay0, ax1, ay1 = boxes[i]
            bx0, by0, bx1, by1 = boxes[j]
            if ax0 > bx1 + 1 or bx0 > ax1 + 1 or ay0 > by1 + 1 or by0 > ay1 + 1:
                continue
            x0, y0 = min(ax0, bx0) - 1, min(ay0, by0) - 1
            x1, y1 = max(ax1, bx1) + 1, max(ay1, by1) + 1
            ma = _paste(a, x0, y0, x1, y1)
            mb = _paste(b, x0, y0, x1, y1)
            if (ma & mb).any():
                a.overlapping.append(j + 1)
                b.overlapping.append(i + 1)
            elif (cv2.dilate(ma.astype(np.uint8), kernel).astype(bool) & mb).any():
                a.touching.append(j + 1)
                b.touching.append(i + 1)


def _paste(p: PlacedChromosome, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    out = np.zeros((y1 - y0, x1 - x0), bool)
    h, w = p.rendered.mask.shape
    ox, oy = p.offset[0] - x0, p.offset[1] - y0
    ys, xs = (
        slice(max(oy, 0), min(oy + h, out.shape[0])),
        slice(max(ox, 0), min(ox + w, out.shape[1])),
    )
    out[ys, xs] = p.rendered.mask[ys.start - oy : ys.stop - oy, xs.start - ox : xs.stop - ox]
    return out


def _nuclei_and_debris(
    transmission: np.ndarray, params: SynthParams, rng: np.random.Generator, scale: float
) -> int:
    H, W = transmission.shape
    n_nuclei = (
        int(rng.integers(1, params.max_nuclei + 1)) if rng.random() < params.nuclei_rate else 0
    )
    for _ in range(n_nuclei):
        rx, ry = rng.uniform(70, 140) * rng.uniform(0.85, 1.15, 2) * scale
        cx, cy = rng.uniform(0, W), rng.uniform(0, H)
        x0, x1 = int(max(cx - rx - 4, 0)), int(min(cx + rx + 4, W))
        y0, y1 = int(max(cy - ry - 4, 0)), int(min(cy + ry + 4, H))
        if x1 - x0 < 4 or y1 - y0 < 4:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        r = np.sqrt(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2)
        edge = np.clip((1.0 - r) * 8, 0, 1)
        texture = cv2.resize(
            rng.random((9, 9)).astype(np.float32), (x1 - x0, y1 - y0), interpolation=cv2.INTER_CUBIC
        )
        grain = cv2.GaussianBlur(rng.random((y1 - y0, x1 - x0)).astype(np.float32), (0, 0), 1.5)
        alpha = rng.uniform(0.4, 0.7) * edge * (0.75 + 0.35 * texture + 0.3 * (grain - 0.5))
        transmission[y0:y1, x0:x1] *= 1 - np.clip(alpha, 0, 0.9)
    for _ in range(int(rng.integers(0, params.max_debris + 1))):
        cx, cy, radius = rng.uniform(0, W), rng.uniform(0, H), rng.uniform(0.8, 3.5) * scale
        cv2.circle(
            transmission, (int(cx), int(cy)), max(int(radius), 1), float(rng.uniform(0.35, 0.8)), -1
        )
    return n_nuclei


def appearance(rng: np.random.Generator, params: SynthParams) -> dict:
    """Per-image look: contrast, darkness, blur, noise, illumination (STATS.md ranges)."""
    return {
        "condensation": float(rng.uniform(*params.condensation)),
        "background": float(rng.uniform(222, 252)),
        "darkness": float(rng.uniform(0.5, 0.8)),
        "band_blur": float(rng.uniform(1.1, 2.2)),
        "blur_sigma": float(rng.uniform(0.7, 1.8)),
        "noise_sigma": float(rng.uniform(1.5, 5.0)),
        "gamma": float(rng.uniform(0.8, 1.25)),
        "gradient": float(rng.uniform(0, 0.12)),
        "gradient_angle": float(rng.uniform(0, 2 * np.pi)),
    }


def generate_cell(seed: int | tuple[int, ...], params: SynthParams | None = None) -> SyntheticCell:
    """Generate one metaphase image and its ground truth, deterministically for `seed`."""
    params = params or SynthParams()
    rng = np.random.default_rng(seed)
    look = appearance(rng, params)
    kind, iscn, classes = sample_karyotype(rng, params.abnormal_rates)
    order = rng.permutation(len(classes))
    if params.crop_folder:
        from karyoflow.data.synth.pasted import crop_bank, real_chromosomes

        rendered = real_chromosomes(
            [classes[i] for i in order],
            crop_bank(params.crop_folder, params.crop_pattern),
            rng,
            chr1_length_px=params.chr1_length_px,
            condensation=look["condensation"],
            darkness=look["darkness"],
            length_exponent=params.length_exponent,
        )
    else:
        specs = _chromosome_specs([classes[i] for i in order], params, rng, look)
        rendered = [render(spec) for spec in specs]
    placed, labels = _place(rendered, params, rng)

    H, W = params.height, params.width
    transmission = np.ones((H, W), np.float32)
    scale = params.chr1_length_px / 150.0
    look["nuclei"] = _nuclei_and_debris(transmission, params, rng, scale)
    for p in placed:
        h, w = p.rendered.alpha.shape
        x, y = p.offset
        transmission[y : y + h, x : x + w] *= 1 - p.rendered.alpha

    xx = np.linspace(-0.5, 0.5, W, dtype=np.float32)[None, :]
    yy = np.linspace(-0.5, 0.5, H, dtype=np.float32)[:, None]
    ramp = np.cos(look["gradient_angle"]) * xx + np.sin(look["gradient_angle"]) * yy
    light = (look["background"] * (1 + look["gradient"] * ramp)).astype(np.float32)
    image = cv2.GaussianBlur(light * transmission, (0, 0), look["blur_sigma"])
    image += rng.standard_normal((H, W), dtype=np.float32) * look["noise_sigma"]
    image = np.clip(image, 0, 255).astype(np.uint8)
    lut = (255 * (np.arange(256) / 255.0) ** look["gamma"]).round().astype(np.uint8)
    image = cv2.LUT(image, lut)
    return SyntheticCell(
        image=image, labels=labels, karyotype=iscn, kind=kind, chromosomes=placed, appearance=look
    )
