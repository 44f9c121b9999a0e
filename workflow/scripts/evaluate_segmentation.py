import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
from karyoflow.core.logs import log_to_stderr  # noqa: E402

log_to_stderr()
from karyoflow.segment.run import evaluate_segmentation  # noqa: E402

evaluate_segmentation(**snakemake.input, **snakemake.output, **snakemake.params)
