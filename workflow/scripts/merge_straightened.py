import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
from karyoflow.core.logs import log_to_stderr  # noqa: E402

log_to_stderr()
from karyoflow.straighten.run import merge_straightened_files  # noqa: E402

merge_straightened_files(**snakemake.input, **snakemake.output)
