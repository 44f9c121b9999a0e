# Karyotypes: the count-aware assignment of each cell's objects, per-cell calls and
# karyograms, their scoring, and the predict summary.


# What share of detected objects are not one chromosome, learnt on the validation images
# (detected, cut and classified as the test images are) against their annotated boxes;
# and the calls' class prior and prior cost of a common aneuploidy, chosen on the same cells.
rule train_object_screen:
    input:
        classified=result("classify", "calls", "val.parquet"),
        crops=result("crops", "val", "crops.parquet"),
        annotations=result("data", "annotations.parquet"),
        images_csv=result("detect", "val", "images.csv"),
        classifier=classifier_model("val"),
    output:
        screen=protected(result("karyotype", "model", "object_screen.json")),
    log:
        result("logs", "karyotype", "train_object_screen.log"),
    conda:
        "../../envs/report.yaml"
    # validation cells assigned in parallel, once per class prior and penalty tried
    threads: 2
    params:
        seed=config["seed"],
        extra_copy_penalty=config["karyotype"]["change_penalty"],
        processes=lambda wildcards, threads: threads,
    script:
        "../scripts/train_object_screen.py"


# Each cell's objects to chromosome slots or "not a chromosome", and its karyotype.
rule assign_karyotypes:
    input:
        classified=result("classify", "calls", "{crop_set}.parquet"),
        crops=result("crops", "{crop_set}", "crops.parquet"),
        classifier=calls_classifier,
        screen=object_screen,
    output:
        objects=result("karyotype", "{crop_set}", "objects.parquet"),
    log:
        result("logs", "karyotype", "{crop_set}_assign.log"),
    benchmark:
        result("benchmarks", "karyotype", "{crop_set}_assign.tsv")
    group:
        "karyotype_tables"
    conda:
        "../../envs/report.yaml"
    # cells assigned in parallel (each some 300 small assignment problems)
    threads: 2
    params:
        extra_copy_penalty=config["karyotype"]["change_penalty"],
        common_change_penalty=config["karyotype"]["common_change_penalty"],
        class_prior_setting=config["karyotype"]["class_prior"],
    script:
        "../scripts/assign_karyotypes.py"


rule karyograms:
    input:
        objects=result("karyotype", "{crop_set}", "objects.parquet"),
        crops=result("crops", "{crop_set}", "crops.parquet"),
        crop_arrays=result("crops", "{crop_set}", "crops.npz"),
    output:
        cells=report(
            result("karyotype", "{crop_set}", "cells.tsv"),
            caption="../report/karyotype_cells.rst",
            category="6. Karyotypes",
            subcategory="{crop_set}",
            labels={"name": "calls per cell ({crop_set})"},
        ),
        karyograms=report(
            directory(result("karyotype", "{crop_set}", "karyograms")),
            patterns=["{cell}.png"],
            caption="../report/karyogram.rst",
            category="6. Karyotypes",
            subcategory="{crop_set}",
            labels={"name": "karyogram {cell}"},
        ),
    log:
        result("logs", "karyotype", "{crop_set}_karyograms.log"),
    benchmark:
        result("benchmarks", "karyotype", "{crop_set}_karyograms.tsv")
    group:
        "karyotype_tables"
    conda:
        "../../envs/report.yaml"
    # cells drawn in parallel (each chromosome straightened again at full resolution)
    threads: 2
    params:
        low_probability=config["karyotype"]["low_probability"],
        low_margin=config["karyotype"]["low_margin"],
        straighten_method=config["straighten"]["method"],
    script:
        "../scripts/karyograms.py"


rule evaluate_karyotypes:
    input:
        unpack(chain_detection_metrics),
        cells=result("karyotype", "{crop_set}", "cells.tsv"),
        chromosomes=result("karyotype", "{crop_set}", "chromosomes.tsv"),
        images=result("detect", "{crop_set}", "images.csv"),
        manifest=karyotype_truth_manifest,
        annotations=karyotype_truth_annotations,
    output:
        metrics_json=result("karyotype", "{crop_set}", "evaluation.json"),
        figure=report(
            result("karyotype", "{crop_set}", "evaluation.png"),
            caption="../report/karyotype_evaluation.rst",
            category="6. Karyotypes",
            subcategory="{crop_set}",
            labels={"name": "calls against the truth ({crop_set})"},
        ),
    log:
        result("logs", "karyotype", "{crop_set}_evaluate.log"),
    group:
        "karyotype_tables"
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/evaluate_karyotypes.py"


rule predict_summary:
    input:
        cells=result("karyotype", "predict", "cells.tsv"),
        images=result("detect", "predict", "images.csv"),
        bad_inputs=result("predict", "input", "bad_inputs.tsv"),
    output:
        calls=result("predict", "calls.tsv"),
    log:
        result("logs", "predict", "summary.log"),
    group:
        "karyotype_tables"
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/predict_summary.py"


# One row per called chromosome (box in input pixels, class, probability, margin, flag):
# what a reviewer or a LIMS reads, and what an outside evaluation joins against.
rule chromosome_table:
    input:
        objects=result("karyotype", "{crop_set}", "objects.parquet"),
        crops=result("crops", "{crop_set}", "crops.parquet"),
    output:
        chromosomes=result("karyotype", "{crop_set}", "chromosomes.tsv"),
        rejected=result("karyotype", "{crop_set}", "rejected.tsv"),
    log:
        result("logs", "karyotype", "{crop_set}_chromosomes.log"),
    group:
        "karyotype_tables"
    conda:
        "../../envs/report.yaml"
    params:
        low_probability=config["karyotype"]["low_probability"],
        low_margin=config["karyotype"]["low_margin"],
    script:
        "../scripts/chromosome_table.py"


# New images: the table beside results/predict/calls.tsv.
use rule chromosome_table as predict_chromosomes with:
    input:
        objects=result("karyotype", "predict", "objects.parquet"),
        crops=result("crops", "predict", "crops.parquet"),
    output:
        chromosomes=result("predict", "chromosomes.tsv"),
        rejected=result("predict", "rejected.tsv"),
    log:
        result("logs", "predict", "chromosomes.log"),


rule predict:
    input:
        with_provenance(
            [
                result("predict", "calls.tsv"),
                result("predict", "chromosomes.tsv"),
                result("predict", "rejected.tsv"),
                # every instance of the new images, and the ones segmentation flagged
                result("segment", "predict", "instances.parquet"),
                result("segment", "predict", "issues.tsv"),
            ]
        ),
