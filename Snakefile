# karyoflow: metaphase images -> chromosomes -> karyograms and karyotype calls.
# Thin entry point: configuration, validation, rule files, targets. Logic lives in
# workflow/scripts/karyoflow (a tested library); rules call it through thin scripts.

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "config/schema.yaml", set_default=True)


# Base image for `--sdm apptainer conda` (each rule's conda env is built inside it);
# `snakemake --containerize` writes a Dockerfile with every env baked in instead.
container: "docker://condaforge/miniforge3:24.9.2-0"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/detect.smk"
include: "workflow/rules/segment.smk"
include: "workflow/rules/crops.smk"
include: "workflow/rules/straighten.smk"
include: "workflow/rules/classify.smk"
include: "workflow/rules/karyotype.smk"
include: "workflow/rules/provenance.smk"


report: "workflow/report/workflow.rst"


rule all:
    default_target: True
    input:
        with_provenance(all_targets()),
