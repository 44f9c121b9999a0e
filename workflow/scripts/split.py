import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
from karyoflow.core.logs import log_to_stderr  # noqa: E402

log_to_stderr()
from karyoflow.data.run import split  # noqa: E402

split(
    snakemake.input.manifest,
    snakemake.output.splits,
    seed=snakemake.params.seed,
    test_fraction=snakemake.params.test_fraction,
    val_fraction=snakemake.params.val_fraction,
    test_list=snakemake.params.test_list,
    train_list=snakemake.params.train_list,
    roots=snakemake.params.roots,
)
