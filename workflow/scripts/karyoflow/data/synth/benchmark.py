"""Generator throughput on one core: `python -m karyoflow.data.synth.benchmark [n] [size]`.

Prints images/s for rendering alone and for rendering plus writing every output file
(image, mask, VOC XML, truth JSON, karyogram). A benchmark, not a test.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402

from karyoflow.data.synth import SynthParams, generate_cell, generate_shard  # noqa: E402


def main(n: int = 30, size: int = 1024) -> None:
    cv2.setNumThreads(1)
    params = SynthParams(width=size, height=size)
    generate_cell((0, 0), params)  # warm caches (band table, imports)
    started = time.perf_counter()
    for i in range(n):
        generate_cell((0, i), params)
    render_rate = n / (time.perf_counter() - started)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        generate_shard(os.path.join(tmp, "shard"), range(n), seed=0, params=params)
        full_rate = n / (time.perf_counter() - started)
    print(
        f"{size}x{size}, one core, {n} images: {render_rate:.1f} images/s rendering, {full_rate:.1f} images/s with all files written"
    )


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
