import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
from karyoflow.core.logs import log_to_stderr  # noqa: E402

log_to_stderr()
from karyoflow.data.run import ingest  # noqa: E402

ingest(
    snakemake.params.roots,
    source=snakemake.params.source,
    policy=snakemake.params.policy,
    extract_dir=snakemake.params.extract_dir,
    annotated=snakemake.params.get("annotated", True),
    **snakemake.output,
)
