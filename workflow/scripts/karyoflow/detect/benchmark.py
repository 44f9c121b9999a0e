"""Detection speed: images per second of `detect_images` at several input sizes.

    python -m karyoflow.detect.benchmark WEIGHTS IMAGES_CSV [N_IMAGES] [IMGSZ ...]

IMAGES_CSV has columns image_id, image_path (e.g. results/detect/test/images.csv). The
first batch of each size is a warm-up and is not timed. Prints one line per size.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

import pandas as pd


def benchmark(weights: str, images: pd.DataFrame, sizes=(640, 1024), batch: int = 8) -> dict:
    from karyoflow.detect.infer import detect_images, load_detector
    from karyoflow.detect.runtime import offline_environment

    offline_environment(os.environ.get("YOLO_CONFIG_DIR") or tempfile.mkdtemp())
    from ultralytics import YOLO

    names = YOLO(weights, task="detect").names
    model = load_detector(weights, [names[i] for i in sorted(names)])
    speeds = {}
    for imgsz in sizes:
        detect_images(model, images.head(batch), imgsz=imgsz, batch=batch, device="cpu")
        started = time.perf_counter()
        boxes, _ = detect_images(model, images, imgsz=imgsz, batch=batch, device="cpu")
        seconds = time.perf_counter() - started
        speeds[imgsz] = len(images) / seconds
        print(
            f"imgsz {imgsz}: {len(images)} images in {seconds:.1f} s = "
            f"{speeds[imgsz]:.2f} images/s ({len(boxes)} boxes)",
            flush=True,
        )
    return speeds


if __name__ == "__main__":
    weights, images_csv = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 40
    sizes = [int(s) for s in sys.argv[4:]] or [640, 1024]
    table = pd.read_csv(images_csv, dtype={"image_id": str}).head(n)
    benchmark(weights, table, sizes)
