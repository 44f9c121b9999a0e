import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
from karyoflow.core.logs import log_to_stderr  # noqa: E402

log_to_stderr()
from karyoflow.data.splits import write_image_list  # noqa: E402

write_image_list(**snakemake.input, out_csv=snakemake.output.images, split=snakemake.params.split)
