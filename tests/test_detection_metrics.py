"""Detection metrics against cases worked out by hand."""

import numpy as np
import pandas as pd
import pytest
from karyoflow.core.boxes import box_iou, match_image
from karyoflow.detect.metrics import (
    BACKGROUND,
    average_precision,
    confusion_matrix,
    evaluate_detections,
)


def table(rows, with_confidence=False):
    columns = ["image_id", "class", "xmin", "ymin", "xmax", "ymax"]
    if with_confidence:
        columns.append("confidence")
    return pd.DataFrame(rows, columns=columns)


def test_box_iou_by_hand():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 10, 10]])
    # overlap 5x10 = 50; union 100 + 100 - 50 = 150
    assert box_iou(a, b) == pytest.approx(np.array([[1 / 3, 0.0, 1.0]]))


def test_greedy_matching_takes_confidence_order():
    truth = np.array([[0, 0, 10, 10]])
    preds = np.array([[0, 0, 10, 10], [0, 0, 10, 9]])
    # the less exact box has the higher confidence, so it takes the truth box
    tp = match_image(preds, np.array([0.5, 0.9]), truth, np.array([0.5]))
    assert tp[:, 0].tolist() == [False, True]
    # above IoU 0.95 only the exact box would match, and the truth box is still free
    tp = match_image(preds, np.array([0.5, 0.9]), truth, np.array([0.95]))
    assert tp[:, 0].tolist() == [True, False]


def test_average_precision_101_points_by_hand():
    # 3 truth boxes, predictions in confidence order: hit, miss, hit, miss.
    # recall 1/3, 1/3, 2/3, 2/3 and precision 1, 1/2, 2/3, 1/2: the envelope is 1 up to
    # recall 1/3 (points 0.00..0.33: 34 of them), 2/3 up to recall 2/3 (0.34..0.66: 33),
    # then 0 (recall 1 is never reached). AP = (34 * 1 + 33 * 2/3) / 101 = 56 / 101.
    ap = average_precision(np.array([1, 0, 1, 0]), np.array([0.9, 0.8, 0.7, 0.6]), 3)
    assert ap == pytest.approx(56 / 101)
    assert average_precision(np.array([1, 1]), np.array([0.9, 0.8]), 2) == pytest.approx(1.0)
    assert average_precision(np.array([], dtype=bool), np.array([]), 2) == 0.0
    assert np.isnan(average_precision(np.array([0]), np.array([0.5]), 0))


def test_evaluate_detections_by_hand():
    truth = table(
        [
            ("a", "1", 0, 0, 10, 10),
            ("a", "1", 20, 0, 30, 10),
            ("a", "2", 40, 0, 50, 10),
            ("b", "1", 0, 0, 10, 10),
        ]
    )
    preds = table(
        [
            ("a", "1", 0, 0, 10, 10, 0.9),  # hit
            ("a", "1", 21, 0, 31, 10, 0.8),  # hit at 0.5 (IoU 9/11), miss at 0.85 and above
            ("a", "2", 20, 0, 30, 10, 0.7),  # a class-1 chromosome called 2: a false alarm for 2
            ("b", "1", 60, 60, 70, 70, 0.6),  # nothing there
            ("b", "1", 0, 0, 10, 10, 0.1),  # hit, but below the operating confidence
        ],
        with_confidence=True,
    )
    ev = evaluate_detections(preds, truth, ["1", "2"], confidence=0.25)
    one = ev.per_class.set_index("class").loc["1"]
    # class 1 at IoU .5: hits at conf .9, .8, miss .6, hit .1 with 3 truths
    # precision 1, 1, 2/3, 3/4 at recall 1/3, 2/3, 2/3, 1 -> envelope 1 to 2/3, 3/4 after
    # points 0..0.66 (67) at 1, 0.67..1.00 (34) at 3/4 -> AP50 = (67 + 25.5) / 101
    assert one["ap50"] == pytest.approx(92.5 / 101)
    assert one["n_truth"] == 3 and one["n_pred"] == 3
    assert one["precision"] == pytest.approx(2 / 3) and one["recall"] == pytest.approx(2 / 3)
    two = ev.per_class.set_index("class").loc["2"]
    assert two["ap50"] == 0.0 and two["recall"] == 0.0
    assert ev.overall["map50"] == pytest.approx((92.5 / 101 + 0) / 2)
    assert ev.overall["n_images"] == 2 and ev.overall["n_truth"] == 4
    assert ev.overall["precision"] == pytest.approx(2 / 4)
    assert ev.overall["recall"] == pytest.approx(2 / 4)
    assert ev.overall["map50_95"] < ev.overall["map50"]

    cm = confusion_matrix(preds[preds["confidence"] >= 0.25], truth, ["1", "2"])
    # class-agnostic pairing, highest IoU first: the box at 0..10 pairs with its truth;
    # the chromosome at 20..30 pairs with the exact box called "2" (IoU 1), which beats
    # the class-1 box at 21..31 (IoU 9/11), so that one becomes a false alarm
    assert cm.loc["1", "1"] == 1
    assert cm.loc["1", "2"] == 1
    assert cm.loc["2", BACKGROUND] == 1  # the class-2 chromosome was never found
    assert cm.loc["1", BACKGROUND] == 1  # image b's chromosome: only a low-confidence box
    assert cm.loc[BACKGROUND, "1"] == 2  # the box at 21..31 and the one at 60..70
    assert cm.to_numpy().sum() == 6


def test_confusion_pairs_each_truth_once():
    truth = table([("a", "1", 0, 0, 10, 10)])
    preds = table([("a", "1", 0, 0, 10, 10, 0.9), ("a", "1", 0, 0, 10, 9, 0.8)], True)
    cm = confusion_matrix(preds, truth, ["1"])
    assert cm.loc["1", "1"] == 1 and cm.loc[BACKGROUND, "1"] == 1


def test_unknown_class_is_an_error():
    truth = table([("a", "Z", 0, 0, 10, 10)])
    with pytest.raises(ValueError, match="Z"):
        evaluate_detections(truth.assign(confidence=1.0), truth, ["1"])


def test_duplicates_and_a_merged_pair_match_truth_one_to_one():
    """Two boxes on one chromosome and one box over a touching pair: each truth box is
    taken at most once, in both matching modes."""
    from karyoflow.core.boxes import match_boxes

    truth = np.array([[0, 0, 10, 30], [40, 0, 50, 30], [52, 0, 62, 30]], dtype=float)
    predictions = np.array(
        [
            [0, 0, 10, 30],  # exact
            [0, 1, 10, 31],  # a duplicate of the same chromosome
            [40, 0, 62, 30],  # one box over the touching pair (IoU 10/22 and 10/22)
            [40, 0, 56, 30],  # a merged box leaning on the first of the pair (IoU 10/16)
        ]
    )
    for confidence in (None, np.array([0.6, 0.9, 0.8, 0.7])):
        pairs = match_boxes(predictions, truth, 0.5, confidence=confidence)
        assert len({t for _, t in pairs}) == len(pairs)  # no truth twice
        assert len({p for p, _ in pairs}) == len(pairs)
        assert {t for _, t in pairs} == {0, 1}  # the pair's second member stays unmatched
        assert len(pairs) == 2
    # highest IoU first keeps the exact box; COCO's rule lets the more confident duplicate in
    assert (0, 0) in match_boxes(predictions, truth, 0.5)
    assert (1, 0) in match_boxes(predictions, truth, 0.5, confidence=[0.6, 0.9, 0.8, 0.7])
