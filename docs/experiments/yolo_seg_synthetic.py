"""CPU experiment (issue 17): a YOLO11n-seg instance model trained on synthetic cells
(amodal outlines), scored from the raw image on the default's 60 test cells against the
chain's classical masks in the detector's boxes.

From the repo root, after the default run in results/syn_base (`results_dir:
results/syn_base` over config/config.yaml):
  uv run python docs/experiments/yolo_seg_synthetic.py train 12   # 11 min, 2 cores
  uv run python docs/experiments/yolo_seg_synthetic.py eval       # 2 min
Work files go to /tmp/segexp."""

import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))
W = Path("/tmp/segexp")
SEED = 20261205


def one(args):
    split, index, folder = args
    import cv2
    from karyoflow.data.synth import cell_truth, generate_cell

    cell = generate_cell((SEED, index))
    truth = cell_truth(cell, "x")
    name = f"s{index:06d}"
    cv2.imwrite(str(folder / "images" / split / f"{name}.png"), cell.image)
    w, h = truth["width"], truth["height"]
    lines = [
        "0 " + " ".join(f"{x / w:.5f} {y / h:.5f}" for x, y in inst["outline"])
        for inst in truth["instances"]
    ]
    (folder / "labels" / split / f"{name}.txt").write_text("\n".join(lines) + "\n")


def data(n_train, n_val):
    folder = W / "data"
    if (folder / "data.yaml").exists():
        return folder / "data.yaml"
    for s in ("train", "val"):
        (folder / "images" / s).mkdir(parents=True, exist_ok=True)
        (folder / "labels" / s).mkdir(parents=True, exist_ok=True)
    jobs = [("train", i, folder) for i in range(n_train)] + [
        ("val", n_train + i, folder) for i in range(n_val)
    ]
    with mp.Pool(2) as pool:
        pool.map(one, jobs, chunksize=8)
    (folder / "data.yaml").write_text(
        f"path: {folder}\ntrain: images/train\nval: images/val\nnames:\n  0: chromosome\n"
    )
    return folder / "data.yaml"


def train(epochs):
    from karyoflow.detect.runtime import offline_environment, use_cpu_threads

    offline_environment(W / "settings")
    use_cpu_threads(2)
    from karyoflow.detect.train import train_detector

    return train_detector(
        data(250, 40),
        W / "seg.pt",
        model="yolo11n-seg.yaml",
        imgsz=512,
        epochs=epochs,
        batch=8,
        patience=100,
        seed=42,
        workers=2,
        device="cpu",
        extra_args={
            "optimizer": "AdamW",
            "lr0": 0.002,
            "cos_lr": True,
            "warmup_epochs": 1,
            "flipud": 0.5,
            "pretrained": str(REPO / "models" / "cil_detector_yolo11n.pt"),
        },
        run_dir=W / "run",
        history_out=W / "seg.csv",
    )


def evaluate():
    from karyoflow.detect.runtime import offline_environment, use_cpu_threads

    offline_environment(W / "settings")
    use_cpu_threads(2)
    from karyoflow.core.masks import load_masks
    from karyoflow.segment.evaluate import score_instances, summarize_instances, synthetic_truth
    from ultralytics import YOLO

    R = REPO / "results" / "syn_base"
    m = pd.read_csv(R / "data/manifest.csv")
    sp = pd.read_csv(R / "data/splits.csv")
    m = m[m.image_id.isin(sp[sp.split == "test"].image_id)]
    inst = pd.concat(
        [
            pd.read_parquet(f)
            for f in sorted((R / "segment/test/shards").glob("instances_*.parquet"))
        ]
    )
    model = YOLO(str(W / "seg.pt"))
    rows = {"yolo_seg_c0.05": ([], []), "yolo_seg_c0.25": ([], []), "classical_chain": ([], [])}
    seconds = 0.0
    for r in m.itertuples():
        truth = synthetic_truth(r.image_path, r.truth_path, r.image_id)
        t = time.perf_counter()
        res = model.predict(
            r.image_path,
            imgsz=512,
            conf=0.05,
            iou=0.5,
            retina_masks=True,
            verbose=False,
            device="cpu",
        )[0]
        seconds += time.perf_counter() - t
        masks = [] if res.masks is None else list(res.masks.data.cpu().numpy() > 0.5)
        conf = [] if res.boxes is None else res.boxes.conf.cpu().numpy()
        for c in (0.05, 0.25):
            windows = [(0, 0, mk) for mk, cf in zip(masks, conf, strict=True) if cf >= c]
            a, b = score_instances(truth, windows)
            rows[f"yolo_seg_c{c}"][0].append(a)
            rows[f"yolo_seg_c{c}"][1].extend(b)
        g = inst[inst.image_id == r.image_id]
        chain = []
        if len(g):
            allm = load_masks(g["mask_file"].iloc[0])
            chain = [allm[i] for i in g["instance_id"]]
        a, b = score_instances(truth, chain)
        rows["classical_chain"][0].append(a)
        rows["classical_chain"][1].extend(b)
    out = {}
    for k, (im, ins) in rows.items():
        out[k] = summarize_instances(
            pd.DataFrame(
                im, columns=["image_id", "n_annotated", "n_found", "n_matched", "mean_iou"]
            ),
            pd.DataFrame(ins, columns=["image_id", "instance", "kind", "matched", "iou"]),
        )
    out["yolo_seg_seconds_per_image"] = round(seconds / len(m), 3)
    (W / "evaluation.json").write_text(json.dumps(out, indent=1))
    for k in rows:
        e = out[k]
        print(
            k,
            e["precision"],
            e["recall"],
            e["f1"],
            {kk: v["recall"] for kk, v in e["by_kind"].items()},
            e["count"]["exact_rate"],
            e["count"]["mean_abs_error"],
        )
    print("seconds/image", out["yolo_seg_seconds_per_image"])


if __name__ == "__main__":
    if sys.argv[1] == "train":
        print(json.dumps(train(int(sys.argv[2]))["metrics"]))
    else:
        evaluate()
