"""Karyotype calls per cell, their scoring, and the karyogram layout."""

import numpy as np
import pandas as pd
import pytest
from karyoflow.core.bands import chromosome
from karyoflow.core.iscn import abnormality, karyotype_scores, karyotype_type
from karyoflow.core.labels import AUTOSOMES
from karyoflow.karyotype.calls import call_cell, call_cells
from karyoflow.karyotype.karyogram import LAYOUT, karyogram_image, slot_positions


def cell_classes(sex="XY", extra=(), missing=()):
    classes = [c for c in AUTOSOMES for _ in range(2)] + list(sex) + list(extra)
    for cls in missing:
        classes.remove(cls)
    return classes


@pytest.mark.parametrize(
    ("sex", "extra", "missing", "iscn", "kind"),
    [
        ("XX", (), (), "46,XX", "normal"),
        ("XY", (), (), "46,XY", "normal"),
        ("XY", ("21",), (), "47,XY,+21", "trisomy"),
        ("XX", ("18",), (), "47,XX,+18", "trisomy"),
        ("X", (), (), "45,X", "sex_aneuploidy"),
        ("XXY", (), (), "47,XXY", "sex_aneuploidy"),
        ("XYY", (), (), "47,XYY", "sex_aneuploidy"),
        ("XX", (), ("13",), "45,XX,-13", "monosomy"),
    ],
)
def test_iscn_calls_for_each_karyotype_type(sex, extra, missing, iscn, kind):
    classes = cell_classes(sex, extra, missing)
    call, flag, low = call_cell(classes, [0.9] * len(classes), [5.0] * len(classes))
    assert (call, flag, low) == (iscn, "ok", 0)
    assert karyotype_type(iscn) == kind


def test_weak_evidence_is_flagged():
    classes = cell_classes("XY", extra=("21",))
    margins = [5.0] * len(classes)
    margins[-1] = 0.3  # the third 21 barely beat the alternative
    assert call_cell(classes, [0.9] * len(classes), margins)[1] == "weak_aneuploidy"
    probabilities = [0.9] * 40 + [0.3] * 6  # 13% uncertain
    assert call_cell(cell_classes(), probabilities, [5.0] * 46)[1] == "low_confidence"
    few = cell_classes()[:40]
    assert call_cell(few, [0.9] * 40, [5.0] * 40)[1] == "count"
    # the assignment's call, a runner-up karyotype close behind
    call, flag, _ = call_cell(
        cell_classes(missing=("21",)),
        [0.9] * 45,
        [5.0] * 45,
        karyotype="46,XY",
        karyotype_margin=0.4,
    )
    assert (call, flag) == ("46,XY", "weak_call")


def test_call_cells_from_a_classify_table():
    rows = []
    for cell, classes in (("a", cell_classes("XX")), ("b", cell_classes("XY", extra=("21",)))):
        rows += [(cell, c, 0.95, 4.0) for c in classes]
    calls = pd.DataFrame(
        rows, columns=["image_id", "assigned", "assigned_probability", "assignment_margin"]
    )
    cells = call_cells(calls).set_index("image_id")
    assert cells.loc["a", "karyotype"] == "46,XX" and cells.loc["b", "karyotype"] == "47,XY,+21"
    assert cells.loc["b", "n_chromosomes"] == 47 and (cells["flag"] == "ok").all()


def test_karyotype_scores_rates_sensitivity_and_specificity():
    truth = {"n1": "46,XX", "n2": "46,XY", "t1": "47,XY,+21", "t2": "47,XX,+18", "s1": "45,X"}
    called = {"n1": "46,XX", "n2": "47,XY,+8", "t1": "47,XY,+21", "t2": "46,XX", "s1": "45,X"}
    scores = karyotype_scores(truth, called)
    assert scores["exact_rate"] == 0.6 and scores["n_abnormal"] == 3
    assert scores["by_type"]["trisomy"] == {"n": 2, "exact": 1, "exact_rate": 0.5}
    assert scores["aneuploidy_sensitivity"] == pytest.approx(2 / 3, abs=1e-4)
    assert scores["aneuploidy_specificity"] == 0.5
    assert scores["exact_rate_normal"] == 0.5
    assert scores["exact_rate_abnormal"] == pytest.approx(2 / 3, abs=1e-4)


def test_sensitivity_counts_a_hit_only_for_the_true_abnormality():
    truth = {
        "t21": "47,XY,+21",
        "t21_sex": "47,XY,+21",
        "wrong_trisomy": "47,XX,+18",
        "xxy": "47,XXY",
        "x": "45,X",
        "missed": "47,XY,+13",
        "none": "47,XX,+21",
        "normal": "46,XY",
    }
    called = {
        "t21": "47,XY,+21",  # right
        "t21_sex": "47,XX,+21",  # the abnormality is right, the sex is not
        "wrong_trisomy": "47,XX,+8",  # abnormal, but not the true abnormality
        "xxy": "45,X",  # a sex aneuploidy, but the wrong one
        "x": "45,X",  # right
        "missed": "46,XY",  # called normal
        "normal": "46,XY",
    }  # "none" has no call at all
    scores = karyotype_scores(truth, called)
    assert scores["n_abnormal"] == 7
    assert scores["aneuploidy_sensitivity"] == pytest.approx(5 / 7, abs=1e-4)
    assert scores["aneuploidy_sensitivity_right_abnormality"] == pytest.approx(3 / 7, abs=1e-4)
    assert abnormality("47,XX,+21") == abnormality("47,XY,+21") == (("21", 1),)
    assert abnormality("46,XX") == abnormality("46,XY") == ()
    assert abnormality("45,X") == (("sex", (1, 0)),)


def bar_tile(length, width=8):
    return np.full((length, width), 60, np.uint8)


def test_layout_of_a_known_cell():
    # chromosome 1 twice (different lengths), 6 once, X and Y once
    tiles = {
        "1": [bar_tile(60), bar_tile(50)],
        "6": [bar_tile(40)],
        "X": [bar_tile(38)],
        "Y": [bar_tile(15)],
    }
    positions, labels, (height, width) = slot_positions(tiles)
    (x1a, y1a), (x1b, y1b) = positions["1"]
    # homologues side by side, each aligned at the ideogram's centromere
    assert x1b == x1a + 8 + 3
    f1 = chromosome("1").centromere_fraction
    assert y1a + round(f1 * 60) == y1b + round(f1 * 50)
    # rows in ISCN order: 1 above 6 above Y; X ends row 2, after 6..12
    assert positions["6"][0][1] > y1a + 60 > 0
    assert positions["Y"][0][1] > positions["X"][0][1] > positions["6"][0][1] - 40
    assert positions["X"][0][0] > positions["6"][0][0]
    assert [row[-1] for row in LAYOUT] == ["5", "X", "18", "Y"]
    # every class has a label under its slot, also the empty ones
    assert set(labels) == {c for row in LAYOUT for c in row}
    assert labels["1"][1] > y1a + 60 and height > labels["Y"][1] and width > labels["X"][0]


def test_karyogram_image_marks_low_confidence_in_red():
    canvases, classes = [], []
    for cls in ("1", "1", "2", "2"):
        canvas = np.zeros((64, 64), np.uint8)
        canvas[5:60, 28:36] = 200
        canvases.append(canvas)
        classes.append(cls)
    image = karyogram_image(canvases, classes, [0.9, 0.9, 0.9, 0.2], "cell: 4,-")
    assert image.ndim == 3 and image.dtype == np.uint8
    red = (image[:, :, 2] > 180) & (image[:, :, 1] < 80) & (image[:, :, 0] < 80)
    assert red.sum() > 100
    confident = karyogram_image(canvases, classes, [0.9] * 4, "cell")
    assert not ((confident[:, :, 2] > 180) & (confident[:, :, 1] < 80)).any()
    # chromosomes are dark on white
    assert np.median(image) == 255 and image.min() < 100


def test_seconds_per_image_sums_the_shards_of_each_stage(tmp_path):
    from karyoflow.core.benchmarks import seconds_per_image

    for name, seconds in (
        ("detect/new_detect_0.tsv", 3.0),
        ("detect/new_detect_1.tsv", 5.0),
        ("classify/calls_new.tsv", 2.0),
        ("detect/test_detect_0.tsv", 99.0),
    ):
        path = tmp_path / "benchmarks" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"s\th:m:s\n{seconds}\t0:00:0{int(seconds) % 10}\n")
    table = seconds_per_image(tmp_path, "new", 4).set_index("stage")
    assert table.loc["detect", "jobs"] == 2 and table.loc["detect", "seconds_per_image"] == 2.0
    assert table.loc["classify", "seconds_per_image"] == 0.5 and table.loc["crops", "jobs"] == 0
    assert table.loc["total", "seconds_per_image"] == 2.5


def test_predict_summary_has_a_row_per_input_image(tmp_path):
    from karyoflow.karyotype.predict import predict_summary_files

    (tmp_path / "cells.tsv").write_text(
        "image_id\tn_chromosomes\tkaryotype\tflag\tn_low_confidence\tmean_probability\tkaryogram\n"
        "a\t46\t46,XX\tok\t0\t0.9\tk/a.png\n"
    )
    (tmp_path / "images.csv").write_text("image_id,image_path\na,in/a.png\nempty,in/empty.png\n")
    (tmp_path / "bad.tsv").write_text(
        "path\tproblem\tdetail\taction\n"
        "in/broken.jpg\ttruncated\tcut short\tskipped\n"
        "in/a.png\tconverted_image\tfirst of 2 frames used\tconverted\n"
    )
    out = tmp_path / "calls.tsv"
    predict_summary_files(
        str(tmp_path / "cells.tsv"),
        str(tmp_path / "images.csv"),
        str(tmp_path / "bad.tsv"),
        str(out),
    )
    calls = pd.read_csv(out, sep="\t", keep_default_na=False).set_index("image")
    assert list(calls.index) == ["in/a.png", "in/empty.png", "in/broken.jpg"]
    assert calls.loc["in/a.png", "karyotype"] == "46,XX"
    assert calls.loc["in/empty.png", "flag"] == "no_chromosomes"
    assert calls.loc["in/broken.jpg", "flag"] == "unreadable: truncated"


def test_chromosome_table_joins_boxes_and_flags_weak_calls():
    from karyoflow.karyotype.predict import CHROMOSOME_COLUMNS, chromosome_table

    crops = pd.DataFrame(
        {
            "crop_id": ["b#0", "a#1", "a#0"],
            "instance_id": [0, 1, 0],
            "xmin": [5.0, 100.25, 10.0],
            "ymin": [6.0, 40.0, 20.0],
            "xmax": [25.0, 130.0, 30.5],
            "ymax": [60.0, 90.0, 80.0],
        }
    )
    calls = pd.DataFrame(
        {
            "crop_id": ["a#0", "a#1", "b#0"],
            "image_id": ["a", "a", "b"],
            "assigned": ["1", "X", "21"],
            "assigned_probability": [0.97, 0.31, 0.8],
            "assignment_margin": [5.0, 0.2, 0.4],
        }
    )
    table = chromosome_table(calls, crops, low_probability=0.5, low_margin=1.0)
    assert list(table.columns) == CHROMOSOME_COLUMNS
    assert table[["image_id", "chromosome"]].values.tolist() == [["a", 0], ["a", 1], ["b", 0]]
    first = table.iloc[0]
    assert (first["x1"], first["y1"], first["x2"], first["y2"]) == (10.0, 20.0, 30.5, 80.0)
    assert table["class"].tolist() == ["1", "X", "21"]
    assert table["flag"].tolist() == ["ok", "low_probability;low_margin", "low_margin"]
    with pytest.raises(ValueError, match="crop table"):
        chromosome_table(calls.assign(crop_id=["a#0", "a#1", "zz#9"]), crops)
    # no chromosome found anywhere: empty tables (object columns) give an empty table
    empty = chromosome_table(calls.iloc[0:0].astype(object), crops.iloc[0:0].astype(object))
    assert empty.empty and list(empty.columns) == CHROMOSOME_COLUMNS


def test_placement_needs_the_box_and_the_class_and_counts_each_truth_once():
    from karyoflow.karyotype.evaluate import count_scores, placement_scores

    annotations = pd.DataFrame(
        {
            "image_id": ["a", "a", "a", "b"],
            "class": ["1", "21", "X", "Y"],
            "xmin": [0, 50, 100, 0],
            "ymin": [0, 0, 0, 0],
            "xmax": [20, 70, 120, 20],
            "ymax": [60, 30, 50, 20],
        }
    )
    called = pd.DataFrame(
        {
            "image_id": ["a", "a", "a", "a", "c"],
            "class": ["1", "1", "22", "X", "5"],  # a duplicate of 1; 21 called 22
            "x1": [1, 0, 50, 140, 0],
            "y1": [1, 2, 0, 0, 0],
            "x2": [20, 20, 70, 160, 10],  # X far from its truth box: not found
            "y2": [60, 60, 30, 50, 10],
        }
    )
    placement = placement_scores(called, annotations, ["a", "b"])
    assert placement["n_annotated"] == 4
    assert placement["found"] == 0.5  # 1 and 21; the duplicate takes nothing
    assert placement["placed_correctly"] == 0.25  # only 1 has the right class
    counts = count_scores(called, annotations, ["a", "b"])
    assert counts["exact_rate"] == 0.0 and counts["mean_abs_error"] == 1.0
    assert counts["error_histogram"] == {-1: 1, 1: 1}


def test_karyogram_chromosomes_keep_their_own_pixels_and_come_out_upright():
    from karyoflow.karyotype.karyogram import native_chromosomes

    # a dark bar lying horizontally on a bright window, 90 px long: wider than any canvas
    window = np.full((30, 100), 230, np.uint8)
    window[10:20, 5:95] = 50
    window[10:20, 5:30] = 20  # a darker band at one end
    mask = window < 100
    (image,) = native_chromosomes([(window, mask)], "none")
    ys, xs = np.nonzero(image)
    height, width = np.ptp(ys) + 1, np.ptp(xs) + 1
    assert height == pytest.approx(90, abs=3) and width == pytest.approx(10, abs=3)
    # bright on black: the chromosome's grey levels inverted, its band kept
    assert image.max() == 255 - 20 and set(np.unique(image[image > 0])) <= {205, 235}


# ---- count-aware assignment -------------------------------------------------------------


def confident_matrix(classes, p=0.9):
    from karyoflow.core.labels import CLASS_INDEX, N_CLASSES

    probs = np.full((len(classes), N_CLASSES), (1 - p) / (N_CLASSES - 1))
    probs[np.arange(len(classes)), [CLASS_INDEX[c] for c in classes]] = p
    return probs


# A chain's settings: detector recall 0.9, 16% of objects not one chromosome.
CHAIN = {"missed_chromosome_cost": float(np.log(0.9 / 0.1)), "junk_base_rate": 0.16}


def test_an_extra_debris_object_is_rejected_not_called_a_trisomy():
    from karyoflow.classify.assign import REJECTED, assign_cell

    classes = cell_classes("XY")
    probs = confident_matrix(classes)
    # debris that the classifier, forced to choose, calls a 21 with some confidence
    debris = confident_matrix(["21"], p=0.6)
    junk = np.r_[np.full(46, 0.02), 0.7]
    result = assign_cell(np.vstack([probs, debris]), junk=junk, **CHAIN)
    assert result.karyotype == "46,XY" and result.karyotype_margin > 1.0
    assert result.classes[-1] == REJECTED and (result.classes[:-1] != REJECTED).all()
    # the same object looking like a clean chromosome is a trisomy 21
    clean = assign_cell(
        np.vstack([probs, confident_matrix(["21"], p=0.99)]),
        junk=np.full(47, 0.001),
        **CHAIN,
    )
    assert clean.karyotype == "47,XY,+21"


def test_a_y_is_weighed_by_how_rare_it_was_among_the_training_crops():
    """A classifier that learnt from half-male cells saw a Y a quarter as often as an
    autosome: its posterior for a Y understates the evidence. Taken at equal shares,
    a Y it rates 0.25 (X 0.30) becomes the second X; at the training shares it is a Y."""
    from karyoflow.classify.assign import assign_cell
    from karyoflow.core.labels import CLASS_INDEX, N_CLASSES

    classes = cell_classes("XY")
    probs = confident_matrix(classes)
    y = classes.index("Y")
    probs[y] = 0.45 / (N_CLASSES - 2)
    probs[y, CLASS_INDEX["Y"]], probs[y, CLASS_INDEX["X"]] = 0.25, 0.30
    shares = np.full(N_CLASSES, 2.0)
    shares[CLASS_INDEX["X"]], shares[CLASS_INDEX["Y"]] = 1.5, 0.5
    shares /= shares.sum()
    junk = np.full(46, 0.02)
    assert assign_cell(probs, junk=junk, **CHAIN).karyotype == "46,XX"
    weighed = assign_cell(probs, junk=junk, class_shares=shares, **CHAIN)
    assert weighed.karyotype == "46,XY" and weighed.classes[y] == CLASS_INDEX["Y"]
    # a clear autosome stays one whatever the shares
    assert (weighed.classes[:44] == [CLASS_INDEX[c] for c in classes[:44]]).all()
    with pytest.raises(ValueError, match="one share per class"):
        assign_cell(probs, class_shares=shares[:-1])


def test_a_missed_chromosome_is_not_called_a_monosomy():
    from karyoflow.classify.assign import assign_cell

    classes = cell_classes("XX", missing=("13",))
    result = assign_cell(confident_matrix(classes), junk=np.full(45, 0.02), **CHAIN)
    assert result.karyotype == "46,XX" and result.missing == ["13"]
    assert result.runner_up == "45,XX,-13"
    # where every chromosome is known to be there (crops cut from annotations), it is one
    known = assign_cell(confident_matrix(classes))
    assert known.karyotype == "45,XX,-13" and known.missing == []


@pytest.mark.parametrize("common_change_penalty", [None, 3.0, 2.0])
def test_a_missing_sex_chromosome_gives_a_weak_call_not_a_confident_wrong_one(
    common_change_penalty,
):
    """Also where a sex aneuploidy costs less than other changes: 45,X then competes
    with the missed Y, and the call stays weak."""
    from karyoflow.classify.assign import assign_cell

    classes = cell_classes("XY", missing=("Y",))  # 45 objects: X and autosomes
    result = assign_cell(
        confident_matrix(classes),
        junk=np.full(45, 0.02),
        common_change_penalty=common_change_penalty,
        **CHAIN,
    )
    # 46,XX with an X missed, 46,XY with a Y missed and 45,X are close: whichever wins,
    # the call is weak
    assert result.karyotype in ("46,XX", "46,XY", "45,X")
    _, flag, _ = call_cell(
        classes,
        [0.9] * 45,
        [5.0] * 45,
        karyotype=result.karyotype,
        karyotype_margin=result.karyotype_margin,
    )
    assert "weak_call" in flag


def test_a_common_aneuploidy_may_cost_less_than_other_changes():
    """Trisomy 21 and 45,X are far likelier a priori than a trisomy 7 or a lost
    autosome: at a lower prior cost for them, the same evidence calls them, and only
    them; at the uniform cost they are taken as an extra object and a missed X."""
    from karyoflow.classify.assign import REJECTED, assign_cell

    junk = np.full(47, 0.02)
    for extra, common_call in (("21", "47,XY,+21"), ("7", "46,XY")):
        probs = confident_matrix(cell_classes("XY", extra=(extra,)))
        uniform = assign_cell(probs, junk=junk, **CHAIN)
        assert uniform.karyotype == "46,XY" and (uniform.classes == REJECTED).sum() == 1
        cheaper = assign_cell(probs, junk=junk, common_change_penalty=3.0, **CHAIN)
        assert cheaper.karyotype == common_call
    # a detector that misses 1 chromosome in 200: a lone X is a 45,X at the common cost,
    # a 46,XX with an X missed at the uniform one
    sure = {"missed_chromosome_cost": float(np.log(0.995 / 0.005)), "junk_base_rate": 0.16}
    lone_x = confident_matrix(cell_classes("X"))
    assert assign_cell(lone_x, junk=junk[:45], **sure).karyotype == "46,XX"
    assert (
        assign_cell(lone_x, junk=junk[:45], common_change_penalty=3.0, **sure).karyotype == "45,X"
    )
    # the same cost for a lost autosome still reads as a missed chromosome
    lost = confident_matrix(cell_classes("XX", missing=("13",)))
    assert assign_cell(lost, junk=junk[:45], common_change_penalty=3.0, **sure).karyotype == "46,XX"


def test_the_common_aneuploidy_cost_is_chosen_on_annotated_cells():
    from karyoflow.karyotype.calls import choose_call_priors, common_penalty

    cells = {"t21": cell_classes("XY", extra=("21",)), "normal": cell_classes("XY")}
    tables, annotations = [], []
    for cell, classes in cells.items():
        classified, crops = cell_objects(classes, [1000.0] * len(classes), [0.85] * len(classes))
        ids = {"crop_id": classified["crop_id"].radd(cell), "image_id": cell}
        tables.append((classified.assign(**ids), crops.assign(crop_id=ids["crop_id"])))
        annotations.append(pd.DataFrame({"image_id": cell, "class": classes}))
    # a cell whose annotations do not name classes has no karyotype to score against
    annotations.append(pd.DataFrame({"image_id": ["boxes_only"] * 46, "class": "chromosome"}))
    classified = pd.concat([t[0] for t in tables], ignore_index=True)
    crops = pd.concat([t[1] for t in tables], ignore_index=True)
    chosen = choose_call_priors(
        classified, crops, screen_for_tests(), pd.concat(annotations), extra_copy_penalty=6.0
    )
    # the extra 21 (5.1 nats of evidence) is called a trisomy up to 5 nats: the highest
    # penalty that calls both cells right is chosen
    assert chosen["common_change_penalty"] == 5.0 and chosen["n_cells_karyotyped"] == 2
    assert chosen["common_change_penalty_exact"]["2"] == 1.0
    assert chosen["common_change_penalty_exact"]["6"] == 0.5
    # the calls use it where configured "auto"; a number overrides; no screen, no tier
    assert common_penalty("auto", chosen) == 5.0 and common_penalty(4, chosen) == 4.0
    assert common_penalty("auto", None) is None and common_penalty("auto", {}) is None
    # both class priors call these cells alike: the training shares are kept
    assert chosen["class_prior"] == "training_shares"
    assert chosen["class_prior_exact"]["equal"] == chosen["common_change_penalty_exact"]


def test_the_class_prior_is_chosen_on_annotated_cells():
    from karyoflow.core.labels import CLASS_INDEX, CLASSES
    from karyoflow.karyotype.calls import choose_call_priors, class_prior

    # 46,XX cells whose second X the classifier barely tells from a Y (p 0.35 against
    # 0.30): divided by training shares in which a Y is a quarter as common as an X, the
    # stray Y probability outweighs the X's and the cell reads 46,XY
    classes = cell_classes("XX")
    weak = np.full(len(CLASSES), 0.35 / 22)
    weak[CLASS_INDEX["X"]], weak[CLASS_INDEX["Y"]] = 0.35, 0.30
    shares = np.array([4.0] * len(AUTOSOMES) + [3.0, 1.0])

    def choose(n_cells):
        tables, annotations = [], []
        for k in range(n_cells):
            classified, crops = cell_objects(classes, [1000.0] * 46, [0.85] * 46)
            classified.loc[45, [f"p_{c}" for c in CLASSES]] = weak
            ids = {"crop_id": classified["crop_id"].radd(f"x{k}"), "image_id": f"x{k}"}
            tables.append((classified.assign(**ids), crops.assign(crop_id=ids["crop_id"])))
            annotations.append(pd.DataFrame({"image_id": f"x{k}", "class": classes}))
        return choose_call_priors(
            pd.concat([t[0] for t in tables], ignore_index=True),
            pd.concat([t[1] for t in tables], ignore_index=True),
            screen_for_tests(),
            pd.concat(annotations),
            6.0,
            shares / shares.sum(),
        )

    # five cells called right only with equal shares: significant, equal shares chosen
    chosen = choose(5)
    assert chosen["class_prior"] == "equal"
    assert chosen["class_prior_test"] == {"cells_better": 5, "cells_worse": 0, "p_value": 0.0312}
    assert set(chosen["class_prior_exact"]["training_shares"].values()) == {0.0}
    assert chosen["common_change_penalty_exact"] == chosen["class_prior_exact"]["equal"]
    # one such cell is no evidence: the training shares stay
    assert choose(1)["class_prior"] == "training_shares"
    # the calls use the chosen prior where configured "auto"; a setting overrides it; a
    # screen that chose none (older, or none at all) means the training shares
    assert class_prior("auto", chosen) == "equal"
    assert class_prior("training_shares", chosen) == "training_shares"
    assert class_prior("auto", {}) == class_prior("auto", None) == "training_shares"
    with pytest.raises(ValueError, match="class_prior"):
        class_prior("uniform", chosen)


def screen_for_tests():
    from karyoflow.karyotype.screen import FEATURES

    # a screen as train_object_screen writes it: big, tiny and low-confidence objects are
    # likely not one chromosome
    return {
        "features": FEATURES,
        "coefficients": [-1.3, -0.9, 1.0, -0.7, 1.5],
        "intercept": -1.5,
        "detector_recall": 0.9,
        "share_not_one_chromosome": 0.16,
    }


def cell_objects(classes, areas, confidences):
    """A classified table and crop table for one cell of objects in a row."""
    from karyoflow.core.labels import CLASSES

    n = len(classes)
    probs = confident_matrix(classes)
    classified = pd.DataFrame({"crop_id": [f"c#{i}" for i in range(n)], "image_id": "c"})
    classified = pd.concat(
        [classified, pd.DataFrame(probs, columns=[f"p_{c}" for c in CLASSES])], axis=1
    )
    side = np.sqrt(np.asarray(areas, float))
    x0 = np.arange(n) * 400.0
    crops = pd.DataFrame(
        {
            "crop_id": classified["crop_id"],
            "instance_id": np.arange(n),
            "det_confidence": confidences,
            "area_px": areas,
            "xmin": x0,
            "ymin": 0.0,
            "xmax": x0 + side,
            "ymax": side,
        }
    )
    return classified, crops


def test_a_nucleus_and_debris_are_rejected_with_their_reason():
    from karyoflow.karyotype.calls import assign_objects, call_cells
    from karyoflow.karyotype.predict import chromosome_table, rejected_table

    classes = cell_classes("XX") + ["1", "22"]  # the last two: a nucleus and a speck
    areas = [1000.0] * 46 + [20000.0, 40.0]
    confidences = [0.85] * 46 + [0.45, 0.4]
    classified, crops = cell_objects(classes, areas, confidences)
    objects = assign_objects(classified, crops, screen_for_tests(), extra_copy_penalty=6.0)
    assert objects["assigned"].iloc[-2:].tolist() == ["", ""]
    assert objects["rejection_reason"].iloc[-2:].tolist() == [
        "too_large_nucleus_or_cluster",
        "too_small_debris_or_fragment",
    ]
    assert (objects["assigned"].iloc[:46] == pd.Series(classes[:46])).all()
    cells = call_cells(objects)
    assert cells.loc[0, "karyotype"] == "46,XX" and cells.loc[0, "n_chromosomes"] == 46
    assert cells.loc[0, "n_rejected"] == 2 and cells.loc[0, "missing"] == ""
    # the rejected objects are listed apart, not as chromosomes
    assert len(chromosome_table(objects, crops)) == 46
    rejected = rejected_table(objects, crops)
    assert rejected["object"].tolist() == [46, 47]
    # a set where nothing was detected gives empty tables
    none = assign_objects(classified.iloc[0:0], crops.iloc[0:0], screen_for_tests(), 6.0)
    assert none.empty and call_cells(none).empty and rejected_table(none, crops).empty
    # without a screen (crops cut from annotations) nothing is rejected
    plain = assign_objects(classified, crops, None, extra_copy_penalty=6.0)
    assert (plain["assigned"] != "").all() and (plain["rejection_reason"] == "").all()


def test_screen_learns_that_low_confidence_inner_boxes_are_not_chromosomes():
    from karyoflow.karyotype.screen import (
        fit_screen,
        inside_more_confident,
        junk_probability,
        object_features,
        one_chromosome,
    )

    rng = np.random.default_rng(0)
    tables, truth = [], []
    for cell in range(12):
        n = 20
        x0 = np.arange(n) * 50.0
        boxes = np.c_[x0, np.zeros(n), x0 + 20, np.full(n, 60.0)]
        truth.append(
            pd.DataFrame(boxes, columns=["xmin", "ymin", "xmax", "ymax"]).assign(image_id=str(cell))
        )
        # each true chromosome detected, plus 4 half-boxes inside them at low confidence
        parts = boxes[:4] * [1, 1, 1, 0.5]
        objects = pd.DataFrame(np.vstack([boxes, parts]), columns=["xmin", "ymin", "xmax", "ymax"])
        objects["image_id"] = str(cell)
        objects["det_confidence"] = np.r_[rng.uniform(0.6, 0.95, n), rng.uniform(0.3, 0.6, 4)]
        objects["area_px"] = np.r_[np.full(n, 800.0), np.full(4, 400.0)]
        tables.append(objects)
    objects = pd.concat(tables, ignore_index=True)
    truth = pd.concat(truth, ignore_index=True)
    probabilities = np.full((len(objects), 24), 1 / 24)
    matched = one_chromosome(objects, truth)
    assert matched.sum() == 240 and (~matched).sum() == 48
    features = object_features(objects, probabilities)
    assert inside_more_confident(
        np.array([[0, 0, 10, 10], [0, 0, 10, 5]]), [0.9, 0.4]
    ).tolist() == [
        0.0,
        1.0,
    ]
    screen = fit_screen(features, matched, objects["image_id"], recall=1.0)
    assert screen["cross_validated_auc"] > 0.9 and screen["share_not_one_chromosome"] == 0.1667
    junk = junk_probability(screen, features)
    assert junk[~matched].min() > junk[matched].max() - 0.2
    assert junk[~matched].mean() > 0.5 > junk[matched].mean()
    # a detector that finds only whole chromosomes leaves nothing to learn: every object
    # gets the same (tiny) chance, and nothing is rejected for its looks
    flat = fit_screen(features[matched], matched[matched], objects["image_id"][matched], 0.8)
    assert flat["fitted"] is False and flat["cross_validated_auc"] is None
    assert (
        np.ptp(junk_probability(flat, features)) == 0 and junk_probability(flat, features)[0] < 1e-5
    )
    # junk in one image only (a smoke run's few cells): the screen is still learnt, its
    # cross-validated AUC cannot be, as a fold would train on whole chromosomes alone
    two = objects["image_id"].isin(["0", "1"]).to_numpy()
    lone = matched[two] | (objects["image_id"][two] == "1").to_numpy()
    one_image = fit_screen(features[two], lone, objects["image_id"][two], 0.8)
    assert one_image["fitted"] is True and one_image["cross_validated_auc"] is None


def test_cells_assigned_in_parallel_come_out_as_one_at_a_time():
    from karyoflow.classify.assign import assign_cells

    rng = np.random.default_rng(0)
    cells = [
        cell_classes("XY"),
        cell_classes("XX", extra=("21",)),
        cell_classes("X"),
        cell_classes("XX", missing=("13",)),
    ]
    probs = np.vstack(
        [confident_matrix(c, p=0.6) + rng.uniform(0, 0.2, (len(c), 24)) for c in cells]
    )
    probs /= probs.sum(axis=1, keepdims=True)
    ids = np.repeat([f"cell{i}" for i in range(len(cells))], [len(c) for c in cells])
    junk = rng.uniform(0.0, 0.3, len(ids))
    one, two = (
        assign_cells(
            probs, ids, junk=junk, junk_base_rate=0.2, missed_chromosome_cost=3.0, processes=n
        )
        for n in (1, 2)
    )
    assert (one.classes == two.classes).all()
    assert np.array_equal(one.probability, two.probability)
    assert np.array_equal(one.margin, two.margin)
    assert [c.karyotype for c in one.cells.values()] == [c.karyotype for c in two.cells.values()]
    assert list(two.cells) == [f"cell{i}" for i in range(len(cells))]


def test_a_field_with_too_few_chromosomes_gets_no_call():
    """A field showing 20 chromosomes is not 46,XX with 26 missed: a detector with recall
    0.9 misses more than 12 of 46 in fewer than 1 cell in 1,000. Three missed are
    plausible: that cell is called."""
    from karyoflow.karyotype.calls import assign_objects, call_cells
    from karyoflow.karyotype.screen import plausible_missed

    assert plausible_missed(screen_for_tests()) == 12
    assert plausible_missed({"detector_recall": 0.971}) == 6
    few = cell_classes("XX")[::2][:20]
    classified, crops = cell_objects(few, [1000.0] * 20, [0.85] * 20)
    objects = assign_objects(classified, crops, screen_for_tests(), extra_copy_penalty=6.0)
    cell = call_cells(objects).iloc[0]
    assert cell["karyotype"] == "" and cell["flag"].startswith("too_few_chromosomes")
    assert (objects["assigned"] != "").all()  # each object keeps its class
    almost = cell_classes("XX", missing=("1", "7", "13"))
    classified, crops = cell_objects(almost, [1000.0] * 43, [0.85] * 43)
    objects = assign_objects(classified, crops, screen_for_tests(), extra_copy_penalty=6.0)
    cell = call_cells(objects).iloc[0]
    assert cell["karyotype"] == "46,XX" and "too_few_chromosomes" not in cell["flag"]
