import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
from karyoflow.core.logs import log_to_stderr  # noqa: E402

log_to_stderr()
from karyoflow.detect.evaluate import evaluate_detector  # noqa: E402

evaluate_detector(
    snakemake.input.boxes,
    snakemake.input.annotations,
    snakemake.input.images,
    snakemake.params.task,
    snakemake.params.confidence,
    snakemake.output.metrics,
    training_json=snakemake.input.get("training") or None,
    per_class_csv=snakemake.output.get("per_class"),
    confusion_png=snakemake.output.get("confusion"),
    pr_png=snakemake.output.get("pr_curve"),
    label=snakemake.params.label,
)
