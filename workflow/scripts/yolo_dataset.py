import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
from karyoflow.core.logs import log_to_stderr  # noqa: E402

log_to_stderr()
from karyoflow.detect.dataset import write_yolo_dataset_files  # noqa: E402

write_yolo_dataset_files(**snakemake.input, out_dir=snakemake.output[0], task=snakemake.params.task)
