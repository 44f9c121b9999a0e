import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
from karyoflow.core.logs import log_to_stderr  # noqa: E402

log_to_stderr()
from karyoflow.detect.infer import detect_shard  # noqa: E402

detect_shard(
    snakemake.input.weights,
    snakemake.input.images,
    snakemake.output.boxes,
    snakemake.output.issues,
    shard=int(snakemake.wildcards.detect_shard),
    n_shards=snakemake.config["detect"]["shards"],
    **snakemake.params,
)
