import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
from karyoflow.core.logs import log_to_stderr  # noqa: E402

log_to_stderr()
from karyoflow.crops.extract import detected_crops_files  # noqa: E402

detected_crops_files(**snakemake.input, **snakemake.output)
