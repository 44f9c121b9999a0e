# Detection stage: YOLO dataset, training, sharded detection, evaluation.


wildcard_constraints:
    image_set="test|val|train|external|predict|labelme",
    detect_shard=r"\d+",


rule yolo_dataset:
    input:
        manifest=result("data", "manifest.csv"),
        annotations=result("data", "annotations.parquet"),
        splits=result("data", "splits.csv"),
    output:
        directory(result("detect", "yolo_dataset")),
    log:
        result("logs", "detect", "yolo_dataset.log"),
    conda:
        "../../envs/imaging.yaml"
    params:
        task=config["detect"]["task"],
    script:
        "../scripts/yolo_dataset.py"


rule train_detector:
    input:
        dataset=result("detect", "yolo_dataset"),
        start=detector_start_files,
    output:
        weights=protected(result("detect", "model", "detector.pt")),
        record=result("detect", "model", "detector.json"),
        history=result("detect", "model", "history.csv"),
    log:
        result("logs", "detect", "train_detector.log"),
    benchmark:
        result("benchmarks", "detect", "train_detector.tsv")
    conda:
        "../../envs/ultralytics.yaml"
    threads: config["detect"]["threads"]
    resources:
        gpu=1,
        mem_mb=config["detect"]["mem_mb"],
        runtime=config["detect"]["runtime"],
    params:
        settings=training_settings,
        settings_dir=result("detect", "ultralytics"),
        run_dir=result("detect", "model", "run"),
        threads=lambda wildcards, threads: threads,
    script:
        "../scripts/train_detector.py"


rule detection_images:
    input:
        unpack(detection_image_tables),
    output:
        images=result("detect", "{image_set}", "images.csv"),
    log:
        result("logs", "detect", "{image_set}_images.log"),
    conda:
        "../../envs/imaging.yaml"
    params:
        split=lambda wc: wc.image_set if wc.image_set in SPLIT_IMAGE_SETS else None,
    script:
        "../scripts/detection_images.py"


rule detect:
    input:
        weights=lambda wc: detector_weights(wc.image_set),
        images=result("detect", "{image_set}", "images.csv"),
    output:
        boxes=result("detect", "{image_set}", "shards", "boxes_{detect_shard}.parquet"),
        issues=result("detect", "{image_set}", "shards", "issues_{detect_shard}.tsv"),
    log:
        result("logs", "detect", "{image_set}_detect_{detect_shard}.log"),
    benchmark:
        result("benchmarks", "detect", "{image_set}_detect_{detect_shard}.tsv")
    conda:
        "../../envs/ultralytics.yaml"
    resources:
        gpu=1,
        mem_mb=config["detect"]["mem_mb"],
    params:
        task=config["detect"]["task"],
        settings=detection_settings,
        settings_dir=result("detect", "ultralytics"),
        policy=config["on_bad_input"],
    script:
        "../scripts/detect.py"


rule merge_detections:
    input:
        boxes=shard_files("detect", "boxes_{i}.parquet"),
        issues=shard_files("detect", "issues_{i}.tsv"),
    output:
        boxes=result("detect", "{image_set}", "boxes.parquet"),
        issues=result("detect", "{image_set}", "issues.tsv"),
    log:
        result("logs", "detect", "{image_set}_merge.log"),
    group:
        "detection_tables"
    conda:
        "../../envs/imaging.yaml"
    script:
        "../scripts/merge_shards.py"


rule evaluate_detector:
    input:
        boxes=result("detect", "test", "boxes.parquet"),
        annotations=result("data", "annotations.parquet"),
        images=result("detect", "test", "images.csv"),
        training=detector_record(),
    output:
        metrics=result("detect", "evaluation", "metrics.json"),
        per_class=report(
            result("detect", "evaluation", "per_class.csv"),
            caption="../report/detect_per_class.rst",
            category="2. Detection",
            labels={"table": "per-class precision, recall, mAP (test split)"},
        ),
        confusion=report(
            result("detect", "evaluation", "confusion.png"),
            caption="../report/detect_confusion.rst",
            category="2. Detection",
            labels={"figure": "confusion matrix (test split)"},
        ),
        pr_curve=report(
            result("detect", "evaluation", "precision_recall.png"),
            caption="../report/detect_pr.rst",
            category="2. Detection",
            labels={"figure": "precision-recall curves (test split)"},
        ),
    log:
        result("logs", "detect", "evaluate_detector.log"),
    group:
        "detection_tables"
    conda:
        "../../envs/report.yaml"
    params:
        task=config["detect"]["task"],
        confidence=config["detect"]["confidence"],
        label="test split",
    script:
        "../scripts/evaluate_detector.py"


rule detector_history:
    input:
        history=result("detect", "model", "history.csv"),
    output:
        figure=report(
            result("detect", "model", "history.png"),
            caption="../report/detect_history.rst",
            category="2. Detection",
            labels={"figure": "training curves"},
        ),
    log:
        result("logs", "detect", "history.log"),
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/detector_history.py"


rule ingest_external_voc:
    input:
        voc=lambda wc: external_path(
            "external_voc", "a folder of images + Pascal VOC XML"
        ),
    output:
        manifest=result("evaluate", "external_voc", "manifest.csv"),
        annotations=result("evaluate", "external_voc", "annotations.parquet"),
        bad_inputs=result("evaluate", "external_voc", "bad_inputs.tsv"),
    log:
        result("logs", "evaluate", "ingest_external_voc.log"),
    conda:
        "../../envs/imaging.yaml"
    params:
        roots=lambda wc, input: [input.voc],
        source="voc",
        policy=config["on_bad_input"],
        extract_dir=result("evaluate", "external_voc", "extracted"),
    script:
        "../scripts/ingest.py"


rule evaluate_external_detection:
    input:
        boxes=result("detect", "external", "boxes.parquet"),
        annotations=result("evaluate", "external_voc", "annotations.parquet"),
        images=result("detect", "external", "images.csv"),
    output:
        metrics=result("evaluate", "external_detection.json"),
    log:
        result("logs", "evaluate", "external_detection.log"),
    conda:
        "../../envs/report.yaml"
    params:
        task=config["detect"]["task"],
        confidence=config["detect"]["confidence"],
        label=lambda wc: f"external VOC set {config['evaluate']['external_voc']}",
    script:
        "../scripts/evaluate_detector.py"


rule ingest_predict_images:
    input:
        images=lambda wc: predict_images_path(),
    output:
        manifest=result("predict", "input", "manifest.csv"),
        annotations=result("predict", "input", "annotations.parquet"),
        bad_inputs=result("predict", "input", "bad_inputs.tsv"),
    log:
        result("logs", "predict", "ingest_images.log"),
    conda:
        "../../envs/imaging.yaml"
    params:
        roots=lambda wc, input: [input.images],
        source="images",
        policy=config["on_bad_input"],
        extract_dir=result("predict", "input", "extracted"),
        annotated=False,
    script:
        "../scripts/ingest.py"
