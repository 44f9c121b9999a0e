"""Group-wise train/val/test splits."""

from __future__ import annotations

import pandas as pd
import pytest
from karyoflow.data.splits import make_splits


def manifest(n: int) -> pd.DataFrame:
    return pd.DataFrame({"image_id": [f"img{i:04d}" for i in range(n)], "width": 10})


def test_columns_and_paper_fractions():
    splits = make_splits(manifest(100))
    assert list(splits.columns) == ["image_id", "split"]
    assert splits["image_id"].tolist() == sorted(manifest(100)["image_id"])
    counts = splits["split"].value_counts().to_dict()
    # 25 % of 100 to test, then 15 % of the remaining 75 (rounded up) to val.
    assert counts == {"test": 25, "val": 12, "train": 63}


def test_full_dataset_sizes():
    counts = make_splits(manifest(5000))["split"].value_counts().to_dict()
    assert counts == {"test": 1250, "val": 563, "train": 3187}


def test_fractions_are_not_spoiled_by_float_rounding():
    counts = make_splits(manifest(30), test_fraction=0.1, val_fraction=0.1)
    assert counts["split"].value_counts()["test"] == 3


def test_deterministic_and_seeded():
    m = manifest(50)
    first = make_splits(m, seed=7)
    pd.testing.assert_frame_equal(first, make_splits(m, seed=7))
    shuffled = m.sample(frac=1, random_state=3)
    pd.testing.assert_frame_equal(first, make_splits(shuffled, seed=7))
    assert not first.equals(make_splits(m, seed=8))


def test_groups_stay_together():
    rows = [{"image_id": f"{case}.{cell}", "case": case} for case in range(20) for cell in range(4)]
    m = pd.DataFrame(rows)
    splits = make_splits(m, group_column="case").merge(m, on="image_id")
    per_case = splits.groupby("case")["split"].nunique()
    assert (per_case == 1).all()
    case_counts = splits.drop_duplicates("case")["split"].value_counts().to_dict()
    assert case_counts == {"test": 5, "val": 3, "train": 12}
    assert len(splits) == 80


@pytest.mark.parametrize("n", [3, 4, 5, 6, 7, 10])
def test_every_split_non_empty_from_three_groups(n):
    assert set(make_splits(manifest(n))["split"]) == {"train", "val", "test"}


def test_tiny_manifests():
    assert make_splits(manifest(1))["split"].tolist() == ["train"]
    assert sorted(make_splits(manifest(2))["split"]) == ["test", "train"]


def test_duplicate_rows_give_one_row_per_image():
    m = pd.concat([manifest(10), manifest(10)])
    assert len(make_splits(m)) == 10


@pytest.mark.parametrize("value", [0, 1, -0.1, 1.5, float("nan")])
@pytest.mark.parametrize("name", ["test_fraction", "val_fraction"])
def test_fraction_validation(name, value):
    with pytest.raises(ValueError, match=name):
        make_splits(manifest(10), **{name: value})


def test_argument_validation():
    with pytest.raises(TypeError, match="test_fraction"):
        make_splits(manifest(10), test_fraction="0.25")
    with pytest.raises(TypeError, match="seed"):
        make_splits(manifest(10), seed=1.5)
    with pytest.raises(ValueError, match="no column 'case'"):
        make_splits(manifest(10), group_column="case")
    with pytest.raises(ValueError, match="empty"):
        make_splits(manifest(0))
    clash = pd.DataFrame({"image_id": ["a", "a"], "case": ["1", "2"]})
    with pytest.raises(ValueError, match="more than one"):
        make_splits(clash, group_column="case")


def test_official_lists_are_honoured_and_val_comes_from_train(tmp_path):
    from karyoflow.data.splits import read_id_list, splits_from_lists

    manifest = pd.DataFrame({"image_id": [f"{i:03d}" for i in range(30)]})
    lists = tmp_path / "test.txt"
    lists.write_text("24_chromosomes_object/JEPG/000.jpg\n001\n\n# a comment\n002.jpg\n")
    test_ids = read_id_list(lists)
    assert test_ids == {"000", "001", "002"}
    train_ids = {f"{i:03d}" for i in range(3, 28)}  # 028 and 029 on neither list
    splits = splits_from_lists(manifest, test_ids=test_ids, train_ids=train_ids, seed=4)
    by_id = dict(zip(splits["image_id"], splits["split"], strict=True))
    assert {i for i, s in by_id.items() if s == "test"} == test_ids
    assert by_id["028"] == by_id["029"] == "unlisted"
    val = {i for i, s in by_id.items() if s == "val"}
    assert len(val) == 4 and val <= train_ids  # ceil(0.15 x 25)
    again = splits_from_lists(manifest, test_ids=test_ids, train_ids=train_ids, seed=4)
    pd.testing.assert_frame_equal(splits, again)
    # without a train list every image off the test list trains or validates
    open_pool = splits_from_lists(manifest, test_ids=test_ids, seed=4)
    assert set(open_pool["split"]) == {"train", "val", "test"}
    with pytest.raises(ValueError, match="both"):
        splits_from_lists(manifest, test_ids={"005"}, train_ids={"005", "006"})


def test_cells_built_from_one_real_cell_stay_on_one_side(tmp_path):
    """Synthetic cells whose truth names the same source cell (synthetic.crop_folder) are
    split together; cells without one are split by image, as before."""
    import json

    from karyoflow.data.run import split

    rows = []
    for i in range(60):
        truth = tmp_path / f"synth_{i:03d}.truth.json"
        source = {"source_cell": f"real{i % 12}"} if i < 48 else {}  # 12 real cells, 4 each
        truth.write_text(json.dumps({"image_id": truth.stem, **source}))
        rows.append({"image_id": f"synth_{i:03d}", "truth_path": str(truth)})
    rows.append({"image_id": "no_truth", "truth_path": ""})
    pd.DataFrame(rows).to_csv(tmp_path / "manifest.csv", index=False)
    split(
        str(tmp_path / "manifest.csv"),
        str(tmp_path / "splits.csv"),
        seed=3,
        test_fraction=0.25,
        val_fraction=0.15,
    )
    splits = pd.read_csv(tmp_path / "splits.csv").set_index("image_id")["split"]
    assert len(splits) == 61
    for source in range(12):
        sides = {splits[f"synth_{i:03d}"] for i in range(source, 48, 12)}
        assert len(sides) == 1, f"real{source} feeds {sides}"
    assert set(splits) == {"train", "val", "test"}
    # the 13 cells without a source are groups of one, split like any image
    alone = splits[[f"synth_{i:03d}" for i in range(48, 60)] + ["no_truth"]]
    assert alone.nunique() > 1


def test_images_without_a_source_split_as_before(tmp_path):
    from karyoflow.data.splits import source_groups

    m = manifest(40).assign(truth_path="")
    groups = source_groups(m)
    assert groups.tolist() == m["image_id"].tolist()
    pd.testing.assert_frame_equal(
        make_splits(m.assign(g=groups), group_column="g", seed=5), make_splits(m, seed=5)
    )
