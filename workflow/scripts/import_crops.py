import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
from karyoflow.core.logs import log_to_stderr  # noqa: E402

log_to_stderr()
from karyoflow.crops.imports import import_crops_files  # noqa: E402

import_crops_files(snakemake.input.root, **snakemake.output, **snakemake.params)
