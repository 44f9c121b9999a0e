import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
from karyoflow.core.logs import log_to_stderr  # noqa: E402

log_to_stderr()
from karyoflow.segment.run import evaluate_found_instances  # noqa: E402

evaluate_found_instances(**snakemake.input, **snakemake.output, label=snakemake.params.label)
