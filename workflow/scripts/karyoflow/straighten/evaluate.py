"""Scoring the straightening methods on synthetic crops (length against the truth
centreline, band profile) and galleries of bent chromosomes before and after."""

from __future__ import annotations

import numpy as np
import pandas as pd

from karyoflow.straighten.methods import METHODS, straighten
from karyoflow.straighten.run import place_on_canvas


def band_scores(image: np.ndarray, mask: np.ndarray, cls: str) -> tuple[float, bool]:
    """(correlation of the row profile with the class's ideogram, whichever way up;
    whether it is p up). The canvas is bright where the chromosome is dark."""
    from karyoflow.core.bands import chromosome

    rows = mask.any(axis=1)
    if rows.sum() < 4:
        return float("nan"), False
    sums = np.where(mask, image, 0).sum(axis=1)[rows]
    profile = sums / np.maximum(mask.sum(axis=1)[rows], 1)
    ideogram = chromosome(cls).darkness_profile(len(profile))
    if np.std(profile) == 0 or np.std(ideogram) == 0:
        return float("nan"), False
    up = float(np.corrcoef(profile, ideogram)[0, 1])
    down = float(np.corrcoef(profile[::-1], ideogram)[0, 1])
    return max(up, down), up >= down


def straightness_error(mask: np.ndarray) -> float:
    """Spread (px) of the row-wise medial x of an upright chromosome: 0 when straight."""
    medial = [np.nonzero(row)[0].mean() for row in mask if row.any()]
    return float(np.std(medial)) if len(medial) > 1 else float("nan")


def score_methods(crops: pd.DataFrame, canvases: np.ndarray, truth_lengths, bent) -> pd.DataFrame:
    """One row per crop and method: length ratio, band correlation, p up, straightness."""
    import pandas as pd

    rows = []
    for method in METHODS:
        for k, crop in enumerate(crops.itertuples(index=False)):
            result = straighten(canvases[crop.crop_index], method=method)
            expected = truth_lengths[k] * crop.cell_scale
            corr, p_up = band_scores(result.image, result.mask, crop.true_class)
            rows.append(
                (
                    crop.crop_id,
                    crop.true_class,
                    "bent" if bent[k] else "straight",
                    method,
                    result.ok,
                    result.length_px / expected if expected else float("nan"),
                    corr,
                    p_up,
                    straightness_error(result.mask) if result.ok else float("nan"),
                )
            )
    return pd.DataFrame(
        rows,
        columns=[
            "crop_id",
            "true_class",
            "shape",
            "method",
            "ok",
            "length_ratio",
            "band_correlation",
            "p_up",
            "straightness_px",
        ],
    )


def evaluate_straightening(
    crops: str,
    arrays: str,
    manifest: str,
    metrics_json: str,
    scores_png: str,
    gallery_png: str,
    *,
    max_crops: int = 1500,
) -> dict:
    """Rule evaluate_straightening: every method on the crops with synthetic truth."""
    import json
    import logging
    from pathlib import Path

    import pandas as pd

    from karyoflow.core.tables import write_json
    from karyoflow.crops.canvas import load_crops
    from karyoflow.data.ingest import read_manifest
    from karyoflow.straighten import plots

    log = logging.getLogger(__name__)
    table = pd.read_parquet(crops)
    truth_paths = read_manifest(manifest).set_index("image_id")["truth_path"].to_dict()
    table = table[
        (table["truth_index"] >= 0) & table["image_id"].map(truth_paths).fillna("").ne("")
    ]
    table = table.head(max_crops)
    canvases, _ = load_crops(arrays)
    cache: dict[str, list] = {}
    lengths, bent = [], []
    for crop in table.itertuples(index=False):
        if crop.image_id not in cache:
            cache[crop.image_id] = json.loads(Path(truth_paths[crop.image_id]).read_text())[
                "instances"
            ]
        instance = cache[crop.image_id][crop.truth_index]
        lengths.append(instance["length_px"])
        bent.append(bool(instance["bent"]))
    scores = score_methods(table, canvases, lengths, bent)
    summary = {"n_crops": len(table), "methods": {}}
    if scores.empty:
        summary["note"] = "no crop with synthetic truth to score (no truth files, or no crops)"
    for (method, shape), group in scores.groupby(["method", "shape"]):
        ok = group[group["ok"]]
        summary["methods"].setdefault(method, {})[shape] = {
            "n": len(group),
            "ok_share": float(group["ok"].mean()),
            "length_preserved_pct": float(100 * ok["length_ratio"].median()),
            "length_ratio_mean": float(ok["length_ratio"].mean()),
            "band_correlation_mean": float(ok["band_correlation"].mean()),
            "polarity_accuracy": float(ok["p_up"].mean()),
            "straightness_px_median": float(ok["straightness_px"].median()),
        }
    write_json(summary, metrics_json)
    for method, shapes in summary["methods"].items():
        for shape, values in shapes.items():
            log.info(
                "%s, %s (%d): length %.1f%%, band r %.3f, p up %.3f, straightness %.2f px",
                method,
                shape,
                values["n"],
                values["length_preserved_pct"],
                values["band_correlation_mean"],
                values["polarity_accuracy"],
                values["straightness_px_median"],
            )
    plots.straightening_scores(scores, scores_png)
    # the 4 worst and 4 best bent chromosomes by medial_axis band-profile correlation
    ranked = scores[
        (scores["method"] == "medial_axis") & (scores["shape"] == "bent") & scores["ok"]
    ].sort_values("band_correlation")
    picked = list(ranked["crop_id"].head(4)) + list(ranked["crop_id"].tail(4))
    by_id = table.set_index("crop_id")
    examples = [
        [canvases[by_id.at[crop_id, "crop_index"]]]
        + [
            place_on_canvas(np.where(r.mask, r.image, 0), canvases.shape[1])[0]
            for r in (
                straighten(canvases[by_id.at[crop_id, "crop_index"]], method=m) for m in METHODS
            )
        ]
        for crop_id in dict.fromkeys(picked)
    ]
    plots.straightening_gallery(
        examples, ["crop (worst 4, then best 4)"] + list(METHODS), gallery_png
    )
    return summary


def straighten_gallery_files(
    crops: str, arrays: str, straight: str, table: str, gallery: str, *, n: int = 12
) -> None:
    """Before/after pictures of the most bent crops of a set (e.g. real crops)."""
    import pandas as pd

    from karyoflow.crops.canvas import load_crops
    from karyoflow.straighten import plots

    crops_table = pd.read_parquet(crops)
    before, _ = load_crops(arrays)
    before = before[crops_table["crop_index"].to_numpy(dtype=int)]
    with np.load(straight) as data:
        after = data["canvas"]
    rows = pd.read_parquet(table)
    candidates = rows[rows["ok"]].head(600)
    # bend: how much longer the chromosome is along its centreline than upright as it is
    upright = [straighten(before[i], method="none").length_px for i in candidates["straight_index"]]
    bend = candidates["length_px"].to_numpy() / np.maximum(upright, 1)
    chosen = candidates.iloc[np.argsort(-bend)[:n]]["straight_index"]
    examples = [[before[i], after[i]] for i in chosen]
    method = rows["method"].iloc[0] if len(rows) else ""
    plots.straightening_gallery(examples, ["crop", f"straightened ({method})"], gallery)
