import pytest
from karyoflow.core import bands, labels
from karyoflow.core.iscn import counts_from_iscn, iscn_from_counts, iscn_from_labels


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("A1", "1"),
        ("C12", "12"),
        ("G22", "22"),
        ("E18", "18"),
        ("X", "X"),
        ("y", "Y"),
        ("chr7", "7"),
        ("clase23", "X"),
        ("clase24", "Y"),
        ("21", "21"),
        (5, "5"),
    ],
)
def test_canonical_spellings(raw, expected):
    assert labels.canonical(raw) == expected


@pytest.mark.parametrize("raw", ["clase25", "B7", "A4", "chr0", "Z", "", "23X"])
def test_unknown_labels_are_rejected(raw):
    with pytest.raises(labels.UnknownLabelError):
        labels.canonical(raw)


def test_voc_names_and_groups():
    assert [labels.voc_name(c) for c in ("1", "5", "12", "18", "22", "X", "Y")] == [
        "A1",
        "B5",
        "C12",
        "E18",
        "G22",
        "X",
        "Y",
    ]
    assert labels.GROUP_OF["X"] == "C" and labels.GROUP_OF["Y"] == "G"
    assert sum(len(m) for m in labels.DENVER_GROUPS.values()) == 24


def test_band_table_lengths_and_centromeres():
    table = bands.load_band_table()
    assert len(table) == 24
    assert table["1"].length_bp == 249_250_621
    assert table["1"].centromere_bp == 125_000_000
    # acrocentric: centromere in the first fifth; metacentric chr1 near the middle
    assert table["13"].centromere_fraction < 0.2
    assert 0.45 < table["1"].centromere_fraction < 0.55
    rel = bands.relative_lengths(0.85)
    assert 3.4 < 1 / rel["21"] < 4.5  # the measured chr1/chr21 range of real images


def test_darkness_profile_follows_stains():
    chr1 = bands.chromosome("1")
    profile = chr1.darkness_profile(1000)
    assert profile.shape == (1000,)
    assert profile.min() == pytest.approx(bands.STAIN_DARKNESS["gneg"])
    assert profile.max() == pytest.approx(bands.STAIN_DARKNESS["gpos100"])
    assert chr1.stain_mask(1000, "acen").any()


@pytest.mark.parametrize(
    "classes, iscn",
    [
        (["X", "X"], "46,XX"),
        (["X", "Y"], "46,XY"),
        (["X", "Y", "21"], "47,XY,+21"),
        (["X", "X", "18"], "47,XX,+18"),
        (["X"], "45,X"),
        (["X", "X", "Y"], "47,XXY"),
        (["X", "Y", "Y"], "47,XYY"),
    ],
)
def test_iscn_round_trip(classes, iscn):
    cell = [c for c in labels.AUTOSOMES for _ in range(2)] + classes
    assert iscn_from_labels(cell) == iscn
    assert iscn_from_counts(counts_from_iscn(iscn)) == iscn


def test_iscn_loss_and_bad_strings():
    cell = [c for c in labels.AUTOSOMES for _ in range(2)] + ["X", "Y"]
    cell.remove("7")
    assert iscn_from_labels(cell) == "45,XY,-7"
    with pytest.raises(ValueError):
        counts_from_iscn("46,XX,t(9;22)")
    with pytest.raises(ValueError):
        counts_from_iscn("47,XX")
