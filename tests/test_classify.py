"""Classification without TensorFlow: groups, the per-cell assignment, metrics, decisions."""

import numpy as np
import pandas as pd
import pytest
from karyoflow.classify import metrics
from karyoflow.classify.assign import assign_cell, assign_cells
from karyoflow.core.labels import CLASS_INDEX, CLASSES, GROUP_INDEX_OF_CLASS, GROUPS, N_CLASSES


def karyotype_labels(sex="XY", extra=(), missing=()):
    labels = [c for c in CLASSES[:22] for _ in range(2)] + list(sex) + list(extra)
    for cls in missing:
        labels.remove(cls)
    return np.array([CLASS_INDEX[c] for c in labels])


def confident(labels, p=0.8):
    probs = np.full((len(labels), N_CLASSES), (1 - p) / (N_CLASSES - 1))
    probs[np.arange(len(labels)), labels] = p
    return probs


def test_denver_groups_of_the_classes():
    group = {c: GROUPS[GROUP_INDEX_OF_CLASS[i]] for i, c in enumerate(CLASSES)}
    assert [
        group[c] for c in ("1", "3", "4", "5", "6", "12", "X", "13", "18", "20", "21", "Y")
    ] == list("AABBCCCDEFGG")
    assert sorted(GROUPS) == list("ABCDEFG")


def test_assignment_repairs_a_normal_cell():
    labels = karyotype_labels("XY")
    probs = confident(labels)
    # one chromosome 5 looks more like a 4, whose two copies are already confident
    five = np.flatnonzero(labels == CLASS_INDEX["5"])[0]
    probs[five] = 0.01 / (N_CLASSES - 2)
    probs[five, CLASS_INDEX["4"]], probs[five, CLASS_INDEX["5"]] = 0.55, 0.44
    assert probs[five].argmax() == CLASS_INDEX["4"]
    result = assign_cell(probs)
    assert (result.classes == labels).all() and result.sex_chromosomes == "XY"
    # the repaired call is the least certain one
    assert result.margin[five] < np.median(result.margin)


def test_assignment_calls_a_trisomy_only_on_strong_evidence():
    labels = karyotype_labels("XX", extra=["21"])
    result = assign_cell(confident(labels, p=0.99))
    assert (result.classes == labels).all()
    assert np.bincount(result.classes, minlength=N_CLASSES)[CLASS_INDEX["21"]] == 3
    # a normal cell where one 22 looks a little more like a 21: no trisomy 21 is called
    labels = karyotype_labels("XX")
    probs = confident(labels, p=0.95)
    weak = np.flatnonzero(labels == CLASS_INDEX["22"])[0]
    probs[weak] = 0.02 / (N_CLASSES - 2)
    probs[weak, CLASS_INDEX["21"]], probs[weak, CLASS_INDEX["22"]] = 0.55, 0.43
    independent = np.bincount(probs.argmax(axis=1), minlength=N_CLASSES)
    assert independent[CLASS_INDEX["21"]] == 3
    assert (assign_cell(probs).classes == labels).all()
    # with no penalty for a third copy, and a 22 free to be missed, the argmax stands
    free = assign_cell(probs, 0.0, missed_chromosome_cost=0.0)
    assert np.bincount(free.classes, minlength=N_CLASSES)[CLASS_INDEX["21"]] == 3
    assert free.karyotype == "47,XX,+21" and free.missing == ["22"]


def test_assignment_leaves_a_missing_chromosome_missing():
    labels = karyotype_labels("XX", missing=["13"])
    result = assign_cell(confident(labels, p=0.7))
    counts = np.bincount(result.classes, minlength=N_CLASSES)
    assert counts[CLASS_INDEX["13"]] == 1 and len(result.classes) == 45
    assert (result.classes == labels).all()


def test_assignment_sex_patterns():
    for sex in ("XX", "XY", "X", "XXY"):
        labels = karyotype_labels(sex)
        result = assign_cell(confident(labels, p=0.99))
        assert result.sex_chromosomes == sex and (result.classes == labels).all()


def test_assign_cells_solves_each_cell_alone():
    a, b = karyotype_labels("XY"), karyotype_labels("XX")
    probs = np.vstack([confident(a), confident(b)])
    cells = ["a"] * len(a) + ["b"] * len(b)
    result = assign_cells(probs, cells)
    classes, probability, margin = result.classes, result.probability, result.margin
    assert (classes == np.concatenate([a, b])).all()
    assert np.allclose(probability, 0.8) and (margin > 0).all()
    with pytest.raises(ValueError, match="probability matrix"):
        assign_cell(np.ones((3, 5)))


def test_metrics_on_a_hand_worked_case():
    true = np.array([0, 0, 1, 1, 2])
    predicted = np.array([0, 1, 1, 1, 0])
    table = metrics.per_class(true, predicted).set_index("class")
    assert table.loc["1", "precision"] == 0.5 and table.loc["1", "recall"] == 0.5
    assert table.loc["2", "precision"] == pytest.approx(2 / 3) and table.loc["2", "recall"] == 1
    assert table.loc["3", "f1"] == 0 and np.isnan(table.loc["4", "precision"])
    assert metrics.accuracy(true, predicted) == 0.6
    assert metrics.macro_f1(true, predicted) == pytest.approx((0.5 + 0.8 + 0) / 3)
    # cell a: counts equal although labels are swapped; cell b: counts differ
    assert metrics.cell_agreement([0, 1, 2, 2], [1, 0, 2, 3], ["a", "a", "b", "b"]) == 0.5


def test_two_stage_decision_picks_the_group_first():
    from karyoflow.classify.infer import decide

    probs = np.full((1, N_CLASSES), 0.01)
    probs[0, CLASS_INDEX["4"]] = 0.3  # B
    probs[0, CLASS_INDEX["1"]], probs[0, CLASS_INDEX["2"]] = 0.2, 0.25  # A, together 0.45
    groups = np.zeros((1, len(GROUPS)))
    groups[0, GROUPS.index("A")], groups[0, GROUPS.index("B")] = 0.6, 0.4
    assert decide(probs, None)[0] == CLASS_INDEX["4"]
    assert decide(probs, groups)[0] == CLASS_INDEX["2"]


def test_without_a_screen_a_surplus_object_keeps_a_class_and_counts():
    # 48 objects, every one a chromosome (crops cut from annotations): two beyond any
    # karyotype tried (one change at most) are surplus copies, not dropped
    labels = np.concatenate([karyotype_labels("XY"), [CLASS_INDEX["1"], CLASS_INDEX["2"]]])
    result = assign_cell(confident(labels, p=0.95))
    assert (result.classes == labels).all()
    assert result.karyotype == "48,XY,+1,+2"
    # the same through assign_cells, cell by cell
    assert (assign_cells(confident(labels, p=0.95), ["a"] * len(labels)).classes == labels).all()


class LopsidedClassifier:
    """Stands in for a Keras model that tells a crop from its mirror: class 1 when the
    left half is the brighter, class 2 when the right half is."""

    def predict_on_batch(self, inputs):
        image = np.asarray(inputs["image"])[..., 0]
        half = image.shape[2] // 2
        left = image[:, :, :half].mean(axis=(1, 2)) > image[:, :, half:].mean(axis=(1, 2))
        p = np.full((len(image), len(CLASSES)), 0.01)
        p[:, 0] = np.where(left, 0.77, 0.01)
        p[:, 1] = np.where(left, 0.01, 0.77)
        return {"class": p}


def test_a_mirrored_prediction_averages_a_crop_with_its_mirror():
    from karyoflow.classify.data import CropSet
    from karyoflow.classify.infer import learnt_mirrors, predict

    crop = np.zeros((8, 8, 1), np.uint8)
    crop[:, :3] = 200  # bright on the left
    crops = CropSet(
        pd.DataFrame({"crop_id": ["a", "b"], "image_id": "cell", "label": -1}),
        np.stack([crop, crop[:, ::-1]]),
        np.ones(2, np.float32),
    )
    plain, _, _ = predict(LopsidedClassifier(), crops)
    assert plain[:, :2].argmax(axis=1).tolist() == [0, 1]  # the two views disagree
    mirrored, _, _ = predict(LopsidedClassifier(), crops, mirror=True)
    assert np.allclose(mirrored[0], mirrored[1])  # a crop and its mirror: one answer
    assert np.allclose(mirrored[:, :2], 0.39)
    assert learnt_mirrors({"augment": {"flip": True, "zoom": 0.1}})
    assert not learnt_mirrors({"augment": {"flip": False}}) and not learnt_mirrors({})


def test_class_shares_come_from_the_checkpoints_training_counts(tmp_path):
    """The shares the assignment divides out are the training crops' own; an older
    checkpoint without them is taken as equal shares (None), and says so."""
    import json
    import zipfile

    from karyoflow.classify.train import METADATA, training_class_shares

    def archive(record):
        path = tmp_path / f"model{len(record)}.keras"
        with zipfile.ZipFile(path, "w") as out:
            out.writestr(METADATA, json.dumps({"hyperparameters": {}, "record": record}))
        return path

    counts = {c: 20 for c in CLASSES} | {"X": 15, "Y": 5, "21": 0}
    shares = training_class_shares(archive({"train_class_counts": counts}))
    assert np.isclose(shares.sum(), 1.0)
    assert np.isclose(shares[CLASSES.index("Y")] / shares[CLASSES.index("1")], 0.25)
    assert 0 < shares[CLASSES.index("21")] < shares[CLASSES.index("Y")]  # unseen: small
    assert training_class_shares(archive({})) is None
