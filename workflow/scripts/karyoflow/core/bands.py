"""The human cytogenetic band table (hg19) and what follows from it.

Lengths, centromere positions and G-band darkness profiles along each chromosome, read
from the copy of UCSC's cytoBand table shipped in workflow/resources/cytoband/.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from karyoflow.core.labels import CLASSES, canonical

BAND_TABLE = Path(__file__).resolve().parents[3] / "resources" / "cytoband" / "cytoBand_hg19.tsv"

# Relative darkness (0 = background-light, 1 = darkest) of each Giemsa stain class.
STAIN_DARKNESS: dict[str, float] = {
    "gneg": 0.12,
    "gpos25": 0.38,
    "gpos50": 0.58,
    "gpos75": 0.78,
    "gpos100": 0.95,
    "gvar": 0.85,
    "acen": 0.55,
    "stalk": 0.10,
}


@dataclass(frozen=True)
class Band:
    start: int
    end: int
    name: str
    stain: str


@dataclass(frozen=True)
class Chromosome:
    name: str  # canonical class, "1".."22", "X", "Y"
    bands: tuple[Band, ...]

    @property
    def length_bp(self) -> int:
        return self.bands[-1].end

    @property
    def centromere_bp(self) -> int:
        """Boundary between the p-arm and q-arm acen bands."""
        acen = [b for b in self.bands if b.stain == "acen"]
        p_acen = [b for b in acen if b.name.startswith("p")]
        return p_acen[-1].end if p_acen else acen[0].start

    @property
    def centromere_fraction(self) -> float:
        """Centromere position from the p terminus as a fraction of the length."""
        return self.centromere_bp / self.length_bp

    def darkness_profile(self, n: int) -> np.ndarray:
        """Band darkness at n evenly spaced points from the p terminus to the q terminus."""
        positions = (np.arange(n) + 0.5) / n * self.length_bp
        ends = np.array([b.end for b in self.bands])
        darkness = np.array([STAIN_DARKNESS[b.stain] for b in self.bands])
        idx = np.minimum(np.searchsorted(ends, positions, side="right"), len(ends) - 1)
        return darkness[idx]

    def stain_mask(self, n: int, stain: str) -> np.ndarray:
        """Boolean mask of the n sample points (as in darkness_profile) lying in `stain`."""
        positions = (np.arange(n) + 0.5) / n * self.length_bp
        ends = np.array([b.end for b in self.bands])
        idx = np.minimum(np.searchsorted(ends, positions, side="right"), len(ends) - 1)
        stains = np.array([b.stain for b in self.bands])
        return stains[idx] == stain


@functools.cache
def load_band_table(path: str | Path = BAND_TABLE) -> dict[str, Chromosome]:
    """Parse the band table into {class: Chromosome}, bands sorted from the p terminus."""
    rows: dict[str, list[Band]] = {}
    with open(path, encoding="ascii") as handle:
        for lineno, line in enumerate(handle, 1):
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 5:
                raise ValueError(f"{path}:{lineno}: expected at least 5 tab-separated columns")
            chrom, start, end, name, stain = fields[:5]
            if stain not in STAIN_DARKNESS:
                raise ValueError(f"{path}:{lineno}: unknown stain {stain!r}")
            rows.setdefault(canonical(chrom), []).append(Band(int(start), int(end), name, stain))
    missing = [c for c in CLASSES if c not in rows]
    if missing:
        raise ValueError(f"{path}: no bands for chromosome(s) {', '.join(missing)}")
    return {c: Chromosome(c, tuple(sorted(rows[c], key=lambda b: b.start))) for c in CLASSES}


def chromosome(cls: str) -> Chromosome:
    return load_band_table()[canonical(cls)]


def relative_lengths(exponent: float = 0.85) -> dict[str, float]:
    """Apparent length of each class relative to chromosome 1.

    Metaphase length is not proportional to base pairs: small chromosomes condense less.
    A power law length ~ bp**exponent (0.8-0.9) matches the measured chr1/chr21 ratio of
    3.4-4.5 in real G-band images, where a straight proportion would give 5.2.
    """
    table = load_band_table()
    ref = table["1"].length_bp
    return {c: (table[c].length_bp / ref) ** exponent for c in CLASSES}
