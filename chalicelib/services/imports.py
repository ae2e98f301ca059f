"""Bulk import of a school's equipment list (CSV or XLSX), idempotent by serial.

Rows are validated first and reported as (row, column, problem), rows numbered as a
spreadsheet shows them (the header is row 1). In `all_or_nothing` mode one bad row
rejects the file and nothing is written; in `partial` mode the good rows are written.
Lamps are written in transactions of 33 (`access.register_lamps`), so a serial registered
concurrently can never be registered twice; such a lamp is reported as a row error, so that
created + unchanged + failed rows always add up to the rows read.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import ValidationError

from chalicelib.auth import Principal
from chalicelib.domain import assets
from chalicelib.errors import ImportRejected, RowError
from chalicelib.media_types import EQUIPMENT_LIST_TYPES
from chalicelib.models import access
from chalicelib.models.access import RoomModel
from chalicelib.schemas import ImportMode, ImportReportOut, ImportRowErrorOut
from chalicelib.services import equipment_list
from chalicelib.services.ids import utcnow
from chalicelib.services.registry import build_lamp, contract_warranty

CONTENT_TYPES = EQUIPMENT_LIST_TYPES
MAX_ROWS = equipment_list.MAX_ROWS


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
    rows = equipment_list.read_rows(raw, content_type)  # refuses an oversized file while reading it
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
