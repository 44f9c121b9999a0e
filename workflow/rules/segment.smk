# Segmentation stage: masks inside the detected boxes, sharded; quality against truth.


wildcard_constraints:
    segment_shard=r"\d+",


rule segment:
    input:
        images=result("detect", "{image_set}", "images.csv"),
        boxes=result("detect", "{image_set}", "boxes.parquet"),
    output:
        instances=result(
            "segment", "{image_set}", "shards", "instances_{segment_shard}.parquet"
        ),
        issues=result("segment", "{image_set}", "shards", "issues_{segment_shard}.tsv"),
        masks=directory(
            result("segment", "{image_set}", "shards", "masks_{segment_shard}")
        ),
    log:
        result("logs", "segment", "{image_set}_segment_{segment_shard}.log"),
    benchmark:
        result("benchmarks", "segment", "{image_set}_segment_{segment_shard}.tsv")
    conda:
        "../../envs/ultralytics.yaml"
    resources:
        gpu=1 if segment_method() == "sam" else 0,
        mem_mb=config["segment"]["mem_mb"],
    params:
        shard=lambda wc: int(wc.segment_shard),
        n_shards=config["segment"]["shards"],
        settings=config["segment"],
        confidence=config["detect"]["confidence"],
        settings_dir=result("detect", "ultralytics"),
        policy=config["on_bad_input"],
    script:
        "../scripts/segment.py"


rule merge_segments:
    input:
        instances=shard_files("segment", "instances_{i}.parquet"),
        issues=shard_files("segment", "issues_{i}.tsv"),
    output:
        instances=result("segment", "{image_set}", "instances.parquet"),
        issues=result("segment", "{image_set}", "issues.tsv"),
    log:
        result("logs", "segment", "{image_set}_merge.log"),
    conda:
        "../../envs/imaging.yaml"
    script:
        "../scripts/merge_shards.py"


rule evaluate_segmentation:
    input:
        manifest=result("data", "manifest.csv"),
        splits=result("data", "splits.csv"),
    output:
        metrics_json=result("segment", "evaluation", "metrics.json"),
        scores_csv=result("segment", "evaluation", "scores.csv"),
        scores_png=report(
            result("segment", "evaluation", "scores.png"),
            caption="../report/segment_scores.rst",
            category="3. Segmentation",
            labels={"figure": "mask IoU by kind (test split)"},
        ),
        gallery_png=report(
            result("segment", "evaluation", "gallery.png"),
            caption="../report/segment_gallery.rst",
            category="3. Segmentation",
            labels={"figure": "worst and best masks (test split)"},
        ),
    log:
        result("logs", "segment", "evaluate_segmentation.log"),
    benchmark:
        result("benchmarks", "segment", "evaluate_segmentation.tsv")
    conda:
        "../../envs/ultralytics.yaml"
    resources:
        gpu=1 if segment_method() == "sam" else 0,
    params:
        settings=config["segment"],
        settings_dir=result("detect", "ultralytics"),
    script:
        "../scripts/evaluate_segmentation.py"


rule evaluate_external_segmentation:
    input:
        folder=lambda wc: external_path(
            "external_labelme", "a folder of LabelMe JSON files"
        ),
    output:
        metrics_json=result("evaluate", "external_segmentation.json"),
    log:
        result("logs", "evaluate", "external_segmentation.log"),
    benchmark:
        result("benchmarks", "evaluate", "external_segmentation.tsv")
    conda:
        "../../envs/ultralytics.yaml"
    params:
        annotation="labelme",
        settings=config["segment"],
        settings_dir=result("detect", "ultralytics"),
    script:
        "../scripts/evaluate_external_segmentation.py"


use rule evaluate_external_segmentation as evaluate_external_labelmaps with:
    input:
        folder=lambda wc: external_path(
            "external_labelmaps", "a folder of <name>D image / <name>K label map pairs"
        ),
    output:
        metrics_json=result("evaluate", "external_segmentation_labelmaps.json"),
    log:
        result("logs", "evaluate", "external_segmentation_labelmaps.log"),
    benchmark:
        result("benchmarks", "evaluate", "external_segmentation_labelmaps.tsv")
    params:
        annotation="labelmaps",
        settings=config["segment"],
        settings_dir=result("detect", "ultralytics"),


# A LabelMe folder (evaluate.external_labelme) through detection and segmentation from
# the raw images: its images become the image set "labelme".
rule ingest_external_labelme:
    input:
        folder=lambda wc: external_path(
            "external_labelme", "a folder of LabelMe JSON files"
        ),
    output:
        manifest=result("evaluate", "external_labelme", "manifest.csv"),
        annotations=result("evaluate", "external_labelme", "annotations.parquet"),
        bad_inputs=result("evaluate", "external_labelme", "bad_inputs.tsv"),
    log:
        result("logs", "evaluate", "ingest_external_labelme.log"),
    conda:
        "../../envs/imaging.yaml"
    params:
        roots=lambda wc, input: [input.folder],
        source="labelme",
        policy=config["on_bad_input"],
        extract_dir=result("evaluate", "external_labelme", "images"),
    script:
        "../scripts/ingest.py"


rule evaluate_external_instances:
    input:
        manifest=result("evaluate", "external_labelme", "manifest.csv"),
        instances=result("segment", "labelme", "instances.parquet"),
    output:
        metrics_json=result("evaluate", "external_instances.json"),
        figure_png=report(
            result("evaluate", "external_instances.png"),
            caption="../report/external_instances.rst",
            category="3. Segmentation",
            labels={"figure": "instances found from the raw images (LabelMe folder)"},
        ),
    log:
        result("logs", "evaluate", "external_instances.log"),
    benchmark:
        result("benchmarks", "evaluate", "external_instances.tsv")
    conda:
        "../../envs/imaging.yaml"
    params:
        label=lambda wc: f"LabelMe folder {config['evaluate']['external_labelme']}",
    script:
        "../scripts/evaluate_external_instances.py"
