"""Bulk import of a school's equipment list (CSV or XLSX), idempotent by serial.

Rows are validated first and reported as (row, column, problem), rows numbered as a
spreadsheet shows them (the header is row 1). In `all_or_nothing` mode one bad row
rejects the file and nothing is written; in `partial` mode the good rows are written.
Lamps are written in transactions of 33 (`access.register_lamps`), so a serial registered
concurrently can never be registered twice; such a lamp is reported as a row error, so that
created + unchanged + failed rows always add up to the rows read.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from pydantic import ValidationError

from chalicelib.auth import Principal
from chalicelib.domain import assets
from chalicelib.errors import FieldProblem, ImportRejected, InvalidInput, RowError, UnsupportedMediaType
from chalicelib.media_types import CSV_TYPES, EQUIPMENT_LIST_TYPES, XLSX_TYPE
from chalicelib.models import access
from chalicelib.models.access import RoomModel
from chalicelib.schemas import ImportMode, ImportReportOut, ImportRowErrorOut
from chalicelib.services.ids import utcnow
from chalicelib.services.registry import build_lamp, contract_warranty

CONTENT_TYPES = EQUIPMENT_LIST_TYPES
MAX_ROWS = 10_000  # one import finishes well inside API Gateway's 29 s (see make bench)


# Excel on a Chinese Windows saves "CSV" as GBK; GB 18030 reads GBK and GB 2312 too.
CSV_ENCODINGS = ("utf-8-sig", "gb18030")


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
        except (UnicodeDecodeError, LookupError):  # LookupError: a charset Python does not know
            continue
    raise InvalidInput(
        "the CSV file must be UTF-8 or GBK text", details=[FieldProblem("(body)", "not UTF-8 or GBK text")]
    )


def _read_rows(raw: bytes, content_type: str) -> list[dict[str, str]]:
    media = content_type.split(";", maxsplit=1)[0].strip().lower()
    if media in CSV_TYPES:
        text = _decode_csv(raw, content_type)
        reader = csv.reader(io.StringIO(text))
        table = [row for row in reader]
    elif media == XLSX_TYPE:
        table = _xlsx_table(raw)
    else:
        raise UnsupportedMediaType(
            "send the equipment list as CSV or XLSX",
            details=[FieldProblem("Content-Type", f"'{media or 'missing'}' is not one of {', '.join(CONTENT_TYPES)}")],
        )
    if not table:
        raise InvalidInput("the file is empty", details=[FieldProblem("(body)", "no header row")])
    header = [str(h or "").strip().lower().replace(" ", "_") for h in table[0]]
    missing = [c for c in assets.REQUIRED_IMPORT_COLUMNS if c not in header]
    if missing:
        raise InvalidInput(
            "the header row lacks required columns",
            details=[FieldProblem(c, "column missing from row 1") for c in missing],
        )
    rows = []
    for values in table[1:]:
        if not any(str(v or "").strip() for v in values):
            rows.append({})  # blank line: keeps row numbers aligned with the spreadsheet
            continue
        rows.append(
            {h: _cell(values[i]) if i < len(values) else "" for i, h in enumerate(header) if h in assets.IMPORT_COLUMNS}
        )
    if len(rows) > MAX_ROWS:
        raise InvalidInput(f"at most {MAX_ROWS} rows per import", details=[FieldProblem("(body)", f"{len(rows)} rows")])
    return rows


def _cell(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value).strip()


def _xlsx_table(raw: bytes) -> list[list[Any]]:
    import zipfile

    from openpyxl import load_workbook  # deferred: only imports pay for it

    try:
        book = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise InvalidInput(
            "the file is not a readable XLSX workbook", details=[FieldProblem("(body)", "not XLSX")]
        ) from exc
    sheet = book.worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def _validate(rows: list[dict[str, str]]) -> tuple[list[tuple[int, assets.LampSpec]], list[RowError]]:
    good: list[tuple[int, assets.LampSpec]] = []
    problems: list[RowError] = []
    first_row_of: dict[str, int] = {}
    for offset, row in enumerate(rows):
        number = offset + 2
        if not row:
            continue
        try:
            spec = assets.LampSpec.model_validate(
                {k: v for k, v in row.items() if v != "" or k in assets.REQUIRED_IMPORT_COLUMNS}
            )
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                column = str(err["loc"][0]) if err["loc"] else "(row)"
                problems.append(RowError(number, column, err["msg"]))
            continue
        if spec.serial in first_row_of:
            problems.append(RowError(number, "serial", f"duplicate of row {first_row_of[spec.serial]}"))
            continue
        first_row_of[spec.serial] = number
        good.append((number, spec))
    return good, problems


def import_lamps(
    school_id: str, raw: bytes, content_type: str, mode: ImportMode, actor: Principal, now: dt.datetime | None = None
) -> ImportReportOut:
    now = now or utcnow()
    school = access.get_school(school_id)
    rows = _read_rows(raw, content_type)
    good, problems = _validate(rows)

    registered = access.registered_serials(spec.serial for _, spec in good)
    new_specs: list[tuple[int, assets.LampSpec]] = []
    unchanged = 0
    for number, spec in good:
        guard = registered.get(spec.serial)
        if guard is None:
            new_specs.append((number, spec))
        elif guard.scope != school.school_id:
            problems.append(RowError(number, "serial", "already registered at another school"))
        elif guard.place and guard.place != f"{spec.room_id}#{spec.position}":
            # Said, not silently kept: a corrected list must not look applied when it was not.
            room, _, position = guard.place.partition("#")
            problems.append(
                RowError(
                    number,
                    "room_id",
                    f"this serial is registered in room {room} at position "
                    f"{position}; a lamp is moved on site, not by import",
                )
            )
        else:
            unchanged += 1  # idempotent: the same list imported twice registers each lamp once
    problems.sort(key=lambda p: (p.row, p.column))
    if problems and mode == "all_or_nothing":
        raise ImportRejected(problems)

    refused = _write(school, new_specs, actor, now) if new_specs else []
    if refused:
        problems += [
            RowError(number, "serial", "registered by another request while this list was imported")
            for number, spec in new_specs
            if spec.serial in refused
        ]
        problems.sort(key=lambda p: (p.row, p.column))
    return ImportReportOut(
        mode=mode,
        rows=sum(1 for r in rows if r),
        created=len(new_specs) - len(refused),
        unchanged=unchanged,
        failed=len({p.row for p in problems}),
        errors=[ImportRowErrorOut(row=p.row, column=p.column, problem=p.problem) for p in problems],
    )


def _write(school: Any, specs: list[tuple[int, assets.LampSpec]], actor: Principal, now: dt.datetime) -> set[str]:
    """Registers the new lamps; returns the serials that another request registered meanwhile."""
    warranty = contract_warranty(access.get_contract(school.contract_id))
    known_rooms = {r.room_id for r in access.query_rooms(school.school_id)}
    new_rooms = {}
    for _, spec in specs:
        if spec.room_id not in known_rooms and spec.room_id not in new_rooms:
            new_rooms[spec.room_id] = RoomModel(
                school.school_id, spec.room_id, building=spec.building, floor=spec.floor, name=spec.room_id
            )
    access.add_rooms(new_rooms.values())
    first_number = access.reserve_numbers(f"asset#{school.school_id}", len(specs))
    lamps = [build_lamp(spec, school, warranty, first_number + i, now) for i, (_, spec) in enumerate(specs)]
    refused = access.register_lamps(
        [
            (
                lamp,
                access.history_entry(
                    lamp.lamp_id,
                    now,
                    "registered",
                    actor=actor.sub,
                    summary=f"imported into {lamp.room_id} position {lamp.position}",
                ),
            )
            for lamp in lamps
        ]
    )
    return {lamp.serial for lamp in refused}
