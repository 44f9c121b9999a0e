"""Detector trainings on one GPU, each with karyoflow's own `train_detector`, run side by
side under one wall-clock budget (what ran on the lent H200 on 2026-12-04).

  cil640 / cil512: the shipped CIL detector trained on, at 640 / 512 px, on the 867 CIL
                   training images (validation: the 153 validation images), mosaic on.
  synth512:        the shipped CIL detector trained on, at 512 px, on freshly generated
                   synthetic metaphases (seed 20261204, never the make-run seed 42).

Here, first (the CIL split of `config/cil.yaml`, its train and val images only, grey,
long side <= 640 px, JPEG quality 80, so that they travel to the GPU machine: 33 MB):
  snakemake --cores 2 results/cil/data/splits.csv --configfile config/config.yaml config/cil.yaml
  uv run python docs/gpu/train_detectors.py --prepare results/cil/data .device/cil
and copy this file to .device/run.py and Ultralytics (+ thop, a pandas stand-in for polars)
into .device/site. There (repo root, `.device` carried):
  PYTHONPATH=$PWD/.device/site python3 .device/run.py BUDGET_S OUT_DIR [SCALE]
SCALE < 1 shrinks every count for a CPU rehearsal.
"""

import json
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path.cwd()
HERE = REPO / ".device"
sys.path.insert(0, str(REPO / "workflow" / "scripts"))
WORK = Path(os.environ.get("KF_WORK", "/tmp/kf"))
SYNTH_SEED = 20261204


def synth_one(args):
    split, index, folder = args
    import cv2
    import pandas as pd
    from karyoflow.data.synth import cell_truth, generate_cell
    from karyoflow.detect.dataset import yolo_lines

    cell = generate_cell((SYNTH_SEED, index))
    truth = cell_truth(cell, f"s{index:06d}")
    name = f"s{index:06d}"
    cv2.imwrite(
        str(folder / "images" / split / f"{name}.png"), cell.image, [cv2.IMWRITE_PNG_COMPRESSION, 1]
    )
    objects = pd.DataFrame(
        [[inst["class"], *inst["box"]] for inst in truth["instances"]],
        columns=["class", "xmin", "ymin", "xmax", "ymax"],
    )
    lines = yolo_lines(objects, truth["width"], truth["height"], "chromosome")
    (folder / "labels" / split / f"{name}.txt").write_text("\n".join(lines) + "\n")


def synth_dataset(n_train, n_val, processes):
    folder = WORK / "synth"
    for split in ("train", "val"):
        (folder / "images" / split).mkdir(parents=True, exist_ok=True)
        (folder / "labels" / split).mkdir(parents=True, exist_ok=True)
    jobs = [("train", i, folder) for i in range(n_train)]
    jobs += [("val", n_train + i, folder) for i in range(n_val)]
    with mp.Pool(processes) as pool:
        pool.map(synth_one, jobs, chunksize=8)
    return write_yaml(folder)


def write_yaml(folder):
    data = folder / "data.yaml"
    data.write_text(
        f"path: {folder}\ntrain: images/train\nval: images/val\nnames:\n  0: chromosome\n"
    )
    return data


def cil_dataset(scale):
    folder = WORK / "cil"
    if not folder.exists():
        shutil.copytree(HERE / "cil", folder)
        if scale < 1:  # a rehearsal: a few images
            for images in (folder / "images").iterdir():
                for image in sorted(images.iterdir())[
                    max(int(len(list(images.iterdir())) * scale), 4) :
                ]:
                    image.unlink()
                    (folder / "labels" / images.name / f"{image.stem}.txt").unlink()
    return write_yaml(folder)


def train(name, data_yaml, imgsz, hours, workers, device, epochs):
    """One training in a process of its own (Ultralytics keeps global state)."""
    from karyoflow.detect.runtime import offline_environment

    offline_environment(WORK / f"settings_{name}")
    from karyoflow.detect.train import train_detector

    record = train_detector(
        data_yaml,
        WORK / "out" / f"{name}.pt",
        model=str(REPO / "models" / "cil_detector_yolo11n.pt"),
        imgsz=imgsz,
        epochs=epochs,
        batch=16,
        patience=1000,
        seed=42,
        workers=workers,
        device=device,
        extra_args={
            "optimizer": "AdamW",
            "lr0": 0.001,
            "cos_lr": True,
            "warmup_epochs": 1,
            "flipud": 0.5,  # a chromosome has no up or down in a spread
            "cache": "ram",
            "time": hours,  # Ultralytics fits the epochs (and the schedule) into this
        },
        run_dir=WORK / "runs" / name,
        history_out=WORK / "out" / f"{name}.csv",
    )
    print(name, "done", json.dumps(record["metrics"]), flush=True)


def main():
    budget = float(sys.argv[1])
    out = Path(sys.argv[2])
    scale = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
    started = time.time()
    (WORK / "out").mkdir(parents=True, exist_ok=True)
    import torch

    device = "0" if torch.cuda.is_available() else "cpu"
    print("torch", torch.__version__, "device", device, flush=True)
    # leave time for the final validation, stripping and the copy back
    hours = max(budget - 110, 30) / 3600 * (1 if scale >= 1 else scale)
    epochs = 300 if scale >= 1 else 1
    cil = cil_dataset(scale)
    logs = {}
    procs = {}

    def launch(name, data, imgsz, workers, hours):
        logs[name] = open(WORK / f"{name}.log", "w")
        procs[name] = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--train",
                name,
                str(data),
                str(imgsz),
                str(hours),
                str(workers),
                device,
                str(epochs),
            ],
            stdout=logs[name],
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )

    launch("cil640", cil, 640, 5, hours)
    launch("cil512", cil, 512, 4, hours)
    n_train, n_val = int(3000 * scale) or 8, int(300 * scale) or 4
    synth = synth_dataset(n_train, n_val, processes=8)
    print(f"synthetic {n_train}+{n_val} images in {time.time() - started:.0f} s", flush=True)
    launch("synth512", synth, 512, 5, max(hours - (time.time() - started) / 3600, hours / 2))
    while any(p.poll() is None for p in procs.values()):
        time.sleep(15)
        lines = []
        for name in procs:
            csv = WORK / "runs" / name / "results.csv"
            rows = csv.read_text().splitlines() if csv.is_file() else []
            if len(rows) > 1:
                cells = rows[-1].split(",")
                try:
                    lines.append(
                        f"{name} ep{cells[0].strip()} {float(cells[1]):.0f}s "
                        f"mAP50 {cells[7].strip()} mAP50-95 {cells[8].strip()}"
                    )
                except (IndexError, ValueError):
                    pass
        print(f"[{time.time() - started:4.0f} s] " + " | ".join(lines), flush=True)
        if time.time() - started > budget - 25:
            print("budget reached: stopping the trainings", flush=True)
            for p in procs.values():
                p.kill()
            break
    summary = {"seconds": round(time.time() - started), "returncodes": {}}
    for name, p in procs.items():
        summary["returncodes"][name] = p.poll()
        logs[name].close()
    out.mkdir(parents=True, exist_ok=True)
    from karyoflow.detect.runtime import offline_environment

    offline_environment(WORK / "settings_main")
    from ultralytics.utils.torch_utils import strip_optimizer

    for name in procs:
        done = WORK / "out" / f"{name}.pt"
        best = WORK / "runs" / name / "weights" / "best.pt"
        source = done if done.is_file() else best
        if source.is_file():
            shutil.copyfile(source, out / f"{name}.pt")
            if source == best:  # killed before the end: drop the optimizer state
                strip_optimizer(str(out / f"{name}.pt"))
        csv = WORK / "runs" / name / "results.csv"
        if csv.is_file():
            shutil.copyfile(csv, out / f"{name}.csv")
        record = WORK / "out" / f"{name}.json"
        if record.is_file():
            summary[name] = json.loads(record.read_text())
        summary[f"{name}_log_tail"] = (WORK / f"{name}.log").read_text()[-3000:]
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    print(json.dumps(summary["returncodes"]), f"{summary['seconds']} s", flush=True)


def prepare(data_dir, out_dir):
    """The train and val images of an ingested split (manifest.csv, annotations.parquet,
    splits.csv in data_dir) as a small YOLO dataset in out_dir."""
    import tempfile

    import cv2
    import pandas as pd
    from karyoflow.detect.dataset import write_yolo_dataset_files

    data_dir, out_dir = Path(data_dir), Path(out_dir)
    splits = pd.read_csv(data_dir / "splits.csv", dtype={"image_id": str})
    with tempfile.TemporaryDirectory() as tmp:
        kept = Path(tmp) / "splits.csv"
        splits[splits["split"].isin(["train", "val"])].to_csv(kept, index=False)
        write_yolo_dataset_files(
            str(data_dir / "manifest.csv"),
            str(data_dir / "annotations.parquet"),
            str(kept),
            str(Path(tmp) / "yolo"),
            "chromosome",
        )
        for split in ("train", "val"):
            (out_dir / "images" / split).mkdir(parents=True, exist_ok=True)
            (out_dir / "labels" / split).mkdir(parents=True, exist_ok=True)
            for link in sorted((Path(tmp) / "yolo" / "images" / split).iterdir()):
                image = cv2.imread(str(link), cv2.IMREAD_GRAYSCALE)
                scale = 640 / max(image.shape)
                if scale < 1:  # labels are relative to the image size: unchanged
                    size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
                    image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
                cv2.imwrite(
                    str(out_dir / "images" / split / f"{link.stem}.jpg"),
                    image,
                    [cv2.IMWRITE_JPEG_QUALITY, 80],
                )
                shutil.copyfile(
                    Path(tmp) / "yolo" / "labels" / split / f"{link.stem}.txt",
                    out_dir / "labels" / split / f"{link.stem}.txt",
                )


if __name__ == "__main__":
    if sys.argv[1] == "--prepare":
        prepare(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "--train":
        name, data, imgsz, hours, workers, device, epochs = sys.argv[2:9]
        train(name, data, int(imgsz), float(hours), int(workers), device, int(epochs))
    else:
        main()
