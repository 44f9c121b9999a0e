import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
from karyoflow.core.logs import log_to_stderr  # noqa: E402

log_to_stderr()
from karyoflow.detect.train import train_detector_files  # noqa: E402

train_detector_files(snakemake.input.dataset, **snakemake.output, **snakemake.params)
