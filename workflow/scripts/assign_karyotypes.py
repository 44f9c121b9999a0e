import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
from karyoflow.core.logs import log_to_stderr  # noqa: E402

log_to_stderr()
from karyoflow.karyotype.calls import assign_karyotypes_files  # noqa: E402

assign_karyotypes_files(
    **snakemake.input, **snakemake.output, **snakemake.params, processes=snakemake.threads
)
