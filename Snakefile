# karyoflow: metaphase images -> chromosomes -> karyograms and karyotype calls.
# `snakemake` run here reads this file; the workflow itself is workflow/Snakefile, the
# file a host workflow imports as a module (README, "Using karyoflow inside your own
# workflow").


include: "workflow/Snakefile"


# An included file's default target does not carry over: everything `all` builds.
rule default:
    default_target: True
    input:
        rules.all.input,
