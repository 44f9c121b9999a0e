import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
from karyoflow.core.logs import log_to_stderr  # noqa: E402

log_to_stderr()
from karyoflow.data.run import synthesize  # noqa: E402

synthesize(
    snakemake.output[0], snakemake.params.indices, snakemake.params.seed, snakemake.params.settings
)
