import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
from karyoflow.core.logs import log_to_stderr  # noqa: E402

log_to_stderr()
from karyoflow.segment.run import evaluate_external_folder  # noqa: E402

evaluate_external_folder(snakemake.input.folder, snakemake.output.metrics_json, **snakemake.params)
