import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
from karyoflow.core.logs import log_to_stderr  # noqa: E402

log_to_stderr()
from karyoflow.data.kaggle import fetch_kaggle  # noqa: E402

fetch_kaggle(snakemake.params.dataset, snakemake.output[0])
