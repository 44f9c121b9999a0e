import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
from karyoflow.core.logs import log_to_stderr

log_to_stderr()
from karyoflow.data.kaggle import fetch_kaggle

fetch_kaggle(snakemake.params.dataset, snakemake.output[0])
