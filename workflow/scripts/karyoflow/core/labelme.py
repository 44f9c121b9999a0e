"""LabelMe JSON annotations: polygons per object, the image embedded or beside the file."""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from karyoflow.core.errors import BadInputError


@dataclass
class LabelMeImage:
    path: str  # the JSON file
    image: np.ndarray  # grey uint8
    labels: list[str]
    polygons: list[np.ndarray]  # (n, 2) x, y in pixels

    def masks(self) -> list[np.ndarray]:
        """One filled boolean mask per polygon (overlapping polygons stay separate)."""
        out = []
        for polygon in self.polygons:
            mask = np.zeros(self.image.shape, dtype=np.uint8)
            cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1)
            out.append(mask > 0)
        return out

    def boxes(self) -> np.ndarray:
        """(n, 4) xmin, ymin, xmax, ymax of the polygons (exclusive max, whole pixels)."""
        return np.array(
            [
                [
                    np.floor(p[:, 0].min()),
                    np.floor(p[:, 1].min()),
                    np.ceil(p[:, 0].max()) + 1,
                    np.ceil(p[:, 1].max()) + 1,
                ]
                for p in self.polygons
            ],
            dtype=float,
        ).reshape(-1, 4)


def read_labelme(path: str | Path) -> LabelMeImage:
    """Read one LabelMe file; the image comes from `imageData` or from `imagePath`."""
    from karyoflow.core.images import read_grayscale

    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BadInputError(
            path, "malformed_labelme", f"not a readable LabelMe JSON ({err})"
        ) from err
    if data.get("imageData"):
        from karyoflow.core.images import _pillow_open

        try:
            with _pillow_open()(io.BytesIO(base64.b64decode(data["imageData"]))) as im:
                image = np.asarray(im.convert("L"))
        except Exception as err:
            raise BadInputError(
                path, "unreadable_image", f"embedded imageData unreadable ({err})"
            ) from err
    elif data.get("imagePath"):
        image, _ = read_grayscale(path.parent / data["imagePath"])
    else:
        raise BadInputError(
            path, "missing_image", "LabelMe file has neither imageData nor imagePath"
        )
    labels, polygons = [], []
    for shape in data.get("shapes", []):
        points = np.asarray(shape.get("points", []), dtype=float)
        if shape.get("shape_type", "polygon") != "polygon" or len(points) < 3:
            continue
        labels.append(str(shape.get("label", "")))
        polygons.append(points)
    if not polygons:
        raise BadInputError(path, "empty_annotation", "no polygon in this LabelMe file")
    return LabelMeImage(str(path), image, labels, polygons)
