# Crops: instances cut out by their masks, or imported crop sets that skip detection.


rule extract_crops:
    input:
        unpack(crop_extraction_inputs),
    output:
        crops=temp(
            result("crops", "{image_set}", "shards", "crops_{segment_shard}.parquet")
        ),
        arrays=temp(
            result("crops", "{image_set}", "shards", "crops_{segment_shard}.npz")
        ),
    log:
        result("logs", "crops", "{image_set}_extract_{segment_shard}.log"),
    benchmark:
        result("benchmarks", "crops", "{image_set}_extract_{segment_shard}.tsv")
    conda:
        "../../envs/imaging.yaml"
    params:
        side=config["crops"]["canvas"],
        fill=config["crops"]["fill"],
    script:
        "../scripts/extract_crops.py"


rule merge_crops:
    input:
        tables=shard_files("segment", "crops_{i}.parquet", stage_dir="crops"),
        shard_arrays=shard_files("segment", "crops_{i}.npz", stage_dir="crops"),
    output:
        crops=result("crops", "{image_set}", "crops.parquet"),
        arrays=result("crops", "{image_set}", "crops.npz"),
        gallery=report(
            result("crops", "{image_set}", "gallery.png"),
            caption="../report/crops_gallery.rst",
            category="3. Segmentation",
            labels={"figure": "crops ({image_set})"},
        ),
    log:
        result("logs", "crops", "{image_set}_merge.log"),
    benchmark:
        result("benchmarks", "crops", "{image_set}_merge.tsv")
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/merge_crops.py"


rule import_crops:
    input:
        root=import_set_path,
    output:
        crops=result("crops", "{import_set}", "crops.parquet"),
        arrays=result("crops", "{import_set}", "crops.npz"),
        bad_crops=result("crops", "{import_set}", "bad_crops.tsv"),
        gallery=report(
            result("crops", "{import_set}", "gallery.png"),
            caption="../report/crops_gallery.rst",
            category="3. Segmentation",
            labels={"figure": "crops ({import_set})"},
        ),
    log:
        result("logs", "crops", "import_{import_set}.log"),
    benchmark:
        result("benchmarks", "crops", "import_{import_set}.tsv")
    conda:
        "../../envs/imaging.yaml"
    params:
        pattern=import_set_pattern,
        side=config["crops"]["canvas"],
        fill=config["crops"]["fill"],
        policy=config["on_bad_input"],
    script:
        "../scripts/import_crops.py"


rule import_karyograms:
    input:
        root=lambda wc: import_karyograms_path(),
    output:
        crops=result("crops", "karyograms", "crops.parquet"),
        arrays=result("crops", "karyograms", "crops.npz"),
        bad_crops=result("crops", "karyograms", "bad_crops.tsv"),
        gallery=report(
            result("crops", "karyograms", "gallery.png"),
            caption="../report/crops_gallery.rst",
            category="3. Segmentation",
            labels={"figure": "crops (imported karyograms)"},
        ),
    log:
        result("logs", "crops", "import_karyograms.log"),
    benchmark:
        result("benchmarks", "crops", "import_karyograms.tsv")
    conda:
        "../../envs/imaging.yaml"
    params:
        side=config["crops"]["canvas"],
        fill=config["crops"]["fill"],
    script:
        "../scripts/import_karyograms.py"
