import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
from karyoflow.core.logs import log_to_stderr  # noqa: E402

log_to_stderr()
from karyoflow.straighten.run import straighten_crops_files  # noqa: E402

straighten_crops_files(**snakemake.input, **snakemake.output, **snakemake.params)
