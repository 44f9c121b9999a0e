import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
from karyoflow.logs import log_to_stderr

log_to_stderr()
from karyoflow.io.tables import merge_shard_tables

merge_shard_tables(dict(snakemake.input.items()), dict(snakemake.output.items()))
