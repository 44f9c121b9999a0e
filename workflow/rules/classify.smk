# Classification: crops to learn from, the Keras classifier, its ablation, and calls.


wildcard_constraints:
    method="none|seed_affine|medial_axis",
    head="flat|two_stage",
    import_set="imported|external_crops",
    train_set="truth|detected|imported|karyograms",


rule truth_crops:
    input:
        manifest=result("data", "manifest.csv"),
        annotations=result("data", "annotations.parquet"),
        splits=result("data", "splits.csv"),
    output:
        crops=result("crops", "truth", "crops.parquet"),
        arrays=result("crops", "truth", "crops.npz"),
        gallery=result("crops", "truth", "gallery.png"),
    log:
        result("logs", "crops", "truth_crops.log"),
    benchmark:
        result("benchmarks", "crops", "truth_crops.tsv")
    conda:
        "../../envs/imaging.yaml"
    params:
        side=config["crops"]["canvas"],
        fill=config["crops"]["fill"],
    script:
        "../scripts/truth_crops.py"


rule detected_crops:
    input:
        tables=expand(
            result("crops", "{image_set}", "crops.parquet"), image_set=SPLIT_IMAGE_SETS
        ),
        shard_arrays=expand(
            result("crops", "{image_set}", "crops.npz"), image_set=SPLIT_IMAGE_SETS
        ),
    output:
        crops=result("crops", "detected", "crops.parquet"),
        arrays=result("crops", "detected", "crops.npz"),
    log:
        result("logs", "crops", "detected_crops.log"),
    conda:
        "../../envs/imaging.yaml"
    script:
        "../scripts/detected_crops.py"


rule train_classifier:
    input:
        unpack(classifier_training_inputs),
    output:
        model=protected(
            result(
                "classify",
                "{train_set}",
                "models",
                "{method}-{head}",
                "classifier.keras",
            )
        ),
        history=result(
            "classify", "{train_set}", "models", "{method}-{head}", "history.csv"
        ),
        history_png=report(
            result(
                "classify", "{train_set}", "models", "{method}-{head}", "history.png"
            ),
            caption="../report/classifier_history.rst",
            category="5. Classification",
            subcategory="training curves ({train_set} crops)",
            labels={"straighten": "{method}", "head": "{head}"},
        ),
    log:
        result("logs", "classify", "{train_set}", "train_{method}-{head}.log"),
    benchmark:
        result("benchmarks", "classify", "{train_set}", "train_{method}-{head}.tsv")
    conda:
        "../../envs/tensorflow.yaml"
    threads: config["classify"]["threads"]
    resources:
        gpu=1,
        mem_mb=config["classify"]["mem_mb"],
        runtime=config["classify"]["runtime"],
    params:
        hyper=classifier_hyper,
        init=predict_model("classifier", config["classify"]["init_weights"]),
        threads=lambda wildcards, threads: threads,
    script:
        "../scripts/train_classifier.py"


rule evaluate_classifier:
    input:
        unpack(classifier_evaluation_inputs()),
    output:
        metrics_json=result("classify", "{train_set}", "evaluation", "metrics.json"),
        per_class_csv=report(
            result("classify", "{train_set}", "evaluation", "per_class.csv"),
            caption="../report/classifier_per_class.rst",
            category="5. Classification",
            subcategory="evaluation ({train_set} crops)",
            labels={"figure": "per-class table"},
        ),
        confusion_png=report(
            result("classify", "{train_set}", "evaluation", "confusion.png"),
            caption="../report/classifier_confusion.rst",
            category="5. Classification",
            subcategory="evaluation ({train_set} crops)",
            labels={"figure": "confusion matrix"},
        ),
        ablation_csv=result("classify", "{train_set}", "evaluation", "ablation.csv"),
        ablation_png=result("classify", "{train_set}", "evaluation", "ablation.png"),
        predictions=result(
            "classify", "{train_set}", "evaluation", "predictions.parquet"
        ),
    log:
        result("logs", "classify", "{train_set}", "evaluate.log"),
    benchmark:
        result("benchmarks", "classify", "{train_set}", "evaluate.tsv")
    conda:
        "../../envs/tensorflow.yaml"
    params:
        variants=classifier_variants(),
        methods=classifier_methods(),
        main=classifier_variants()[0],
        extra_copy_penalty=config["classify"]["extra_copy_penalty"],
    script:
        "../scripts/evaluate_classifier.py"


# The straightening x head ablation: its own target (`snakemake ablation`, `make ablation`),
# so the default run trains one classifier.
use rule evaluate_classifier as evaluate_ablation with:
    input:
        unpack(classifier_evaluation_inputs(ablation=True)),
    output:
        metrics_json=result("classify", "{train_set}", "ablation", "metrics.json"),
        per_class_csv=result("classify", "{train_set}", "ablation", "per_class.csv"),
        confusion_png=result("classify", "{train_set}", "ablation", "confusion.png"),
        ablation_csv=result("classify", "{train_set}", "ablation", "ablation.csv"),
        ablation_png=report(
            result("classify", "{train_set}", "ablation", "ablation.png"),
            caption="../report/classifier_ablation.rst",
            category="5. Classification",
            subcategory="ablation ({train_set} crops)",
            labels={"figure": "ablation"},
        ),
        predictions=result("classify", "{train_set}", "ablation", "predictions.parquet"),
    log:
        result("logs", "classify", "{train_set}", "ablation.log"),
    benchmark:
        result("benchmarks", "classify", "{train_set}", "ablation.tsv")
    params:
        variants=classifier_variants(ablation=True),
        methods=classifier_methods(ablation=True),
        main=classifier_variants()[0],
        extra_copy_penalty=config["classify"]["extra_copy_penalty"],


rule ablation:
    input:
        ablation_targets(),


rule classify:
    input:
        unpack(classified_inputs),
    output:
        calls=result("classify", "calls", "{crop_set}.parquet"),
    log:
        result("logs", "classify", "calls_{crop_set}.log"),
    benchmark:
        result("benchmarks", "classify", "calls_{crop_set}.tsv")
    conda:
        "../../envs/tensorflow.yaml"
    script:
        "../scripts/classify.py"


rule evaluate_external_crops:
    input:
        unpack(external_crops_inputs),
        bad_crops=result("crops", "external_crops", "bad_crops.tsv"),
    output:
        out_json=result("evaluate", "external_crops.json"),
    log:
        result("logs", "classify", "external_crops.log"),
    conda:
        "../../envs/tensorflow.yaml"
    params:
        extra_copy_penalty=config["classify"]["extra_copy_penalty"],
        source=lambda wc: external_crops_setting("path"),
    script:
        "../scripts/evaluate_external_crops.py"
