import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
from karyoflow.core.logs import log_to_stderr

log_to_stderr()
from karyoflow.core.tables import merge_shard_tables

merge_shard_tables(dict(snakemake.input.items()), dict(snakemake.output.items()))
