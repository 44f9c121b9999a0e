import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
from karyoflow.core.logs import log_to_stderr

log_to_stderr()
from karyoflow.data.run import ingest

ingest(
    snakemake.params.roots,
    source=snakemake.params.source,
    policy=snakemake.params.policy,
    extract_dir=snakemake.params.extract_dir,
    annotated=snakemake.params.get("annotated", True),
    **snakemake.output,
)
