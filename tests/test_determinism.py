"""The data stage is bit-identical for the same seed: synthesis, ingestion and splitting.

Every output file of these stages is compared byte for byte (sha256 by relative path), the
same way a rerun of the workflow would be compared.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from file_trees import file_digests
from karyoflow.data.run import ingest, split, synthesize
from karyoflow.data.synth import image_id_for

# Small images keep this file fast; the rest is the shipped generator configuration.
SETTINGS = {
    "width": 256,
    "height": 256,
    "chr1_length_px": 40,
    "width_px": 7.0,
    "overlap_rate": 0.2,
    "touching_rate": 0.2,
    "karyograms": True,
}
SEED = 11
SUFFIXES = (".png", ".xml", ".mask.png", ".truth.json", ".karyogram.png")


def per_image(folders: list[Path]) -> dict[str, str]:
    """sha256 of every file in the shard ``folders``, by file name (shard folder dropped)."""
    merged: dict[str, str] = {}
    for folder in folders:
        for name, digest in file_digests(folder).items():
            assert name not in merged, f"{name} written by two shards"
            merged[name] = digest
    return merged


def make_shards(root: Path, layout: list[list[int]], seed: int = SEED) -> list[Path]:
    """Generate the shards of ``layout`` as the synthesize_shard rule does."""
    folders = []
    for n, indices in enumerate(layout):
        folder = root / f"shard_{n:03d}"
        synthesize(str(folder), indices, seed, SETTINGS)
        folders.append(folder)
    return folders


@pytest.fixture(scope="module")
def one_shard(tmp_path_factory) -> Path:
    """Images 0-5 with seed SEED, one shard."""
    return make_shards(tmp_path_factory.mktemp("one"), [list(range(6))])[0]


def test_same_seed_same_bytes(one_shard, tmp_path):
    again = make_shards(tmp_path, [list(range(6))])[0]
    first, second = file_digests(one_shard), file_digests(again)
    expected = {image_id_for(i) + suffix for i in range(6) for suffix in SUFFIXES}
    assert set(first) == expected  # every kind of file is there, and nothing else
    assert first == second


def test_shard_layout_does_not_change_images(one_shard, tmp_path):
    """Image i depends only on (seed, i): not on its shard, its shard's name or its
    neighbours in the shard."""
    split_layout = make_shards(tmp_path / "two", [[0, 1, 2], [3, 4, 5]])
    reversed_layout = make_shards(tmp_path / "three", [[5, 3], [1], [4, 2, 0]])
    whole = file_digests(one_shard)
    assert per_image(split_layout) == whole
    assert per_image(reversed_layout) == whole


def test_other_seed_other_images(one_shard, tmp_path):
    other = file_digests(make_shards(tmp_path, [list(range(6))], seed=SEED + 1)[0])
    same = file_digests(one_shard)
    assert set(other) == set(same)
    for i in range(6):
        for suffix in (".png", ".mask.png", ".truth.json"):
            name = image_id_for(i) + suffix
            assert other[name] != same[name], name


def ingest_and_split(roots: list[Path], out: Path) -> dict[str, str]:
    """The ingest and split rules over ``roots``; the digests of their four outputs."""
    tables = {
        "manifest": out / "manifest.csv",
        "annotations": out / "annotations.parquet",
        "bad_inputs": out / "bad_inputs.tsv",
    }
    ingest(
        [str(r) for r in roots],
        source="synthetic",
        policy="skip",
        extract_dir=str(out / "extracted"),
        **{k: str(v) for k, v in tables.items()},
    )
    split(
        str(tables["manifest"]),
        str(out / "splits.csv"),
        seed=3,
        test_fraction=0.25,
        val_fraction=0.2,
    )
    return file_digests(out)


def test_ingest_and_split_same_bytes(one_shard, tmp_path):
    # A second root with a bad input, so that bad_inputs.tsv has rows to order.
    extra = tmp_path / "data" / "extra"
    extra.mkdir(parents=True)
    shutil.copy(one_shard / "synth_000000.xml", extra / "orphan.xml")  # its image is elsewhere
    (extra / "broken.xml").write_text("<annotation><size>")
    roots = [one_shard, extra]
    first = ingest_and_split(roots, tmp_path / "run1")
    second = ingest_and_split(roots, tmp_path / "run2")
    assert set(first) == {"manifest.csv", "annotations.parquet", "bad_inputs.tsv", "splits.csv"}
    assert first == second
    bad = (tmp_path / "run1" / "bad_inputs.tsv").read_text().splitlines()
    assert len(bad) == 3  # header, broken.xml, orphan.xml
    splits = (tmp_path / "run1" / "splits.csv").read_text().splitlines()
    assert len(splits) == 7 and {line.split(",")[1] for line in splits[1:]} == {
        "train",
        "val",
        "test",
    }


def test_other_process_same_bytes(one_shard, tmp_path):
    """A fresh interpreter with another str hash seed (set and dict-of-str orders) and
    single-threaded OpenCV writes the same shard and the same tables."""
    here = Path(__file__).resolve().parent
    code = (
        "import sys, cv2; from pathlib import Path; cv2.setNumThreads(1);"
        f"sys.path[:0] = [{str(here)!r}, {str(here.parent / 'workflow' / 'scripts')!r}];"
        "from test_determinism import make_shards, ingest_and_split;"
        f"make_shards(Path({str(tmp_path / 'synth')!r}), [[4, 0, 2], [1, 5, 3]]);"
        f"ingest_and_split([Path({str(one_shard)!r})], Path({str(tmp_path / 'sub')!r}))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)
    shards = sorted((tmp_path / "synth").iterdir())
    assert per_image(shards) == file_digests(one_shard)
    assert file_digests(tmp_path / "sub") == ingest_and_split([one_shard], tmp_path / "here")
