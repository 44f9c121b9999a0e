"""Rules evaluate_classifier, classify and evaluate_external_crops (TensorFlow side)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from karyoflow.classify import metrics
from karyoflow.classify.data import load_crop_set
from karyoflow.classify.infer import (
    classify,
    independent_calls,
    learnt_mirrors,
    predict,
    with_probabilities,
)
from karyoflow.classify.train import case_split_settings, load_classifier, training_class_shares
from karyoflow.core.labels import CLASSES

log = logging.getLogger(__name__)

ABLATION_COLUMNS = [
    "straighten",
    "head",
    "decision",
    "n",
    "n_cells",
    "accuracy",
    "macro_f1",
    "karyotype_agreement",
]


def score_calls(calls: pd.DataFrame) -> dict:
    """Independent and assigned scores of one classified table (labelled rows)."""
    true, cells = calls["label"].to_numpy(int), calls["image_id"]
    independent = metrics.scores(true, calls["predicted_index"], cells)
    assigned = metrics.scores(true, calls["assigned_index"], cells)
    return {"independent": independent, "assignment": assigned}


def summary(calls: pd.DataFrame, rate: float) -> dict:
    """Counts and scores of one classified crop table, independent and with assignment."""
    scores = score_calls(calls)
    return {
        "n": len(calls),
        "n_cells": int(calls["image_id"].nunique()),
        "accuracy": scores["independent"]["accuracy"],
        "accuracy_with_assignment": scores["assignment"]["accuracy"],
        "macro_f1": scores["independent"]["macro_f1"],
        "macro_f1_with_assignment": scores["assignment"]["macro_f1"],
        "karyotype_agreement": scores["independent"]["karyotype_agreement"],
        "karyotype_agreement_with_assignment": scores["assignment"]["karyotype_agreement"],
        "inference_crops_per_second": round(rate, 1),
    }


def cell_karyotype_scores(calls: pd.DataFrame, column: str) -> dict:
    """Exact numerical karyotype per cell: the calls in `column` against the true classes."""
    from karyoflow.core.iscn import iscn_from_labels, karyotype_scores

    truth, called = {}, {}
    for cell, group in calls.groupby("image_id"):
        truth[cell] = iscn_from_labels(group["true_class"])
        called[cell] = iscn_from_labels(group[column])
    return karyotype_scores(truth, called)


def evaluate_classifier_files(
    crops: str,
    models: list[str],
    straight_tables: list[str],
    straight: list[str],
    metrics_json: str,
    per_class_csv: str,
    confusion_png: str,
    ablation_csv: str,
    ablation_png: str,
    predictions: str,
    *,
    variants: list[list[str]],
    methods: list[str],
    main: list[str],
    extra_copy_penalty: float,
) -> dict:
    """Every (straighten, head) model on the same test cells; full scores for the main one."""
    from karyoflow.classify.plots import classification_ablation
    from karyoflow.core.plots import confusion_heatmap
    from karyoflow.core.tables import write_csv, write_json, write_parquet

    sets, rows, main_result = {}, [], None
    for path, (method, head) in zip(models, variants, strict=True):
        model, hyper = load_classifier(path)
        if method not in sets:
            k = methods.index(method)
            full = load_crop_set(
                crops,
                straight_tables[k],
                straight[k],
                input_size=hyper["input_size"],
                case_split=case_split_settings(hyper),
            )
            sets[method] = full.split("test")
        test = sets[method]
        if len(test.table) == 0:
            raise ValueError(f"{crops}: the test split holds no labelled crops")
        calls, probabilities, rate = classify_as_trained(
            model, hyper, path, test, extra_copy_penalty
        )
        for decision, score in score_calls(calls).items():
            rows.append(
                {
                    "straighten": method,
                    "head": head,
                    "decision": decision,
                    "n": len(calls),
                    "n_cells": calls["image_id"].nunique(),
                    **score,
                }
            )
        if [method, head] == list(main):
            main_result = (calls, probabilities, rate, hyper)
    ablation = pd.DataFrame(rows, columns=ABLATION_COLUMNS)
    if main_result is None:
        raise ValueError(f"main model {main} is not among the variants {variants}")
    calls, probabilities, rate, hyper = main_result
    true = calls["label"].to_numpy(int)
    table = metrics.per_class(true, calls["predicted_index"].to_numpy())
    table["recall_with_assignment"] = metrics.per_class(true, calls["assigned_index"].to_numpy())[
        "recall"
    ]
    record = {
        "crop_set": hyper.get("crop_set"),
        "model": hyper["model"],
        "head": hyper["head"],
        "straighten": hyper["straighten"],
        **summary(calls, rate),
        "extra_copy_penalty": extra_copy_penalty,
        # karyotype calls per test cell from these crops (segmentation as in the crop set)
        "karyotypes_with_assignment": cell_karyotype_scores(calls, "assigned"),
        "karyotypes_independent": cell_karyotype_scores(calls, "predicted"),
        "ablation": ablation.to_dict(orient="records"),
    }
    write_json(record, metrics_json)
    write_csv(table, per_class_csv)
    write_csv(ablation, ablation_csv)
    counts = pd.DataFrame(
        metrics.confusion_counts(true, calls["predicted_index"]), index=CLASSES, columns=CLASSES
    )
    confusion_heatmap(
        counts,
        confusion_png,
        f"Classification ({hyper['model']}, {hyper['head']}, {hyper['straighten']}): "
        f"accuracy {record['accuracy']:.3f}, with cell assignment {record['accuracy_with_assignment']:.3f}",
        xlabel="predicted class",
        ylabel="true class",
    )
    classification_ablation(ablation, ablation_png)
    write_parquet(with_probabilities(calls, probabilities), predictions)
    log.info("main model: %s", {k: v for k, v in record.items() if k != "ablation"})
    return record


def classify_as_trained(model, hyper: dict, path: str, crop_set, extra_copy_penalty: float):
    """`classify` the way the checkpoint at `path` learnt: each crop averaged with its
    mirror where it learnt both as one, the assignment weighing each class by its share
    of the training crops."""
    return classify(
        model,
        crop_set,
        extra_copy_penalty,
        mirror=learnt_mirrors(hyper),
        class_shares=training_class_shares(path),
    )


def classifier_and_crops(model: str, crops: str, straight_table: str, straight: str):
    """A trained classifier and every crop of a set, sized for it (labelled or not)."""
    trained, hyper = load_classifier(model)
    crop_set = load_crop_set(
        crops, straight_table, straight, input_size=hyper["input_size"], labelled_only=False
    )
    return trained, crop_set, hyper


def classify_files(
    crops: str,
    straight_table: str,
    straight: str,
    model: str,
    calls: str,
) -> pd.DataFrame:
    """Rule classify: every crop of a crop set (labelled or not), its independent call and
    its class probabilities. The cell's objects are assigned together later, by the
    karyotype stage (with the object screen and the missed-chromosome cost)."""
    from karyoflow.core.tables import write_parquet

    trained, crop_set, hyper = classifier_and_crops(model, crops, straight_table, straight)
    probabilities, groups, rate = predict(trained, crop_set, mirror=learnt_mirrors(hyper))
    table = with_probabilities(independent_calls(crop_set, probabilities, groups), probabilities)
    write_parquet(table, calls)
    log.info("classified %d crops at %.0f crops/s", len(table), rate)
    labelled = table[table["label"] >= 0]
    if len(labelled):
        scores = metrics.scores(
            labelled["label"].to_numpy(int), labelled["predicted_index"], labelled["image_id"]
        )
        log.info("%d of %d crops have a true class: %s", len(labelled), len(table), scores)
    return table


def evaluate_external_crops_files(
    crops: str,
    straight_table: str,
    straight: str,
    bad_crops: str,
    model: str,
    out_json: str,
    *,
    extra_copy_penalty: float,
    source: str = "",
) -> dict:
    """Rule evaluate_external_crops: the trained classifier on a crop folder held outside."""
    from karyoflow.core.tables import write_json

    trained, crop_set, hyper = classifier_and_crops(model, crops, straight_table, straight)
    labelled = crop_set.subset(np.flatnonzero(crop_set.labels >= 0))
    skipped = len(pd.read_csv(bad_crops, sep="\t")) + int((crop_set.labels < 0).sum())
    calls, _, rate = classify_as_trained(trained, hyper, model, labelled, extra_copy_penalty)
    record = {
        "source": source,
        "model": model,
        **summary(calls, rate),
        "n_skipped": skipped,
        "trained_on": hyper.get("crop_set"),
    }
    write_json(record, out_json)
    log.info("external crops: %s", record)
    return record
