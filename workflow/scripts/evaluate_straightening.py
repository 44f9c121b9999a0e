import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
from karyoflow.core.logs import log_to_stderr  # noqa: E402

log_to_stderr()
from karyoflow.straighten.evaluate import evaluate_straightening  # noqa: E402

evaluate_straightening(**snakemake.input, **snakemake.output, **snakemake.params)
