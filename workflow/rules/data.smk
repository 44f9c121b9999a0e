# Dataset stage: generate or ingest images, write the manifest, split, summarise.


rule synthesize_shard:
    output:
        directory(result("data", "synthetic", "shard_{shard}")),
    log:
        result("logs", "data", "synthesize_{shard}.log"),
    benchmark:
        result("benchmarks", "data", "synthesize_{shard}.tsv")
    conda:
        "../../envs/imaging.yaml"
    params:
        indices=shard_indices,
        seed=config["seed"],
        settings=synthesis_settings(),
    script:
        "../scripts/synthesize.py"


rule fetch_kaggle:
    output:
        directory(result("data", "kaggle")),
    log:
        result("logs", "data", "fetch_kaggle.log"),
    conda:
        "../../envs/imaging.yaml"
    params:
        dataset=config["dataset"]["kaggle_dataset"],
    script:
        "../scripts/fetch_kaggle.py"


rule ingest:
    input:
        unpack(dataset_inputs),
    output:
        manifest=result("data", "manifest.csv"),
        annotations=result("data", "annotations.parquet"),
        bad_inputs=result("data", "bad_inputs.tsv"),
    log:
        result("logs", "data", "ingest.log"),
    benchmark:
        result("benchmarks", "data", "ingest.tsv")
    conda:
        "../../envs/imaging.yaml"
    params:
        roots=dataset_roots,
        source=config["dataset"]["source"],
        policy=config["on_bad_input"],
        extract_dir=result("data", "extracted"),
    script:
        "../scripts/ingest.py"


rule split:
    input:
        manifest=result("data", "manifest.csv"),
    output:
        splits=result("data", "splits.csv"),
    log:
        result("logs", "data", "split.log"),
    group:
        "data_tables"
    conda:
        "../../envs/imaging.yaml"
    params:
        seed=config["seed"],
        test_fraction=config["split"]["test_fraction"],
        val_fraction=config["split"]["val_fraction"],
        test_list=config["split"]["test_list"],
        train_list=config["split"]["train_list"],
        roots=dataset_root_paths(),
    script:
        "../scripts/split.py"


rule data_summary:
    input:
        manifest=result("data", "manifest.csv"),
        annotations=result("data", "annotations.parquet"),
        splits=result("data", "splits.csv"),
    output:
        figure=report(
            result("data", "summary.png"),
            caption="../report/data_summary.rst",
            category="1. Data",
            labels={"figure": "dataset summary"},
        ),
    log:
        result("logs", "data", "summary.log"),
    group:
        "data_tables"
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/data_summary.py"
