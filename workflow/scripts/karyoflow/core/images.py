"""Reading any microscope image as 8-bit grey, hashing files, writing PNGs atomically.

Real chromosome data arrive as RGB JPEGs whose three channels are equal, 8-bit palette or
RGBA TIFFs, 16-bit TIFFs, with upper-case extensions. ``read_grayscale`` turns all of them
into one 2-D uint8 array and says what it converted, and turns every unreadable file into a
``BadInputError`` that names the file.
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
import sys
import warnings
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image, ImageFile, UnidentifiedImageError

from karyoflow.core.atomic import atomic_path
from karyoflow.core.errors import BadInputError

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp"}
)

NOTE_EQUAL_RGB = "RGB with equal channels read as grey"
NOTE_LUMINANCE = "RGB converted to grey by luminance (channels differ)"
NOTE_PALETTE = "palette image expanded"
NOTE_ALPHA = "alpha channel dropped"
NOTE_ALPHA_TRANSPARENT = "alpha channel dropped (some pixels were transparent)"
NOTE_BILEVEL = "1-bit image expanded to 0/255"

# Notes for conversions that lose nothing: the grey values are exactly what the file holds.
# Callers (ingest) report the other notes as conversions worth a look.
LOSSLESS_NOTES: frozenset[str] = frozenset({NOTE_EQUAL_RGB, NOTE_PALETTE, NOTE_ALPHA, NOTE_BILEVEL})

# Pillow's own decompression-bomb guard (about 89 Mpx warns, twice that fails). Metaphase
# images are a few Mpx, so refuse anything past the warning level instead of decoding it.
# The check is karyoflow's own: it holds whatever another library sets
# Image.MAX_IMAGE_PIXELS to, and for TIFFs that only tifffile can decode.
MAX_PIXELS = 89_478_485

# Deep and colour images are converted this many pixels at a time, so that converting an
# image needs little more memory than its 8-bit result (an 8000x8000 16-bit image needed
# 1.6 GB as whole-image float64 temporaries).
_CHUNK_PIXELS = 1 << 20

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")

# Colour spaces numpy cannot read as grey/RGB directly; Pillow converts them to RGB first.
_OTHER_COLOUR_MODES = frozenset({"CMYK", "YCbCr", "LAB", "HSV"})


def _pillow_open():
    """Pillow's own Image.open.

    Importing ultralytics replaces Image.open with a wrapper that, on a file Pillow cannot
    identify, tries to install and import pi-heif: an unreadable image would then raise
    ModuleNotFoundError (or reach for the network) instead of a clear bad-input message.
    """
    patches = sys.modules.get("ultralytics.utils.patches")
    original = getattr(patches, "_image_open", None)
    if original is not None and getattr(Image.open, "__module__", "") != "PIL.Image":
        return original
    return Image.open


def read_grayscale(path: str | os.PathLike[str]) -> tuple[np.ndarray, list[str]]:
    """Read an image file completely into a 2-D uint8 array.

    Returns the array and a list of notes about conversions made (see the ``NOTE_*``
    constants; 16-bit and other deep images give "16-bit image scaled to 8 bits (lo..hi ->
    0..255)"). Multi-page files give their first page and a note.

    Raises BadInputError with problem "missing_image" (no such file), "empty_file"
    (0 bytes), "truncated_image" (data ends early, or TIFF strips point past the end of
    the file), "image_too_large" (more than MAX_PIXELS pixels; refused from the header,
    before decoding) or "unreadable_image" (anything else). Never writes anything.
    """
    path = Path(path)
    if not path.is_file():
        raise BadInputError(path, "missing_image", "image file does not exist")
    size = path.stat().st_size
    if size == 0:
        raise BadInputError(path, "empty_file", "image file is empty (0 bytes)")
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as err:  # e.g. no read permission
        raise BadInputError(
            path, "unreadable_image", f"cannot open the file ({err.strerror or err})"
        ) from err
    is_tiff = magic in _TIFF_MAGIC
    if is_tiff:
        _check_tiff_header(path, size)

    notes: list[str] = []
    try:
        array = _read_with_pillow(path, notes)
    except BadInputError as pil_error:
        if not is_tiff or pil_error.problem in ("truncated_image", "image_too_large"):
            raise
        # Pillow lacks some TIFF codecs and sample formats (float, 12-bit, planar RGB)
        # that tifffile decodes.
        notes = []
        try:
            array = _read_with_tifffile(path, notes)
        except Exception as tiff_error:
            raise BadInputError(
                path,
                "unreadable_image",
                f"cannot decode TIFF ({pil_error.detail}; tifffile: {tiff_error})",
            ) from tiff_error
    return _to_grey_uint8(array, notes, path), notes


def _read_with_pillow(path: Path, notes: list[str]) -> np.ndarray:
    """Decode with Pillow; the full decode happens here so truncation shows up."""
    # The flag is process-wide; another library setting it would hide truncated files.
    saved_flag = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with _pillow_open()(path) as im:
                _check_pixels(path, im.width, im.height)
                n_frames = getattr(im, "n_frames", 1)
                if n_frames > 1:
                    notes.append(f"first of {n_frames} frames used")
                im.load()
                return _pillow_to_array(im, notes)
    except BadInputError:
        raise
    except (UnidentifiedImageError, ImportError) as err:
        raise BadInputError(
            path, "unreadable_image", "not a recognised image format (PNG, JPEG, TIFF, ...)"
        ) from err
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        # Pillow's own check, run inside Image.open before karyoflow sees the size.
        pixels = re.search(r"\((\d+) pixels\)", str(err))
        size = f"{int(pixels[1]) / 1e6:.0f} Mpx" if pixels else str(err)
        raise BadInputError(
            path,
            "image_too_large",
            f"image is {size}, more than the {MAX_PIXELS} pixels karyoflow accepts; "
            "downscale or tile it",
        ) from err
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error) as err:
        message = str(err) or type(err).__name__
        if isinstance(err, EOFError) or "truncated" in message or "end of file" in message:
            raise BadInputError(
                path, "truncated_image", f"image data end early ({message})"
            ) from err
        raise BadInputError(path, "unreadable_image", f"cannot decode image ({message})") from err
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = saved_flag


def _check_pixels(path: Path, width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise BadInputError(
            path,
            "image_too_large",
            f"image is {width}x{height} pixels ({width * height / 1e6:.0f} Mpx), more than "
            f"the {MAX_PIXELS} pixels karyoflow accepts; downscale or tile it",
        )


def _pillow_to_array(im: Image.Image, notes: list[str]) -> np.ndarray:
    """A numpy array from a loaded Pillow image, expanding palette and odd colour modes."""
    if im.mode == "1":
        notes.append(NOTE_BILEVEL)
        im = im.convert("L")
    elif im.mode in ("P", "PA"):
        notes.append(NOTE_PALETTE)
        has_alpha = im.mode == "PA" or "transparency" in im.info
        im = im.convert("RGBA" if has_alpha else "RGB")
    elif im.mode in _OTHER_COLOUR_MODES:
        notes.append(f"{im.mode} converted to RGB")
        im = im.convert("RGB")
    return np.asarray(im)


def _read_with_tifffile(path: Path, notes: list[str]) -> np.ndarray:
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        page = tif.pages[0]
        array = page.asarray()
        if page.photometric == tifffile.PHOTOMETRIC.PALETTE and page.colormap is not None:
            notes.append(NOTE_PALETTE)
            # TIFF colormaps are 16-bit, shape (3, 2**bits).
            colormap = np.asarray(page.colormap)
            array = np.moveaxis(colormap[:, array], 0, -1)
        if len(tif.pages) > 1 and len(series.shape) > array.ndim:
            notes.append(f"first of {len(tif.pages)} frames used")
    if array.ndim == 3 and array.shape[0] in (3, 4) and array.shape[-1] not in (3, 4):
        array = np.moveaxis(array, 0, -1)  # planar (separate) samples
    return array


def _check_tiff_header(path: Path, size: int) -> None:
    """Fail clearly, before decoding, on a TIFF too large to accept or whose strips or
    tiles lie (partly) beyond the end of the file.

    Decoders report cut-off strips inconsistently (some fill the gap with zeros), and the
    tifffile fallback has no size guard of its own, so both are checked from the header.
    """
    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            width, height = int(page.imagewidth), int(page.imagelength)
            offsets, counts = page.dataoffsets, page.databytecounts
    except Exception as err:
        raise BadInputError(
            path, "unreadable_image", f"TIFF header cannot be read ({err})"
        ) from err
    _check_pixels(path, width, height)
    for i, (offset, count) in enumerate(zip(offsets, counts, strict=False)):
        if offset + count > size:
            raise BadInputError(
                path,
                "truncated_image",
                f"TIFF strip/tile {i} spans bytes {offset}..{offset + count}, "
                f"but the file has only {size} bytes (truncated or corrupt)",
            )


def _to_grey_uint8(array: np.ndarray, notes: list[str], path: Path) -> np.ndarray:
    """Reduce any decoded array (grey, grey+alpha, RGB, RGBA; any depth) to 2-D uint8."""
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 3 and array.shape[-1] in (2, 4):
        alpha = array[..., -1]
        opaque = np.iinfo(alpha.dtype).max if alpha.dtype.kind in "ui" else 1.0
        notes.append(NOTE_ALPHA if np.all(alpha == opaque) else NOTE_ALPHA_TRANSPARENT)
        array = array[..., :-1]
        if array.shape[-1] == 1:
            array = array[..., 0]
    if array.ndim == 3 and array.shape[-1] == 3:
        r, g, b = array[..., 0], array[..., 1], array[..., 2]
        if np.array_equal(r, g) and np.array_equal(r, b):
            notes.append(NOTE_EQUAL_RGB)
            array = r
        else:
            notes.append(NOTE_LUMINANCE)
            array = _luminance(array)
    if array.ndim != 2 or array.size == 0:
        raise BadInputError(
            path, "unreadable_image", f"unsupported image layout (array shape {array.shape})"
        )
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    if array.dtype == bool:
        notes.append(NOTE_BILEVEL)
        return array.astype(np.uint8) * 255
    return _scale_to_uint8(array, notes)


def _row_chunks(array: np.ndarray):
    """Slices of whole rows, about _CHUNK_PIXELS pixels each."""
    rows = max(1, _CHUNK_PIXELS // max(1, int(np.prod(array.shape[1:2]))))
    for start in range(0, array.shape[0], rows):
        yield slice(start, start + rows)


def _luminance(array: np.ndarray) -> np.ndarray:
    """Grey from RGB by ITU-R BT.601 weights, as Pillow's convert("L"); a few rows at a time."""
    integer = array.dtype.kind in "ui"
    grey = np.empty(array.shape[:2], dtype=array.dtype if integer else np.float64)
    for rows in _row_chunks(array):
        block = array[rows]
        value = (
            0.299 * block[..., 0].astype(np.float64) + 0.587 * block[..., 1] + 0.114 * block[..., 2]
        )
        grey[rows] = np.rint(value) if integer else value
    return grey


def _scale_to_uint8(array: np.ndarray, notes: list[str]) -> np.ndarray:
    """Stretch a deeper image's used range (min..max) onto 0..255.

    Integer images go through a lookup table, others a few rows at a time: never a float64
    copy of the whole image.
    """
    if array.dtype.kind == "f":
        finite = np.isfinite(array)
        if not finite.all():
            notes.append("non-finite pixel values set to the minimum")
            array = np.where(finite, array, np.min(array[finite]) if finite.any() else 0.0)
        del finite
    lo, hi = array.min(), array.max()
    depth = f"{array.dtype.itemsize * 8}-bit" if array.dtype.kind in "ui" else str(array.dtype)
    notes.append(f"{depth} image scaled to 8 bits ({float(lo):g}..{float(hi):g} -> 0..255)")
    out = np.zeros(array.shape, dtype=np.uint8)
    if hi == lo:
        return out
    factor = 255.0 / (float(hi) - float(lo))
    lookup = None
    if array.dtype.kind in "ui" and array.dtype.itemsize <= 4 and int(hi) - int(lo) < (1 << 20):
        lookup = np.rint(np.arange(int(hi) - int(lo) + 1, dtype=np.float64) * factor)
        lookup = lookup.astype(np.uint8)
    for rows in _row_chunks(array):
        block = array[rows]
        if lookup is not None:
            out[rows] = lookup[block.astype(np.int64) - int(lo)]
        else:
            out[rows] = np.rint((block.astype(np.float64) - float(lo)) * factor)
    return out


def sha256_file(path: str | os.PathLike[str], chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks so large files need little memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def write_png(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """Write a 2-D uint8 or uint16 array as a lossless greyscale PNG, atomically."""
    array = np.asarray(array)
    if array.ndim != 2:
        raise ValueError(f"write_png needs a 2-D array, got shape {array.shape}")
    if array.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"write_png needs uint8 or uint16, got {array.dtype}")
    # Pillow's "I;16" is little-endian; a big-endian array would come out byte-swapped.
    array = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    mode = "L" if array.dtype == np.uint8 else "I;16"
    image = Image.frombytes(mode, (array.shape[1], array.shape[0]), array.tobytes())
    with atomic_path(path) as tmp:
        # zlib level 1: lossless all the same, several times faster than the default 6,
        # files ~20% larger; writing dominated synthetic generation time before.
        image.save(tmp, format="PNG", compress_level=1)
