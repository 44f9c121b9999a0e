import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
from karyoflow.core.logs import log_to_stderr

log_to_stderr()
from karyoflow.karyotype.predict import predict_summary_files

predict_summary_files(**snakemake.input, **snakemake.output, **snakemake.params)
