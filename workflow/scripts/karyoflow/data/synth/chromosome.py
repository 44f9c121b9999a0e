"""Render one G-banded chromosome from the band table, straight or bent.

The chromosome is built in its own straight frame (arc length s from the p terminus,
normalised cross position u in [-1, 1]) and splatted into a pixel patch along a smooth
centreline. Sampling finer than half a pixel in both directions (also on the outer side
of the tightest allowed bend) leaves no holes, so the patch's coverage is its exact mask.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import gaussian_filter1d

from karyoflow.core.bands import chromosome as band_chromosome

# Sample spacing in pixels, along and across the chromosome. The tightest allowed bend
# (radius 0.9 x width) stretches the outer edge by at most 1.6x: 0.45 px stays under 1 px.
STEP = 0.45
SHAPES = ("straight", "curved", "bent", "s_bent")


@dataclass
class ChromosomeSpec:
    """Everything needed to render one chromosome instance."""

    cls: str  # "1".."22", "X", "Y"
    length: float  # centreline length in pixels
    width: float  # full width (both chromatids) in pixels
    darkness: float  # opacity of the darkest band, 0..1
    groove: float  # depth of the sister-chromatid groove, 0..1
    band_blur: float  # band resolution, Gaussian sigma in pixels
    shape: str  # one of SHAPES
    turn: float  # total turning angle of the centreline in radians (signed)
    angle: float  # direction of the p -> q tangent at the p terminus, radians
    constriction: float = 0.4  # relative narrowing at the centromere
    shape_phase: float = 0.0  # where along the chromosome a bent shape's bend sits
    subpixel: tuple[float, float] = (0.0, 0.0)


@dataclass
class RenderedChromosome:
    """A rendered chromosome patch with its geometry in patch coordinates (x, y)."""

    spec: ChromosomeSpec
    alpha: np.ndarray  # float32 opacity, 0 outside the chromosome
    mask: np.ndarray  # bool coverage of alpha > 0
    centreline: np.ndarray  # (n, 2) points p terminus -> q terminus
    outline: np.ndarray  # (m, 2) closed polygon, amodal outline
    centromere: np.ndarray  # (2,)
    extras: dict = field(default_factory=dict)


def curvature_profile(spec: ChromosomeSpec, s: np.ndarray) -> np.ndarray:
    """Signed curvature along the centreline whose integral is spec.turn."""
    L = spec.length
    x = s / L
    if spec.shape in ("straight", "curved"):
        weights = np.ones_like(x)
    elif spec.shape == "bent":
        # the bend concentrates around one point (a kink-like C or V shape)
        centre = 0.3 + 0.4 * spec.shape_phase
        weights = np.exp(-0.5 * ((x - centre) / 0.18) ** 2)
    elif spec.shape == "s_bent":
        weights = np.sin(2 * np.pi * (x - 0.5 * spec.shape_phase * 0.2))
        # turn is the magnitude of each half's bend, the halves cancelling
        positive = np.clip(weights, 0, None)
        return spec.turn * weights / (positive.sum() * (s[1] - s[0]) + 1e-9)
    else:
        raise ValueError(f"unknown chromosome shape {spec.shape!r}; expected one of {SHAPES}")
    return spec.turn * weights / (weights.sum() * (s[1] - s[0]) + 1e-9)


def half_width_profile(spec: ChromosomeSpec, s: np.ndarray, stalk: np.ndarray) -> np.ndarray:
    """Half-width along s: centromeric constriction, rounded ends, thin stalks."""
    h0 = spec.width / 2
    band = band_chromosome(spec.cls)
    s_c = band.centromere_fraction * spec.length
    h = np.full_like(s, h0)
    h *= 1 - spec.constriction * np.exp(-0.5 * ((s - s_c) / (0.45 * h0)) ** 2)
    h[stalk] *= 0.45
    d_end = np.minimum(s, spec.length - s)
    r = h0 * 0.9
    near = d_end < r
    h[near] *= np.sqrt(np.clip(1 - ((r - d_end[near]) / r) ** 2, 0.0, 1.0))
    return h


def render(spec: ChromosomeSpec) -> RenderedChromosome:
    """Render a chromosome into a tight patch (1 px margin) with its geometry."""
    n_s = max(int(np.ceil(spec.length / STEP)), 8)
    s = (np.arange(n_s) + 0.5) * (spec.length / n_s)
    ds = spec.length / n_s
    band = band_chromosome(spec.cls)

    theta = spec.angle + np.cumsum(curvature_profile(spec, s)) * ds
    xy = np.cumsum(np.stack([np.cos(theta), np.sin(theta)], axis=1) * ds, axis=0)
    normal = np.stack([-np.sin(theta), np.cos(theta)], axis=1)

    stalk = band.stain_mask(n_s, "stalk")
    h = half_width_profile(spec, s, stalk)
    profile = gaussian_filter1d(band.darkness_profile(n_s), spec.band_blur / ds, mode="nearest")
    # pale stalk even after smoothing next to dark satellites
    profile = np.where(stalk, np.minimum(profile, 0.12), profile)

    n_u = max(int(np.ceil(spec.width / STEP)) | 1, 5)
    u = np.linspace(-1.0, 1.0, n_u)
    cross = (1 - u**2) ** 0.25 * (1 - spec.groove * np.exp(-0.5 * (u / 0.14) ** 2))
    opacity = spec.darkness * (0.3 + 0.7 * profile)[:, None] * cross[None, :]

    points = xy[:, None, :] + (u[None, :, None] * h[:, None, None]) * normal[:, None, :]
    points = points.reshape(-1, 2) + np.asarray(spec.subpixel)
    origin = np.floor(points.min(axis=0)) - 1
    cols = np.rint(points[:, 0] - origin[0]).astype(np.int64)
    rows = np.rint(points[:, 1] - origin[1]).astype(np.int64)
    width = int(cols.max()) + 2
    height = int(rows.max()) + 2
    flat = rows * width + cols
    counts = np.bincount(flat, minlength=height * width)
    sums = np.bincount(flat, weights=opacity.reshape(-1), minlength=height * width)
    alpha = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    alpha = alpha.reshape(height, width).astype(np.float32)
    mask = counts.reshape(height, width) > 0

    shift = np.asarray(spec.subpixel) - origin
    centre = xy + shift
    left = xy + h[:, None] * normal + shift
    right = xy - h[:, None] * normal + shift
    every = max(1, int(round(2.0 / ds)))  # geometry points every ~2 px
    centreline = np.vstack([centre[::every], centre[-1:]])
    outline = np.vstack([left[::every], left[-1:], right[::-1][::every], right[:1]])
    centromere_index = int(np.argmin(np.abs(s - band.centromere_fraction * spec.length)))
    return RenderedChromosome(
        spec=spec,
        alpha=alpha,
        mask=mask,
        centreline=centreline,
        outline=outline,
        centromere=centre[centromere_index],
    )
