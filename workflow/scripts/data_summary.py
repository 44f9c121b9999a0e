import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
from karyoflow.logs import log_to_stderr

log_to_stderr()
from karyoflow.plots import data_summary

data_summary(
    snakemake.input.manifest,
    snakemake.input.annotations,
    snakemake.input.splits,
    snakemake.output.figure,
)
