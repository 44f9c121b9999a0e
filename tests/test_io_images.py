"""read_grayscale on every image trap we know of, sha256_file, write_png."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest
import tifffile
from karyoflow.core.errors import BadInputError
from karyoflow.core.images import (
    NOTE_ALPHA,
    NOTE_ALPHA_TRANSPARENT,
    NOTE_EQUAL_RGB,
    NOTE_LUMINANCE,
    NOTE_PALETTE,
    read_grayscale,
    sha256_file,
    write_png,
)
from PIL import Image


@pytest.fixture
def grey() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (40, 60), dtype=np.uint8)


def _tree_state(folder: Path) -> dict[str, tuple[int, int, str]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns, sha256_file(p))
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _assert_bad(path: Path, problem: str) -> BadInputError:
    with pytest.raises(BadInputError) as info:
        read_grayscale(path)
    err = info.value
    assert err.problem == problem, str(err)
    assert str(path) in str(err)
    assert str(err) == f"{path}: {err.detail}"
    return err


# --- formats that must read -------------------------------------------------------------


@pytest.mark.parametrize("name", ["a.png", "a.PNG", "a.tif", "a.TIF", "a.tiff", "a.bmp"])
def test_lossless_grey_formats_read_exactly(tmp_path, grey, name):
    path = tmp_path / name
    Image.fromarray(grey).save(path)
    array, notes = read_grayscale(path)
    assert array.dtype == np.uint8 and array.shape == grey.shape
    np.testing.assert_array_equal(array, grey)
    assert notes == []


@pytest.mark.parametrize("name", ["a.jpg", "a.JPG", "a.jpeg"])
def test_rgb_jpeg_with_equal_channels_reads_as_grey(tmp_path, grey, name):
    path = tmp_path / name
    Image.fromarray(np.dstack([grey] * 3)).save(path, quality=95)
    array, notes = read_grayscale(path)
    assert array.shape == grey.shape and array.dtype == np.uint8
    # Baseline JPEG keeps R=G=B for grey input; the grey values themselves are lossy.
    assert notes == [NOTE_EQUAL_RGB]
    assert np.abs(array.astype(int) - grey).mean() < 8


def test_rgb_with_different_channels_uses_luminance(tmp_path, grey):
    rgb = np.dstack([grey, grey // 2, 255 - grey])
    path = tmp_path / "colour.png"
    Image.fromarray(rgb).save(path)
    array, notes = read_grayscale(path)
    assert notes == [NOTE_LUMINANCE]
    expected = np.rint(0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2])
    np.testing.assert_array_equal(array, expected.astype(np.uint8))


def test_rgba_drops_alpha(tmp_path, grey):
    path = tmp_path / "crop.tiff"
    Image.fromarray(np.dstack([grey, grey, grey, np.full_like(grey, 255)])).save(path)
    array, notes = read_grayscale(path)
    np.testing.assert_array_equal(array, grey)
    assert notes == [NOTE_ALPHA, NOTE_EQUAL_RGB]


def test_rgba_with_transparency_says_so(tmp_path, grey):
    alpha = np.full_like(grey, 255)
    alpha[0, 0] = 0
    path = tmp_path / "crop.png"
    Image.fromarray(np.dstack([grey, grey, grey, alpha])).save(path)
    _, notes = read_grayscale(path)
    assert NOTE_ALPHA_TRANSPARENT in notes


@pytest.mark.parametrize("name", ["pal.png", "pal.TIF"])
def test_palette_image_is_expanded(tmp_path, grey, name):
    palette_image = Image.fromarray(grey).convert("P", palette=Image.Palette.ADAPTIVE, colors=256)
    path = tmp_path / name
    palette_image.save(path)
    array, notes = read_grayscale(path)
    expected = np.asarray(palette_image.convert("L"))
    np.testing.assert_array_equal(array, expected)
    assert notes[0] == NOTE_PALETTE


def test_palette_tiff_written_by_tifffile(tmp_path, grey):
    colormap = np.tile(np.arange(256, dtype=np.uint16) * 257, (3, 1))
    path = tmp_path / "pal16.tif"
    tifffile.imwrite(path, grey, photometric="palette", colormap=colormap)
    array, notes = read_grayscale(path)
    assert NOTE_PALETTE in notes
    np.testing.assert_array_equal(array, grey)


@pytest.mark.parametrize("writer", ["pillow_png", "tifffile_tif"])
def test_16_bit_is_scaled_min_max(tmp_path, writer):
    deep = np.linspace(1000, 41000, 40 * 60).reshape(40, 60).astype(np.uint16)
    if writer == "pillow_png":
        path = tmp_path / "deep.png"
        write_png(path, deep)
    else:
        path = tmp_path / "deep.TIF"
        tifffile.imwrite(path, deep)
    array, notes = read_grayscale(path)
    assert array.dtype == np.uint8
    assert array.min() == 0 and array.max() == 255
    assert notes == ["16-bit image scaled to 8 bits (1000..41000 -> 0..255)"]


def test_constant_16_bit_image_gives_zeros(tmp_path):
    path = tmp_path / "flat.tif"
    tifffile.imwrite(path, np.full((5, 7), 300, dtype=np.uint16))
    array, _ = read_grayscale(path)
    assert array.shape == (5, 7) and not array.any()


def test_float_tiff_and_multipage_tiff(tmp_path, grey):
    float_path = tmp_path / "float.tif"
    tifffile.imwrite(float_path, grey.astype(np.float32) / 10)
    array, notes = read_grayscale(float_path)
    assert array.dtype == np.uint8 and array.shape == grey.shape
    assert any("scaled to 8 bits" in note for note in notes)

    stack_path = tmp_path / "stack.tif"
    tifffile.imwrite(stack_path, np.stack([grey, 255 - grey]))
    array, notes = read_grayscale(stack_path)
    np.testing.assert_array_equal(array, grey)
    assert any("first of 2" in note for note in notes)


def test_reading_writes_nothing(tmp_path, grey):
    Image.fromarray(np.dstack([grey] * 3)).save(tmp_path / "a.JPG")
    tifffile.imwrite(tmp_path / "b.tif", grey.astype(np.uint16))
    (tmp_path / "c.png").write_bytes(b"garbage")
    before = _tree_state(tmp_path)
    for path in sorted(tmp_path.iterdir()):
        try:
            read_grayscale(path)
        except BadInputError:
            pass
    assert _tree_state(tmp_path) == before


# --- files that must fail clearly -------------------------------------------------------


def test_missing_file(tmp_path):
    _assert_bad(tmp_path / "nope.png", "missing_image")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    err = _assert_bad(path, "empty_file")
    assert "0 bytes" in err.detail


def test_garbage_bytes(tmp_path):
    path = tmp_path / "noise.jpg"
    path.write_bytes(b"this is not an image at all" * 20)
    _assert_bad(path, "unreadable_image")


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif"])
@pytest.mark.parametrize("keep", [0.3, 0.8, 0.97])
def test_truncated_files(tmp_path, grey, suffix, keep):
    whole = tmp_path / f"whole{suffix}"
    Image.fromarray(grey).save(whole)
    data = whole.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: int(len(data) * keep)])
    _assert_bad(cut, "truncated_image")


def test_tiff_strip_offsets_outside_file(tmp_path, grey):
    path = tmp_path / "bad_offsets.tif"
    tifffile.imwrite(path, grey)
    with tifffile.TiffFile(path) as tif:
        tag = tif.pages[0].tags["StripOffsets"]
        value_offset, count, dtype = tag.valueoffset, tag.count, tag.dtype
    assert count == 1  # one strip: the offset sits in the tag itself
    data = bytearray(path.read_bytes())
    fmt = "<I" if int(dtype) == 4 else "<H"
    struct.pack_into(fmt, data, value_offset, len(data) + 1000 if fmt == "<I" else 60000)
    path.write_bytes(bytes(data))
    err = _assert_bad(path, "truncated_image")
    assert "strip" in err.detail


def test_corrupt_png_data(tmp_path, grey):
    path = tmp_path / "corrupt.png"
    Image.fromarray(grey).save(path)
    data = bytearray(path.read_bytes())
    idat = data.index(b"IDAT")
    data[idat + 10 : idat + 40] = b"\xff" * 30
    path.write_bytes(bytes(data))
    with pytest.raises(BadInputError) as info:
        read_grayscale(path)
    assert info.value.problem in ("unreadable_image", "truncated_image")
    assert str(path) in str(info.value)


# --- hashing and writing ----------------------------------------------------------------


def test_sha256_file_matches_hashlib(tmp_path):
    path = tmp_path / "blob.bin"
    data = np.random.default_rng(1).bytes(3 * 1024 * 1024 + 17)
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
    assert sha256_file(path, chunk_size=1000) == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_write_png_round_trips(tmp_path, dtype):
    rng = np.random.default_rng(2)
    array = rng.integers(0, np.iinfo(dtype).max, (33, 21), dtype=dtype, endpoint=True)
    path = tmp_path / "sub" / "out.png"
    write_png(path, array)
    with Image.open(path) as im:
        back = np.asarray(im)
    assert back.dtype == dtype
    np.testing.assert_array_equal(back, array)
    assert [p.name for p in path.parent.iterdir()] == ["out.png"]  # no temp file left


def test_write_png_big_endian_and_overwrite(tmp_path):
    array = np.arange(12, dtype=">u2").reshape(3, 4) * 1000
    path = tmp_path / "be.png"
    path.write_bytes(b"old")
    write_png(path, array)
    with Image.open(path) as im:
        np.testing.assert_array_equal(np.asarray(im), array.astype(np.uint16))


@pytest.mark.parametrize(
    "bad", [np.zeros((2, 2, 3), np.uint8), np.zeros((2, 2), np.float32), np.zeros(4, np.uint8)]
)
def test_write_png_rejects_other_arrays(tmp_path, bad):
    with pytest.raises(ValueError):
        write_png(tmp_path / "x.png", bad)
    assert not list(tmp_path.iterdir())


# --- real files -------------------------------------------------------------------------


def test_real_cil_jpegs_are_grey_rgb(real_data_dir):
    for image_id, shape in [("103064", (581, 524)), ("1050431", (881, 952))]:
        array, notes = read_grayscale(real_data_dir / "cil24_voc" / f"{image_id}.jpg")
        assert array.shape == shape and array.dtype == np.uint8
        assert notes == [NOTE_EQUAL_RGB]


def test_real_gband_crops(real_data_dir):
    crops = real_data_dir / "gband612_crops"
    if not crops.is_dir():
        pytest.skip(f"{crops} not present")
    sample = sorted(crops.glob("*/clase1/*.tif*"))[:10]
    # Cells known to hold RGBA crops among the (otherwise 8-bit grey) files.
    rgba_folder = crops / "97002135.5.tiff" / "clase3"
    sample += sorted(rgba_folder.glob("*.tif*"))
    assert sample
    notes_seen = set()
    for path in sample:
        with Image.open(path) as im:
            mode = im.mode
        array, notes = read_grayscale(path)
        assert array.ndim == 2 and array.dtype == np.uint8 and array.size > 0
        notes_seen.update(notes)
        if mode == "RGBA":
            assert NOTE_ALPHA in notes or NOTE_ALPHA_TRANSPARENT in notes
        if mode == "P":
            assert NOTE_PALETTE in notes
    if rgba_folder.is_dir():
        assert notes_seen & {NOTE_ALPHA, NOTE_ALPHA_TRANSPARENT}
