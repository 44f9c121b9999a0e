# Straightening: every crop of an image set upright and straight, in one batch job.


wildcard_constraints:
    crop_set="test|val|external|predict|imported|karyograms|truth|detected|external_crops",
    straighten_shard=r"\d+",


rule straighten:
    input:
        crops=result("crops", "{crop_set}", "crops.parquet"),
        arrays=result("crops", "{crop_set}", "crops.npz"),
    output:
        table=temp(
            result(
                "straighten",
                "{crop_set}",
                "{method}",
                "shards",
                "straight_{straighten_shard}.parquet",
            )
        ),
        straight=temp(
            result(
                "straighten",
                "{crop_set}",
                "{method}",
                "shards",
                "straight_{straighten_shard}.npz",
            )
        ),
    log:
        result("logs", "straighten", "{crop_set}_{method}_{straighten_shard}.log"),
    benchmark:
        result("benchmarks", "straighten", "{crop_set}_{method}_{straighten_shard}.tsv")
    conda:
        "../../envs/imaging.yaml"
    params:
        method="{method}",
        shard=lambda wc: int(wc.straighten_shard),
        n_shards=config["straighten"]["shards"],
    script:
        "../scripts/straighten.py"


rule merge_straightened:
    input:
        crops=result("crops", "{crop_set}", "crops.parquet"),
        tables=straightened_shards("parquet"),
        shard_arrays=straightened_shards("npz"),
    output:
        table=result("straighten", "{crop_set}", "{method}", "straight.parquet"),
        straight=result("straighten", "{crop_set}", "{method}", "straight.npz"),
    log:
        result("logs", "straighten", "{crop_set}_{method}_merge.log"),
    benchmark:
        result("benchmarks", "straighten", "{crop_set}_{method}_merge.tsv")
    conda:
        "../../envs/imaging.yaml"
    script:
        "../scripts/merge_straightened.py"


rule evaluate_straightening:
    input:
        crops=result("crops", "test", "crops.parquet"),
        arrays=result("crops", "test", "crops.npz"),
        manifest=result("data", "manifest.csv"),
    output:
        metrics_json=result("straighten", "evaluation", "metrics.json"),
        scores_png=report(
            result("straighten", "evaluation", "scores.png"),
            caption="../report/straighten_scores.rst",
            category="4. Straightening",
            labels={"figure": "length and band profile by method"},
        ),
        gallery_png=report(
            result("straighten", "evaluation", "gallery.png"),
            caption="../report/straighten_gallery.rst",
            category="4. Straightening",
            labels={"figure": "bent chromosomes, each method"},
        ),
    log:
        result("logs", "straighten", "evaluate.log"),
    benchmark:
        result("benchmarks", "straighten", "evaluate.tsv")
    conda:
        "../../envs/report.yaml"
    params:
        max_crops=config["straighten"]["evaluate_max_crops"],
    script:
        "../scripts/evaluate_straightening.py"


rule straighten_gallery:
    input:
        crops=result("crops", "{crop_set}", "crops.parquet"),
        arrays=result("crops", "{crop_set}", "crops.npz"),
        straight=lambda wc: straight_files(wc.crop_set)["straight"],
        table=lambda wc: straight_files(wc.crop_set)["straight_table"],
    output:
        gallery=report(
            result("straighten", "{crop_set}", "gallery.png"),
            caption="../report/straighten_set_gallery.rst",
            category="4. Straightening",
            labels={"figure": "before and after ({crop_set})"},
        ),
    log:
        result("logs", "straighten", "{crop_set}_gallery.log"),
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/straighten_gallery.py"
