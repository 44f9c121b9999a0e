import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
from karyoflow.core.logs import log_to_stderr  # noqa: E402

log_to_stderr()
from karyoflow.data.plots import data_summary  # noqa: E402

data_summary(
    snakemake.input.manifest,
    snakemake.input.annotations,
    snakemake.input.splits,
    snakemake.output.figure,
)
