"""Dataset roots (folders or .zip archives) -> manifest, annotation and bad-input tables.

A "VOC folder" holds Pascal VOC .xml files anywhere below its root. Each XML's image is
looked up by its ``<filename>`` beside the XML, else by that file name anywhere in the tree,
else by stem with any image extension (case-insensitive), which covers the Kaggle layout with
images and annotations in separate folders. Synthetic datasets are VOC folders with optional
extras beside each image ``<id>.png``: ``<id>.mask.png`` (16-bit instance labels),
``<id>.truth.json`` (``{"karyotype": "<ISCN>", ...}``) and ``<id>.karyogram.png``.

Every image is decoded completely so that truncated files are caught here, not halfway
through training. Problems are collected per file: with policy "skip" the file is left out
and listed in ``bad_inputs``; with policy "error" all problems are gathered and raised as
one ``BadInputError``. Input files are only ever read.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import secrets
import shutil
import unicodedata
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from karyoflow.core.atomic import atomic_path
from karyoflow.core.errors import BadInputError
from karyoflow.core.images import IMAGE_EXTENSIONS, LOSSLESS_NOTES, read_grayscale, sha256_file
from karyoflow.core.iscn import iscn_from_labels
from karyoflow.core.labels import UnknownLabelError, canonical
from karyoflow.core.voc import VocAnnotation, parse_voc

logger = logging.getLogger(__name__)

MANIFEST_COLUMNS: tuple[str, ...] = (
    "image_id",
    "image_path",
    "annotation_path",
    "mask_path",
    "truth_path",
    "sha256",
    "width",
    "height",
    "n_objects",
    "karyotype",
    "source",
    "notes",
)
ANNOTATION_COLUMNS: tuple[str, ...] = (
    "image_id",
    "object_index",
    "label_raw",
    "class",
    "xmin",
    "ymin",
    "xmax",
    "ymax",
)
BAD_INPUT_COLUMNS: tuple[str, ...] = ("path", "problem", "detail", "action")

_MANIFEST_INTS = ("width", "height", "n_objects")
_ANNOTATION_FLOATS = ("xmin", "ymin", "xmax", "ymax")

POLICIES: tuple[str, ...] = ("skip", "error")
MAX_LISTED_PROBLEMS = 20
# Annotation tools round box edges outwards: the Cell Image Library set has boxes at -1 or
# one pixel past the right edge (13 of 1,200 images). Within this slack a box is clipped
# to the image and noted; farther out the image is refused as mislabelled.
BOX_SLACK_PX = 2

# Files beside a synthetic image that are not dataset images themselves.
_SIDECAR_SUFFIXES = (".mask.png", ".karyogram.png")
MASK_SUFFIX = ".mask.png"
TRUTH_SUFFIX = ".truth.json"

# Archive junk (macOS resource forks) looks like images/XML by name but is not.
_IGNORED_DIRS = frozenset({"__MACOSX"})

_EXTRACTED_MARKER = ".karyoflow-extracted"


@dataclass
class IngestResult:
    """The three tables of one ingest run (columns: the ``*_COLUMNS`` constants)."""

    manifest: pd.DataFrame
    annotations: pd.DataFrame
    bad_inputs: pd.DataFrame


@dataclass
class _Item:
    """One candidate dataset image and what belongs to it."""

    image: Path
    xml: Path | None = None
    annotation: VocAnnotation | None = None

    @property
    def image_id(self) -> str:
        return self.image.stem


@dataclass
class _Problems:
    """Rows for bad_inputs; "skipped" rows are the ones policy "error" raises on."""

    rows: list[dict[str, str]] = field(default_factory=list)

    def add(self, path: Path | str, problem: str, detail: str, action: str = "skipped") -> None:
        # One line per row keeps the TSV parseable.
        detail = re.sub(r"[\t\r\n]+", " ", detail)
        self.rows.append(
            {"path": str(path), "problem": problem, "detail": detail, "action": action}
        )

    def add_error(self, err: BadInputError) -> None:
        self.add(err.path, err.problem, err.detail)

    @property
    def skipped(self) -> list[dict[str, str]]:
        return [row for row in self.rows if row["action"] == "skipped"]


def ingest_voc(
    roots: Sequence[str | os.PathLike[str]],
    *,
    policy: str = "skip",
    extract_dir: str | os.PathLike[str] | None = None,
    source: str = "voc",
) -> IngestResult:
    """Ingest one or more VOC dataset roots (folders or .zip archives).

    A .zip root is extracted under ``extract_dir`` (required then), into a folder named
    after the archive and its hash, reused on later runs. A root that does not exist raises
    BadInputError "not_found"; a root without any .xml raises "no_annotations" -- both
    whatever the policy. See the module docstring for the per-file checks.
    """
    _check_policy(policy)
    roots = _as_list(roots)
    problems = _Problems()
    items: list[_Item] = []
    for root in roots:
        folder = _open_root(root, extract_dir)
        xml_files = [p for p in _walk_files(folder, problems) if p.suffix.lower() == ".xml"]
        if not xml_files:
            raise BadInputError(
                root,
                "no_annotations",
                "no .xml annotation files found under this dataset folder; a VOC dataset "
                "folder should hold Pascal VOC .xml files (one per image, images beside "
                "them or in a sibling folder). For images without annotations use "
                "ingest_images",
            )
        index = _ImageIndex(folder)
        for xml in xml_files:
            try:
                annotation = parse_voc(xml)
            except BadInputError as err:
                problems.add_error(err)
                continue
            image = index.find(xml, annotation.filename)
            if image is None:
                wanted = _basename(annotation.filename) or xml.stem
                problems.add(
                    xml,
                    "missing_image",
                    f"annotation names image {wanted!r}, which is neither beside the XML nor "
                    f"anywhere under {folder} (also looked for any image with stem "
                    f"{Path(wanted).stem!r})",
                )
                continue
            items.append(_Item(image=image, xml=xml, annotation=annotation))
        unannotated = index.count_unused({item.image for item in items})
        if unannotated:
            logger.warning(
                "%s: %d image file(s) have no annotation and are not part of the dataset",
                folder,
                unannotated,
            )
    return _build(items, problems, policy=policy, roots=roots, source=source)


def ingest_images(
    roots: Sequence[str | os.PathLike[str]],
    *,
    policy: str = "skip",
    extract_dir: str | os.PathLike[str] | None = None,
    source: str = "images",
) -> IngestResult:
    """Ingest folders (or .zip archives) of images without annotations.

    Same manifest as ``ingest_voc`` with ``annotation_path`` empty, ``n_objects`` 0 and
    ``karyotype`` empty (``mask_path``/``truth_path`` are filled where such files sit
    beside an image). ``*.mask.png`` and ``*.karyogram.png`` are not images to predict on.
    """
    _check_policy(policy)
    roots = _as_list(roots)
    problems = _Problems()
    items: list[_Item] = []
    for root in roots:
        folder = _open_root(root, extract_dir)
        images = [p for p in _walk_files(folder, problems) if _is_dataset_image(p)]
        if not images:
            raise BadInputError(
                root,
                "no_images",
                "no image files found under this folder (looked for "
                f"{', '.join(sorted(IMAGE_EXTENSIONS))}, any letter case)",
            )
        items.extend(_Item(image=p) for p in images)
    return _build(items, problems, policy=policy, roots=roots, source=source)


def write_ingest(
    result: IngestResult,
    manifest_csv: str | os.PathLike[str],
    annotations_parquet: str | os.PathLike[str],
    bad_inputs_tsv: str | os.PathLike[str],
) -> None:
    """Write the three tables, each atomically; the TSV has its header even when empty."""
    with atomic_path(manifest_csv) as tmp:
        result.manifest.to_csv(tmp, index=False)
    with atomic_path(annotations_parquet) as tmp:
        result.annotations.to_parquet(tmp, index=False)
    with atomic_path(bad_inputs_tsv) as tmp:
        result.bad_inputs.to_csv(tmp, sep="\t", index=False)


def read_manifest(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a manifest CSV back with the types ``ingest_*`` produced.

    Plain ``pd.read_csv`` would turn ids such as "0012" into the number 12 and empty paths
    into NaN.
    """
    dtypes = {column: str for column in MANIFEST_COLUMNS if column not in _MANIFEST_INTS}
    frame = pd.read_csv(path, dtype=dtypes, keep_default_na=False)
    return frame.astype({column: "int64" for column in _MANIFEST_INTS})


# --- roots -----------------------------------------------------------------------------


def _check_policy(policy: str) -> None:
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")


def _as_list(roots: Sequence[str | os.PathLike[str]] | str | os.PathLike[str]) -> list:
    # A single path is an easy mistake; iterating a str would ingest its characters.
    if isinstance(roots, (str, os.PathLike)):
        return [roots]
    roots = list(roots)
    if not roots:
        raise ValueError("no dataset roots given")
    return roots


def _open_root(root: str | os.PathLike[str], extract_dir: str | os.PathLike[str] | None) -> Path:
    """The folder to read for one configured root, extracting a .zip first."""
    path = Path(os.path.abspath(root))
    if not path.exists():
        raise BadInputError(
            root,
            "not_found",
            f"configured dataset path does not exist (looked for {path}); check the "
            "dataset path in the config",
        )
    if path.is_dir():
        return path
    if path.suffix.lower() == ".zip":
        return _extract_zip(path, extract_dir)
    raise BadInputError(
        root,
        "unsupported_root",
        "dataset path is a file but not a .zip archive; give a folder (or a .zip of one) "
        "holding the images and their annotations",
    )


def _extract_zip(archive: Path, extract_dir: str | os.PathLike[str] | None) -> Path:
    """Extract ``archive`` under ``extract_dir`` once; later calls reuse the extraction.

    The folder name carries the archive's hash, so a changed archive is extracted afresh.
    Extraction goes to a temporary folder renamed into place at the end, so a folder with
    the final name is always complete.
    """
    if extract_dir is None:
        raise ValueError(f"{archive}: a .zip dataset needs extract_dir, a folder to unpack it in")
    digest = sha256_file(archive)
    target = Path(os.path.abspath(extract_dir)) / f"{archive.stem}-{digest[:12]}"
    if target.is_dir():
        logger.info("%s: using earlier extraction %s", archive, target)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        with zipfile.ZipFile(archive) as zf:
            # ZipFile.extractall drops absolute paths and ".." parts, so members stay inside.
            zf.extractall(tmp)
        (tmp / _EXTRACTED_MARKER).write_text(digest + "\n")
        try:
            tmp.rename(target)
        except OSError:
            if not target.is_dir():  # not merely another process finishing first
                raise
    except zipfile.BadZipFile as err:
        raise BadInputError(
            archive, "unreadable_archive", f"not a valid .zip archive ({err})"
        ) from err
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    logger.info("%s: extracted to %s", archive, target)
    return target


def _walk_files(folder: Path, problems: _Problems | None = None) -> list[Path]:
    """All regular files under ``folder``, sorted, without hidden files and archive junk.

    Paths that are not valid UTF-8 (e.g. Latin-1 names copied from an old system) are left
    out: they cannot be written to the UTF-8 tables, and one of them would stop the whole
    run there. Those that look like dataset files (images, XML) go to ``problems``.
    """
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and d not in _IGNORED_DIRS
        )
        for name in filenames:
            if name.startswith("."):
                continue
            path = Path(dirpath) / name
            if _is_utf8(str(path)):
                found.append(path)
            elif problems is not None and path.suffix.lower() in IMAGE_EXTENSIONS | {".xml"}:
                problems.add(
                    os.fsencode(path).decode("utf-8", "backslashreplace"),
                    "bad_file_name",
                    "file name is not valid UTF-8 (undecodable bytes shown as \\xNN); "
                    "rename the file (or its folder) to UTF-8, e.g. with convmv",
                )
    return sorted(found)


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _name_key(name: str) -> str:
    """A file name for comparing: letter case ignored, and accented letters compared in one
    Unicode form (macOS writes "é" as e + combining accent, most other systems as one
    character, so an XML's <filename> and the file on disk may differ only in that)."""
    return unicodedata.normalize("NFC", name).casefold()


def _is_dataset_image(path: Path) -> bool:
    name = path.name.lower()
    return path.suffix.lower() in IMAGE_EXTENSIONS and not name.endswith(_SIDECAR_SUFFIXES)


def _basename(filename: str) -> str:
    # <filename> sometimes holds a Windows path (as <path> does in the real files).
    return re.split(r"[\\/]", filename.strip())[-1]


class _ImageIndex:
    """Dataset images under one root, findable by name or stem regardless of letter case."""

    def __init__(self, folder: Path) -> None:
        self.images = [p for p in _walk_files(folder) if _is_dataset_image(p)]
        self.by_name: dict[str, list[Path]] = defaultdict(list)
        self.by_stem: dict[str, list[Path]] = defaultdict(list)
        for image in self.images:
            self.by_name[_name_key(image.name)].append(image)
            self.by_stem[_name_key(image.stem)].append(image)

    def find(self, xml: Path, filename: str) -> Path | None:
        """The image an XML belongs to, nearest to the XML when several match."""
        name = _basename(filename)
        if name:
            beside = xml.parent / name
            if beside.is_file() and _is_dataset_image(beside):
                return beside
            if self.by_name[_name_key(name)]:
                return _nearest(xml, self.by_name[_name_key(name)])
        for stem in dict.fromkeys([Path(name).stem, xml.stem]):
            if stem and self.by_stem[_name_key(stem)]:
                return _nearest(xml, self.by_stem[_name_key(stem)])
        return None

    def count_unused(self, used: set[Path]) -> int:
        return sum(1 for image in self.images if image not in used)


def _nearest(xml: Path, candidates: list[Path]) -> Path:
    def shared_parts(p: Path) -> int:
        return len(os.path.commonpath([xml.parent, p.parent]).split(os.sep))

    return min(candidates, key=lambda p: (-shared_parts(p), str(p)))


# --- per-image checks ------------------------------------------------------------------


def _build(
    items: list[_Item], problems: _Problems, *, policy: str, roots: list, source: str
) -> IngestResult:
    items = _drop_duplicate_ids(items, problems)
    manifest_rows: list[dict] = []
    annotation_rows: list[dict] = []
    total = len(items)
    step = max(1, math.ceil(total / 10))
    for i, item in enumerate(items, start=1):
        _ingest_one(item, problems, source, manifest_rows, annotation_rows)
        if i % step == 0 or i == total:
            logger.info("ingested %d/%d images", i, total)

    if policy == "error" and problems.skipped:
        _raise_all(problems.skipped, roots)
    if problems.skipped:
        logger.warning("%d bad input(s) left out; see bad_inputs", len(problems.skipped))

    manifest = _frame(manifest_rows, MANIFEST_COLUMNS)
    manifest = manifest.astype({c: "int64" for c in _MANIFEST_INTS})
    manifest = manifest.sort_values("image_id", kind="stable").reset_index(drop=True)
    annotations = _frame(annotation_rows, ANNOTATION_COLUMNS)
    annotations = annotations.astype(
        {"object_index": "int64"} | dict.fromkeys(_ANNOTATION_FLOATS, "float64")
    )
    annotations = annotations.sort_values(["image_id", "object_index"], kind="stable")
    bad_inputs = _frame(problems.rows, BAD_INPUT_COLUMNS)
    bad_inputs = bad_inputs.sort_values(["path", "problem"], kind="stable")
    return IngestResult(
        manifest=manifest,
        annotations=annotations.reset_index(drop=True),
        bad_inputs=bad_inputs.reset_index(drop=True),
    )


def _frame(rows: list[dict], columns: Iterable[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(columns))


def _drop_duplicate_ids(items: list[_Item], problems: _Problems) -> list[_Item]:
    """Leave out every item whose image id (file stem) is not unique.

    Ids name output files, so two images with one stem cannot both be kept, and picking
    one would be arbitrary. Letter case is ignored because outputs may land on a
    case-insensitive file system (and accented letters in either Unicode form).
    """
    groups: dict[str, list[_Item]] = defaultdict(list)
    for item in items:
        groups[_name_key(item.image_id)].append(item)
    kept = []
    for group in groups.values():
        if len(group) == 1:
            kept.append(group[0])
            continue
        images = sorted({str(item.image) for item in group})
        if len(images) == 1:
            xmls = ", ".join(sorted(str(item.xml) for item in group))
            problems.add(
                images[0],
                "duplicate_id",
                f"image is claimed by {len(group)} annotation files: {xmls}",
            )
            continue
        for image in images:
            problems.add(
                image,
                "duplicate_id",
                f"image id {group[0].image_id!r} (the file stem) is shared by "
                f"{len(images)} files: {', '.join(images)}; rename one so ids are unique",
            )
    return sorted(kept, key=lambda item: item.image_id)


def _ingest_one(
    item: _Item,
    problems: _Problems,
    source: str,
    manifest_rows: list[dict],
    annotation_rows: list[dict],
) -> None:
    """Check one image (and its annotation); append its rows, or its problems."""
    found = _Problems()
    converted = _Problems()
    array = None
    image_notes: list[str] = []
    try:
        array, image_notes = read_grayscale(item.image)
    except BadInputError as err:
        found.add_error(err)
    notes = list(image_notes)

    height, width = array.shape if array is not None else (None, None)
    ann = item.annotation
    if ann is not None and width is not None and (ann.width, ann.height) != (width, height):
        note = (
            f"XML size {ann.width}x{ann.height} differs from the image's {width}x{height}; "
            "the image's size is used"
        )
        notes.append(note)
        converted.add(item.xml, "size_mismatch", note, action="converted")

    classes = _check_objects(item, width, height, found, converted)

    truth_path = item.image.with_name(item.image_id + TRUTH_SUFFIX)
    truth_karyotype = _read_truth(truth_path, found) if truth_path.is_file() else None
    mask_path = item.image.with_name(item.image_id + MASK_SUFFIX)
    if mask_path.is_file() and width is not None:
        _check_mask(mask_path, width, height, found)

    if found.rows:
        problems.rows.extend(found.rows)
        return
    lossy = [note for note in image_notes if note not in LOSSLESS_NOTES]
    if lossy:
        converted.add(item.image, "converted_image", "; ".join(lossy), action="converted")
    problems.rows.extend(converted.rows)

    if ann is None:
        karyotype = ""
    elif truth_karyotype is not None:
        karyotype = truth_karyotype
    else:
        karyotype = iscn_from_labels(classes)
    manifest_rows.append(
        {
            "image_id": item.image_id,
            "image_path": str(item.image),
            "annotation_path": str(item.xml) if item.xml else "",
            "mask_path": str(mask_path) if mask_path.is_file() else "",
            "truth_path": str(truth_path) if truth_path.is_file() else "",
            "sha256": sha256_file(item.image),
            "width": width,
            "height": height,
            "n_objects": len(classes),
            "karyotype": karyotype,
            "source": source,
            "notes": "; ".join(notes),
        }
    )
    for index, (obj, cls) in enumerate(zip(ann.objects if ann else [], classes, strict=True)):
        annotation_rows.append(
            {
                "image_id": item.image_id,
                "object_index": index,
                "label_raw": obj.name,
                "class": cls,
                "xmin": obj.xmin,
                "ymin": obj.ymin,
                "xmax": obj.xmax,
                "ymax": obj.ymax,
            }
        )


def _check_objects(
    item: _Item, width: int | None, height: int | None, found: _Problems, converted: _Problems
) -> list[str]:
    """Canonical class per object; labels and boxes that fail go to ``found``; boxes that
    reach at most BOX_SLACK_PX outside the image are clipped and noted in ``converted``.

    One bad object rejects the whole image: dropping just that object would leave a
    chromosome unlabelled (background to a detector) and change the karyotype.
    """
    ann = item.annotation
    if ann is None:
        return []
    if not ann.objects:
        found.add(item.xml, "empty_annotation", "annotation has no <object> elements")
        return []
    classes = []
    for i, obj in enumerate(ann.objects):
        try:
            classes.append(canonical(obj.name))
        except UnknownLabelError as err:
            found.add(item.xml, "unknown_label", f"object {i}: {err}")
        box = f"(xmin, ymin, xmax, ymax) = ({obj.xmin:g}, {obj.ymin:g}, {obj.xmax:g}, {obj.ymax:g})"
        if obj.xmax <= obj.xmin or obj.ymax <= obj.ymin:
            found.add(
                item.xml,
                "degenerate_box",
                f"object {i} ({obj.name}): box {box} has no area "
                "(needs xmax > xmin and ymax > ymin)",
            )
        elif width is not None and (
            obj.xmin < 0 or obj.ymin < 0 or obj.xmax > width or obj.ymax > height
        ):
            reach = max(-obj.xmin, -obj.ymin, obj.xmax - width, obj.ymax - height)
            if reach <= BOX_SLACK_PX:
                obj.xmin, obj.ymin = max(obj.xmin, 0), max(obj.ymin, 0)
                obj.xmax, obj.ymax = min(obj.xmax, width), min(obj.ymax, height)
                converted.add(
                    item.xml,
                    "box_clipped",
                    f"object {i} ({obj.name}): box {box} reaches {reach:g} px outside the "
                    f"{width}x{height} image; clipped to it",
                    action="converted",
                )
            else:
                found.add(
                    item.xml,
                    "box_outside_image",
                    f"object {i} ({obj.name}): box {box} reaches outside the "
                    f"{width}x{height} image {item.image.name}",
                )
    return classes


def _read_truth(path: Path, found: _Problems) -> str | None:
    """The "karyotype" of a synthetic image's truth JSON."""
    try:
        truth = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        found.add(path, "malformed_truth", f"truth file is not valid JSON ({err})")
        return None
    karyotype = truth.get("karyotype") if isinstance(truth, dict) else None
    if not isinstance(karyotype, str) or not karyotype.strip():
        found.add(path, "malformed_truth", 'truth JSON has no "karyotype" string')
        return None
    return karyotype.strip()


def _check_mask(path: Path, width: int, height: int, found: _Problems) -> None:
    """A synthetic instance mask must decode and match its image's size."""
    try:
        with Image.open(path) as mask:
            shape = (mask.height, mask.width)
            if shape == (height, width):  # decode only a mask of the right size
                mask.load()
                shape = np.asarray(mask).shape
    except (
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as err:
        found.add(path, "bad_mask", f"instance mask cannot be read ({err})")
        return
    if shape != (height, width):
        found.add(
            path,
            "bad_mask",
            f"instance mask has shape {shape}, its image is {height}x{width} (height x width)",
        )


def _raise_all(rows: list[dict[str, str]], roots: list) -> None:
    """Policy "error": one exception listing every problem (the first MAX_LISTED_PROBLEMS)."""
    lines = [f"[{row['problem']}] {row['path']}: {row['detail']}" for row in rows]
    if len(lines) > MAX_LISTED_PROBLEMS:
        lines = lines[:MAX_LISTED_PROBLEMS] + [f"... and {len(rows) - MAX_LISTED_PROBLEMS} more"]
    kinds = sorted({row["problem"] for row in rows})
    detail = (
        f"{len(rows)} bad input(s) found (policy 'error'; policy 'skip' leaves them out "
        "and lists them in bad_inputs):\n  " + "\n  ".join(lines)
    )
    raise BadInputError(
        ", ".join(str(root) for root in roots),
        kinds[0] if len(kinds) == 1 else "multiple_problems",
        detail,
    )
