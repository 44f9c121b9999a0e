import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
from karyoflow.core.logs import log_to_stderr  # noqa: E402

log_to_stderr()
from karyoflow.detect.plots import detector_history  # noqa: E402

detector_history(snakemake.input.history, snakemake.output.figure)
