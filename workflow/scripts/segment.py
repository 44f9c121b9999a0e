import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
from karyoflow.core.logs import log_to_stderr  # noqa: E402

log_to_stderr()
from karyoflow.segment.run import segment_shard  # noqa: E402

segment_shard(
    snakemake.input.images,
    snakemake.input.boxes,
    snakemake.output.instances,
    snakemake.output.issues,
    snakemake.output.masks,
    **snakemake.params,
)
