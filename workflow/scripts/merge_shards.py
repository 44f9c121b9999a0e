import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
from karyoflow.core.logs import log_to_stderr  # noqa: E402

log_to_stderr()
from karyoflow.core.tables import merge_shard_tables  # noqa: E402

merge_shard_tables(dict(snakemake.input.items()), dict(snakemake.output.items()))
