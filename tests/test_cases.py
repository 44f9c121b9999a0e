"""Cases: the sample sheet (every error, reported at once) and the case karyotype from
per-cell calls by ISCN's clone rules."""

from __future__ import annotations

import pickle

import pytest
from karyoflow.cases.iscn import case_karyotype, case_lines, clone_size, nonclonal_cells
from karyoflow.cases.samples import SampleSheetError, cases_from_images, read_sample_sheet
from karyoflow.core.errors import BadInputError
from karyoflow.core.iscn import counts_from_iscn

# --- case karyotype ----------------------------------------------------------------------


def test_all_normal_cells_of_one_sex():
    assert case_karyotype(["46,XY"] * 5) == "46,XY[5]"


def test_constitutional_abnormality_in_every_cell():
    assert case_karyotype(["47,XX,+21"] * 4) == "47,XX,+21[4]"
    assert case_karyotype(["47,XXY"] * 3) == "47,XXY[3]"


def test_mosaic_writes_abnormal_line_first_and_normal_last():
    cells = ["46,XX", "45,X", "46,XX", "45,X", "45,X"]
    assert case_karyotype(cells) == "mos 45,X[3]/46,XX[2]"
    # the normal line is last even when it is the larger one
    assert case_karyotype(["46,XY"] * 5 + ["47,XY,+21"] * 2) == "mos 47,XY,+21[2]/46,XY[5]"


def test_two_abnormal_clones_by_count_then_normal():
    cells = ["47,XX,+8"] * 2 + ["47,XX,+21"] * 3 + ["46,XX"] * 4
    assert case_lines(cells) == [("47,XX,+21", 3), ("47,XX,+8", 2), ("46,XX", 4)]
    assert case_karyotype(cells) == "mos 47,XX,+21[3]/47,XX,+8[2]/46,XX[4]"


def test_single_cell_loss_is_not_a_clone():
    cells = ["46,XX"] * 4 + ["45,XX,-21"]
    assert case_karyotype(cells) == "46,XX[4]"
    assert nonclonal_cells(cells) == [(4, "45,XX,-21", "non-clonal")]


def test_single_cell_gain_is_not_a_clone():
    assert case_karyotype(["46,XX"] * 4 + ["47,XX,+21"]) == "46,XX[4]"


def test_two_cells_with_the_same_loss_are_not_a_clone_but_three_are():
    assert case_karyotype(["46,XX"] * 4 + ["45,XX,-21"] * 2) == "46,XX[4]"
    assert case_karyotype(["46,XX"] * 4 + ["45,XX,-21"] * 3) == "mos 45,XX,-21[3]/46,XX[4]"


def test_two_cells_with_the_same_gain_are_a_clone():
    assert case_karyotype(["46,XX"] * 3 + ["47,XX,+21"] * 2) == "mos 47,XX,+21[2]/46,XX[3]"


def test_clone_size_by_gain_and_loss():
    assert clone_size(counts_from_iscn("46,XX")) == 2
    assert clone_size(counts_from_iscn("47,XXY")) == 2  # extra sex chromosome: a gain
    assert clone_size(counts_from_iscn("45,X")) == 3  # missing sex chromosome: a loss
    assert clone_size(counts_from_iscn("46,XX,+8,-21")) == 2  # shares a gain


def test_two_normal_lines_of_different_sex_are_a_chimera():
    assert case_karyotype(["46,XX"] * 3 + ["46,XY"] * 2) == "chi 46,XX[3]/46,XY[2]"


def test_one_cell_of_the_other_sex_is_non_clonal():
    cells = ["46,XX"] * 4 + ["46,XY"]
    assert case_karyotype(cells) == "46,XX[4]"
    assert nonclonal_cells(cells) == [(4, "46,XY", "non-clonal")]


def test_unanalysable_cells_are_ignored():
    cells = ["46,XY", None, "", "  ", "46,XY", float("nan"), "46,XY", "44,-"]
    assert case_karyotype(cells) == "46,XY[3]"
    assert nonclonal_cells(cells) == [
        (1, None, "not analysable"),
        (2, "", "not analysable"),
        (3, "  ", "not analysable"),
        (5, cells[5], "not analysable"),
        (7, "44,-", "not a numerical karyotype"),
    ]


def test_calls_are_grouped_as_the_core_writes_them():
    assert case_karyotype(["47,XX,+21", "47, XX, +21"]) == "47,XX,+21[2]"


def test_no_analysable_cell_gives_empty_string():
    assert case_karyotype([]) == ""
    assert case_karyotype([None, "", None]) == ""


def test_no_clone_gives_empty_string_and_every_cell_non_clonal():
    cells = ["46,XX", "47,XY,+8"]
    assert case_karyotype(cells) == ""
    assert case_lines(cells) == []
    assert [why for _, _, why in nonclonal_cells(cells)] == ["non-clonal"] * 2


# --- sample sheet ------------------------------------------------------------------------


def image(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG not really")
    return path


def sheet(tmp_path, text, name="samples.tsv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(path):
    with pytest.raises(SampleSheetError) as caught:
        read_sample_sheet(path)
    assert str(path) in str(caught.value)
    return caught.value.problems


def test_reads_a_sheet_and_resolves_relative_paths_against_its_folder(tmp_path, monkeypatch):
    image(tmp_path / "sheets" / "img" / "a.png")
    elsewhere = image(tmp_path / "elsewhere" / "b.tif")
    path = sheet(tmp_path / "sheets", f"image\tcase\nimg/a.png\t101\n{elsewhere}\t102\n")
    monkeypatch.chdir(tmp_path)  # relative to the sheet, not to the working folder
    table = read_sample_sheet(path)
    assert list(table.columns) == ["case", "image"]
    assert table.to_dict("records") == [
        {"case": "101", "image": str(tmp_path / "sheets" / "img" / "a.png")},
        {"case": "102", "image": str(elsewhere)},
    ]


def test_case_names_stay_text_and_blank_lines_are_skipped(tmp_path):
    image(tmp_path / "a.png")
    image(tmp_path / "b.png")
    table = read_sample_sheet(sheet(tmp_path, "case\timage\n007\ta.png\n\n007\tb.png\n"))
    assert table["case"].tolist() == ["007", "007"]


def test_missing_sheet(tmp_path):
    assert problems(tmp_path / "nope.tsv") == ["sample sheet not found"]


def test_sheet_that_is_a_folder(tmp_path):
    (tmp_path / "folder.tsv").mkdir()
    assert "not a file" in problems(tmp_path / "folder.tsv")[0]


def test_sheet_not_utf8(tmp_path):
    path = tmp_path / "latin1.tsv"
    path.write_bytes("case\timage\nPatientin Müller\ta.png\n".encode("latin-1"))
    [problem] = problems(path)
    assert "line 2" in problem and "UTF-8" in problem


def test_empty_sheet(tmp_path):
    assert "empty sheet" in problems(sheet(tmp_path, ""))[0]
    assert problems(sheet(tmp_path, "case\timage\n", "header.tsv")) == [
        "empty sheet: a header but no rows"
    ]


def test_unknown_column_is_named_with_the_expected_ones(tmp_path):
    image(tmp_path / "a.png")
    [problem] = problems(sheet(tmp_path, "case\timage\tslide\n1\ta.png\tS1\n"))
    assert "line 1" in problem and "'slide'" in problem and "case, image" in problem


def test_missing_column(tmp_path):
    image(tmp_path / "a.png")
    [problem] = problems(sheet(tmp_path, "image\na.png\n"))
    assert "missing column 'case'" in problem and "line 1" in problem


def test_empty_case_cell(tmp_path):
    image(tmp_path / "a.png")
    assert problems(sheet(tmp_path, "case\timage\n\ta.png\n")) == ["line 2: empty case cell"]


def test_case_with_no_image(tmp_path):
    assert problems(sheet(tmp_path, "case\timage\n101\t\n")) == [
        "line 2: case '101' has no image (empty image cell)"
    ]


def test_image_listed_twice_names_both_lines(tmp_path):
    image(tmp_path / "a.png")
    text = "case\timage\n101\ta.png\n102\t./a.png\n"
    assert problems(sheet(tmp_path, text)) == [
        "line 3: image './a.png' is listed twice (lines 2 and 3)"
    ]


def test_image_file_not_found_is_named_with_its_line(tmp_path):
    [problem] = problems(sheet(tmp_path, "case\timage\n101\tgone.png\n"))
    assert problem.startswith("line 2: image 'gone.png' not found")
    assert str(tmp_path / "gone.png") in problem


def test_wrong_number_of_fields(tmp_path):
    assert problems(sheet(tmp_path, "case\timage\n101\n")) == ["line 2: 1 fields, the header has 2"]


def test_all_problems_reported_at_once_one_per_line(tmp_path):
    image(tmp_path / "a.png")
    text = "case\timage\tnote\n101\ta.png\tx\n\tb.png\ty\n102\t\tz\n103\ta.png\tw\n"
    path = sheet(tmp_path, text)
    found = problems(path)
    assert len(found) == 5
    assert [p.split(":")[0] for p in found] == ["line 1", "line 3", "line 3", "line 4", "line 5"]
    message = str(SampleSheetError(path, found))
    assert message.startswith(f"{path}: 5 problems in the sample sheet:\n")
    assert message.count("\n") == 5


def test_sheet_error_is_a_value_error_and_a_bad_input_error(tmp_path):
    err = SampleSheetError(tmp_path / "s.tsv", ["line 2: empty case cell"])
    assert isinstance(err, ValueError) and isinstance(err, BadInputError)
    again = pickle.loads(pickle.dumps(err))
    assert again.problems == err.problems and str(again) == str(err)


def test_cases_from_images_one_case_per_image(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    table = cases_from_images(["cells/101_1.png", tmp_path / "cells" / "102.tif"])
    assert table.to_dict("records") == [
        {"case": "101_1", "image": str(tmp_path / "cells" / "101_1.png")},
        {"case": "102", "image": str(tmp_path / "cells" / "102.tif")},
    ]
    assert list(cases_from_images([]).columns) == ["case", "image"]


def test_cases_from_images_refuses_two_images_with_one_stem(tmp_path):
    with pytest.raises(ValueError, match="share the stem 'a'"):
        cases_from_images([tmp_path / "a.png", tmp_path / "a.tif"])
