"""Reads a school's equipment list, CSV or XLSX, into rows, within limits that hold while reading.

An upload is at most 4 MB, but 4 MB of XLSX can unpack to gigabytes, declare a sheet of
2,000 x 16,384 cells that openpyxl pads row by row, or hold a million rows, and a CSV can hold
a million lines. So no whole table is ever built: the package is checked before openpyxl opens
it (the zip directory's sizes, then one streaming pass of expat over each part, which keeps
nothing), the sheet's declared size before its rows are read, and the row and column limits
as each row arrives. A refused file costs little memory and time, and gets a 422 that says why.

Rows are numbered as the spreadsheet shows them (the header is row 1); a blank line keeps its
number as an empty dict. Only the known import columns (`assets.IMPORT_COLUMNS`) are kept.

Plain Python and openpyxl (loaded with the first XLSX): never boto3, chalice or pynamodb.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import posixpath
import zipfile
import zlib
from collections import defaultdict
from collections.abc import Generator, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any
from xml.parsers import expat

from chalicelib.domain import assets
from chalicelib.errors import FieldProblem, InvalidInput, UnsupportedMediaType
from chalicelib.media_types import CSV_TYPES, EQUIPMENT_LIST_TYPES, OCTET_STREAM, XLSX_TYPE

Row = dict[str, str]

MAX_ROWS = 10_000  # lamps per file, after the header: one import finishes well inside API Gateway's 29 s
MAX_COLUMNS = 64  # a list has 10 known columns; room for notes beside them, not for 16,384 columns

# The XLSX package. A genuine 10,000-row list unpacks to about 5 MB in 10 parts.
MAX_PARTS = 1_000
MAX_UNPACKED_BYTES = 48 * 2**20
MAX_SHARED_STRINGS_BYTES = 4 * 2**20  # openpyxl keeps every shared string
MAX_PART_BYTES = 2**20  # any other XML part openpyxl reads is parsed whole: ~25 bytes of memory per byte
MAX_ROW_ELEMENTS = 65_536  # XML elements in one row (openpyxl holds a row's cells at once): 16,384 cells
MAX_SHEET_EXTRAS = 50_000  # elements of a sheet beside its rows (merged cells, formats, links): kept whole
MAX_TABLE_EXTRAS = 100  # elements of the shared strings beside the strings: kept whole

# Excel on a Chinese Windows saves "CSV" as GBK; GB 18030 reads GBK and GB 2312 too.
CSV_ENCODINGS = ("utf-8-sig", "gb18030")

BODY = "(body)"


def read_rows(raw: bytes, content_type: str) -> list[Row]:
    """The rows of the list, or InvalidInput (422) / UnsupportedMediaType (415) saying why not."""
    media = content_type.split(";", maxsplit=1)[0].strip().lower()
    if media == OCTET_STREAM:  # a generic client's file: an XLSX is a ZIP package, anything else is read as CSV
        media = XLSX_TYPE if raw.startswith(b"PK\x03\x04") else CSV_TYPES[0]
    if media in CSV_TYPES:
        return _rows(_csv_rows(raw, content_type))
    if media == XLSX_TYPE:
        with closing(_xlsx_rows(raw)) as table:
            return _rows(table)
    raise UnsupportedMediaType(
        "send the equipment list as CSV or XLSX",
        details=[
            FieldProblem("Content-Type", f"'{media or 'missing'}' is not one of {', '.join(EQUIPMENT_LIST_TYPES)}")
        ],
    )


def _rows(table: Iterator[Sequence[Any]]) -> list[Row]:
    header_cells = next(table, None)
    if header_cells is None:
        raise InvalidInput("the file is empty", details=[FieldProblem(BODY, "no header row")])
    _check_width(1, header_cells)
    header = [str(h or "").strip().lower().replace(" ", "_") for h in header_cells]
    missing = [c for c in assets.REQUIRED_IMPORT_COLUMNS if c not in header]
    if missing:
        raise InvalidInput(
            "the header row lacks required columns",
            details=[FieldProblem(c, "column missing from row 1") for c in missing],
        )
    known = [(i, h) for i, h in enumerate(header) if h in assets.IMPORT_COLUMNS]
    rows: list[Row] = []
    for number, values in enumerate(table, start=2):
        if number > MAX_ROWS + 1:  # refused on arrival: the rest of the file is never read
            raise _past_last_row(number)
        _check_width(number, values)
        if not any(str(v or "").strip() for v in values[:MAX_COLUMNS]):
            rows.append({})  # blank line: keeps row numbers aligned with the spreadsheet
            continue
        rows.append({h: _cell(values[i]) if i < len(values) else "" for i, h in known})
    return rows


def _past_last_row(number: int) -> InvalidInput:
    return InvalidInput(
        f"at most {MAX_ROWS:,} rows per import",
        details=[FieldProblem(BODY, f"row {number:,} is past the limit of {MAX_ROWS:,} rows after the header")],
    )


def _check_width(number: int, values: Sequence[Any]) -> None:
    # Empty cells past the limit are fine: Excel pads CSV lines to the widest row, and styles empty cells.
    extra = list(values[MAX_COLUMNS:])
    if extra.count(None) + extra.count("") == len(extra):  # at C speed: a styled row can be 16,384 wide
        return
    for index in range(MAX_COLUMNS, len(values)):
        if str(values[index] or "").strip():
            raise InvalidInput(
                f"at most {MAX_COLUMNS} columns per row",
                details=[
                    FieldProblem(
                        BODY,
                        f"row {number:,} has a value in column {_column_letter(index + 1)} ({index + 1:,}), "
                        f"past the limit of {MAX_COLUMNS} columns",
                    )
                ],
            )


def _column_letter(number: int) -> str:
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _cell(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value).strip()


# ---- CSV --------------------------------------------------------------------------------------------


def _decode_csv(raw: bytes, content_type: str) -> str:
    declared = [
        part.split("=", 1)[1].strip().strip('"')
        for part in content_type.split(";")[1:]
        if part.strip().lower().startswith("charset=")
    ]
    declared = ["utf-8-sig" if d.lower().replace("_", "-") in ("utf-8", "utf8") else d for d in declared]  # Excel's BOM
    for encoding in [*declared, *CSV_ENCODINGS]:  # UTF-8 before GB 18030, which would misread it
        try:
            return raw.decode(encoding)
        # LookupError: a charset Python does not know; UnicodeError, not just UnicodeDecodeError: codecs such
        # as `undefined`, `punycode` and `idna` raise the base class
        except (UnicodeError, LookupError):
            continue
    raise InvalidInput("the CSV file must be UTF-8 or GBK text", details=[FieldProblem(BODY, "not UTF-8 or GBK text")])


def _csv_rows(raw: bytes, content_type: str) -> Iterator[list[str]]:
    reader = csv.reader(io.StringIO(_decode_csv(raw, content_type)))  # one record at a time
    number = 0
    while True:
        number += 1
        try:
            values = next(reader, None)
        except csv.Error as exc:  # e.g. a field over csv's 128 KB limit
            raise InvalidInput(
                "the CSV file cannot be read", details=[FieldProblem(BODY, f"row {number:,}: {exc}")]
            ) from exc
        if values is None:
            return
        yield values


# ---- XLSX -------------------------------------------------------------------------------------------

# Parts openpyxl reads by their name, whatever the package says.
_NAMED_PARTS = {
    "[Content_Types].xml",
    "xl/workbook.xml",
    "xl/styles.xml",
    "xl/theme/theme1.xml",
    "docProps/core.xml",
    "docProps/custom.xml",
}
_WORKSHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
_SHARED_STRINGS_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
_UNREADABLE = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    KeyError,
    IndexError,  # a cell naming a shared string past the table
    ValueError,
    TypeError,
    SyntaxError,  # xml.etree's ParseError
    RuntimeError,  # an encrypted part
    NotImplementedError,  # a compression zipfile does not know
)


def _not_xlsx(problem: str = "not XLSX") -> InvalidInput:
    return InvalidInput("the file is not a readable XLSX workbook", details=[FieldProblem(BODY, problem)])


def _xlsx_rows(raw: bytes) -> Generator[Sequence[Any]]:
    _check_package(raw)
    from openpyxl import load_workbook  # deferred: only imports pay for it

    try:
        book = load_workbook(io.BytesIO(raw), read_only=True, data_only=True, keep_links=False)
    except _UNREADABLE as exc:
        raise _not_xlsx() from exc
    try:
        if not book.worksheets:
            raise _not_xlsx("no worksheet")
        sheet = book.worksheets[0]
        _check_declared_size(sheet)
        sheet.reset_dimensions()  # read the rows the sheet holds, row by row, not what it declares
        rows = sheet.iter_rows(values_only=True)
        while True:
            try:
                values = next(rows, None)
            except _UNREADABLE as exc:
                raise _not_xlsx() from exc
            if values is None:
                return
            yield values
    finally:
        book.close()  # a read-only workbook keeps its archive open


def _check_declared_size(sheet: Any) -> None:
    """openpyxl pads every row to the declared width: refuse an oversized declaration before reading."""
    rows, columns = sheet.max_row, sheet.max_column  # from <dimension ref="A1:J200">; None if absent
    if (rows or 0) > MAX_ROWS + 1 or (columns or 0) > MAX_COLUMNS:
        declared = " and ".join(
            f"{count:,} {what}" for count, what in ((rows, "rows"), (columns, "columns")) if count is not None
        )
        if columns:
            declared += f" (to column {_column_letter(columns)})"
        raise InvalidInput(
            f"the sheet is larger than an equipment list: at most {MAX_ROWS:,} rows after the header "
            f"and {MAX_COLUMNS} columns",
            details=[
                FieldProblem(
                    BODY,
                    f"the sheet declares {declared}; clear the formatting of the unused rows and columns, "
                    "or copy the list into a new workbook",
                )
            ],
        )


def _check_package(raw: bytes) -> None:
    """Refuses, before openpyxl opens it, a package that would cost openpyxl more than a list can."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise _not_xlsx() from exc
    with archive:
        parts = archive.infolist()  # sizes from the central directory; zipfile never unpacks past them
        if len(parts) > MAX_PARTS:
            raise _too_big(f"{len(parts):,} parts; at most {MAX_PARTS:,}")
        unpacked = sum(p.file_size for p in parts)
        if unpacked > MAX_UNPACKED_BYTES:
            raise _too_big(f"unpacks to {_mb(unpacked)}; at most {_mb(MAX_UNPACKED_BYTES)}")
        for part in parts:  # read whole by openpyxl, and read whole by the scan below
            if _is_package_metadata(part.filename) and part.file_size > MAX_PART_BYTES:
                raise _too_big(f"{part.filename} unpacks to {_mb(part.file_size)}; at most {_mb(MAX_PART_BYTES)}")
        scans = [_scan(archive, part) for part in parts]
    _check_part_sizes(scans)


def _is_package_metadata(name: str) -> bool:
    return name in _NAMED_PARTS or name.endswith(".rels")


def _too_big(problem: str) -> InvalidInput:
    return InvalidInput("the XLSX file is larger than an equipment list can be", details=[FieldProblem(BODY, problem)])


def _mb(size: int) -> str:
    return f"{size / 2**20:,.1f} MB"


def _check_part_sizes(scans: list[_PartScan]) -> None:
    """Each XML part within the limit of what openpyxl does with it: stream it (worksheets), keep every
    string (shared strings), or parse it whole (anything else, and any part we cannot place)."""
    roles: dict[str, set[str]] = defaultdict(set)
    for name in _NAMED_PARTS:
        roles[name].add("other")
    for scan in scans:
        if scan.filename.endswith(".rels"):
            roles[scan.filename].add("other")
        for part_name, content_type in scan.overrides:
            roles[part_name.lstrip("/")].add(
                {_WORKSHEET_TYPE: "worksheet", _SHARED_STRINGS_TYPE: "shared_strings"}.get(content_type, "other")
            )
        # As openpyxl resolves a relationship: relative to the folder above `_rels`.
        parent = posixpath.split(posixpath.dirname(scan.filename))[0]
        for rel_type, target in scan.relationships:
            name = target[1:] if target.startswith("/") else posixpath.normpath(posixpath.join(parent, target))
            kind = rel_type.rsplit("/", 1)[-1]
            roles[name].add({"worksheet": "worksheet", "sharedStrings": "shared_strings"}.get(kind, "other"))
    for scan in scans:
        if scan.root is None:
            continue  # not XML: openpyxl's parser would refuse its first bytes, as expat did
        part_roles = roles.get(scan.filename) or {"other"}
        limit = MAX_PART_BYTES
        if part_roles == {"worksheet"} and scan.root == "worksheet":
            limit = MAX_UNPACKED_BYTES  # streamed; the scan checked its rows
        elif part_roles <= {"worksheet", "shared_strings"} and scan.root == "sst":
            limit = MAX_SHARED_STRINGS_BYTES
        if scan.file_size > limit:
            raise _too_big(f"{scan.filename} unpacks to {_mb(scan.file_size)}; at most {_mb(limit)}")


@dataclass
class _PartScan:
    """What one streaming pass of expat learnt about a part. Keeps counts, never the XML."""

    filename: str
    file_size: int
    root: str | None = None  # local name of the root element; None: not XML
    overrides: list[tuple[str, str]] = field(default_factory=list)  # [Content_Types].xml
    relationships: list[tuple[str, str]] = field(default_factory=list)  # *.rels: (Type, Target)
    depth: int = 0
    declared: bool = False  # a <dimension> before the rows: openpyxl reads only that far to size the sheet
    rows_seen: bool = False
    in_rows: bool = False
    rows: int = 0
    row_number: int = 0  # as openpyxl numbers rows: <row r="n">, else the previous one's + 1
    row_elements: int = 0
    extras: int = 0


class _Enough(Exception):
    """Stops a scan that has learnt what it needs."""


def _scan(archive: zipfile.ZipFile, part: zipfile.ZipInfo) -> _PartScan:
    scan = _PartScan(part.filename, part.file_size)
    parser = expat.ParserCreate(namespace_separator=" ")

    def doctype(*_: Any) -> None:  # a DTD is how entity expansion (billion laughs) starts; OOXML has none
        raise _not_xlsx(f"{part.filename} declares a DTD")

    def start(name: str, attrs: dict[str, str]) -> None:
        _start(scan, name.rsplit(" ", 1)[-1], attrs)

    def end(name: str) -> None:
        scan.depth -= 1
        if scan.depth == 1 and scan.in_rows:
            scan.in_rows = False

    parser.StartDoctypeDeclHandler = doctype
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        with archive.open(part) as stream:
            while chunk := stream.read(64 * 1024):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except _Enough:
        pass
    except expat.ExpatError:
        pass  # not XML (root None: an image, a binary), or broken XML that openpyxl will refuse if it reads it
    except _UNREADABLE as exc:  # a bad CRC (a part longer than its declared size), an encrypted part
        raise _not_xlsx(f"{part.filename} cannot be unpacked") from exc
    return scan


def _start(scan: _PartScan, name: str, attrs: dict[str, str]) -> None:
    scan.depth += 1
    depth = scan.depth
    if depth == 1:
        scan.root = name
        if name not in ("worksheet", "sst", "Types", "Relationships"):
            raise _Enough  # its size, checked by role, is all that matters
        return
    if scan.root == "Types":
        if name == "Override":
            scan.overrides.append((attrs.get("PartName", ""), attrs.get("ContentType", "")))
    elif scan.root == "Relationships":
        if name == "Relationship" and attrs.get("TargetMode") != "External":
            scan.relationships.append((attrs.get("Type", ""), attrs.get("Target", "")))
    elif scan.root == "sst":
        if depth == 2:
            scan.row_elements = 0
            if name != "si":
                scan.extras += 1
                if scan.extras > MAX_TABLE_EXTRAS:
                    raise _too_big(f"{scan.filename} holds more than {MAX_TABLE_EXTRAS} elements besides strings")
        else:
            _count_row_element(scan, "a shared string")
    elif depth == 2 and name == "sheetData":
        scan.in_rows = scan.rows_seen = True
    elif scan.in_rows:
        if depth == 3:
            scan.row_elements = 0
            scan.row_number = _row_number(attrs.get("r"), scan.row_number)
            if scan.row_number > MAX_ROWS + 1:
                if scan.declared:
                    raise _Enough  # openpyxl sizes the sheet from its declaration; reading stops at this row
                raise _past_last_row(scan.row_number)  # openpyxl would walk every row to size the sheet
            scan.rows += 1
            if scan.rows > MAX_ROWS + 1:  # rows numbered out of order or twice: openpyxl walks them all
                raise InvalidInput(
                    f"at most {MAX_ROWS:,} rows per import",
                    details=[FieldProblem(BODY, f"{scan.filename} holds more than {MAX_ROWS + 1:,} rows")],
                )
        else:
            _count_row_element(scan, f"row {scan.rows:,}")
    elif depth == 2 and name == "dimension" and not scan.rows_seen:
        scan.declared = True
    else:
        scan.extras += 1
        if scan.extras > MAX_SHEET_EXTRAS:
            raise _too_big(f"{scan.filename} holds more than {MAX_SHEET_EXTRAS:,} elements besides its rows")


def _row_number(r: str | None, previous: int) -> int:
    try:
        return int(float(r)) if r is not None else previous + 1
    except (ValueError, OverflowError):  # OverflowError: "inf", "1e400"
        return previous + 1  # openpyxl refuses it when it reads this row, if it ever does


def _count_row_element(scan: _PartScan, where: str) -> None:
    scan.row_elements += 1
    if scan.row_elements > MAX_ROW_ELEMENTS:
        raise _too_big(f"{where} of {scan.filename} holds more than {MAX_ROW_ELEMENTS:,} XML elements")
