import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
from karyoflow.core.logs import log_to_stderr  # noqa: E402

log_to_stderr()
from karyoflow.core.provenance import write_provenance  # noqa: E402

write_provenance(
    snakemake.output.record,
    snakemake.wildcards.stage,
    snakemake.params.config,
    snakemake.params.lock,
    snakemake.params.workflow_dir,
)
