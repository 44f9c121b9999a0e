"""CPU experiment (issue 17, item 4): does a detector learnt on synthetic cells carry over
to real metaphases better when the cells are built from real chromosome crops
(synthetic.crop_folder) than when their chromosomes are rendered?

Two YOLO11n detectors, built from scratch (yolo11n.yaml; no real image seen before),
are trained alike on 250 synthetic cells each, seed 20261206, one set rendered and one
pasted from the 612-cell G-band crops, and both are scored on real images they never
saw: the 153 CIL validation cells of the CIL run (results/cil_g512) and the 72 Q-band
BioImLab cells (bright, so inverted first). From the repo root:

  uv run python docs/experiments/real_crop_synthetic.py data        # 2 x 290 cells
  uv run python docs/experiments/real_crop_synthetic.py train rendered 12
  uv run python docs/experiments/real_crop_synthetic.py train pasted 12
  uv run python docs/experiments/real_crop_synthetic.py train rendered 12 43   # a replicate
  uv run python docs/experiments/real_crop_synthetic.py train pasted 12 43
  uv run python docs/experiments/real_crop_synthetic.py finetune scratch 100 10
  uv run python docs/experiments/real_crop_synthetic.py finetune rendered 100 10
  uv run python docs/experiments/real_crop_synthetic.py finetune pasted 100 10
  uv run python docs/experiments/real_crop_synthetic.py eval
  uv run python docs/experiments/real_crop_synthetic.py realism   # after eval

Work files go to /tmp/pasteexp; the scores to docs/experiments/real_crop_synthetic.json."""

import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))
W = Path("/tmp/pasteexp")
SEED = 20261206
CROPS = REPO.parent / "shared" / "data" / "real" / "gband612_crops"
N_TRAIN, N_VAL = 250, 40


def one(args):
    kind, split, index = args
    import cv2
    from karyoflow.data.synth import SynthParams, cell_truth, generate_cell

    params = SynthParams(crop_folder=str(CROPS) if kind == "pasted" else "")
    cell = generate_cell((SEED, index), params)
    truth = cell_truth(cell, "x")
    folder = W / kind
    name = f"s{index:06d}"
    cv2.imwrite(str(folder / "images" / split / f"{name}.png"), cell.image)
    w, h = truth["width"], truth["height"]
    lines = []
    for inst in truth["instances"]:
        x0, y0, x1, y1 = inst["box"]
        lines.append(
            f"0 {(x0 + x1) / 2 / w:.6f} {(y0 + y1) / 2 / h:.6f} {(x1 - x0) / w:.6f} {(y1 - y0) / h:.6f}"
        )
    (folder / "labels" / split / f"{name}.txt").write_text("\n".join(lines) + "\n")


def data():
    jobs = []
    for kind in ("rendered", "pasted"):
        folder = W / kind
        if (folder / "data.yaml").exists():
            continue
        for s in ("train", "val"):
            (folder / "images" / s).mkdir(parents=True, exist_ok=True)
            (folder / "labels" / s).mkdir(parents=True, exist_ok=True)
        jobs += [(kind, "train", i) for i in range(N_TRAIN)]
        jobs += [(kind, "val", N_TRAIN + i) for i in range(N_VAL)]
    started = time.perf_counter()
    with mp.Pool(2) as pool:
        pool.map(one, jobs, chunksize=8)
    for kind in ("rendered", "pasted"):
        (W / kind / "data.yaml").write_text(
            f"path: {W / kind}\ntrain: images/train\nval: images/val\nnames:\n  0: chromosome\n"
        )
    print(f"{len(jobs)} cells in {time.perf_counter() - started:.0f} s")


def name_of(kind, seed):
    return kind if seed == 42 else f"{kind}_seed{seed}"


def fit(data_yaml, name, model, epochs, seed=42):
    """One CPU training of this experiment (all alike but for data, start and seed)."""
    from karyoflow.detect.runtime import offline_environment, use_cpu_threads

    offline_environment(W / "settings")
    use_cpu_threads(2)
    from karyoflow.detect.train import train_detector

    started = time.perf_counter()
    out = train_detector(
        data_yaml,
        W / f"{name}.pt",
        model=model,
        imgsz=512,
        epochs=epochs,
        batch=8,
        patience=100,
        seed=seed,
        workers=2,
        device="cpu",
        extra_args={
            "optimizer": "AdamW",
            "lr0": 0.002,
            "cos_lr": True,
            "warmup_epochs": 1,
            "flipud": 0.5,
        },
        run_dir=W / f"run_{name}",
        history_out=W / f"{name}.csv",
    )
    print(name, f"{time.perf_counter() - started:.0f} s", json.dumps(out["metrics"]))


def train(kind, epochs, seed=42):
    fit(W / kind / "data.yaml", name_of(kind, seed), "yolo11n.yaml", epochs, seed)


def finetune(start, n_images, epochs):
    """A detector trained on `n_images` real CIL training images (seeded sample) from
    `start`: scratch (yolo11n.yaml) or one of the synthetic detectors above; the few-real-
    images case of a lab that annotates a hundred of its own."""
    import random

    # made by: docs/gpu/train_detectors.py --prepare results/cil_g512/data .device/cil
    cil = REPO / ".device" / "cil"
    folder = W / f"cil{n_images}"
    if not (folder / "data.yaml").exists():
        names = sorted(p.stem for p in (cil / "images" / "train").glob("*.jpg"))
        drawn = random.Random(SEED).sample(names, n_images + 40)
        # the epoch kept is chosen on 40 other training images, never on the scored ones
        for split, picked in (("train", drawn[:n_images]), ("val", drawn[n_images:])):
            (folder / "images" / split).mkdir(parents=True, exist_ok=True)
            (folder / "labels" / split).mkdir(parents=True, exist_ok=True)
            for name in sorted(picked):
                for kind, ext in (("images", "jpg"), ("labels", "txt")):
                    (folder / kind / split / f"{name}.{ext}").symlink_to(
                        cil / kind / "train" / f"{name}.{ext}"
                    )
        (folder / "data.yaml").write_text(
            f"path: {folder}\ntrain: images/train\nval: images/val\nnames:\n  0: chromosome\n"
        )
    start_model = "yolo11n.yaml" if start == "scratch" else str(W / f"{start}.pt")
    fit(folder / "data.yaml", f"cil{n_images}_from_{start}", start_model, epochs)


def realism():
    """The other way round: the shipped CIL detector, which learnt from real spreads
    only, on the 40 validation cells of each synthetic set (confidence 0.25)."""
    from karyoflow.detect.runtime import offline_environment, use_cpu_threads

    offline_environment(W / "settings")
    use_cpu_threads(2)
    from karyoflow.detect.infer import detect_images, load_detector
    from karyoflow.detect.metrics import evaluate_detections

    model = load_detector(REPO / "models" / "cil_detector_yolo11n.pt", ["chromosome"])
    out = json.loads((REPO / "docs" / "experiments" / "real_crop_synthetic.json").read_text())
    for kind in ("rendered", "pasted"):
        folder = W / kind
        images = sorted((folder / "images" / "val").glob("*.png"))
        table = pd.DataFrame({"image_id": [p.stem for p in images], "image_path": map(str, images)})
        rows = []
        for p in images:
            for line in (folder / "labels" / "val" / f"{p.stem}.txt").read_text().splitlines():
                _, cx, cy, w, h = map(float, line.split())
                size = 1024  # the generator's default image size
                rows.append(
                    (
                        p.stem,
                        "chromosome",
                        (cx - w / 2) * size,
                        (cy - h / 2) * size,
                        (cx + w / 2) * size,
                        (cy + h / 2) * size,
                    )
                )
        truth = pd.DataFrame(rows, columns=["image_id", "class", "xmin", "ymin", "xmax", "ymax"])
        boxes, _ = detect_images(
            model, table, imgsz=512, confidence=0.25, iou=0.5, polarity="dark", device="cpu"
        )
        boxes["class"] = "chromosome"
        scores = evaluate_detections(boxes, truth, ["chromosome"], 0.25, table["image_id"])
        out[f"shipped_cil_detector/{kind}_synthetic_val_40"] = {
            k: round(float(v), 4) if isinstance(v, float) else v for k, v in scores.overall.items()
        }
        print(kind, out[f"shipped_cil_detector/{kind}_synthetic_val_40"], flush=True)
    (REPO / "docs" / "experiments" / "real_crop_synthetic.json").write_text(
        json.dumps(out, indent=1)
    )


def real_sets():
    """(name, images table, truth boxes table, polarity) of the real sets scored."""
    cil = REPO / "results" / "cil_g512" / "data"
    manifest = pd.read_csv(cil / "manifest.csv", dtype={"image_id": str})
    splits = pd.read_csv(cil / "splits.csv", dtype={"image_id": str})
    images = manifest[manifest.image_id.isin(splits[splits.split == "val"].image_id)]
    truth = pd.read_parquet(cil / "annotations.parquet")
    truth["image_id"] = truth["image_id"].astype(str)
    truth = truth[truth.image_id.isin(images.image_id)].assign(**{"class": "chromosome"})
    sets = [("cil_val_153", images[["image_id", "image_path"]], truth, "dark")]
    qband = REPO.parent / "shared" / "data" / "real" / "bioimlab_qband_seg"
    if qband.is_dir():
        from karyoflow.data.labelme import ingest_labelme

        got = ingest_labelme(qband, W / "qband_images")
        sets.append(
            (
                "qband_72",
                got.manifest[["image_id", "image_path"]],
                got.annotations.assign(**{"class": "chromosome"}),
                "bright",
            )
        )
    return sets


def evaluate():
    from karyoflow.detect.runtime import offline_environment, use_cpu_threads

    offline_environment(W / "settings")
    use_cpu_threads(2)
    from karyoflow.detect.infer import detect_images, load_detector
    from karyoflow.detect.metrics import evaluate_detections

    out = {}
    models = sorted(p.stem for p in W.glob("*.pt"))
    for kind in models:
        model = load_detector(W / f"{kind}.pt", ["chromosome"])
        for name, images, truth, polarity in real_sets():
            boxes, _ = detect_images(
                model, images, imgsz=512, confidence=0.25, iou=0.5, polarity=polarity, device="cpu"
            )
            boxes["class"] = "chromosome"
            scores = evaluate_detections(boxes, truth, ["chromosome"], 0.25, images["image_id"])
            kept = boxes[boxes.confidence >= 0.25].groupby("image_id").size()
            n_truth = truth.groupby("image_id").size()
            errors = (kept.reindex(n_truth.index, fill_value=0) - n_truth).abs()
            out[f"{kind}/{name}"] = {
                k: round(float(v), 4) if isinstance(v, float) else v
                for k, v in scores.overall.items()
            } | {"count_mean_abs_error_at_0.25": round(float(errors.mean()), 2)}
            print(kind, name, out[f"{kind}/{name}"], flush=True)
    for kind in models:
        history = pd.read_csv(W / f"{kind}.csv")
        own = "40_other_cil_training_images" if kind.startswith("cil") else "own_synthetic_val"
        out[f"{kind}/{own}_last_epoch"] = history.iloc[-1].to_dict()
    (REPO / "docs" / "experiments" / "real_crop_synthetic.json").write_text(
        json.dumps(out, indent=1)
    )


if __name__ == "__main__":
    if sys.argv[1] == "data":
        data()
    elif sys.argv[1] == "realism":
        realism()
    elif sys.argv[1] == "finetune":
        finetune(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif sys.argv[1] == "train":
        train(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 42)
    else:
        evaluate()
