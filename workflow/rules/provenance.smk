# Provenance: each results folder records the configuration, seeds and versions behind it.


rule provenance:
    output:
        record=result("{stage}", "provenance.yaml"),
    log:
        result("logs", "provenance", "{stage}.log"),
    wildcard_constraints:
        stage="|".join(PROVENANCE_STAGES),
    conda:
        "../../envs/imaging.yaml"
    params:
        # the stage's own settings: a change to them rewrites the record
        config=lambda wc: stage_config(config, wc.stage),
        lock=str(WORKFLOW_DIR / "uv.lock"),
        lock_sha256=file_digest(WORKFLOW_DIR / "uv.lock"),
        workflow_dir=str(WORKFLOW_DIR),
    script:
        "../scripts/provenance.py"
