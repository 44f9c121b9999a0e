"""Straightening: known lengths come out right, straight ones stay, degenerate ones fail."""

import cv2
import numpy as np
import pytest
from karyoflow.straighten.methods import check_shape, straighten


def sausage(points, width=10, size=None, value=200):
    """A chromosome-like band: discs of diameter `width` along `points` (x, y)."""
    points = np.asarray(points, dtype=float)
    size = size or (int(points[:, 1].max() + width + 10), int(points[:, 0].max() + width + 10))
    image = np.zeros(size, np.uint8)
    for x, y in points:
        cv2.circle(image, (int(round(x)), int(round(y))), width // 2, value, -1)
    return image


def arc(radius, degrees, width=10):
    angles = np.radians(np.linspace(0, degrees, int(radius * np.radians(degrees) * 2)))
    centre = radius + width + 5
    points = np.stack([centre + radius * np.cos(angles), centre + radius * np.sin(angles)], 1)
    # true centreline tip to tip: the arc plus half a width of rounded cap at each end
    return sausage(points, width, (2 * centre, 2 * centre)), radius * np.radians(degrees) + width


@pytest.mark.parametrize("radius, degrees", [(60, 90), (40, 180), (30, 270)])
def test_an_arc_straightens_to_its_length(radius, degrees):
    image, length = arc(radius, degrees)
    result = straighten(image, method="medial_axis")
    assert result.ok
    assert result.length_px == pytest.approx(length, rel=0.05)
    rows = result.mask.any(axis=1).sum()
    assert rows == pytest.approx(length, rel=0.05)
    # straight now: the medial x of every row stays within a pixel or two of the middle
    medial = [np.nonzero(r)[0].mean() for r in result.mask if r.any()]
    assert np.std(medial) < 1.5


def test_the_longest_path_runs_between_the_skeletons_far_ends():
    from karyoflow.straighten.methods import _longest_path

    # a T: a bar of 21 pixels (row 2) and a stem of 6 below its middle; the longest
    # geodesic path is the bar, end to end, whichever end the search starts from
    skeleton = np.zeros((12, 25), bool)
    skeleton[2, 2:23] = True
    skeleton[3:9, 12] = True
    path = _longest_path(skeleton)
    ends = {tuple(path[0].astype(int)), tuple(path[-1].astype(int))}
    assert ends == {(2, 2), (2, 22)} and len(path) == 21
    steps = np.abs(np.diff(path, axis=0))
    assert (steps.max(axis=1) == 1).all()  # neighbours all along
    # an L bent at a right angle: from one tip round the corner to the other
    skeleton = np.zeros((12, 12), bool)
    skeleton[1:10, 1] = True
    skeleton[9, 1:10] = True
    path = _longest_path(skeleton)
    ends = {tuple(path[0].astype(int)), tuple(path[-1].astype(int))}
    assert ends == {(1, 1), (9, 9)} and len(path) == 16  # the corner cut diagonally
    # one pixel: a path of one point
    single = np.zeros((3, 3), bool)
    single[1, 1] = True
    assert _longest_path(single).tolist() == [[1.0, 1.0]]


def test_the_blogs_method_loses_length_on_a_strong_bend():
    image, length = arc(40, 180)
    assert straighten(image, method="seed_affine").length_px < 0.8 * length


def test_a_straight_chromosome_comes_out_unchanged():
    image = np.zeros((130, 40), np.uint8)
    image[15:115, 15:25] = np.linspace(60, 240, 100, dtype=np.uint8)[:, None]
    for method in ("seed_affine", "medial_axis", "none"):
        result = straighten(image, method=method)
        assert result.ok, method
        assert result.mask.any(axis=1).sum() == pytest.approx(100, abs=2), method
        assert result.mask.any(axis=0).sum() == pytest.approx(10, abs=2), method
        profile = result.image.max(axis=1)
        profile = profile[profile > 0]
        # the band profile survives (in one direction or the other)
        ramp = np.linspace(60, 240, len(profile))
        assert max(np.corrcoef(profile, ramp)[0, 1], np.corrcoef(profile[::-1], ramp)[0, 1]) > 0.98


@pytest.mark.parametrize(
    "shape, reason",
    [
        ("empty", "empty"),
        ("dot", "too_small"),
        ("blob", "blob"),
        ("ring", "ring"),
    ],
)
def test_degenerate_masks_fail_with_a_reason(shape, reason):
    image = np.zeros((80, 80), np.uint8)
    if shape == "dot":
        image[40:42, 40:42] = 200
    elif shape == "blob":
        cv2.circle(image, (40, 40), 20, 200, -1)
    elif shape == "ring":
        cv2.circle(image, (40, 40), 25, 200, 6)
    for method in ("seed_affine", "medial_axis", "none"):
        result = straighten(image, method=method)
        assert not result.ok and result.reason == reason, (method, result.reason)
    assert check_shape(image > 0) == reason


def test_p_arm_goes_up():
    image = np.zeros((140, 40), np.uint8)
    image[10:130, 14:26] = 200
    image[95:99, 14:17] = 0  # centromere constriction near the bottom: p arm is below
    image[95:99, 23:26] = 0
    result = straighten(image, method="medial_axis")
    rows = np.nonzero(result.mask.any(axis=1))[0]
    narrow = rows[0] + np.argmin(result.mask.sum(axis=1)[rows[0] : rows[-1] + 1])
    assert (narrow - rows[0]) / (rows[-1] - rows[0]) < 0.5
    assert result.polarity_confidence > 0.3
    metacentric = np.zeros((140, 40), np.uint8)
    metacentric[10:130, 14:26] = 200
    metacentric[68:72, 14:17] = 0
    metacentric[68:72, 23:26] = 0
    assert straighten(metacentric).polarity_confidence < 0.2


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="straighten.method"):
        straighten(np.zeros((5, 5), np.uint8), method="spline")


def test_band_scores_read_the_ideogram_and_its_direction():
    from karyoflow.core.bands import chromosome
    from karyoflow.straighten.evaluate import band_scores, straightness_error

    darkness = chromosome("1").darkness_profile(120)
    image = np.zeros((130, 30), np.uint8)
    image[5:125, 10:20] = (40 + 200 * darkness / darkness.max()).astype(np.uint8)[:, None]
    mask = image > 0
    r, p_up = band_scores(image, mask, "1")
    assert r > 0.95 and p_up
    r_flipped, p_up_flipped = band_scores(image[::-1], mask[::-1], "1")
    assert r_flipped == pytest.approx(r) and not p_up_flipped
    assert straightness_error(mask) == 0


def test_straighten_canvases_keeps_size_and_order():
    from karyoflow.straighten.run import straighten_canvases

    image, _ = arc(30, 180, width=8)
    canvas = np.zeros((2, 96, 96), np.uint8)
    canvas[0, : image.shape[0], : image.shape[1]] = image[:96, :96]
    out, rows = straighten_canvases(canvas, ["a", "b"], "medial_axis")
    assert out.shape == canvas.shape and rows["crop_id"].tolist() == ["a", "b"]
    assert rows["ok"].tolist() == [True, False] and rows["reason"].iloc[1] == "empty"
    assert out[0].any(axis=1).sum() > out[0].any(axis=0).sum()  # upright now


def test_crop_set_files_straighten_and_gallery(tmp_path):
    import pandas as pd
    from karyoflow.crops.canvas import save_crops
    from karyoflow.straighten.evaluate import straighten_gallery_files
    from karyoflow.straighten.run import straighten_crops_files

    image, _ = arc(25, 180, width=8)
    canvases = np.zeros((3, 96, 96), np.uint8)
    canvases[0, : image.shape[0], : image.shape[1]] = image[:96, :96]
    canvases[1, 20:70, 44:52] = 180
    canvases[2, 40:43, 40:43] = 180  # a dot: flagged
    windows = [(c, c > 0) for c in canvases]
    save_crops(tmp_path / "c.npz", canvases, windows)
    pd.DataFrame(
        {"crop_id": ["a", "b", "c"], "image_id": ["1", "2", "1"], "crop_index": [0, 1, 2]}
    ).to_parquet(tmp_path / "c.parquet")
    rows = straighten_crops_files(
        str(tmp_path / "c.parquet"),
        str(tmp_path / "c.npz"),
        str(tmp_path / "s.parquet"),
        str(tmp_path / "s.npz"),
        method="medial_axis",
    )
    assert rows["ok"].tolist() == [True, True, False] and rows["reason"].iloc[2] == "too_small"
    assert rows["length_px"].iloc[0] == pytest.approx(25 * np.pi + 8, rel=0.05)
    straighten_gallery_files(
        str(tmp_path / "c.parquet"),
        str(tmp_path / "c.npz"),
        str(tmp_path / "s.npz"),
        str(tmp_path / "s.parquet"),
        str(tmp_path / "g.png"),
    )
    assert (tmp_path / "g.png").stat().st_size > 1000


def test_straightening_in_shards_equals_one_job(tmp_path):
    """Two shards (by image) merged give the table and arrays of one unsharded job, in the
    crop table's order, whatever order the shards took the images in."""
    import pandas as pd
    from karyoflow.crops.canvas import save_crops
    from karyoflow.straighten.run import merge_straightened_files, straighten_crops_files

    image, _ = arc(25, 180, width=8)
    canvases = np.zeros((5, 96, 96), np.uint8)
    canvases[0, : image.shape[0], : image.shape[1]] = image[:96, :96]
    canvases[1, 20:70, 44:52] = 180
    canvases[2, 10:80, 30:38] = 120
    canvases[3, 30:60, 50:57] = 200
    canvases[4, 40:43, 40:43] = 180
    save_crops(tmp_path / "c.npz", canvases, [(c, c > 0) for c in canvases])
    # crop_index deliberately not in row order, images interleaved
    pd.DataFrame(
        {
            "crop_id": list("abcde"),
            "image_id": ["x", "y", "x", "z", "y"],
            "crop_index": [4, 3, 2, 1, 0],
        }
    ).to_parquet(tmp_path / "c.parquet")
    crops = (str(tmp_path / "c.parquet"), str(tmp_path / "c.npz"))
    whole = straighten_crops_files(
        *crops, str(tmp_path / "w.parquet"), str(tmp_path / "w.npz"), method="medial_axis"
    )
    parts = []
    for shard in (0, 1):
        part = straighten_crops_files(
            *crops,
            str(tmp_path / f"s{shard}.parquet"),
            str(tmp_path / f"s{shard}.npz"),
            method="medial_axis",
            shard=shard,
            n_shards=2,
        )
        parts.append(set(part["crop_id"]))
    assert parts == [{"a", "c", "d"}, {"b", "e"}]  # images x, z | y: an image stays whole
    merged = merge_straightened_files(
        crops[0],
        [str(tmp_path / "s0.parquet"), str(tmp_path / "s1.parquet")],
        [str(tmp_path / "s0.npz"), str(tmp_path / "s1.npz")],
        str(tmp_path / "m.parquet"),
        str(tmp_path / "m.npz"),
    )
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "m.parquet"), pd.read_parquet(tmp_path / "w.parquet")
    )
    assert merged["crop_id"].tolist() == whole["crop_id"].tolist()
    with np.load(tmp_path / "m.npz") as m, np.load(tmp_path / "w.npz") as w:
        assert np.array_equal(m["canvas"], w["canvas"])
