# Karyotypes: per-cell calls and karyograms, their scoring, and the predict summary.


rule karyograms:
    input:
        calls=result("classify", "calls", "{crop_set}.parquet"),
        straight=lambda wc: crop_set_with_classifier(wc.crop_set)["straight"],
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
    params:
        low_probability=config["karyotype"]["low_probability"],
        low_margin=config["karyotype"]["low_margin"],
    script:
        "../scripts/karyograms.py"


rule evaluate_karyotypes:
    input:
        cells=result("karyotype", "{crop_set}", "cells.tsv"),
        images=result("detect", "{crop_set}", "images.csv"),
        manifest=karyotype_truth_manifest,
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


rule predict:
    input:
        with_provenance(
            [
                result("predict", "calls.tsv"),
                # every instance of the new images, and the ones segmentation flagged
                result("segment", "predict", "instances.parquet"),
                result("segment", "predict", "issues.tsv"),
            ]
        ),
