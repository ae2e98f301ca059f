"""Reading an equipment list (chalicelib/services/equipment_list.py): the package checks that keep an XLSX
within what a Lambda can afford, beyond the refusals tests/functional/test_lamp_import.py shows through the API.

Each hostile part below is small to send and costly to parse whole; openpyxl parses every part but the
worksheets whole, so each is refused by its size or shape before openpyxl opens the file.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile

import pytest

from chalicelib.errors import InvalidInput
from chalicelib.services import equipment_list
from tests import workbooks

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER = ["room_id", "position", "model", "serial", "installed_on", "accepted_on"]
ROW = ["A-101", "1", "EP-LED-40", "SN-1", "2025-08-18", "2025-09-01"]
GOOD_ROWS = workbooks.row_xml(1, HEADER) + workbooks.row_xml(2, ROW)


def refusal(body: bytes, content_type: str = XLSX) -> tuple[str, str]:
    with pytest.raises(InvalidInput) as caught:
        equipment_list.read_rows(body, content_type)
    [detail] = caught.value.details
    assert detail.field == "(body)"
    return caught.value.message, detail.problem


def with_parts(body: bytes, parts: dict[str, bytes | str], replace: bool = False) -> bytes:
    """The same package with parts added (or, with replace, rewritten)."""
    source = zipfile.ZipFile(io.BytesIO(body))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for info in source.infolist():
            if not (replace and info.filename in parts):
                target.writestr(info.filename, source.read(info.filename))
        for name, data in parts.items():
            target.writestr(name, data)
    return buffer.getvalue()


def test_a_good_workbook_is_read_with_its_rows_numbered_from_the_header():
    rows = equipment_list.read_rows(workbooks.package(workbooks.worksheet(GOOD_ROWS, "A1:F2")), XLSX)

    assert rows == [dict(zip(HEADER, ROW, strict=True))]


def test_a_styles_part_too_big_to_parse_whole_is_refused_naming_it():
    body = with_parts(workbooks.package(workbooks.worksheet(GOOD_ROWS)), {"xl/styles.xml": " " * (2 * 2**20)})

    message, problem = refusal(body)

    assert "larger than an equipment list can be" in message
    assert problem == "xl/styles.xml unpacks to 2.0 MB; at most 1.0 MB"


def test_a_big_sheet_the_manifest_also_names_as_shared_strings_is_held_to_the_strictest_limit():
    """openpyxl would read it as a string table too, and keep every element of it."""
    sheet = workbooks.worksheet(GOOD_ROWS + " " * (2 * 2**20))
    also_strings = f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{workbooks.SHARED_STRINGS_TYPE}"/>'

    _, problem = refusal(workbooks.package(sheet, extra_types=also_strings))

    assert problem == "xl/worksheets/sheet1.xml unpacks to 2.0 MB; at most 1.0 MB"
    assert equipment_list.read_rows(workbooks.package(sheet), XLSX)  # the same sheet, a worksheet only: read


def test_a_row_of_more_than_65536_elements_is_refused_before_openpyxl_holds_it():
    wide = '<row r="2">' + '<c s="1"/>' * 65_537 + "</row>"
    body = workbooks.package(workbooks.worksheet(workbooks.row_xml(1, HEADER) + wide))

    _, problem = refusal(body)

    assert problem == "row 2 of xl/worksheets/sheet1.xml holds more than 65,536 XML elements"


def test_a_sheet_with_more_than_50000_elements_beside_its_rows_is_refused():
    merges = "<mergeCells>" + '<mergeCell ref="A1:B1"/>' * 50_000 + "</mergeCells>"
    sheet = workbooks.worksheet(GOOD_ROWS).replace("</worksheet>", merges + "</worksheet>")

    _, problem = refusal(workbooks.package(sheet))

    assert problem == "xl/worksheets/sheet1.xml holds more than 50,000 elements besides its rows"


def test_shared_strings_holding_more_than_strings_are_refused():
    table = f'<sst xmlns="{workbooks.MAIN_NS}">' + "<si><t>a</t></si>" + "<x/>" * 101 + "</sst>"

    _, problem = refusal(workbooks.package(workbooks.worksheet(GOOD_ROWS), shared_strings=table))

    assert problem == "xl/sharedStrings.xml holds more than 100 elements besides strings"


def test_rows_numbered_again_and_again_are_refused_by_their_count():
    """openpyxl skips a row numbered like the one before, but still walks it."""
    body = workbooks.package(workbooks.worksheet(GOOD_ROWS + '<row r="2"/>' * 10_000, "A1:F2"))

    message, problem = refusal(body)

    assert message == "at most 10,000 rows per import"
    assert problem == "xl/worksheets/sheet1.xml holds more than 10,001 rows"


def test_a_declared_width_past_64_columns_is_refused_before_reading():
    _, problem = refusal(workbooks.package(workbooks.worksheet(GOOD_ROWS, "A1:BM2")))

    assert problem.startswith("the sheet declares 2 rows and 65 columns (to column BM); clear the formatting")


def test_more_than_1000_parts_are_refused_from_the_directory():
    body = with_parts(
        workbooks.package(workbooks.worksheet(GOOD_ROWS)), {f"customXml/item{n}.xml": "<a/>" for n in range(1_000)}
    )

    _, problem = refusal(body)

    assert problem == "1,005 parts; at most 1,000"


def test_a_part_longer_than_its_directory_says_is_not_read_past_that_size():
    """zipfile stops at the declared size, and the checksum then fails: a lying directory gains nothing."""
    body = bytearray(workbooks.package(workbooks.worksheet(GOOD_ROWS + "<row/>" * 5_000)))
    name = b"xl/worksheets/sheet1.xml"
    entry = body.find(b"PK\x01\x02")  # the central directory's entry for the sheet
    while body[entry + 46 : entry + 46 + len(name)] != name:
        entry = body.find(b"PK\x01\x02", entry + 1)
    struct.pack_into("<I", body, entry + 24, 200)  # uncompressed size, as the central directory declares it

    message, problem = refusal(bytes(body))

    assert message == "the file is not a readable XLSX workbook"
    assert problem == "xl/worksheets/sheet1.xml cannot be unpacked"


def test_binary_parts_such_as_pictures_are_not_held_to_the_xml_limits():
    picture = b"\x89PNG\r\n\x1a\n" + os.urandom(2 * 2**20)
    body = with_parts(workbooks.package(workbooks.worksheet(GOOD_ROWS)), {"xl/media/image1.png": picture})

    assert equipment_list.read_rows(body, XLSX) == [dict(zip(HEADER, ROW, strict=True))]


def test_only_the_first_sheet_is_held_to_the_list_limits():
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(HEADER)
    book.active.append(ROW)
    lookup = book.create_sheet("models")
    for n in range(20_000):
        lookup.append([f"EP-{n}"])
    buffer = io.BytesIO()
    book.save(buffer)

    assert equipment_list.read_rows(buffer.getvalue(), XLSX) == [dict(zip(HEADER, ROW, strict=True))]


def test_blank_rows_keep_their_numbers_and_count_against_the_limit():
    sheet = workbooks.worksheet(workbooks.row_xml(1, HEADER) + workbooks.row_xml(4, ROW))

    assert equipment_list.read_rows(workbooks.package(sheet), XLSX) == [{}, {}, dict(zip(HEADER, ROW, strict=True))]

    csv = ("\n".join([",".join(HEADER), *[""] * 10_000, ",".join(ROW)]) + "\n").encode()
    message, problem = refusal(csv, "text/csv")
    assert (message, problem) == (
        "at most 10,000 rows per import",
        "row 10,002 is past the limit of 10,000 rows after the header",
    )
