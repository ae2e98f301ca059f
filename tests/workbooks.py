"""XLSX files built part by part, for the equipment-list tests and the benchmark.

openpyxl writes well-formed workbooks only; the files a hostile or broken client sends (a sheet
that declares 2,000 x 16,384 cells, a part that unpacks to 60 MB, a DOCTYPE) are written here as
XML parts in a zip, the way a spreadsheet package is laid out.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
WORKSHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
SHARED_STRINGS_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{worksheet}"/>'
    "{extra}</Types>"
)
_PACKAGE_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="xl/workbook.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/>'
    "</Relationships>"
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<workbook xmlns="{MAIN_NS}" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Lamps" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="worksheets/sheet1.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"/>'
    "{extra}</Relationships>"
)


def package(sheet_xml: str | bytes, *, shared_strings: str | bytes | None = None, extra_types: str = "") -> bytes:
    """A one-sheet workbook around `sheet_xml` (the whole worksheet part), deflated as Excel does;
    `extra_types`: more <Override> entries for [Content_Types].xml."""
    extra_type, extra_rel = extra_types, ""
    if shared_strings is not None:
        extra_type += f'<Override PartName="/xl/sharedStrings.xml" ContentType="{SHARED_STRINGS_TYPE}"/>'
        extra_rel = (
            '<Relationship Id="rId2" Target="sharedStrings.xml" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"/>'
        )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES.format(worksheet=WORKSHEET_TYPE, extra=extra_type))
        archive.writestr("_rels/.rels", _PACKAGE_RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS.format(extra=extra_rel))
        archive.writestr("xl/worksheets/sheet1.xml", sheet_xml)
        if shared_strings is not None:
            archive.writestr("xl/sharedStrings.xml", shared_strings)
    return buffer.getvalue()


def worksheet(rows_xml: str, dimension: str | None = None, *, prolog: str = "") -> str:
    ref = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<worksheet xmlns="{MAIN_NS}">{ref}'
        f"<sheetData>{rows_xml}</sheetData></worksheet>"
    )


def column_letter(number: int) -> str:
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def row_xml(number: int, cells: Iterable[object], first_column: int = 1) -> str:
    """One row of inline strings and numbers, as `<row r="n">` with each cell's reference."""
    parts = []
    for column, value in enumerate(cells, start=first_column):
        if value is None or value == "":
            continue
        ref = f"{column_letter(column)}{number}"
        if isinstance(value, int | float):
            parts.append(f'<c r="{ref}"><v>{value}</v></c>')
        else:
            parts.append(f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>')
    return f'<row r="{number}">{"".join(parts)}</row>'


def size_bomb(rows: int = 2_000) -> bytes:
    """About 1.5 KB that declares A1:XFD2000: 2,000 rows x 16,384 columns, 32 million cells.

    openpyxl's read-only mode pads every row to the declared width, so reading it naively
    builds 2,000 tuples of 16,384 values (about 250 MB).
    """
    return package(worksheet("<row/>" * rows, f"A1:XFD{rows}"))


def undeclared_rows(rows: int = 1_000_000) -> bytes:
    """A sheet with no declared size and a million empty rows: about 10 KB."""
    return package(worksheet("<row/>" * rows))


def zip_bomb(strings: int = 3_500_000) -> bytes:
    """A shared-strings part of 3.5 million one-letter strings: ~60 MB unpacked from ~100 KB."""
    table = f'<sst xmlns="{MAIN_NS}">' + "<si><t>a</t></si>" * strings + "</sst>"
    return package(worksheet(row_xml(1, ["room_id"])), shared_strings=table)
